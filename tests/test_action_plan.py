"""The action plan: targets per indicator, the lead indicator, the step rules, the plan rows."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from p2c_research.analyses import action_plan as ap
from p2c_research.analyses.scores import catalog_meta
from p2c_research.analyses.trends import target_rows, targets_table


def priorities() -> list[SimpleNamespace]:
    return [
        SimpleNamespace(id="use", title="Use", pillars=["ADOPTION"], sub_pillars=[],
                        indicators=["internet_users", "adult_literacy"], measurement_note=""),
        SimpleNamespace(id="infra", title="Infrastructure", pillars=["ACCESS"], sub_pillars=[],
                        indicators=["fixed_broadband_subscriptions", "households_internet"],
                        measurement_note=""),
        SimpleNamespace(id="gov", title="Government", pillars=["VALUE_CREATION"],
                        sub_pillars=[], indicators=[],
                        measurement_note="No open series measures digital government."),
    ]


SCORES = pd.DataFrame({
    "indicator": ["internet_users", "adult_literacy", "fixed_broadband_subscriptions",
                  "households_internet", "secure_servers"],
    "year": [2022, 2021, 2024, 2023, 2009],
    "value": [50.0, 80.0, 4.0, 60.0, 3.0],
    "stale": [False, False, False, False, True],
    "peer_median": [70.0, 90.0, 7.0, 80.0, 10.0],
    "peer_set": "Peers (test)",
})
# Straight-line trends (raw units) so the projections can be checked by hand.
TRENDS = pd.DataFrame({
    "indicator": ["internet_users", "adult_literacy", "fixed_broadband_subscriptions",
                  "households_internet"],
    "slope": [2.0, 1.0, 0.6, 6.0], "trend_scale": "linear",
    "trend_slope": [2.0, 1.0, 0.6, 6.0], "slope_low": [1.0, 0.5, 0.3, 5.0],
    "slope_high": [3.0, 2.0, 0.9, 7.0],
})


@pytest.fixture(scope="module")
def meta(catalog) -> pd.DataFrame:
    return catalog_meta(catalog)


@pytest.fixture(scope="module")
def indicator_rows(meta) -> pd.DataFrame:
    national = [SimpleNamespace(indicator="internet_users", value=90.0, year=2030,
                                source="national plan", provisional=False)]
    targets = targets_table("KHM", SCORES[~SCORES["stale"]], TRENDS, meta,
                            target_rows(meta, national), bounded=["households_internet"])
    return ap.indicator_targets("KHM", SCORES, TRENDS, targets, meta,
                                bounded=["households_internet"])


def test_one_target_per_indicator_national_then_umc_then_peer_median(indicator_rows) -> None:
    t = indicator_rows.set_index("indicator")
    assert set(t.index) == {"internet_users", "adult_literacy", "fixed_broadband_subscriptions",
                            "households_internet"}  # the stale value is no baseline
    assert t.loc["internet_users", ["target_kind", "target"]].tolist() == ["national", 90.0]
    assert t.loc["households_internet", ["target_kind", "target"]].tolist() == ["UMC", 100.0]
    assert t.loc["adult_literacy", ["target_kind", "target", "target_year"]].tolist() == [
        "peer median", 90.0, ap.PEER_TARGET_YEAR]
    assert "Peers (test)" in t.loc["adult_literacy", "target_source"]
    # needed per year = gap / (target year - baseline year)
    assert t.loc["internet_users", "needed_per_year"] == pytest.approx(40 / 8)
    assert t.loc["adult_literacy", "needed_per_year"] == pytest.approx(10 / 9)
    assert t.loc["fixed_broadband_subscriptions", "needed_per_year"] == pytest.approx(3 / 6)
    assert t.loc["households_internet", "needed_per_year"] == pytest.approx(40 / 7)
    assert t.loc["internet_users", "trend_per_year"] == 2.0
    # Pace from the landscape's own projection: 50 + 2/yr reaches 90 in 2042.
    assert t.loc["internet_users", "status"] == "not on track"
    assert t.loc["internet_users", "year_reached"] == 2042
    assert t.loc["fixed_broadband_subscriptions", "status"] == "on track"  # 4 + 0.6/yr: 2029
    assert t.loc["households_internet", "status"] == "on track"  # 95% met: 60 + 6/yr, 2029


def test_lower_is_better_needs_and_trends_are_improvements(meta) -> None:
    scores = pd.DataFrame({"indicator": ["fixed_broadband_price"], "year": [2024],
                           "value": [10.0], "stale": [False], "peer_median": [3.0],
                           "peer_set": "p"})
    trends = pd.DataFrame({"indicator": ["fixed_broadband_price"], "slope": [-0.5],
                           "trend_scale": "linear", "trend_slope": [-0.5],
                           "slope_low": [-1.0], "slope_high": [-0.2]})
    targets = targets_table("X", scores, trends, meta, target_rows(meta, []))
    t = ap.indicator_targets("X", scores, trends, targets, meta).set_index("indicator")
    row = t.loc["fixed_broadband_price"]
    assert row["target_kind"] == "UMC" and row["target"] == 2.0  # below 2% of GNI, by 2025
    assert row["needed_per_year"] == pytest.approx(8.0 / 1)
    assert row["trend_per_year"] == 0.5  # a falling price is an improvement


def test_lead_indicator_and_plan_rows(meta, indicator_rows) -> None:
    indicators = ap.priority_indicators(priorities(), meta, SCORES, indicator_rows,
                                        key={"households_internet"}, reference_year=2024)
    lead = indicators[indicators["lead"]].set_index("priority_id")["indicator"].to_dict()
    assert lead == {"use": "internet_users", "infra": "households_internet"}
    assert indicators[indicators["priority_id"] == "gov"].empty

    reaching = pd.DataFrame({
        "pledge_id": ["P1", "P2", "P3"], "entity": ["Org A (fictional)", "Org B", "Org C"],
        "status": ["in_progress", "completed", "not_started"],
        "usd_allocated": [100.0, 50.0, np.nan]})
    labels = pd.DataFrame({"pledge_id": ["P1", "P2", "P1"], "priority_id": ["use", "use", "gov"],
                           "weight": [0.75, 1.0, 0.25]})
    gaps = pd.DataFrame({"group_id": ["use", "infra", "gov"], "need": [70.0, 50.0, np.nan],
                         "need_class": ["high", "mid", pd.NA],
                         "support_class": ["high", "low", pd.NA],
                         "usd_per_capita": [5.0, 0.0, 1.0], "below_floor": [False, True, False],
                         "flag": ["supported", "moderate", "no data"]})
    stale = pd.Series(False, index=reaching.index)
    plan = ap.action_plan(priorities(), indicators, gaps, reaching, labels, stale,
                          date(2025, 1, 15)).set_index("priority_id")
    # use: pledges in place, none lagging, lead not on track -> accelerate (rule 5).
    assert plan.loc["use", "step"] == ap.STEP_ACCELERATE
    assert plan.loc["use", "rule"].startswith("rule 5:")
    assert plan.loc["use", "pledge_usd"] == pytest.approx(75.0 + 50.0)
    assert plan.loc["use", "pledge_count"] == 2
    assert "P1 Org A (fictional) (in progress, USD 0.0m" in plan.loc["use", "pledges"]
    assert plan.loc["use", "pledgers"] == "Org A (fictional); Org B"
    assert plan.loc["use", ["baseline_value", "baseline_year", "target_value", "target_year",
                            "target_kind"]].tolist() == [50.0, 2022, 90.0, 2030, "national"]
    assert plan.loc["use", "gap"] == 40.0 and plan.loc["use", "needed_per_year"] == 5.0
    assert plan.loc["use", "kpi"].startswith("Individuals using the Internet (% of population)")
    assert "from 50.0 in 2022 to 90.0 by 2030 (national target)" in plan.loc["use", "kpi"]
    assert plan.loc["use", "review_date"] == "2025-07-31"
    # infra: no pledge at all, lead not met -> mobilise (rule 2).
    assert plan.loc["infra", "step"] == ap.STEP_MOBILISE
    assert plan.loc["infra", "rule"].startswith("rule 2:")
    # gov: not measured -> validate data (rule 1), whatever its pledges.
    assert plan.loc["gov", "step"] == ap.STEP_VALIDATE
    assert plan.loc["gov", "pledge_count"] == 1
    assert "agree a national KPI" in plan.loc["gov", "kpi"]
    assert plan.loc["gov", "measurement_note"].startswith("No open series")
    assert set(plan.reset_index().columns) == set(ap.PLAN_COLUMNS)
    assert "not on track" in ap.pace_text(plan.loc["use"])
    assert "improving by 2.0" in ap.pace_text(plan.loc["use"])


def test_step_rules_in_order() -> None:
    on_track = pd.Series({"pace": "on track", "quality": ""})
    behind = pd.Series({"pace": "not on track", "quality": ""})
    met = pd.Series({"pace": "met", "quality": ""})

    def step(**kw) -> int:
        args = {"measured": True, "lead": behind, "pledge_count": 3, "need_class": "high",
                "support_class": "high", "share_lagging": 0.0, **kw}
        return ap.suggested_step(**args).number

    assert step(measured=False) == 1
    assert step(lead=None) == 1
    assert step(lead=pd.Series({"pace": "on track", "quality": "jump"})) == 1
    assert step(pledge_count=0) == 2
    assert step(pledge_count=0, lead=met) == 6       # nothing to mobilise for
    assert step(support_class="low") == 3
    assert step(support_class="low", need_class="low", lead=on_track) == 6
    assert step(support_class="low", need_class=None) == 3  # unknown need is not low
    assert step(share_lagging=0.5, lead=on_track) == 4
    assert step() == 5
    assert step(lead=on_track) == 6
    assert [r.number for r in ap.STEP_RULES] == [1, 2, 3, 4, 5, 6]
    assert {r.step for r in ap.STEP_RULES} == set(ap.STEPS)


def test_review_dates_count_from_the_plan_date() -> None:
    assert ap.review_date(ap.STEP_MOBILISE, date(2025, 1, 15)) == date(2025, 7, 31)
    assert ap.review_date(ap.STEP_MONITOR, date(2025, 1, 15)) == date(2026, 1, 31)
    assert ap.review_date(ap.STEP_VALIDATE, date(2025, 12, 31)) == date(2026, 6, 30)


def test_xlsx_keeps_pledge_text_as_text_and_is_reproducible(tmp_path) -> None:
    """A pledger named "=HYPERLINK(...)" stays text in the workbook; same tables, same bytes."""
    import openpyxl

    from p2c_research.reports.action_plan_xlsx import save_action_plan_xlsx

    plan = pd.DataFrame({"priority_id": ["use"], "pledges": ['=HYPERLINK("http://x","y")'],
                         "baseline_value": [50.0], "baseline_year": pd.array([2022], "Int64"),
                         "need": [np.nan]})
    report = SimpleNamespace(iso3="KHM", name="Cambodia", peer_label="peers", synthetic=True,
                             as_of=date(2023, 12, 31),
                             tables=SimpleNamespace(action_plan=plan,
                                                    action_plan_indicators=plan[["priority_id"]]))
    path = save_action_plan_xlsx(report, tmp_path)
    first = path.read_bytes()
    assert save_action_plan_xlsx(report, tmp_path).read_bytes() == first
    sheet = openpyxl.load_workbook(path)["action plan"]
    cell = sheet["B2"]
    assert cell.value == '=HYPERLINK("http://x","y")' and cell.data_type == "s"
    assert sheet["C2"].value == 50.0 and sheet["D2"].value == 2022 and sheet["E2"].value is None
    notes = openpyxl.load_workbook(path)["notes"]
    assert "synthetic" in notes["A1"].value
