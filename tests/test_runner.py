"""The batch runner on a stub project tree: isolation, resume, traversal, manifest, Dask.

The runner knows notebooks only by path and parameters, so these tests point
``P2C_ROOT`` at a temporary tree whose notebook is a small stub. That keeps
them fast and independent of the analyses; the smoke tests run the real
notebooks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow  # kernels, Dask clusters and subprocesses

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
    out = tmp_path / "out"
    code = _run(["KHM", "MDG", "TUV"], out, local=True)
    assert code == 1
    manifest = json.loads((out / "manifest.json").read_text())
    status = {(e["country"], e["notebook"]): e for e in manifest["outputs"]}
    assert status[("KHM", "landscape")]["status"] == "ok"
    assert status[("TUV", "landscape")]["status"] == "ok"
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
    from p2c_research.errors import P2CError

    out = tmp_path / "out"
    with pytest.raises(P2CError, match=r"unknown country code '\.\./ESCAPE'"):
        _run(["../escape", "KHM"], out, local=True)
    assert not (tmp_path / "escape").exists() and not (out.parent / "escape").exists()
    assert not out.exists()  # nothing written, not even the output folder


def test_bad_params_of_one_country_stop_the_batch_before_anything_is_written(stub_root,
                                                                          tmp_path):
    from p2c_research.errors import P2CError

    (stub_root / "params" / "DOM.yaml").write_text("country: DOM\nrefrence_year: 2022\n")
    (stub_root / "params" / "MDG.yaml").write_text("country: [MDG\n")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(P2CError) as info:
        _run(["KHM", "DOM", "MDG", "TUV"], out, local=True)
    message = str(info.value)
    assert message.startswith("2 countries with invalid parameters; nothing was run")
    assert "DOM: " in message and "did you mean 'reference_year'" in message
    assert "MDG: " in message and "not valid YAML" in message
    assert list(out.iterdir()) == []


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


EVERY_OUTPUT_KIND = """\
import sys
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
print("to stdout", country)
print("to stderr", file=sys.stderr)
display(Markdown("**markdown** for " + country))
fig, ax = plt.subplots(figsize=(2, 1.5))
ax.plot([1, 2, 3], [3, 1, 2])
display(fig)
plt.close(fig)
print("after the figure")
left_open, ax2 = plt.subplots(figsize=(2, 1.5))
ax2.bar([0, 1], [2, 3])
pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "y"]})
"""


def _code_outputs(path: Path) -> list[list[dict]]:
    nb = nbformat.read(path, as_version=4)
    return [[dict(o) for o in c.outputs] for c in nb.cells if c.cell_type == "code"], nb


def test_inprocess_outputs_are_those_of_a_kernel(stub_root, tmp_path):
    """Streams, display(), figures shown and left open, a last expression:
    the in-process engine writes exactly what a Jupyter kernel sends."""
    from p2c_research.runner.execute import execute_one

    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell(EVERY_OUTPUT_KIND)
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nb.cells.append(nbformat.v4.new_code_cell("x + 1"))
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    status = execute_one("KHM", "landscape", tmp_path / "kernel", engine="kernel")
    assert status.status == "ok", status.error
    # In a fresh process, like a batch worker: this one's matplotlib settings depend
    # on the tests that ran before.
    script = ("from pathlib import Path\nfrom p2c_research.runner.execute import execute_one\n"
              f"s = execute_one('KHM', 'landscape', Path({str(tmp_path / 'inprocess')!r}), "
              "engine='inprocess')\nprint(s.status, s.error)")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert res.stdout.strip() == "ok", res.stdout + res.stderr
    runs = {engine: _code_outputs(tmp_path / engine / "KHM" / "01_landscape.ipynb")
            for engine in ("kernel", "inprocess")}
    (kernel, kernel_nb), (inproc, inproc_nb) = runs["kernel"], runs["inprocess"]
    every = inproc[2]  # after the parameters and papermill's injected parameters
    kinds = [(o["output_type"], o.get("name", "")) for o in every]
    assert kinds == [("stream", "stdout"), ("stream", "stderr"), ("display_data", ""),
                     ("display_data", ""), ("stream", "stdout"), ("execute_result", ""),
                     ("display_data", "")], kinds
    # the figure left open is shown at the end of the cell, as the inline backend does
    assert set(every[-1]["data"]) == {"image/png", "text/plain"}
    assert inproc[-1] == [{"output_type": "execute_result", "execution_count": 5,
                           "data": {"text/plain": "2"}, "metadata": {}}]
    assert inproc == kernel
    assert inproc_nb.metadata.language_info == kernel_nb.metadata.language_info
    assert [c.get("execution_count") for c in inproc_nb.cells] == \
        [c.get("execution_count") for c in kernel_nb.cells]


LEAK_PROBE = """\
import os, random, warnings
from pathlib import Path
import numpy as np, pandas as pd, matplotlib as mpl
assert 'leaked' not in globals() and '_private' not in globals(), 'a variable leaked'
assert mpl.rcParams['lines.linewidth'] != 7, 'a matplotlib setting leaked'
assert pd.get_option('display.max_rows') != 3, 'a pandas option leaked'
assert not any(getattr(f[1], 'pattern', None) == 'p2c-leak-probe' for f in warnings.filters), \
    'a warnings filter leaked'
