"""The pledge reports of the four partners (``partner_outputs``), read as a reviewer reads them.

Priority totals add up to what each country receives; Cambodia's action plan
has one complete row per DESPF goal; every step follows from its row by the
documented rules, and the rules do call for more than "monitor"; every pledge
figure, caption and flag says the pledges are synthetic.
"""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from p2c_research.analyses import action_plan as ap
from p2c_research.analyses.pledge_gaps import TOTAL_ROW, UNMATCHED_ROW

pytestmark = pytest.mark.smoke

PARTNERS = ("KHM", "MDG", "DOM", "MRT")
DESPF_GOALS = ["digital_infrastructure", "digital_trust", "digital_citizens",
               "digital_government", "digital_business"]
NEED_MAP_ALT = "Need: distance to 100 plus under-performance"


def _tables(out, code: str, name: str) -> pd.DataFrame:
    return pd.read_csv(out / code / "tables" / f"{name}.csv")


@pytest.mark.parametrize("code", PARTNERS)
def test_priority_totals_add_up_to_what_the_country_receives(partner_outputs, code) -> None:
    received = _tables(partner_outputs, code, "pledges_reaching")["usd_allocated"].sum()
    totals = _tables(partner_outputs, code, "priority_totals").set_index("priority_id")
    parts = totals.drop(index=TOTAL_ROW)
    assert totals.loc[TOTAL_ROW, "usd_split"] == pytest.approx(received, rel=1e-9)
    assert parts["usd_split"].sum() == pytest.approx(received, rel=1e-9)
    gaps = _tables(partner_outputs, code, "pledge_gaps")
    priority_usd = gaps.loc[gaps["level"] == "priority", "pledge_usd"].sum()
    country_usd = gaps.loc[gaps["level"] == "country", "pledge_usd"].iloc[0]
    assert priority_usd + parts.loc[UNMATCHED_ROW, "usd_split"] == pytest.approx(country_usd,
                                                                                  rel=1e-9)
    assert country_usd == pytest.approx(received, rel=1e-9)
    # Counted whole, the priorities would claim more than the country receives.
    assert parts["usd_if_counted_whole"].sum() > received
    matrix = _tables(partner_outputs, code, "priority_pledge_matrix").set_index("priority_id")
    assert matrix.drop(index=TOTAL_ROW)["usd_allocated"].sum() == pytest.approx(received,
                                                                                 rel=1e-9)


def test_khm_plan_has_one_complete_row_per_despf_goal(partner_outputs) -> None:
    plan = _tables(partner_outputs, "KHM", "action_plan")
    assert plan["priority_id"].tolist() == DESPF_GOALS
    measured = plan[plan["priority_id"] != "digital_government"]
    for col in ("lead_indicator", "baseline_value", "baseline_year", "target_value",
                "target_year", "target_kind", "target_source", "gap", "needed_per_year",
                "pace", "kpi", "step", "rule", "review_date", "pledges", "pledgers"):
        assert measured[col].notna().all(), col
    assert measured["trend_per_year"].notna().sum() >= 3  # the recent trend beside the need
    gov = plan.set_index("priority_id").loc["digital_government"]
    assert gov["step"] == ap.STEP_VALIDATE and gov["rule"].startswith("rule 1:")
    assert gov["pledge_count"] > 0 and pd.isna(gov["lead_indicator"])
    # The national targets of params/KHM.yaml are the ones used where they exist.
    citizens = plan.set_index("priority_id").loc["digital_citizens"]
    assert citizens["lead_indicator"] == "internet_users"
    assert (citizens["target_value"], citizens["target_kind"]) == (90.0, "national")
    indicators = _tables(partner_outputs, "KHM", "action_plan_indicators")
    assert set(indicators["priority_id"]) == set(DESPF_GOALS) - {"digital_government"}
    assert (indicators.groupby("priority_id")["lead"].sum() == 1).all()


