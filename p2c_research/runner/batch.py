"""Batch runs: many countries in parallel on a Dask cluster, with a summary, index and manifest.

By default a LocalCluster of processes (one per core, one thread each: the
notebooks run inside the worker processes, :mod:`p2c_research.runner.inprocess`).
With ``scheduler`` it connects to a running ``dask scheduler``. Each country
task returns status records instead of raising, so one failure never sinks
the batch; the batch exits non-zero when anything failed.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from p2c_research import countries
from p2c_research.config import outputs_dir
from p2c_research.datasets import load_panel, select_data
from p2c_research.errors import P2CError
from p2c_research.runner.execute import NotebookStatus, run_country
from p2c_research.runner.notebooks import available_notebooks

if TYPE_CHECKING:
    from dask.distributed import LocalCluster

log = logging.getLogger(__name__)


def all_countries_with_data(data: str = "auto") -> list[str]:
    """Every economy with at least one scored indicator value in the chosen panel."""
    from p2c_research.catalog import load_catalog

    panel = load_panel(select_data(data))  # type: ignore[arg-type]
    scored = {i.id for i in load_catalog().scored}
    codes = panel.loc[panel["indicator"].isin(scored), "iso3"].unique()
    return sorted(str(c) for c in codes)


def _country_task(country: str, out_dir: str, params_file: str, data: str, resume: bool,
                  root: str | None, engine: str | None = None) -> list[dict]:
    """What a Dask worker runs for one country (plain dicts cross the wire).

    ``engine`` None: the in-process engine where this process may run notebooks
    (:func:`p2c_research.runner.inprocess.available`), else kernels.
    """
    from p2c_research.runner import inprocess
    from p2c_research.runner.worker_setup import in_dask_worker, use_python_strings

    if in_dask_worker():
        use_python_strings()
    if root:
        os.environ.setdefault("P2C_ROOT", root)
    if engine is None or (engine == "inprocess" and not inprocess.available()):
        engine = "inprocess" if inprocess.available() else "kernel"
    return [s.to_dict() for s in run_country(country, out_dir, params_file=params_file,
                                             data=data, resume=resume, engine=engine)]


def _invalid_country_status(code: str, error: str, notebooks: list[str]) -> list[dict]:
    return [NotebookStatus(country=str(code)[:12], notebook=n, status="failed",
                           error=error).to_dict() for n in notebooks]


def run_batch(
    codes: list[str],
    *,
    out_dir: str | Path | None = None,
    data: str = "auto",
    params_file: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    local: bool = False,
    progress: bool = True,
    engine: str | None = None,
) -> int:
    """Run the reports of ``codes``; write ``OUT/index.html`` and ``OUT/manifest.json``.

    ``engine``: how a local run executes its notebooks, ``kernel`` (a fresh Jupyter
    kernel per notebook, as an analyst gets in JupyterLab) or ``inprocess``; None
    (batches) runs them in-process where it can. Dask workers always run in-process.

    Returns the exit code: 0 when every notebook of every country succeeded
    (or was skipped as complete), 1 otherwise.
    """
    from p2c_research.runner.execute import ENGINES

    if engine is not None and engine not in ENGINES:
        raise P2CError(f"unknown notebook engine {engine!r}; use one of {', '.join(ENGINES)}")
    from p2c_research.runner.index import write_index
    from p2c_research.runner.manifest import write_manifest
    from p2c_research.runner.methodology_page import write_methodology
    from p2c_research.runner.shared import precompute_shared
    out = Path(out_dir or outputs_dir()).resolve()
    out.mkdir(parents=True, exist_ok=True)
    notebooks = available_notebooks()
    if not notebooks:
        raise P2CError("no report notebooks found under notebooks/; nothing to run")
    selection = select_data(data)  # type: ignore[arg-type]

    # Validate every code before any path is built from it (no path traversal).
    valid: list[str] = []
    results: list[dict] = []
    for raw in dict.fromkeys(codes):
        try:
            valid.append(countries.validate_iso3(raw))
        except P2CError as exc:
            results += _invalid_country_status(raw, str(exc), notebooks)

    started = time.perf_counter()
    timings = precompute_shared(selection) if valid else {}
    if timings:
        print("shared work (once per batch): "
              + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()), file=sys.stderr)

    pf = str(Path(params_file).resolve()) if params_file else ""
    if local or (len(valid) <= 1 and not scheduler):
        for code in _progress(valid, progress):
            results += _country_task(code, str(out), pf, data, resume, None, engine)
    else:
        results += _run_dask(valid, out, pf, data, resume, workers, scheduler,
                             progress)
    elapsed = time.perf_counter() - started

    write_manifest(out, results, selection)
    write_index(out)
    write_methodology(out)
    _print_summary(results, elapsed)
    return 0 if all(r["status"] in ("ok", "skipped") for r in results) else 1


def _progress(items, enabled: bool, total: int | None = None):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc="countries", unit="country", file=sys.stderr)


#: Dask settings of the batch's own LocalCluster.
#:
#: - The worker's statistical profiler samples the task thread every 10 ms and
#:   keeps each second's call tree for up to ``distributed.admin.low-level-log-length``
#:   (1000) seconds. A country task is seconds of Python,
#:   so over a full batch these trees grew each worker from 218 to about 330 MiB
#:   and cost about 0.7 s of its CPU per country (sampled every second, 30 and 70
#:   countries). The batch has no dashboard to show them.
#: - The periodic bookkeeping of the scheduler, nannies and workers runs at
#:   coarser intervals. An idle two-worker cluster used 0.135 s of CPU per second
#:   (7% of this 2-core machine) with Dask's defaults and 0.026 s with these
#:   (30 s each). The event-loop "tick" (every 20 ms) only detects a loop
#:   blocked for more than ``tick.limit`` (3 s), which 1 s still does; the system
#:   monitor feeds the dashboard; the memory monitor enforces Dask's own worker
#:   memory limit (a share of the machine's memory), far above the 700-750 MiB
#:   a worker running the notebooks in its own process settles at;
#:   work stealing has little to move, since the scheduler queues the tasks.
#: - Dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536`` so that
#:   freed memory goes back to the system at once. Setting that variable at all
#:   also turns off glibc's sliding mmap threshold, so every buffer over 128 KiB
#:   (a figure's pixels, a pandas column) is mapped afresh and faulted in page by
#:   page. Two processes side by side over the same nine countries, with the
#:   variable against without it, twice: 0.63 against 0.16 s of system CPU per
#:   country, 139,000 against 6,000 page faults, user CPU 5.66 / 5.42 against
#:   5.67 / 5.24 s, peaks 765 / 762 against 768 / 778 MiB. ``None`` unsets it (a
#:   value the user exports still wins).
LOCAL_CLUSTER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.work-stealing-interval": "1s",
}


def local_cluster(n_workers: int) -> LocalCluster:
    """A LocalCluster of ``n_workers`` one-thread processes (:data:`LOCAL_CLUSTER_CONFIG`)."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(LOCAL_CLUSTER_CONFIG):  # the nannies pass it on to their workers
        # CRITICAL: at shutdown a worker's last heartbeat can race the scheduler's
        # close and log a harmless traceback; task failures reach us as results.
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                            dashboard_address=None, silence_logs=logging.CRITICAL)