assert 'P2C_LEAK_PROBE' not in os.environ, 'an environment variable leaked'
assert Path.cwd().name == 'notebooks', f'the working directory is {Path.cwd()}'
history = get_ipython().history_manager
assert not getattr(history, 'outputs', None) and not history.output_hist, \
    'the displayed outputs of the last notebook are still held'
print('draws', random.random(), float(np.random.random()))
display({'text/html': 'x' * 100_000}, raw=True)
mpl.rcParams['lines.linewidth'] = 7
pd.set_option('display.max_rows', 3)
warnings.filterwarnings('error', message='p2c-leak-probe')
random.seed(12345); np.random.seed(12345)
os.environ['P2C_LEAK_PROBE'] = '1'
os.chdir('/')
leaked = country
_private = 1
print('process', os.getpid())
"""


def test_inprocess_resets_everything_a_notebook_can_change(stub_root, tmp_path):
    """Namespace (underscore names too), IPython's output history, pandas options, warnings
    filters, random state, environment, working directory and rcParams: the next notebook
    sees none of them."""
    from p2c_research.runner.execute import execute_one

    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell(LEAK_PROBE)
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    out = tmp_path / "out"
    cwd = Path.cwd()
    statuses = [execute_one(code, "landscape", out, engine="inprocess")
                for code in ("KHM", "TUV", "MRT")]
    assert Path.cwd() == cwd  # the caller's directory is untouched too
    draws = set()
    for code, status in zip(("KHM", "TUV", "MRT"), statuses, strict=True):
        assert status.status == "ok", (code, status.error)
        executed = nbformat.read(out / code / "01_landscape.ipynb", as_version=4)
        text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                       for o in c.get("outputs", []))
        assert f"process {os.getpid()}" in text  # really in this process, no kernel
        draws.add(re.search(r"draws (\S+) (\S+)", text).groups())
    assert len(draws) == 1  # every notebook starts from the same random state


def test_inprocess_cell_timeout_stops_a_runaway_cell(stub_root, tmp_path, monkeypatch):
    from p2c_research.runner import inprocess
    from p2c_research.runner.execute import execute_one

    monkeypatch.setattr(inprocess, "DEFAULT_CELL_TIMEOUT", 1.0)
    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell(
        "import time\nt0 = time.monotonic()\nwhile time.monotonic() - t0 < 60:\n    pass")
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    t0 = time.monotonic()
    status = execute_one("KHM", "landscape", tmp_path / "out", engine="inprocess")
    assert status.status == "failed"
    assert status.error.startswith("CellTimeout")
    assert time.monotonic() - t0 < 50  # stopped, not run to its end


def test_an_error_in_process_fails_the_notebook_with_its_traceback(stub_root, tmp_path):
    from p2c_research.runner.execute import execute_one

    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell("print('before')\n1 / 0")
    nb.cells.append(nbformat.v4.new_code_cell("print('never run')"))
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    status = execute_one("KHM", "landscape", tmp_path / "out", engine="inprocess")
    assert status.status == "failed"
    assert status.error == "ZeroDivisionError: division by zero"
    failed = nbformat.read(tmp_path / "out" / "KHM" / "01_landscape.failed.ipynb", as_version=4)
    code = [c for c in failed.cells if c.cell_type == "code"]
    error = [o for o in code[-2].outputs if o.output_type == "error"]
    assert error and error[0].ename == "ZeroDivisionError"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error[0].traceback))  # without colours
    assert "1 / 0" in plain and "ZeroDivisionError" in plain
    assert code[-1].outputs == [] and code[-1].execution_count is None  # stopped there
    assert not (tmp_path / "out" / "KHM" / "01_landscape.html").exists()


@pytest.mark.parametrize("engine", ["kernel", "inprocess"])
def test_figures_survive_an_agg_backend_in_the_callers_environment(stub_root, tmp_path,
                                                                    monkeypatch, engine):
    from p2c_research.runner.execute import execute_one

    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2], [3, 4])\n"
        "display(fig)\nplt.close(fig)")
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    status = execute_one("KHM", "landscape", tmp_path / "out", engine=engine)
    assert status.status == "ok", status.error
    executed = nbformat.read(tmp_path / "out" / "KHM" / "01_landscape.ipynb", as_version=4)
    kinds = {k for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
             for k in o.get("data", {})}
    assert "image/png" in kinds
    assert os.environ["MPLBACKEND"] == "Agg"  # the caller's environment is restored


def _periodic_callbacks(client) -> list[list[str]]:
    return list(client.run(lambda dask_worker: sorted(dask_worker.periodic_callbacks)).values())


def test_the_batch_cluster_runs_without_the_profiler_and_with_coarse_bookkeeping(monkeypatch):
    import dask
    from dask.distributed import Client, LocalCluster

    from p2c_research.runner.batch import local_cluster

    # Dask's nannies export this to their workers (and to the process that starts
    # them); the batch's cluster unsets it, keeping glibc's sliding mmap threshold.
    assert dask.config.get("distributed.nanny.pre-spawn-environ")["MALLOC_TRIM_THRESHOLD_"]
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)

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
        trim = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_", "unset"))
    assert list(trim.values()) == ["unset"]
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    assert len(names) == 1
    assert "profile" not in names[0] and "profile-cycle" not in names[0]
    assert "heartbeat" in names[0]  # the worker itself is running normally
    # The bookkeeping runs at the coarser intervals, in the worker and the scheduler (ms).
    (worker_intervals,) = intervals.values()
    assert worker_intervals == {"tick": 1000, "monitor": 5000, "memory_monitor": 1000}
    assert scheduler == {"tick": 1000, "monitor": 5000, "stealing": 1000}


def test_a_notebook_that_kills_its_worker_fails_only_its_country(stub_root, tmp_path):
    """Notebooks run inside the Dask workers: one that ends the interpreter takes its
    worker down. Dask's nanny starts a new worker, the batch records the country as
    failed and finishes the others."""
    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell(
        "import os\nif country == 'MDG':\n    os._exit(3)\n" + STUB_SOURCE.replace(
            'if ctx.iso3 == "MDG":\n    raise RuntimeError("deliberate failure for MDG")\n', ""))
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    out = tmp_path / "out"
    code = _run(["KHM", "MDG", "TUV"], out, workers=1)
    assert code == 1
    manifest = json.loads((out / "manifest.json").read_text())
    status = {e["country"]: e for e in manifest["outputs"]}
    assert status["KHM"]["status"] == "ok" and status["TUV"]["status"] == "ok"
    assert status["MDG"]["status"] == "failed"
    assert "worker failed" in status["MDG"]["error"] and "KilledWorker" in status["MDG"]["error"]
    assert (out / "KHM" / "01_landscape.html").exists()
    assert not (out / "MDG" / "01_landscape.html").exists()


def test_inside_another_ipython_shell_the_batch_uses_kernels(stub_root, tmp_path):
    """An analyst calling the batch from JupyterLab: the shell there is theirs, so the
    notebooks get kernels of their own instead of running in it."""
    nb = _stub_notebook()
    nb.cells[2] = nbformat.v4.new_code_cell("import os\nprint('process', os.getpid())")
    nbformat.write(nb, stub_root / "notebooks" / "01_landscape.ipynb")
    out = tmp_path / "out"
    script = ("import os\nfrom IPython.core.interactiveshell import InteractiveShell\n"
              "InteractiveShell.instance()  # the user's shell\n"
              "from p2c_research.runner.batch import run_batch\n"
              f"code = run_batch(['KHM'], out_dir={str(out)!r}, progress=False, local=True)\n"
              "print('exit', code, 'caller', os.getpid())")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert "exit 0" in res.stdout, res.stdout + res.stderr
    caller = res.stdout.split("caller", 1)[1].split()[0]
    executed = nbformat.read(out / "KHM" / "01_landscape.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "process" in text and f"process {caller}" not in text  # a kernel, not the caller


@pytest.mark.parametrize("command", ["batch", "run"])
def test_ctrl_c_exits_130_and_records_the_finished_reports(stub_root, tmp_path, project_root,
                                                            command):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) ends the run with
    exit code 130 and one 'interrupted' line, and the manifest lists what had finished."""
    out = tmp_path / "out"
    env = {**os.environ, "STUB_SLEEP": "1.5"}
    if command == "batch":
        cmd = [sys.executable, "-m", "invoke", "batch", "--countries", "KHM,TUV,NPL,KEN",
               "--workers", "1", "--out", str(out)]
        marker_glob = "*/.01_landscape.done.json"
    else:  # one country: its notebooks run in this process, one after another
        nb = _stub_notebook()
        for name in ("02_benchmarking.ipynb", "03_pledge_gap_map.ipynb"):
            nbformat.write(nb, stub_root / "notebooks" / name)
        cmd = [sys.executable, "-m", "invoke", "run", "--country", "KHM", "--out", str(out)]
        marker_glob = "KHM/.01_landscape.done.json"
    # As a terminal starts a command: Ctrl-C not ignored, also when this suite itself was
    # started in the background of a shell without job control (which ignores it and
    # passes that on to every process below).
    proc = subprocess.Popen(cmd, cwd=project_root, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 180
    while time.time() < deadline and not list(out.glob(marker_glob)) and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted; rerun with --resume" in stderr
    assert "Traceback" not in stderr
    finished = {p.parent.name for p in out.glob("*/.01_landscape.done.json")}
    manifest = json.loads((out / "manifest.json").read_text())
    recorded = {e["country"] for e in manifest["outputs"]
                if e["notebook"] == "landscape" and e["status"] == "ok"}
    assert finished and finished <= recorded
    assert (out / "index.html").exists()


def _new_listeners(before: set) -> set[tuple[int, str, int]]:
    import psutil

    me = psutil.Process()
    found = set()
    for proc in [me, *me.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        found |= {(proc.pid, c.laddr.ip, c.laddr.port) for c in conns
                  if c.status == psutil.CONN_LISTEN}
    return found - before


def _http_status(port: int, path: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_batch_cluster_listens_on_loopback_only_and_serves_no_dashboard():
    """The batch's LocalCluster: every socket it opens is on 127.0.0.1, none on 8787, and
    its HTTP servers answer nothing (Dask opens them even without a dashboard)."""
    from dask.distributed import Client

    from p2c_research.runner.batch import local_cluster

    def port_of(address: str) -> int:
        return int(address.rsplit(":", 1)[1])

    def answers_on_8787() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", 8787)) == 0

    taken_before = answers_on_8787()  # another program of this machine may use the port
    before = _new_listeners(set())
    with local_cluster(2) as cluster, Client(cluster) as client:
        info = client.scheduler_info()
        assert len(info["workers"]) == 2
        listeners = _new_listeners(before)
        comm_ports = {port_of(cluster.scheduler_address)}
        for address, worker in info["workers"].items():
            comm_ports |= {port_of(address), port_of(worker["nanny"])}
        http_ports = {port for _, _, port in listeners} - comm_ports
        answers = {port: (_http_status(port, "/status"), _http_status(port, "/health"),
                          _http_status(port, "/metrics")) for port in http_ports}
        taken_during = answers_on_8787()
    assert {ip for _, ip, _ in listeners} == {"127.0.0.1"}, listeners
    assert 8787 not in {port for _, _, port in listeners}
    assert taken_before or not taken_during, "something answers on 127.0.0.1:8787"
    # the scheduler's and each worker's HTTP server: no route, no dashboard, no metrics
    assert len(answers) == 3, (listeners, comm_ports)
    assert set(answers.values()) == {(404, 404, 404)}, answers


def test_the_dashboard_is_served_on_loopback_when_asked_for(capsys):
    from p2c_research.runner.batch import dask_client

    with dask_client(1, None, None, dashboard=True) as client:
        link = client.dashboard_link
        port = int(link.split(":")[2].split("/")[0])
        assert _http_status(port, "/health") == 200
    assert link.startswith("http://127.0.0.1:")
    assert f"Dask dashboard (this machine only): {link}" in capsys.readouterr().err