def test_every_step_follows_from_its_row_and_not_all_are_monitor(partner_outputs) -> None:
    steps = []
    for code in PARTNERS:
        plan = _tables(partner_outputs, code, "action_plan")
        indicators = _tables(partner_outputs, code, "action_plan_indicators")
        follow = _tables(partner_outputs, code, "follow_through").set_index("priority_id")
        for row in plan.itertuples():
            lead = indicators[(indicators["priority_id"] == row.priority_id)
                              & indicators["lead"]]
            lead_row = lead.iloc[0].fillna("") if not lead.empty else None
            # Lagging pledges (not started or stale) lie between the larger of the two
            # counts of the follow-through table and their sum (a pledge can be both).
            not_started, stale = follow.loc[row.priority_id, ["not_started", "stale"]]
            lagging = row.share_lagging * row.pledge_count
            assert max(not_started, stale) - 1e-9 <= lagging <= not_started + stale + 1e-9
            rule = ap.suggested_step(
                measured=bool(row.n_indicators), lead=lead_row, pledge_count=row.pledge_count,
                need_class=None if pd.isna(row.need_class) else row.need_class,
                support_class=None if pd.isna(row.support_class) else row.support_class,
                share_lagging=row.share_lagging)
            assert (code, row.priority_id, row.step) == (code, row.priority_id, rule.step)
            steps.append(row.step)
    assert set(steps) - {ap.STEP_MONITOR}, "the rules never called for anything but monitor"
    assert ap.STEP_VALIDATE in steps  # digital government is not measured


def test_pledge_labels_say_synthetic_in_tables_figures_and_the_index(partner_outputs) -> None:
    index = (partner_outputs / "index.html").read_text(encoding="utf-8")
    flags = [line for line in index.split("<span class=\"flag\">") if "under-pledged" in line]
    assert flags and all("illustrative: synthetic pledges" in f for f in flags)
    for code in PARTNERS:
        for name in ("pledge_gaps", "action_plan", "priority_totals"):
            basis = _tables(partner_outputs, code, name)["pledge_basis"]
            assert basis.str.contains("synthetic").all(), (code, name)
        nb = nbformat.read(partner_outputs / code / "03_pledge_gap_map.ipynb", as_version=4)
        alts = [o.get("metadata", {}).get("image/png", {}).get("alt", "")
                for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if "image/png" in o.get("data", {})]
        assert len(alts) == 8
        pledge_alts = [a for a in alts if not a.startswith(NEED_MAP_ALT)]
        assert len(pledge_alts) == 7 and all("synthetic" in a.lower() for a in pledge_alts)
        captions = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code"
                    for o in c.outputs if "<table" in o.get("data", {}).get("text/html", "")]
        assert captions and all("Illustrative (synthetic pledges)" in h for h in captions)
        html = (partner_outputs / code / "03_pledge_gap_map.html").read_text(encoding="utf-8")
        assert "supported (illustrative)" in html or "moderate (illustrative)" in html
    manifest = json.loads((partner_outputs / "manifest.json").read_text())
    assert "SYNTHETIC" in manifest["data"]["description"]


@pytest.mark.slow  # builds a report
def test_imported_pledges_carry_no_synthetic_label(tmp_path, monkeypatch) -> None:
    """With an imported pledge file the same report has no illustrative label."""
    import shutil

    from p2c_research.config import params_dir, sample_dir
    from p2c_research.context import open_context
    from p2c_research.reports import pledge_figures
    from p2c_research.reports import pledge_report as pr
    from p2c_research.reports import pledge_tables as pt
    from p2c_research.sources.pledges import import_pledges

    root = tmp_path / "root"
    shutil.copytree(sample_dir(), root / "data" / "sample")
    shutil.copytree(params_dir(), root / "params")
    processed = root / "data" / "processed"
    processed.mkdir(parents=True)
    shutil.copy(sample_dir() / "panel.parquet", processed / "panel.parquet")
    shutil.copy(sample_dir() / "panel.parquet", processed / "panel_no_itu.parquet")
    export = tmp_path / "export.csv"
    pledges = pd.read_parquet(sample_dir() / "pledges.parquet")
    pledges["entity"] = pledges["entity"].str.replace(" (fictional)", "", regex=False)
    pledges.to_csv(export, index=False)
    monkeypatch.setenv("P2C_ROOT", str(root))
    import_pledges(export, out_dir=processed)
    ctx = open_context("MRT", "", "processed", str(tmp_path / "out"))
    assert not ctx.selection.pledges_synthetic
    report = pr.build(ctx)
    assert not report.synthetic
    assert "illustrative" not in report.summary_markdown().lower()
    assert (report.tables.pledge_gaps["pledge_basis"] == pt.PLEDGE_BASIS_IMPORTED).all()
    assert not pt.table_caption("pledge_gaps", report.synthetic).startswith("Illustrative")
    view = pt.display_view("pledge_gaps", report.tables.pledge_gaps, synthetic=False)
    assert not view["flag"].astype(str).str.contains("illustrative").any()
    assert pledge_figures.figure_title("Gap index", report.synthetic) == "Gap index"
