"""`invoke run` (a real kernel per notebook) and a batch (in-process) write the same tables."""

from __future__ import annotations

import filecmp

import pytest


@pytest.mark.smoke
def test_kernel_and_inprocess_runs_write_identical_tables(tmp_path, project_root):
    from p2c_research.runner.batch import run_batch

    if not (project_root / "data" / "sample" / "panel.parquet").exists():
        pytest.skip("embedded sample not built")
    for engine in ("kernel", "inprocess"):
        code = run_batch(["KHM"], out_dir=tmp_path / engine, data="sample", local=True,
                         progress=False, engine=engine)
        assert code == 0, engine
    tables = sorted(p.name for p in (tmp_path / "kernel" / "KHM" / "tables").glob("*.csv"))
    assert len(tables) >= 20
    assert tables == sorted(p.name for p in (tmp_path / "inprocess" / "KHM" / "tables").glob("*.csv"))
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "kernel" / "KHM" / "tables",
                                           tmp_path / "inprocess" / "KHM" / "tables", tables,
                                           shallow=False)
    assert mismatch == [] and errors == []
