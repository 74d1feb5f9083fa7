"""Python-backed strings: not set on import, set in batch-owned processes, same results as Arrow."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from p2c_research.config import project_root
from p2c_research.runner.worker_setup import STRING_STORAGE, use_python_strings

pytestmark = pytest.mark.slow  # fresh interpreters

SAMPLE_PANEL = project_root() / "data" / "sample" / "panel.parquet"


def test_importing_the_package_changes_no_pandas_option() -> None:
    code = ("import pandas as pd; before = pd.get_option('mode.string_storage'); "
            "import p2c_research, p2c_research.context, p2c_research.reports.landscape_report; "
            "print(before, pd.get_option('mode.string_storage'), pd.Series(['a']).dtype.storage)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["auto", "auto", "pyarrow"]


@pytest.mark.skipif(not SAMPLE_PANEL.exists(), reason="embedded sample not built yet")
def test_the_panel_is_loaded_with_python_backed_strings() -> None:
    from p2c_research.store import read_panel

    panel = read_panel(SAMPLE_PANEL)
    for col in ("iso3", "indicator", "source"):
        assert panel[col].dtype.storage == "python"


def test_a_batch_process_takes_python_strings_and_keeps_a_storage_already_chosen() -> None:
    before = pd.get_option("mode.string_storage")
    try:
        pd.set_option("mode.string_storage", "pyarrow")
        assert use_python_strings() == "pyarrow"
        pd.set_option("mode.string_storage", "auto")
        assert use_python_strings() == STRING_STORAGE == "python"
        assert pd.Series(["a"]).dtype.storage == "python"
    finally:
        pd.set_option("mode.string_storage", before)


# One country's three reports' tables and the landscape figures, in a fresh process.
_RUN = textwrap.dedent("""
    import sys
    import pandas as pd
    pd.set_option("mode.string_storage", "python" if sys.argv[2] == "default" else sys.argv[2])
    from p2c_research.context import open_context
    from p2c_research.reports import benchmark_report, landscape_report, pledge_report
    out = sys.argv[1]
    ctx = open_context("KHM", "", "sample", out)
    landscape_report.save(landscape_report.build(ctx), ctx.out_dir)
    bench = benchmark_report.build(ctx)
    for name, frame in (("benchmark", bench.tables.benchmark), ("peers", bench.tables.peers),
                        ("panel_trend", bench.tables.panel_trend)):
        frame.to_csv(f"{out}/{name}.csv", index=False)
    ctx = open_context("KHM", "", "sample", out)
    pledge_report.save(pledge_report.build(ctx), out)
    print(pd.Series(["x"]).dtype.storage)
""")


@pytest.mark.skipif(not SAMPLE_PANEL.exists(), reason="embedded sample not built yet")
def test_python_and_arrow_strings_write_identical_tables_and_figures(tmp_path: Path) -> None:
    runs = {}
    for storage in ("default", "pyarrow"):  # both at once: two cores, half the wait
        env = {**os.environ, "P2C_CACHE": str(tmp_path / f"cache-{storage}"), "MPLBACKEND": "Agg"}
        runs[storage] = subprocess.Popen(
            [sys.executable, "-c", _RUN, str(tmp_path / storage), storage], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = {}
    for storage, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr[-3000:]
        assert stdout.split()[-1] == ("python" if storage == "default" else "pyarrow")
        out = tmp_path / storage
        outputs[storage] = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert outputs["default"] == outputs["pyarrow"]
    names = [str(p) for p in outputs["default"]]
    assert sum(n.endswith(".csv") for n in names) >= 15
    assert sum(n.endswith(".png") for n in names) >= 5
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "default", tmp_path / "pyarrow", names,
                                           shallow=False)
    assert mismatch == [] and errors == []


def test_a_batch_worker_imports_the_report_modules_in_the_background() -> None:
    """The preload's warm-up imports what every report needs and builds the HTML exporter,
    in a thread, without touching pandas' options beyond the string storage."""
    code = textwrap.dedent("""
        import sys, threading
        from p2c_research.runner import worker_setup
        assert not any(m in sys.modules for m in worker_setup.WARM_IMPORTS[:3])
        worker_setup.dask_setup(None)
        [t.join() for t in threading.enumerate() if t.name == "p2c-warm-up"]
        assert all(m in sys.modules for m in worker_setup.WARM_IMPORTS), sys.modules.keys()
        from p2c_research.runner.notebooks import _exporter
        assert _exporter.cache_info().currsize == 1
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=project_root(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