def _run_dask(codes: list[str], out: Path, params_file: str, data: str, resume: bool,
              workers: int | None, scheduler: str | None, progress: bool) -> list[dict]:
    from dask.distributed import Client, as_completed

    root = os.environ.get("P2C_ROOT")
    if scheduler:
        client = Client(scheduler, timeout="30s")
        cluster = None
    else:
        cluster = local_cluster(workers or os.cpu_count() or 2)
        client = Client(cluster)
    results: list[dict] = []
    try:
        futures = {
            client.submit(_country_task, code, str(out), params_file, data, resume, root,
                          key=f"country-{code}-{time.time_ns()}", pure=False): code
            for code in codes
        }
        bar = _progress(None, progress, total=len(futures)) if progress else None
        for fut in as_completed(list(futures)):
            code = futures.pop(fut)  # dropping the future lets the worker free the result
            try:
                results += fut.result()
            except Exception as exc:  # a worker died: record, carry on
                results += _invalid_country_status(code, f"worker failed: {exc!r}",
                                                   available_notebooks())
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(code)
        if bar is not None:
            bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results


def _print_summary(results: list[dict], elapsed: float) -> None:
    by_country: dict[str, list[dict]] = {}
    for r in results:
        by_country.setdefault(r["country"], []).append(r)
    ok = sum(1 for rs in by_country.values() if all(r["status"] in ("ok", "skipped") for r in rs))
    print(f"\n{'country':<8} {'notebook':<16} {'status':<8} {'sec':>6}  error")
    for code in sorted(by_country):
        for r in by_country[code]:
            err = (r.get("error") or "").replace("\n", " ")[:90]
            print(f"{code:<8} {r['notebook']:<16} {r['status']:<8} {r.get('seconds', 0):>6.1f}  {err}")
    print(f"\n{ok}/{len(by_country)} countries complete in {elapsed:.1f}s; "
          f"{len(by_country) - ok} with failures")
