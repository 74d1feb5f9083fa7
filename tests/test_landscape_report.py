"""Notebook 01 end to end: a country without data, a sparse small island state, the notebook."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pandas as pd
import papermill
import pytest
from IPython.display import display

from p2c_research.config import project_root
from p2c_research.context import open_context
from p2c_research.reports import landscape_report
from p2c_research.reports.contract import members
from p2c_research.store import write_parquet

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_landscape.ipynb"
SAMPLE_PANEL = project_root() / "data" / "sample" / "panel.parquet"
SCORES_REQUIRED = ["iso3", "indicator", "pillar", "sub_pillar", "year", "value", "score",
                   "peer_median", "peer_percentile", "target", "gap_to_target"]
PILLARS_REQUIRED = ["pillar", "score", "coverage", "peer_median"]
needs_sample = pytest.mark.skipif(not SAMPLE_PANEL.exists(),
                                  reason="embedded sample not built yet")


@pytest.fixture
def tiny_root(tmp_path, monkeypatch) -> Path:
    """A project root whose sample panel has no row for Cambodia (KHM)."""
    root = tmp_path / "root"
    shutil.copytree(project_root() / "params", root / "params")
    rows = [(c, "internet_users", y, 30.0 + y - 2015) for c in ("LAO", "VNM", "THA")
            for y in (2016, 2020)]
    panel = pd.DataFrame(rows, columns=["iso3", "indicator", "year", "value"])
    panel["source"] = "test"
    write_parquet(panel, root / "data" / "sample" / "panel.parquet")
    monkeypatch.setenv("P2C_ROOT", str(root))
    monkeypatch.setenv("P2C_CACHE", str(tmp_path / "cache"))
    return root


def test_country_without_data_gets_a_message_and_empty_tables(tiny_root, tmp_path,
                                                              capsys) -> None:
    out = tmp_path / "out"
    ctx = open_context("KHM", "", "sample", str(out))
    result = landscape_report.build(ctx)
    assert not result.ok
    assert "Cambodia (KHM) has no value for any of the" in result.error
    saved = landscape_report.save(result, ctx.out_dir)
    scores = pd.read_csv(out / "KHM" / "tables" / "landscape_scores.csv")
    assert scores.empty
    assert set(SCORES_REQUIRED) <= set(scores.columns)
    pillars = pd.read_csv(out / "KHM" / "tables" / "pillar_scores.csv")
    assert pillars.empty
    assert set(PILLARS_REQUIRED) <= set(pillars.columns)
    assert (out / "KHM" / "figures" / "wheel.png").stat().st_size > 1000
    assert saved["wheel.png"] == out / "KHM" / "figures" / "wheel.png"
    findings = result.sections.findings.markdown()
    assert "No landscape for Cambodia (KHM)" in findings
    assert "has no value" in findings
    for _name, section in members(result.sections):  # every section renders, none raises
        display(section)
    assert "Traceback" not in capsys.readouterr().out


@needs_sample
@pytest.mark.slow  # builds a report
def test_sparse_small_island_state_shows_coverage(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("P2C_CACHE", str(tmp_path / "cache"))
    ctx = open_context("TUV", "", "sample", str(tmp_path / "out"))
    result = landscape_report.build(ctx)
    assert result.ok, result.error
    pillars = result.landscape.pillar_scores
    assert len(pillars) == 3
    assert pillars["coverage"].between(0, 1).all()
    assert (~pillars["sufficient"]).any()  # Tuvalu's sample data cannot fill every pillar
    assert pillars.loc[~pillars["sufficient"], "score"].isna().all()
    shown = result.sections.pillars.parts
    table = next(p for p in shown if isinstance(p, pd.DataFrame))
    assert "insufficient data" in set(table["score"])
    assert table["coverage"].str.match(r"^\d+% \(\d+/\d+\)$").all()
    landscape_report.save(result, ctx.out_dir)
    assert (tmp_path / "out" / "TUV" / "figures" / "wheel.png").exists()


@pytest.mark.smoke
@needs_sample
def test_notebook_runs_for_cambodia(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("P2C_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    executed = tmp_path / "01_landscape_KHM.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(executed),
                               parameters={"country": "KHM", "out_dir": str(out)},
                               kernel_name="python3", progress_bar=False)
    tables = out / "KHM" / "tables"
    scores = pd.read_csv(tables / "landscape_scores.csv")
    assert set(SCORES_REQUIRED) <= set(scores.columns)
    assert (scores["iso3"] == "KHM").all()
    assert scores["score"].notna().sum() >= 10
    pillars = pd.read_csv(tables / "pillar_scores.csv")
    assert set(PILLARS_REQUIRED) <= set(pillars.columns)
    assert sorted(pillars["pillar"]) == ["ACCESS", "ADOPTION", "VALUE_CREATION"]
    for name in ("peer_stats", "trends", "targets", "findings"):
        assert (tables / f"{name}.csv").exists()
    wheel = out / "KHM" / "figures" / "wheel.png"
    assert wheel.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    nb = json.loads(executed.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    markdown = "".join("".join(o.get("data", {}).get("text/markdown", "")) for o in outputs)
    assert "1. " in markdown
    # A fresh kernel shows the very PNG it saved (one rendering per figure): the
    # inline backend's own formatter must not take over once pyplot is imported.
    shown = {"".join(o["data"]["image/png"]).replace("\n", "") for o in outputs
             if "image/png" in o.get("data", {})}
    assert base64.b64encode(wheel.read_bytes()).decode() in shown
    assert "from `pillar_scores.csv`, row `" in markdown
