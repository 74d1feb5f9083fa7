"""Progress between two assessments: the change rules on tiny frames, then two real batches.

The end-to-end test builds a second batch output from a modified copy of the
sample (one indicator's latest year removed for every economy, one pledge's
status changed) in a temporary project tree (``P2C_ROOT``), with the partner
batch (``partner_outputs``) as its baseline, and checks that the comparison
lists exactly what differs, computed here from the panels and the tables.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from p2c_research.analyses import compare as cp
from p2c_research.config import notebooks_dir, params_dir, sample_dir
from p2c_research.errors import DataError
from p2c_research.labels import label
from p2c_research.reports import compare_report as cr


# --------------------------------------------------------------------------- rules
def test_change_rules_on_hand_made_tables() -> None:
    old = {
        "landscape_scores": pd.DataFrame({
            "iso3": ["A", "A", "A", "B"], "indicator": ["x", "y", "z", "x"],
            "name": ["X", "Y", "Z", "X"], "year": [2022, 2023, 2020, 2022],
            "value": [10.0, 5.0, 1.0, 7.0]}),
        "verdicts": pd.DataFrame({"iso3": ["A", "A", "B"], "indicator": ["x", "y", "x"],
                                  "name": ["X", "Y", "X"],
                                  "verdict": ["below", "on par", "above"]}),
        "targets": pd.DataFrame({"iso3": ["A"], "indicator": ["x"], "target_kind": ["UMC"],
                                 "target": [100.0], "target_year": [2030], "year": [2022],
                                 "value": [10.0], "progress": [10.0],
                                 "status": ["not on track"]}),
        "pledges_reaching": pd.DataFrame({"iso3": ["A", "A"], "pledge_id": ["P1", "P2"],
                                          "entity": ["E1", "E2"],
                                          "status": ["in_progress", "not_started"]}),
        "pledge_gaps": pd.DataFrame({"iso3": ["A"], "level": ["priority"], "group_id": ["p"],
                                     "title": ["Prio"], "flag": ["moderate"]}),
    }
    new = {
        "landscape_scores": pd.DataFrame({
            "iso3": ["A", "A", "A", "B"], "indicator": ["x", "y", "w", "x"],
            "name": ["X", "Y", "W", "X"], "year": [2021, 2023, 2024, 2022],
            "value": [9.0, 5.0 * (1 + 1e-12), 3.0, 7.0]}),
        "verdicts": pd.DataFrame({"iso3": ["A", "A", "B"], "indicator": ["x", "y", "x"],
                                  "name": ["X", "Y", "X"],
                                  "verdict": ["well below", "on par", "above"]}),
        "targets": pd.DataFrame({"iso3": ["A"], "indicator": ["x"], "target_kind": ["UMC"],
                                 "target": [100.0], "target_year": [2030], "year": [2021],
                                 "value": [9.0], "progress": [9.0],
                                 "status": ["not on track"]}),
        "pledges_reaching": pd.DataFrame({"iso3": ["A", "A"], "pledge_id": ["P1", "P3"],
                                          "entity": ["E1", "E3"],
                                          "status": ["completed", "in_progress"]}),
        "pledge_gaps": pd.DataFrame({"iso3": ["A"], "level": ["priority"], "group_id": ["p"],
                                     "title": ["Prio"], "flag": ["high need, thin support"]}),
    }
    changes = cp.compare_assessments(old, new)
    got = {(r.kind, r.iso3, r.item, r.old, r.new) for r in changes.itertuples()}
    assert got == {
        ("indicator value", "A", "x", "10 (2022)", "9 (2021)"),
        ("indicator value", "A", "z", "1 (2020)", "none"),      # vanished
        ("indicator value", "A", "w", "none", "3 (2024)"),      # appeared
        ("verdict", "A", "x", "below", "well below"),
        ("target progress", "A", "x", "10 (2022), progress 10%, not on track",
         "9 (2021), progress 9%, not on track"),
        ("pledge status", "A", "P1", "in_progress", "completed"),
        ("pledge status", "A", "P2", "not_started", "not reaching"),
        ("pledge status", "A", "P3", "not reaching", "in_progress"),
        ("priority flag", "A", "p", "moderate", "high need, thin support"),
    }  # y's value differs by 1e-12 only: no change
    assert changes["kind"].tolist() == sorted(changes["kind"], key=cp.KINDS.index)
    counts = cp.change_counts(changes)
    assert counts.loc["A", "pledge status"] == 3 and list(counts.columns) == list(cp.KINDS)
    assert cp.compare_assessments(old, old).empty
    # Tables written before pledge_gaps had a group_id compare by priority, pillar or "all".
    legacy = dict(old, pledge_gaps=pd.DataFrame({
        "iso3": ["A"], "level": ["priority"], "priority_id": ["p"], "pillar": ["ACCESS"],
        "title": ["Prio"], "flag": ["moderate"]}))
    assert cp.compare_assessments(legacy, old).empty


def test_baseline_marker_is_checked_and_forgotten(tmp_path) -> None:
    out, old = tmp_path / "new", tmp_path / "old"
    with pytest.raises(DataError, match=r"no manifest\.json"):
        cr.set_baseline(out, old)
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"outputs": []}))
    with pytest.raises(DataError, match="another output folder"):
        cr.set_baseline(old, old)
    cr.set_baseline(out, old)
    assert cr.baseline_of(out) == old.resolve()
    cr.set_baseline(out, None)
    assert cr.baseline_of(out) is None
    with pytest.raises(DataError, match=r"no manifest\.json"):
        cr.load_assessment(tmp_path / "nowhere")


def test_a_batch_with_a_bad_baseline_stops_before_writing(tmp_path) -> None:
    from p2c_research.runner.batch import run_batch

    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"not a batch output"):
        run_batch(["KHM"], out_dir=out, data="sample", local=True, progress=False,
                  baseline=tmp_path / "nowhere")
    assert not out.exists()


# --------------------------------------------------------------------------- two batches
REMOVED_INDICATOR = "secure_servers"  # WDI only, so no ITU value stands in for it
COMPARED = ["DOM", "MRT"]


def _changed_status_pledge(pledges: pd.DataFrame) -> str:
    """A pledge that names DOM alone and is in progress (its status will change)."""
    own = pledges[(pledges["target_countries"] == "DOM") & (pledges["target_regions"] == "")
                  & (pledges["status"] == "in_progress")]
    return str(own["pledge_id"].iloc[0])


@pytest.fixture(scope="module")
def second_assessment(tmp_path_factory, partner_outputs) -> dict[str, object]:
    """A batch of DOM and MRT on a modified sample, with the partner batch as its baseline."""
    from p2c_research.runner.batch import run_batch

    root = tmp_path_factory.mktemp("p2c_root_v2")
    shutil.copytree(sample_dir(), root / "data" / "sample")
    os.symlink(params_dir(), root / "params")
    os.symlink(notebooks_dir(), root / "notebooks")
    panel_path = root / "data" / "sample" / "panel.parquet"
    panel = pd.read_parquet(panel_path)
    is_x = panel["indicator"] == REMOVED_INDICATOR
    removed_year = int(panel.loc[is_x, "year"].max())
    panel[~(is_x & (panel["year"] == removed_year))].to_parquet(panel_path, index=False)
    pledges_path = root / "data" / "sample" / "pledges.parquet"
    pledges = pd.read_parquet(pledges_path)
    changed = _changed_status_pledge(pledges)
    pledges.loc[pledges["pledge_id"] == changed, "status"] = "completed"
    pledges.to_parquet(pledges_path, index=False)

    out = root / "outputs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("P2C_ROOT", str(root))
        code = run_batch(COMPARED, out_dir=out, data="sample", local=True, progress=False,
                         baseline=partner_outputs)
        assert code == 0
    # The batch recorded its baseline and wrote the comparison at the end.
    assert cr.baseline_of(out) == Path(partner_outputs).resolve()
    written = {"csv": out / "compare.csv", "html": out / "compare.html"}
    assert all(path.exists() for path in written.values())
    return {"out": out, "root": root, "removed_year": removed_year, "changed_pledge": changed,
            "written": written, "new_panel": panel[~(is_x & (panel["year"] == removed_year))]}


@pytest.mark.smoke
def test_compare_lists_exactly_the_changed_values_verdicts_and_pledges(
        second_assessment, partner_outputs) -> None:
    out: Path = second_assessment["out"]  # type: ignore[assignment]
    changes = pd.read_csv(second_assessment["written"]["csv"])  # type: ignore[index]
    year = second_assessment["removed_year"]

    # Indicator values: exactly the compared countries whose latest value was in the removed year.
    expected = set()
    new_panel: pd.DataFrame = second_assessment["new_panel"]  # type: ignore[assignment]
    for code in COMPARED:
        old = pd.read_csv(partner_outputs / code / "tables" / "landscape_scores.csv")
        new = pd.read_csv(out / code / "tables" / "landscape_scores.csv")
        before = old.set_index("indicator").loc[REMOVED_INDICATOR]
        after = new.set_index("indicator").loc[REMOVED_INDICATOR]
        if before["year"] == year:
            expected.add((code, REMOVED_INDICATOR))
            assert after["year"] < year
            in_panel = new_panel[(new_panel["iso3"] == code)
                                 & (new_panel["indicator"] == REMOVED_INDICATOR)
                                 & (new_panel["year"] == after["year"])]["value"]
            assert after["value"] == pytest.approx(float(in_panel.iloc[0]))
        # Every other indicator is as it was.
        rest = old[old["indicator"] != REMOVED_INDICATOR].merge(
            new, on="indicator", suffixes=("_old", "_new"))
        assert np.allclose(rest["value_old"].fillna(-1), rest["value_new"].fillna(-1))
    values = changes[changes["kind"] == "indicator value"]
    assert set(zip(values["iso3"], values["item"], strict=True)) == expected
    assert expected, "the removed year should be the latest value of some compared country"

    # Verdicts: exactly the rows whose verdict differs between the two verdict tables.
    differ = set()
    for code in COMPARED:
        old = pd.read_csv(partner_outputs / code / "tables" / "verdicts.csv")
        new = pd.read_csv(out / code / "tables" / "verdicts.csv")
        both = old.merge(new, on="indicator", suffixes=("_old", "_new"))
        differ |= {(code, i) for i in both.loc[both["verdict_old"] != both["verdict_new"],
                                               "indicator"]}
    verdicts = changes[changes["kind"] == "verdict"]
    assert set(zip(verdicts["iso3"], verdicts["item"], strict=True)) == differ
    assert differ and {i for _, i in differ} == {REMOVED_INDICATOR}

    # Pledges: only the one whose status was changed.
    pledge_rows = changes[changes["kind"] == "pledge status"]
    assert pledge_rows[["iso3", "item", "old", "new"]].values.tolist() == [
        ["DOM", second_assessment["changed_pledge"], "in_progress", "completed"]]
    assert (pledge_rows["pledges"] == "synthetic (illustrative)").all()
    # Target progress concerns the removed indicator only (none of its targets here).
    targets = changes[changes["kind"] == "target progress"]
    assert set(targets["item"]) <= {REMOVED_INDICATOR}

    page = second_assessment["written"]["html"].read_text(encoding="utf-8")  # type: ignore[index]
    old_manifest = json.loads((partner_outputs / "manifest.json").read_text())
    new_manifest = json.loads((out / "manifest.json").read_text())
    assert old_manifest["data"]["fingerprint"] in page
    assert new_manifest["data"]["fingerprint"] in page
    assert old_manifest["data"]["fingerprint"] != new_manifest["data"]["fingerprint"]
    assert "illustrative" in page.lower() and "KHM (before only)" in page


@pytest.mark.smoke
def test_batch_with_a_baseline_adds_since_the_last_assessment(second_assessment) -> None:
    out: Path = second_assessment["out"]  # type: ignore[assignment]
    dom = (out / "DOM" / "03_pledge_gap_map.html").read_text(encoding="utf-8")
    assert "Since the last assessment" in dom
    assert str(second_assessment["changed_pledge"]) in dom
    assert label(REMOVED_INDICATOR) in dom  # the page names the indicator, the CSV has its id
    # The plan files a country team works from are there.
    plan = pd.read_csv(out / "DOM" / "tables" / "action_plan.csv")
    book = pd.read_excel(out / "DOM" / "tables" / "action_plan.xlsx", sheet_name=None)
    assert set(book) == {"action plan", "indicators", "notes"}
    assert book["action plan"]["priority_id"].tolist() == plan["priority_id"].tolist()
