"""The batch runner on a stub project tree: isolation, resume, traversal, manifest, Dask.

The runner knows notebooks only by path and parameters, so these tests point
``P2C_ROOT`` at a temporary tree whose notebook is a small stub. That keeps
them fast and independent of the analyses; the smoke tests run the real
notebooks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

STUB_SOURCE = """\
from p2c_research.context import open_context
from p2c_research.report_io import save_table
import pandas as pd, time
ctx = open_context(country, params_file, data, out_dir)
if ctx.iso3 == "MDG":
    raise RuntimeError("deliberate failure for MDG")
time.sleep(float(__import__("os").environ.get("STUB_SLEEP", "0")))
save_table(pd.DataFrame({"pillar": ["ACCESS", "ADOPTION", "VALUE_CREATION"],
                         "score": [51.0, float("nan"), 33.0], "coverage": [0.8, 0.2, 0.6],
                         "peer_median": [40.0, 35.0, 30.0]}), out_dir, ctx.iso3, "pillar_scores")
print("stub report for", ctx.params.country_name)
"""


def _stub_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'country = "KHM"\nparams_file = ""\ndata = "auto"\nout_dir = "outputs"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Stub report"), params,
                nbformat.v4.new_code_cell(STUB_SOURCE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


@pytest.fixture
def stub_root(tmp_path, project_root, monkeypatch):
    """A project tree with the real params and sample but a stub landscape notebook."""
    sample = project_root / "data" / "sample" / "panel.parquet"
    if not sample.exists():
        pytest.skip("embedded sample not built")
    root = tmp_path / "proj"
    shutil.copytree(project_root / "params", root / "params")
    (root / "data").mkdir(parents=True)
    os.symlink(project_root / "data" / "sample", root / "data" / "sample")
    (root / "notebooks").mkdir()
    nbformat.write(_stub_notebook(), root / "notebooks" / "01_landscape.ipynb")
    monkeypatch.setenv("P2C_ROOT", str(root))
    return root


def _run(codes, out, **kw):
    from p2c_research.runner.batch import run_batch

    return run_batch(codes, out_dir=out, progress=False, **kw)


def test_one_broken_country_does_not_sink_the_batch(stub_root, tmp_path):
    (stub_root / "params" / "DOM.yaml").write_text("country: DOM\nrefrence_year: 2022\n")
    out = tmp_path / "out"
    code = _run(["KHM", "DOM", "MDG", "TUV"], out, local=True)
    assert code == 1
    manifest = json.loads((out / "manifest.json").read_text())
    status = {(e["country"], e["notebook"]): e for e in manifest["outputs"]}
    assert status[("KHM", "landscape")]["status"] == "ok"
    assert status[("TUV", "landscape")]["status"] == "ok"
    assert status[("DOM", "landscape")]["status"] == "failed"
    assert "did you mean 'reference_year'" in status[("DOM", "landscape")]["error"]
    assert status[("MDG", "landscape")]["status"] == "failed"
    assert "deliberate failure for MDG" in status[("MDG", "landscape")]["error"]
    # the partial executed notebook of the failure is kept; no report pretends to exist
    assert (out / "MDG" / "01_landscape.failed.ipynb").exists()
    assert not (out / "MDG" / "01_landscape.html").exists()
    # the successful reports: HTML with no code, executed notebook, tables
    html = (out / "KHM" / "01_landscape.html").read_text()
    assert "stub report for Cambodia" in html
    assert "open_context" not in html  # code cells hidden
    assert "<script src=" not in html  # self-contained: no external scripts
    assert (out / "KHM" / "tables" / "pillar_scores.csv").exists()
    entry = status[("KHM", "landscape")]
    assert entry["params"]["country"] == "KHM" and entry["params_fingerprint"]
    assert set(entry["data_files"]) and manifest["package_versions"]["pandas"]
    assert manifest["git_commit"]
    index = (out / "index.html").read_text()
    assert 'href="KHM/01_landscape.html"' in index
    assert "Failures" in index and "deliberate failure for MDG" in index
    assert "insufficient data" in index  # ADOPTION score is NaN in the stub table


def test_path_traversal_is_rejected_before_any_path_is_built(stub_root, tmp_path):
    out = tmp_path / "out"
    code = _run(["../escape", "KHM"], out, local=True)
    assert code == 1
    assert not (tmp_path / "escape").exists() and not (out.parent / "escape").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    bad = [e for e in manifest["outputs"] if e["status"] == "failed"]
    assert bad and "unknown country code '../ESCAPE'" in bad[0]["error"]


def test_resume_skips_complete_outputs_and_reruns_on_param_change(stub_root, tmp_path):
    out = tmp_path / "out"
    assert _run(["KHM", "TUV"], out, local=True) == 0
    html = out / "KHM" / "01_landscape.html"
    first = html.stat().st_mtime_ns
    assert _run(["KHM", "TUV"], out, local=True, resume=True) == 0
    assert html.stat().st_mtime_ns == first
    manifest = json.loads((out / "manifest.json").read_text())
    assert {e["status"] for e in manifest["outputs"]} == {"skipped"}
    (stub_root / "params" / "KHM.yaml").write_text(
        (stub_root / "params" / "KHM.yaml").read_text() + "\nreference_year: 2022\n")
    assert _run(["KHM"], out, local=True, resume=True) == 0
    assert html.stat().st_mtime_ns != first


def test_resume_after_kill_does_not_redo_finished_work(stub_root, tmp_path, project_root):
    out = tmp_path / "out"
    env = {**os.environ, "STUB_SLEEP": "1.5"}
    cmd = [sys.executable, "-m", "invoke", "batch", "--countries", "KHM,TUV,NPL",
           "--workers", "1", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=project_root, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker_glob = ".01_landscape.done.json"
    deadline = time.time() + 180
    while time.time() < deadline and not list(out.glob(f"*/{marker_glob}")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.parent.name: p.parent.joinpath("01_landscape.html").stat().st_mtime_ns
                   for p in out.glob(f"*/{marker_glob}")}
    assert done_before, "no country finished before the kill"
    assert len(done_before) < 3, "the batch finished before it could be killed"
    # nothing half-written: every report present has its completion marker
    for html in out.glob("*/01_landscape.html"):
        assert (html.parent / marker_glob).exists()
    res = subprocess.run([*cmd, "--resume"], cwd=project_root, env={**os.environ},
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    for code, mtime in done_before.items():
        assert (out / code / "01_landscape.html").stat().st_mtime_ns == mtime
    for code in ("KHM", "TUV", "NPL"):
        assert (out / code / "01_landscape.html").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_batch_on_a_real_dask_scheduler_and_worker(stub_root, tmp_path):
    dask_bin = Path(sys.executable).parent / "dask"
    if not dask_bin.exists():
        pytest.skip("dask CLI not installed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ}
    sched = subprocess.Popen([str(dask_bin), "scheduler", "--host", "127.0.0.1", "--port",
                              str(port), "--no-dashboard"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        worker = subprocess.Popen([str(dask_bin), "worker", address, "--nworkers", "1",
                                   "--nthreads", "1", "--no-dashboard"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = tmp_path / "out"
        code = _run(["KHM", "TUV"], out, scheduler=address)
        assert code == 0
        for c in ("KHM", "TUV"):
            assert (out / c / "01_landscape.html").exists()
        manifest = json.loads((out / "manifest.json").read_text())
        assert {e["country"] for e in manifest["outputs"]} == {"KHM", "TUV"}
    finally:
        for p in (worker, sched):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()


def test_warm_kernel_clears_variables_between_notebooks(stub_root, tmp_path):
    from p2c_research.runner.execute import execute_one
    from p2c_research.runner.warm_kernel import shutdown_warm_kernels

    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell(
        "assert 'leaked' not in globals(), 'a variable leaked from the previous notebook'\n"
        "leaked = country\nimport os\nprint('kernel pid', os.getpid())")
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    out = tmp_path / "out"
    try:
        first = execute_one("KHM", "landscape", out, warm=True)
        second = execute_one("TUV", "landscape", out, warm=True)
    finally:
        shutdown_warm_kernels()
    assert first.status == "ok", first.error
    assert second.status == "ok", second.error
    for code in ("KHM", "TUV"):
        executed = nbformat.read(out / code / "01_landscape.ipynb", as_version=4)
        assert not any("p2c-warm-reset" in c.metadata.get("tags", []) for c in executed.cells)
    pids = _kernel_pids(out, ("KHM", "TUV"))
    assert pids[0] == pids[1], "the second notebook did not reuse the warm kernel"


def _kernel_pids(out: Path, codes: tuple[str, ...]) -> list[str]:
    pids = []
    for code in codes:
        executed = nbformat.read(out / code / "01_landscape.ipynb", as_version=4)
        text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                       for o in c.get("outputs", []))
        pids.append(text.split("kernel pid", 1)[1].split()[0])
    return pids


def test_a_warm_kernel_over_the_worker_memory_budget_is_replaced(stub_root, tmp_path, monkeypatch):
    from p2c_research.runner import warm_kernel
    from p2c_research.runner.execute import execute_one

    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell(
        "import os\nprint('kernel pid', os.getpid())")
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    out = tmp_path / "out"
    # this process alone is larger than the budget, so the kernel is over it after a notebook
    monkeypatch.setenv(warm_kernel.MEMORY_BUDGET_ENV, "100")
    monkeypatch.setattr(warm_kernel, "MIN_NOTEBOOKS_PER_KERNEL", 1)
    before = warm_kernel.stats["recycled"]
    try:
        first = execute_one("KHM", "landscape", out, warm=True)
        second = execute_one("TUV", "landscape", out, warm=True)
    finally:
        warm_kernel.shutdown_warm_kernels()
    assert first.status == "ok", first.error
    assert second.status == "ok", second.error
    assert warm_kernel.stats["recycled"] - before == 2
    pids = _kernel_pids(out, ("KHM", "TUV"))
    assert pids[0] != pids[1], "the kernel over the memory budget was reused"


def test_a_kernel_over_budget_is_kept_for_its_first_notebooks(stub_root, tmp_path, monkeypatch):
    from p2c_research.runner import warm_kernel
    from p2c_research.runner.execute import execute_one

    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell("import os\nprint('kernel pid', os.getpid())")
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    out = tmp_path / "out"
    monkeypatch.setenv(warm_kernel.MEMORY_BUDGET_ENV, "100")
    monkeypatch.setattr(warm_kernel, "MIN_NOTEBOOKS_PER_KERNEL", 3)
    try:
        statuses = [execute_one(c, "landscape", out, warm=True) for c in ("KHM", "TUV")]
    finally:
        warm_kernel.shutdown_warm_kernels()
    assert all(s.status == "ok" for s in statuses), [s.error for s in statuses]
    pids = _kernel_pids(out, ("KHM", "TUV"))
    assert pids[0] == pids[1], "a kernel was replaced before its minimum number of notebooks"


def test_a_malformed_worker_memory_budget_fails_the_batch_before_any_run(stub_root, tmp_path,
                                                                       monkeypatch):
    from p2c_research.errors import P2CError
    from p2c_research.runner.batch import run_batch

    monkeypatch.setenv("P2C_WORKER_MEMORY_MB", "1GB")
    with pytest.raises(P2CError, match="P2C_WORKER_MEMORY_MB='1GB' is not a number"):
        run_batch(["KHM"], out_dir=tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "KHM").exists()


@pytest.mark.parametrize("warm", [False, True])
def test_figures_survive_an_agg_backend_in_the_callers_environment(stub_root, tmp_path,
                                                                    monkeypatch, warm):
    from p2c_research.runner.execute import execute_one
    from p2c_research.runner.warm_kernel import shutdown_warm_kernels

    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2], [3, 4])\n"
        "display(fig)\nplt.close(fig)")
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    try:
        status = execute_one("KHM", "landscape", tmp_path / "out", warm=warm)
    finally:
        shutdown_warm_kernels()
    assert status.status == "ok", status.error
    executed = nbformat.read(tmp_path / "out" / "KHM" / "01_landscape.ipynb", as_version=4)
    kinds = {k for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
             for k in o.get("data", {})}
    assert "image/png" in kinds
    assert os.environ["MPLBACKEND"] == "Agg"  # the caller's environment is restored


def _periodic_callbacks(client) -> list[list[str]]:
    return list(client.run(lambda dask_worker: sorted(dask_worker.periodic_callbacks)).values())


def test_the_batch_cluster_runs_without_the_profiler_and_with_coarse_bookkeeping():
    from dask.distributed import Client, LocalCluster

    from p2c_research.runner.batch import local_cluster

    # Control: a worker with Dask's defaults has the profiler this test looks for.
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as plain, \
            Client(plain) as client:
        assert all("profile" in names for names in _periodic_callbacks(client))
    with local_cluster(1) as cluster, Client(cluster) as client:
        names = _periodic_callbacks(client)
        intervals = client.run(lambda dask_worker: {
            name: dask_worker.periodic_callbacks[name].callback_time
            for name in ("tick", "monitor", "memory_monitor")
            if name in dask_worker.periodic_callbacks})
        scheduler = {name: cluster.scheduler.periodic_callbacks[name].callback_time
                     for name in ("tick", "monitor", "stealing")}
    assert len(names) == 1
    assert "profile" not in names[0] and "profile-cycle" not in names[0]
    assert "heartbeat" in names[0]  # the worker itself is running normally
    # The bookkeeping runs at the coarser intervals, in the worker and the scheduler (ms).
    (worker_intervals,) = intervals.values()
    assert worker_intervals == {"tick": 1000, "monitor": 5000, "memory_monitor": 1000}
    assert scheduler == {"tick": 1000, "monitor": 5000, "stealing": 1000}
