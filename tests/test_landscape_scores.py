"""Landscape scores: scaling, direction, the window rule, weighted means and coverage.

Every expected number is computed by hand in the test (or with plain numpy),
independently of the code under test.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import WINDOW, make_panel

from p2c_research.analyses.scores import (
    PILLAR_COLUMNS,
    SUB_PILLAR_COLUMNS,
    latest_values,
    priority_scores,
    scale_values,
    world_scores,
)


# --------------------------------------------------------------------------- scaling
def test_linear_scaling_between_goalposts() -> None:
    assert scale_values(50.0, 0, 100) == pytest.approx(50.0)
    # mobile subscriptions: goalposts 0-120, so 30 per 100 people is a quarter of the way
    assert scale_values(30.0, 0, 120) == pytest.approx(25.0)
    # female labour participation: goalposts 10-80
    assert scale_values(45.0, 10, 80) == pytest.approx(50.0)


def test_scaling_clips_outside_goalposts() -> None:
    out = scale_values([150.0, -5.0, 0.0, 120.0], 0, 120)
    assert out.tolist() == pytest.approx([100.0, 0.0, 0.0, 100.0])


def test_log_scaling_uses_log10_of_value_and_goalposts() -> None:
    # secure servers: log scale 1 .. 50,000 per million; 100 per million = 2 / log10(50000)
    expected = 100 * 2.0 / math.log10(50000)
    assert scale_values(100.0, 1, 50000, log=True) == pytest.approx(expected)
    assert expected == pytest.approx(42.5625, abs=1e-4)
    # non-positive and below-goalpost values count as the lower goalpost (score 0), no warning
    with np.errstate(all="raise"):
        out = scale_values([0.0, -3.0, 0.5, 1e6], 1, 50000, log=True)
    assert out.tolist() == pytest.approx([0.0, 0.0, 0.0, 100.0])


def test_lower_is_better_reverses_the_scale() -> None:
    # mobile data price: goalposts 0.5-15 % of GNI, lower is better
    assert scale_values(2.0, 0.5, 15, higher_is_better=False) == pytest.approx(
        100 - 100 * 1.5 / 14.5)
    out = scale_values([0.3, 15.0, 20.0], 0.5, 15, higher_is_better=False)
    assert out.tolist() == pytest.approx([100.0, 0.0, 0.0])


def test_nan_stays_nan() -> None:
    assert np.isnan(scale_values(float("nan"), 0, 100))


def test_world_scores_apply_catalog_direction_and_log(catalog) -> None:
    panel = make_panel([
        ("AAA", "mobile_data_price", 2020, 2.0),      # lower is better, log 0.5-20
        ("AAA", "secure_servers", 2020, 100.0),       # log 1-50000
        ("AAA", "internet_users", 2020, 64.0),        # linear 0-100
    ])
    ind = world_scores(panel, catalog, WINDOW, 0.5).indicators.set_index("indicator")
    price = 100 * (math.log10(2.0) - math.log10(0.5)) / (math.log10(20) - math.log10(0.5))
    assert ind.loc["mobile_data_price", "score"] == pytest.approx(100 - price)
    assert ind.loc["secure_servers", "score"] == pytest.approx(200 / math.log10(50000))
    assert ind.loc["internet_users", "score"] == pytest.approx(64.0)


# --------------------------------------------------------------------------- window rule
def test_latest_value_within_window_and_stale_flag(catalog) -> None:
    panel = make_panel([
        ("AAA", "internet_users", 2012, 10.0),
        ("AAA", "internet_users", 2016, 20.0),
        ("AAA", "internet_users", 2019, 30.0),
        ("AAA", "internet_users", 2025, 99.0),   # after the window: ignored
        ("BBB", "internet_users", 2010, 5.0),
        ("BBB", "internet_users", 2013, 7.0),    # only older values: stale
    ])
    world = world_scores(panel, catalog, WINDOW, 0.5)
    ind = world.indicators.set_index("iso3")
    assert ind.loc["AAA", "year"] == 2019
    assert ind.loc["AAA", "value"] == 30.0
    assert not ind.loc["AAA", "stale"]
    assert ind.loc["BBB", "year"] == 2013
    assert ind.loc["BBB", "value"] == 7.0
    assert ind.loc["BBB", "stale"]
    assert np.isnan(ind.loc["BBB", "score"])  # never used in a score
    subs = world.sub_pillars.set_index(["iso3", "sub_pillar"])
    assert subs.loc[("BBB", "usage"), "n_present"] == 0
    assert subs.loc[("AAA", "usage"), "n_present"] == 1


def test_stale_values_can_be_left_out(catalog) -> None:
    panel = make_panel([("BBB", "internet_users", 2013, 7.0)])
    latest = latest_values(panel, ["internet_users"], WINDOW, include_stale=False)
    assert latest.empty


# --------------------------------------------------------------------------- aggregation
ADOPTION_ROWS = [
    ("AAA", "internet_users", 2020, 60.0),               # usage, w1 -> 60
    ("AAA", "adult_literacy", 2020, 80.0),               # skills, w1 -> 80
    ("AAA", "youth_literacy", 2020, 100.0),              # skills, w0.5 -> 100
    ("AAA", "secondary_enrolment", 2020, 50.0),          # skills, w1 -> 50
    ("AAA", "account_ownership", 2020, 40.0),            # inclusion, w1 -> 40
    ("CTX", "population", 2020, 1e6),                    # context only: coverage 0
]


def test_sub_pillar_score_is_weighted_mean_of_present_indicators(catalog) -> None:
    world = world_scores(make_panel(ADOPTION_ROWS), catalog, WINDOW, 0.4)
    subs = world.sub_pillars.set_index(["iso3", "sub_pillar"])
    skills = subs.loc[("AAA", "skills")]
    assert skills["score"] == pytest.approx((80 * 1 + 50 * 1 + 100 * 0.5) / 2.5)
    assert skills["n_present"] == 3
    assert skills["n_total"] == 5  # ict_skills, adult, youth, secondary, tertiary
    assert skills["coverage"] == pytest.approx(0.6)
    inclusion = subs.loc[("AAA", "inclusion")]
    assert inclusion["score"] == pytest.approx(40)
    assert list(world.sub_pillars.columns) == SUB_PILLAR_COLUMNS


def test_pillar_score_is_weighted_mean_of_indicators_not_of_sub_pillars(catalog) -> None:
    world = world_scores(make_panel(ADOPTION_ROWS), catalog, WINDOW, 0.5)
    row = world.pillars.set_index(["iso3", "pillar"]).loc[("AAA", "ADOPTION")]
    by_indicator = (60 + 80 + 0.5 * 100 + 50 + 40) / 4.5
    by_sub_pillar = np.mean([60, (80 + 50 + 50) / 2.5, 40])
    assert row["score"] == pytest.approx(by_indicator)
    assert not math.isclose(row["score"], by_sub_pillar, abs_tol=0.5)
    assert row["n_present"] == 5
    assert row["n_total"] == 8
    assert row["coverage"] == pytest.approx(5 / 8)
    assert row["core_missing"] == ""
    assert list(world.pillars.columns) == PILLAR_COLUMNS


def test_coverage_threshold_edge_is_inclusive(catalog) -> None:
    panel = make_panel(ADOPTION_ROWS)
    at = world_scores(panel, catalog, WINDOW, 0.625).pillars.set_index(["iso3", "pillar"])
    above = world_scores(panel, catalog, WINDOW, 0.63).pillars.set_index(["iso3", "pillar"])
    assert at.loc[("AAA", "ADOPTION"), "sufficient"]
    assert not above.loc[("AAA", "ADOPTION"), "sufficient"]
    # insufficient: no number shown, the weighted mean kept only as raw_score
    assert np.isnan(above.loc[("AAA", "ADOPTION"), "score"])
    assert above.loc[("AAA", "ADOPTION"), "raw_score"] == pytest.approx(280 / 4.5)


def test_sub_pillar_below_threshold_is_insufficient(catalog) -> None:
    world = world_scores(make_panel(ADOPTION_ROWS), catalog, WINDOW, 0.65)
    skills = world.sub_pillars.set_index(["iso3", "sub_pillar"]).loc[("AAA", "skills")]
    assert skills["coverage"] == pytest.approx(0.6)
    assert not skills["sufficient"]
    assert np.isnan(skills["score"])


def test_core_indicators_are_required_whatever_the_coverage(catalog) -> None:
    """ADOPTION is covered at 4 of 8 without Internet use, but Internet use is its core."""
    rows = [r for r in ADOPTION_ROWS if r[1] != "internet_users"]
    world = world_scores(make_panel(rows), catalog, WINDOW, 0.5)
    row = world.pillars.set_index(["iso3", "pillar"]).loc[("AAA", "ADOPTION")]
    assert row["coverage"] == pytest.approx(0.5)
    assert not row["sufficient"] and np.isnan(row["score"])
    assert row["core_missing"] == "Internet use"
    assert row["raw_score"] == pytest.approx((80 + 50 + 50 + 40) / 3.5)


ACCESS_ROWS = [  # 12 of 14 ACCESS indicators; no price basket
    ("AAA", code, 2022, value) for code, value in (
        ("coverage_2g", 99.0), ("coverage_3g", 90.0), ("coverage_4g", 80.0),
        ("coverage_5g", 10.0), ("mobile_broadband_subscriptions", 70.0),
        ("fixed_broadband_subscriptions", 20.0), ("households_internet", 60.0),
        ("international_bandwidth_per_user", 100.0), ("fixed_broadband_download_speed", 30.0),
        ("fixed_broadband_latency", 40.0), ("electricity_access", 95.0),
        ("secure_servers", 1000.0))]


def test_access_without_a_price_is_not_scored_however_well_covered(catalog) -> None:
    world = world_scores(make_panel(ACCESS_ROWS), catalog, WINDOW, 0.5)
    access = world.pillars.set_index(["iso3", "pillar"]).loc[("AAA", "ACCESS")]
    assert access["coverage"] == pytest.approx(12 / 14)
    assert not access["sufficient"] and np.isnan(access["score"])
    assert access["core_missing"] == "affordability of broadband"
    subs = world.sub_pillars.set_index(["iso3", "sub_pillar"])
    assert subs.loc[("AAA", "infrastructure"), "sufficient"]
    assert subs.loc[("AAA", "affordability"), "core_missing"] == "a broadband price basket"
    priced = world_scores(make_panel([*ACCESS_ROWS, ("AAA", "fixed_broadband_price", 2022, 4.0)]),
                          catalog, WINDOW, 0.5)
    assert priced.pillars.set_index(["iso3", "pillar"]).loc[("AAA", "ACCESS"), "sufficient"]


def test_every_economy_gets_every_pillar_even_without_scored_data(catalog) -> None:
    world = world_scores(make_panel(ADOPTION_ROWS), catalog, WINDOW, 0.5)
    ctx = world.pillars[world.pillars["iso3"] == "CTX"]
    assert sorted(ctx["pillar"]) == ["ACCESS", "ADOPTION", "VALUE_CREATION"]
    assert (ctx["coverage"] == 0).all()
    assert not ctx["sufficient"].any()
    assert ctx["score"].isna().all()
    n_subs = len({i.sub_pillar for i in catalog.scored})
    assert len(world.sub_pillars[world.sub_pillars["iso3"] == "CTX"]) == n_subs


def test_pillar_totals_match_catalog(catalog) -> None:
    world = world_scores(make_panel(ADOPTION_ROWS), catalog, WINDOW, 0.5)
    totals = world.pillars[world.pillars["iso3"] == "AAA"].set_index("pillar")["n_total"]
    for pillar in totals.index:
        assert totals[pillar] == sum(1 for i in catalog.scored if i.pillar == pillar)


# --------------------------------------------------------------------------- priorities
def test_priority_scores_by_sub_pillars_and_by_pillars(catalog) -> None:
    world = world_scores(make_panel(ADOPTION_ROWS), catalog, WINDOW, 0.4)
    priorities = [
        SimpleNamespace(id="citizens", pillars=["ADOPTION"], sub_pillars=["usage", "skills"]),
        SimpleNamespace(id="all_adoption", pillars=["ADOPTION"], sub_pillars=[]),
    ]
    out = priority_scores(world, priorities).set_index(["iso3", "priority_id"])
    citizens = out.loc[("AAA", "citizens")]
    assert citizens["score"] == pytest.approx((60 + 80 + 50 + 0.5 * 100) / 3.5)
    assert citizens["n_total"] == 7  # usage (2) + skills (5)
    assert citizens["coverage"] == pytest.approx(4 / 7)
    assert citizens["sufficient"]
    pillar = world.pillars.set_index(["iso3", "pillar"]).loc[("AAA", "ADOPTION"), "score"]
    assert out.loc[("AAA", "all_adoption"), "score"] == pytest.approx(pillar)
    assert not out.loc[("CTX", "citizens"), "sufficient"]


# --------------------------------------------------------------------------- vectorised + cache
def test_many_countries_match_one_country_runs(catalog) -> None:
    rng = np.random.default_rng(7)
    ids = [i.id for i in catalog.scored]
    rows = [(c, ind, y, float(rng.uniform(0.1, 120)))
            for c in ("AAA", "BBB", "CCC") for ind in ids[::2] for y in (2016, 2021)]
    panel = make_panel(rows)
    together = world_scores(panel, catalog, WINDOW, 0.3).pillars.set_index(["iso3", "pillar"])
    for c in ("AAA", "BBB", "CCC"):
        alone = world_scores(panel[panel["iso3"] == c], catalog, WINDOW, 0.3).pillars
        for row in alone.itertuples():
            other = together.loc[(c, row.pillar), "score"]
            assert (np.isnan(other) and np.isnan(row.score)) or other == pytest.approx(row.score)


def test_priority_needs_its_coverage_and_the_core_of_its_sub_pillars(catalog) -> None:
    # infrastructure + affordability: 13 indicators; 11 infrastructure values, no price
    infra = [r for r in ACCESS_ROWS if r[1] != "secure_servers"]
    prio = [SimpleNamespace(id="infra", pillars=["ACCESS"],
                            sub_pillars=["infrastructure", "affordability"])]
    world = world_scores(make_panel(infra), catalog, WINDOW, 0.5)
    out = priority_scores(world, prio).set_index(["iso3", "priority_id"]).loc[("AAA", "infra")]
    assert out["coverage"] == pytest.approx(11 / 13)
    assert not out["sufficient"] and np.isnan(out["score"])
    assert out["core_missing"] == "a broadband price basket"
    priced = make_panel([*infra, ("AAA", "mobile_data_price", 2022, 2.0)])
    world = world_scores(priced, catalog, WINDOW, 0.5)
    out = priority_scores(world, prio).set_index(["iso3", "priority_id"]).loc[("AAA", "infra")]
    ind = world.indicators.set_index("indicator")
    weights = {i.id: i.weight for i in catalog.scored}
    members = [r[1] for r in infra] + ["mobile_data_price"]
    expected = (sum(ind.loc[m, "score"] * weights[m] for m in members)
                / sum(weights[m] for m in members))
    assert out["sufficient"] and out["score"] == pytest.approx(expected)


def test_priority_with_its_own_indicators_or_none(catalog) -> None:
    world = world_scores(make_panel(ADOPTION_ROWS), catalog, WINDOW, 0.5)
    prio = [SimpleNamespace(id="use", pillars=["ADOPTION"], sub_pillars=[],
                            indicators=["internet_users", "mobile_ownership"]),
            SimpleNamespace(id="egov", pillars=["VALUE_CREATION"], sub_pillars=[], indicators=[])]
    out = priority_scores(world, prio).set_index(["iso3", "priority_id"])
    assert out.loc[("AAA", "use"), "score"] == pytest.approx(60.0)
    assert out.loc[("AAA", "use"), "indicators"] == "internet_users, mobile_ownership"
    egov = out.loc[("AAA", "egov")]
    assert egov["n_total"] == 0 and not egov["sufficient"] and np.isnan(egov["score"])


def test_cached_frames_memo_hands_out_copies(tmp_path) -> None:
    from p2c_research import cache

    calls = []

    def compute():
        calls.append(1)
        return {"t": pd.DataFrame({"a": [1.0, 2.0]})}

    first = cache.cached_frames("memo_test", "k1", compute, root=tmp_path)
    second = cache.cached_frames("memo_test", "k1", compute, root=tmp_path)
    second["t"]["a"] = [9.0, 9.0]  # a caller editing its frame
    second["t"]["b"] = 1
    third = cache.cached_frames("memo_test", "k1", compute, root=tmp_path)
    assert calls == [1]
    assert third["t"]["a"].tolist() == [1.0, 2.0] and "b" not in third["t"]
    assert first["t"]["a"].tolist() == [1.0, 2.0]
    # a rewritten entry (new DONE marker) is read again, not served from the memo
    (tmp_path / "memo_test" / "k1" / "DONE").unlink()
    cache.cached_frames("memo_test", "k1", compute, root=tmp_path)
    assert calls == [1, 1]
