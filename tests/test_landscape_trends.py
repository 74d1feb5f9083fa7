"""Trends and targets: CAGR, Theil-Sen, years to target, UMC bands, findings traced to rows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import WINDOW, make_panel
from scipy.special import expit, logit
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
    trend_lines,
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


def test_share_trend_is_theil_sen_on_the_logit_of_the_recent_points(meta) -> None:
    years = [2015, 2016, 2018, 2019, 2020, 2021, 2022]
    values = [8.0, 10.0, 30.0, 40.0, 45.0, 50.0, 54.0]
    panel = make_panel([("AAA", "internet_users", y, v) for y, v in zip(years, values,
                                                                        strict=True)]
                       + [("AAA", "internet_users", 2010, 1.0),   # before the window
                          ("AAA", "adult_literacy", 2019, 50.0),
                          ("AAA", "adult_literacy", 2020, 55.0)])  # two points: no trend
    series = window_series(panel, meta, WINDOW, ["AAA"])
    shares = meta.loc[meta["bounded_share"], "indicator"].tolist()
    trends = indicator_trends(series, min_points=3, meta=meta, bounded=shares)
    iu = trends.set_index("indicator").loc["internet_users"]
    recent_y, recent_v = np.array(years[-5:], float), np.array(values[-5:])
    res = theilslopes(logit(recent_v / 100), recent_y, alpha=0.90)
    assert (iu["n_points"], iu["first_year"], iu["last_year"]) == (5, 2018, 2022)
    assert iu["trend_scale"] == "logit"
    assert iu["trend_slope"] == pytest.approx(res.slope)
    assert (iu["slope_low"], iu["slope_high"]) == pytest.approx((res.low_slope, res.high_slope))
    fitted = 100 * expit(res.intercept + res.slope * np.array([2021.0, 2022.0]))
    assert iu["slope"] == pytest.approx(fitted[1] - fitted[0])  # pp a year at the latest year
    assert iu["cagr_pct"] == pytest.approx(100 * ((54 / 30) ** (1 / 4) - 1))
    ends = 100 * expit(res.intercept + res.slope * np.array([2018.0, 2022.0]))
    assert iu["score_slope"] == pytest.approx((ends[1] - ends[0]) / 4)  # 0-100 goalposts
    lit = trends.set_index("indicator").loc["adult_literacy"]
    assert lit["n_points"] == 2 and np.isnan(lit["slope"]) and np.isnan(lit["cagr_pct"])


def test_positive_series_trend_on_the_log_scale_never_crosses_zero(meta) -> None:
    # latency (lower is better, 10-150 ms) falls by a fifth a year: a log-linear trend
    panel = make_panel([("AAA", "fixed_broadband_latency", y, 120.0 * 0.8 ** (y - 2016))
                        for y in range(2016, 2021)])
    series = window_series(panel, meta, WINDOW)
    trends = indicator_trends(series, meta=meta).iloc[0]
    assert trends["trend_scale"] == "log"
    assert trends["trend_slope"] == pytest.approx(np.log(0.8))
    first, last = 120.0, 120.0 * 0.8**4

    def score(v: float) -> float:
        return 100 - 100 * (v - 10) / 140

    assert trends["score_slope"] == pytest.approx((score(last) - score(first)) / 4)
    lines = trend_lines(series, indicator_trends(series, meta=meta))
    assert (lines["fitted"] > 0).all()


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


def _linear_trends(slopes: dict[str, float], spread: float = 0.5) -> pd.DataFrame:
    rows = [{"indicator": k, "slope": v, "trend_scale": "linear" if not np.isnan(v) else "",
             "trend_slope": v, "slope_low": v - spread, "slope_high": v + spread}
            for k, v in slopes.items()]
    return pd.DataFrame(rows)


def test_targets_table_status_gap_band_and_range(meta) -> None:
    latest = pd.DataFrame({
        "indicator": ["internet_users", "mobile_ownership", "ict_skills", "coverage_4g",
                      "mobile_data_price", "fixed_broadband_subscriptions"],
        "year": [2022, 2022, 2022, 2022, 2022, 2022],
        "value": [70.0, 80.0, 75.0, 90.0, 4.0, 5.0],
    })
    trends = _linear_trends({"internet_users": 5.0, "mobile_ownership": 1.0, "ict_skills": 2.0,
                             "coverage_4g": -1.0, "mobile_data_price": -0.5,
                             "fixed_broadband_subscriptions": float("nan")}, spread=0.5)
    national = [SimpleNamespace(indicator="fixed_broadband_subscriptions", value=10.0,
                                year=2030, source="test", provisional=True)]
    t = targets_table("AAA", latest, trends, meta, target_rows(meta, national))
    t = t.set_index(["indicator", "target_kind"])
    iu = t.loc[("internet_users", "UMC")]          # 30 to go at 5/yr: 6 years -> 2028
    assert iu["gap_to_target"] == pytest.approx(30.0)
    assert iu["years_to_target"] == pytest.approx(6.0)
    assert (iu["years_low"], iu["years_high"]) == pytest.approx((30 / 5.5, 30 / 4.5))
    assert iu["year_reached"] == pytest.approx(2028.0)
    assert iu["status"] == "on track"
    assert iu["band"] == "satisfactory"            # 70% of the way
    mo = t.loc[("mobile_ownership", "UMC")]        # 20 to go at 1/yr: 2042 > 2030
    assert mo["years_to_target"] == pytest.approx(20.0)
    assert mo["years_low"] == pytest.approx(20 / 1.5)
    assert mo["years_high"] == pytest.approx(40.0)
    assert mo["status"] == "not on track"
    assert mo["band"] == "advanced"                 # 80%
    sk = t.loc[("ict_skills", "UMC")]              # 75 >= 70: met
    assert sk["gap_to_target"] == pytest.approx(-5.0)
    assert sk["status"] == "met"
    assert sk["band"] == "met"
    c4 = t.loc[("coverage_4g", "UMC")]             # moving away
    assert np.isnan(c4["years_to_target"]) and np.isnan(c4["year_reached"])
    assert c4["status"] == "not on track"
    price = t.loc[("mobile_data_price", "UMC")]    # lower is better: 2 to go at -0.5/yr
    assert price["gap_to_target"] == pytest.approx(2.0)
    assert price["progress"] == pytest.approx(50.0)
    assert price["years_to_target"] == pytest.approx(4.0)
    assert np.isinf(price["years_high"])            # the slower bound (0/yr) never gets there
    assert price["status"] == "not on track"       # 2026 > 2025
    fbb = t.loc[("fixed_broadband_subscriptions", "national")]
    assert fbb["status"] == "no trend"
    assert fbb["gap_to_target"] == pytest.approx(5.0)
    assert bool(fbb["provisional"])
    hh = t.loc[("households_internet", "UMC")]     # no value at all
    assert pd.isna(hh["status"])


def test_share_target_of_100_is_met_at_95_on_a_logistic_projection(meta) -> None:
    latest = pd.DataFrame({"indicator": ["internet_users"], "year": [2022], "value": [80.0]})
    b = 0.4  # logit points a year
    trends = pd.DataFrame([{"indicator": "internet_users", "slope": np.nan,
                            "trend_scale": "logit", "trend_slope": b, "slope_low": 0.2,
                            "slope_high": 0.6}])
    t = targets_table("AAA", latest, trends, meta, target_rows(meta, []),
                      bounded=["internet_users"]).set_index("indicator").loc["internet_users"]
    years = (logit(0.95) - logit(0.80)) / b                   # 4.4 years to 95%
    assert t["years_to_target"] == pytest.approx(years)
    assert t["year_reached"] == 2022 + np.ceil(years)          # 2027: the first whole year
    assert t["status"] == "on track"
    assert (t["years_low"], t["years_high"]) == pytest.approx(
        ((logit(0.95) - logit(0.8)) / 0.6, (logit(0.95) - logit(0.8)) / 0.2))


def test_status_and_words_never_contradict(meta) -> None:
    from p2c_research.analyses.findings import target_outlook

    latest = pd.DataFrame({"indicator": ["fixed_broadband_subscriptions"], "year": [2022],
                           "value": [5.0]})
    national = [SimpleNamespace(indicator="fixed_broadband_subscriptions", value=10.0,
                                year=2030, source="test", provisional=False)]
    for slope, status in ((5 / 8.2, "not on track"), (5 / 8.0, "on track"), (5 / 7.6, "on track")):
        trends = _linear_trends({"fixed_broadband_subscriptions": slope}, spread=0.1)
        table = targets_table("AAA", latest, trends, meta, target_rows(meta, national))
        row = table[table["target_kind"] == "national"].iloc[0]
        assert row["status"] == status
        text = target_outlook(row)
        assert text.endswith(status)
        reached = int(text.split("reached only by " if "only" in text else "reached by ")[1][:4])
        assert (reached <= 2030) == (status == "on track")


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
    assert 3 <= len(t.findings) <= 8
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
    assert first.text.startswith("Relative to its peers")  # says what it ranks
    from p2c_research.analyses.findings import peer_position

    assert peer_position(row["peer_percentile"]) in first.text


@pytest.mark.parametrize(("percentile", "words"), [
    (10, "in the bottom quarter of its peers"), (30, "below the peer median"),
    (51, "about at the peer median"), (70, "above the peer median"),
    (90, "in the top quarter of its peers")])
def test_the_best_pillar_is_placed_against_the_peer_median(percentile, words) -> None:
    """A best pillar at the 51st percentile is not a strength: the sentence says where it is."""
    from p2c_research.analyses.findings import _pillar_findings

    pillars = pd.DataFrame({
        "pillar": ["ACCESS", "ADOPTION"], "score": [40.0, 30.0], "sufficient": [True, True],
        "peer_median": [39.0, 45.0], "peer_percentile": [percentile, 5.0], "peer_n": [30, 30]})
    best, worst = _pillar_findings("Cambodia", pillars, "LDCs")
    assert f"ranks best in Access, {words}: better than {percentile}% of peers" in best.text
    assert "ranks lowest in Adoption, in the bottom quarter of its peers: better than 5%" \
        in worst.text


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
