"""Trends and targets: CAGR, Theil-Sen, years to target, UMC bands, findings traced to rows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import WINDOW, make_panel
from scipy.stats import theilslopes

from p2c_research.analyses.findings import findings_frame
from p2c_research.analyses.landscape import SCORES_COLUMNS, country_landscape
from p2c_research.analyses.scores import catalog_meta, world_scores
from p2c_research.analyses.trends import (
    cagr,
    indicator_trends,
    target_progress,
    target_rows,
    targets_table,
    theil_sen,
    umc_band,
    window_series,
    years_to_target,
)
from p2c_research.errors import NoDataError


@pytest.fixture(scope="module")
def meta(catalog):
    return catalog_meta(catalog)


# --------------------------------------------------------------------------- growth and trend
def test_cagr_by_hand() -> None:
    assert cagr(100.0, 121.0, 2) == pytest.approx(0.10)
    assert cagr(50.0, 25.0, 1) == pytest.approx(-0.5)
    assert np.isnan(cagr(0.0, 10.0, 3))
    assert np.isnan(cagr(10.0, 10.0, 0))


def test_theil_sen_matches_scipy_on_random_groups() -> None:
    rng = np.random.default_rng(11)
    frames, expected = [], {}
    for g in ("a", "b", "c"):
        years = np.sort(rng.choice(np.arange(2015, 2025), size=rng.integers(3, 10),
                                   replace=False))
        values = 3.0 * years + rng.normal(0, 4, size=len(years))
        values[0] += 50  # one outlier: Theil-Sen should shrug it off
        frames.append(pd.DataFrame({"g": g, "year": years, "value": values}))
        res = theilslopes(values, years)
        expected[g] = (res.slope, res.intercept)
    out = theil_sen(pd.concat(frames), ["g"]).set_index("g")
    for g, (slope, intercept) in expected.items():
        assert out.loc[g, "slope"] == pytest.approx(slope)
        assert out.loc[g, "intercept"] == pytest.approx(intercept)


def test_indicator_trends_by_hand(meta) -> None:
    panel = make_panel([
        ("AAA", "internet_users", 2016, 10.0),
        ("AAA", "internet_users", 2018, 30.0),
        ("AAA", "internet_users", 2020, 40.0),
        ("AAA", "internet_users", 2021, 90.0),   # pairwise slopes: 10, 7.5, 16, 5, 20, 50
        ("AAA", "internet_users", 2010, 1.0),    # before the window: not in the trend
        ("AAA", "adult_literacy", 2019, 50.0),
        ("AAA", "adult_literacy", 2020, 55.0),   # two points: below min_points
    ])
    series = window_series(panel, meta, WINDOW, ["AAA"])
    trends = indicator_trends(series, min_points=3).set_index("indicator")
    iu = trends.loc["internet_users"]
    assert iu["n_points"] == 4
    assert iu["first_year"] == 2016
    assert iu["last_year"] == 2021
    assert iu["slope"] == pytest.approx(np.median([10, 7.5, 16, 5, 20, 50]))  # 13
    assert iu["slope"] == pytest.approx(13.0)
    assert iu["cagr_pct"] == pytest.approx(100 * ((90 / 10) ** (1 / 5) - 1))
    assert iu["score_slope"] == pytest.approx(13.0)   # goalposts 0-100: same scale
    lit = trends.loc["adult_literacy"]
    assert lit["n_points"] == 2
    assert np.isnan(lit["slope"])
    assert np.isnan(lit["cagr_pct"])


def test_score_slope_follows_direction(meta) -> None:
    # latency (lower is better, 10-150 ms) falls 10 ms a year: score rises 100 * 10 / 140 a year
    panel = make_panel([("AAA", "fixed_broadband_latency", y, 120.0 - 10 * (y - 2016))
                        for y in range(2016, 2021)])
    trends = indicator_trends(window_series(panel, meta, WINDOW)).iloc[0]
    assert trends["slope"] == pytest.approx(-10.0)
    assert trends["score_slope"] == pytest.approx(100 * 10 / 140)


# --------------------------------------------------------------------------- targets
def test_years_to_target_by_hand() -> None:
    assert years_to_target(60.0, 5.0, 100.0, True) == pytest.approx(8.0)
    assert years_to_target(100.0, -1.0, 100.0, True) == 0.0        # met
    assert years_to_target(60.0, -2.0, 100.0, True) == float("inf")  # moving away
    assert years_to_target(60.0, 0.0, 100.0, True) == float("inf")   # flat
    assert years_to_target(6.0, -1.0, 2.0, False) == pytest.approx(4.0)  # price falling
    assert years_to_target(6.0, 0.5, 2.0, False) == float("inf")
    assert np.isnan(years_to_target(60.0, float("nan"), 100.0, True))


@pytest.mark.parametrize(("progress", "band"), [
    (0.0, "limited"), (49.999, "limited"), (50.0, "satisfactory"), (74.999, "satisfactory"),
    (75.0, "advanced"), (94.999, "advanced"), (95.0, "met"), (100.0, "met"),
])
def test_umc_band_edges(progress: float, band: str) -> None:
    assert umc_band(progress) == band


def test_umc_band_of_nan_is_none() -> None:
    assert umc_band(float("nan")) is None


def test_target_progress_both_directions() -> None:
    out = target_progress([60.0, 120.0, 4.0, 1.0], [100.0, 100.0, 2.0, 2.0],
                          [True, True, False, False])
    assert out.tolist() == pytest.approx([60.0, 100.0, 50.0, 100.0])


def test_targets_table_status_gap_band(meta) -> None:
    latest = pd.DataFrame({
        "indicator": ["internet_users", "mobile_ownership", "ict_skills", "coverage_4g",
                      "mobile_data_price", "fixed_broadband_subscriptions"],
        "year": [2022, 2022, 2022, 2022, 2022, 2022],
        "value": [70.0, 80.0, 75.0, 90.0, 4.0, 5.0],
    })
    trends = pd.DataFrame({
        "indicator": ["internet_users", "mobile_ownership", "ict_skills", "coverage_4g",
                      "mobile_data_price", "fixed_broadband_subscriptions"],
        "slope": [5.0, 1.0, 2.0, -1.0, -0.5, float("nan")],
    })
    national = [SimpleNamespace(indicator="fixed_broadband_subscriptions", value=10.0,
                                year=2030, source="test", provisional=True)]
    t = targets_table("AAA", latest, trends, meta, target_rows(meta, national))
    t = t.set_index(["indicator", "target_kind"])
    iu = t.loc[("internet_users", "UMC")]          # 30 to go at 5/yr: 6 years -> 2028
    assert iu["gap_to_target"] == pytest.approx(30.0)
    assert iu["years_to_target"] == pytest.approx(6.0)
    assert iu["year_reached"] == pytest.approx(2028.0)
    assert iu["status"] == "on track"
    assert iu["band"] == "satisfactory"            # 70% of the way
    mo = t.loc[("mobile_ownership", "UMC")]        # 20 to go at 1/yr: 2042 > 2030
    assert mo["years_to_target"] == pytest.approx(20.0)
    assert mo["status"] == "not on track"
    assert mo["band"] == "advanced"                 # 80%
    sk = t.loc[("ict_skills", "UMC")]              # 75 >= 70: met
    assert sk["gap_to_target"] == pytest.approx(-5.0)
    assert sk["status"] == "met"
    assert sk["band"] == "met"
    c4 = t.loc[("coverage_4g", "UMC")]             # moving away
    assert np.isnan(c4["years_to_target"])
    assert c4["status"] == "not on track"
    price = t.loc[("mobile_data_price", "UMC")]    # lower is better: 2 to go at -0.5/yr
    assert price["gap_to_target"] == pytest.approx(2.0)
    assert price["progress"] == pytest.approx(50.0)
    assert price["years_to_target"] == pytest.approx(4.0)
    assert price["status"] == "not on track"       # 2026 > 2025
    fbb = t.loc[("fixed_broadband_subscriptions", "national")]
    assert fbb["status"] == "no trend"
    assert fbb["gap_to_target"] == pytest.approx(5.0)
    assert bool(fbb["provisional"])
    hh = t.loc[("households_internet", "UMC")]     # no value at all
    assert pd.isna(hh["status"])


# --------------------------------------------------------------------------- country + findings
def _rich_panel(catalog) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for c in ("XXX", "AAA", "BBB", "CCC", "DDD"):
        for ind in catalog.scored:
            lo, hi = ind.goalposts.lower, ind.goalposts.upper
            start = rng.uniform(lo, lo + 0.6 * (hi - lo))
            step = rng.uniform(-0.02, 0.06) * (hi - lo)
            for y in range(2015, 2024):
                rows.append((c, ind.id, y, max(start + step * (y - 2015), lo * 1.01 + 1e-3)))
    return make_panel(rows)


def test_country_landscape_tables_and_traceable_findings(catalog) -> None:
    panel = _rich_panel(catalog)
    world = world_scores(panel, catalog, WINDOW, 0.5)
    national = [SimpleNamespace(indicator="internet_users", value=90.0, year=2030,
                                source="test", provisional=True)]
    t = country_landscape(world, panel, "XXX", {"peers": ["AAA", "BBB", "CCC", "DDD"]},
                          national_targets=national, country_name="Testland", peer_min_n=3)
    assert list(t.scores.columns) == SCORES_COLUMNS
    assert len(t.scores) == len(catalog.scored)
    assert set(t.scores["peer_set"].dropna()) == {"peers"}
    # the scores table shows the national target where params set one
    iu = t.scores.set_index("indicator").loc["internet_users"]
    assert iu["target"] == 90.0
    assert iu["target_source"].startswith("national")
    assert {"pillar", "score", "coverage", "peer_median"} <= set(t.pillar_scores.columns)
    assert 3 <= len(t.findings) <= 6
    tables = t.csv_tables()
    keys = {
        "pillar_scores": set(tables["pillar_scores"]["pillar"]),
        "targets": set(tables["targets"]["indicator"] + "|" + tables["targets"]["target_kind"]),
        "trends": set(tables["trends"]["indicator"]),
    }
    for f in t.findings:
        assert f.key in keys[f.table], f
    frame = findings_frame(t.findings)
    assert list(frame.columns) == ["text", "table", "key"]
    # the strongest-pillar sentence quotes the percentile of its row
    first = t.findings[0]
    row = t.pillar_scores.set_index("pillar").loc[first.key]
    assert f"{row['peer_percentile']:.0f}% of peers" in first.text


def test_country_without_any_data_raises_plain_no_data_error(catalog) -> None:
    panel = make_panel([("AAA", "internet_users", 2020, 50.0)])
    world = world_scores(panel, catalog, WINDOW, 0.5)
    with pytest.raises(NoDataError, match=r"Nowhere \(NWH\) has no value"):
        country_landscape(world, panel, "NWH", {"p": ["AAA"]}, country_name="Nowhere")


def test_stale_value_is_shown_with_a_note_and_not_scored(catalog) -> None:
    panel = make_panel([
        ("XXX", "internet_users", 2020, 50.0),
        ("XXX", "adult_literacy", 2011, 70.0),   # older than the window
        ("AAA", "internet_users", 2020, 40.0),
    ])
    world = world_scores(panel, catalog, WINDOW, 0.1)
    t = country_landscape(world, panel, "XXX", {"p": ["AAA"]})
    row = t.scores.set_index("indicator").loc["adult_literacy"]
    assert row["stale"]
    assert row["year"] == 2011
    assert row["value"] == 70.0
    assert np.isnan(row["score"])
    assert "not scored" in row["note"]
    skills = t.sub_pillar_scores.set_index("sub_pillar").loc["skills"]
    assert skills["n_present"] == 0
    notes = t.scores.set_index("indicator")["note"]
    assert notes["ict_skills"] == "not in the chosen data (published as UN SDG SE_ADT_ACTS)"
    assert notes["adult_literacy"] == "no value in 2015-2024 (latest 2011): shown, not scored"
    assert notes["internet_users"] == ""
    other = country_landscape(world, panel, "AAA", {"p": ["XXX"]}).scores.set_index("indicator")
    assert other.loc["adult_literacy", "note"] == "no value for this country in the data"
