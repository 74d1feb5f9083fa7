"""Smoke test: notebook 02 runs end to end on the embedded sample and writes its outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from p2c_research.reports.benchmark_report import REQUIRED_TABLE_COLUMNS

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_benchmarking.ipynb"


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


@pytest.mark.smoke
def test_notebook_runs_for_khm_and_writes_benchmark_csv(tmp_path):
    papermill = pytest.importorskip("papermill")
    sample = NOTEBOOK.parents[1] / "data" / "sample" / "panel.parquet"
    if not sample.exists():
        pytest.skip("embedded sample not built yet")
    out_dir = tmp_path / "out"
    papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "02_KHM.ipynb"),
        parameters={"country": "KHM", "out_dir": str(out_dir)}, kernel_name="python3",
        progress_bar=False, cwd=str(NOTEBOOK.parent))
    tables = out_dir / "KHM" / "tables"
    bench = pd.read_csv(tables / "benchmark.csv")
    assert set(REQUIRED_TABLE_COLUMNS) <= set(bench.columns)
    pref = bench[bench["preferred"].astype(bool)]
    assert len(pref) == pref["indicator"].nunique() >= 25
    assert pref["verdict"].isin(["well below", "below", "on par", "above", "well above",
                                 "no verdict", "no data"]).all()
    fitted = pref[pref["verdict"] != "no data"]
    assert (fitted["n"] >= 30).all() and fitted["r2"].between(0, 1).all()
    verdicts = pd.read_csv(tables / "verdicts.csv").set_index("indicator")
    assert verdicts["verdict"].to_dict() == pref.set_index("indicator")["verdict"].to_dict()
    for name in ("models", "peers", "panel_trend"):
        assert (tables / f"{name}.csv").stat().st_size > 0
    figures = out_dir / "KHM" / "figures"
    assert (figures / "residual_dotplot.png").stat().st_size > 10_000
    assert list(figures.glob("scatter_*.png"))
