"""Batch runs: many countries in parallel on a Dask cluster, with a summary, index and manifest.

By default a LocalCluster of processes (one per core, one thread each: the
notebooks run inside the worker processes, :mod:`p2c_research.runner.inprocess`).
With ``scheduler`` it connects to a running ``dask scheduler``. Each country
task returns status records instead of raising, so one failure never sinks
the batch; the batch exits non-zero when anything failed.

Bad input stops a batch before anything is computed or written: the output
folder, the data files, every country code and every params file are checked
first, and a remote scheduler must answer. Finished reports are recorded in
the manifest as they come (at most :data:`RECORD_INTERVAL` seconds apart) and
when the batch is interrupted, so an interrupted batch leaves a manifest and
an index of what it finished.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p2c_research import countries
from p2c_research.config import outputs_dir
from p2c_research.datasets import DataSelection, load_panel, select_data
from p2c_research.errors import P2CError
from p2c_research.runner.execute import NotebookStatus, run_country
from p2c_research.runner.notebooks import available_notebooks
from p2c_research.store import write_error

if TYPE_CHECKING:
    from dask.distributed import Client, LocalCluster

log = logging.getLogger(__name__)

#: Most worker processes a batch starts on this machine.
MAX_WORKERS = 256
#: Seconds between two manifest writes while a batch runs (each rewrites the
#: whole manifest: 0.1 s for 217 countries); the last write is at the end.
RECORD_INTERVAL = 10.0


def all_countries_with_data(data: str = "auto") -> list[str]:
    """Every economy with at least one scored indicator value in the chosen panel."""
    from p2c_research.catalog import load_catalog

    panel = load_panel(select_data(data))  # type: ignore[arg-type]
    scored = {i.id for i in load_catalog().scored}
    codes = panel.loc[panel["indicator"].isin(scored), "iso3"].unique()
    return sorted(str(c) for c in codes)


def _country_task(country: str, out_dir: str, params_file: str, data: str, resume: bool,
                  root: str | None) -> list[dict]:
    """What a Dask worker runs for one country (plain dicts cross the wire)."""
    _on_worker(root)
    return [s.to_dict() for s in run_country(country, out_dir, params_file=params_file,
                                             data=data, resume=resume, engine=_engine())]


def _on_worker(root: str | None) -> None:
    """What every batch task sets first in the process it runs in."""
    from p2c_research.runner.worker_setup import in_dask_worker, use_python_strings

    if in_dask_worker():  # any cluster's worker, not only the batch's own (preloaded)
        use_python_strings()
    if root:
        os.environ.setdefault("P2C_ROOT", root)


def _invalid_country_status(code: str, error: str, notebooks: list[str]) -> list[dict]:
    return [NotebookStatus(country=str(code)[:12], notebook=n, status="failed",
                           error=error).to_dict() for n in notebooks]


# --------------------------------------------------------------------------- checks
def check_out_dir(out_dir: str | Path | None) -> Path:
    """The output folder, resolved, once it is known to be a folder this process can write.

    Nothing is created here; the folder is made when the batch starts writing.

    Raises:
        P2CError: ``out_dir`` (or a folder above it) is a file, or is read-only.
    """
    out = Path(out_dir or outputs_dir()).expanduser().resolve()
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == out else f"is inside {existing}, which is a file"
        raise P2CError(f"{out}: {what}, not a folder; pass a folder to --out "
                       "(it is created if missing)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise P2CError(f"{existing}: read-only or no permission to write there; choose "
                       "another folder with --out")
    return out


def check_workers(workers: int | str | None) -> int | None:
    """``workers`` as a count of processes (None: one per core).

    Raises:
        P2CError: not a whole number from 1 to :data:`MAX_WORKERS`.
    """
    if workers is None or workers == "":
        return None
    text = str(workers).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKERS:
        raise P2CError(f"--workers {workers}: the number of worker processes must be a whole "
                       f"number from 1 to {MAX_WORKERS} (leave it out for one per core)")
    return int(text)


def check_codes(codes: list[str]) -> list[str]:
    """Every code validated (upper-cased, de-duplicated) before any path is built from one.

    Raises:
        P2CError: one or more unknown codes; the message lists each with its
            close matches, and nothing has been run.
    """
    valid: list[str] = []
    problems: list[str] = []
    for raw in dict.fromkeys(codes):
        try:
            valid.append(countries.validate_iso3(raw))
        except P2CError as exc:
            problems.append(str(exc))
    _raise_all(problems, "unknown country codes")
    if not valid:
        raise P2CError("no countries to run: pass --country CODE, --countries A,B or --all")
    return list(dict.fromkeys(valid))


def check_params(codes: list[str], params_file: str | None) -> None:
    """Load and validate each country's params (cheap: about 2 ms each).

    Raises:
        P2CError: a params file is missing, malformed or invalid; every
            failing country is listed.
    """
    from p2c_research.params import load_params

    problems = []
    for code in codes:
        try:
            load_params(code, params_file)
        except P2CError as exc:
            problems.append(f"{code}: {exc}" if len(codes) > 1 else str(exc))
    _raise_all(problems, "countries with invalid parameters")


def _raise_all(problems: list[str], what: str) -> None:
    if len(problems) == 1:
        raise P2CError(problems[0])
    if problems:
        raise P2CError(f"{len(problems)} {what}; nothing was run:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------- recording
@dataclass
class _Recorder:
    """Writes finished reports into the manifest as they come; the index and the
    methodology page at the end."""

    out: Path
    selection: DataSelection
    header: dict[str, Any]
    results: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)
    last_write: float = field(default_factory=time.monotonic)

    def add(self, rows: list[dict]) -> None:
        self.results += rows
        self.pending += rows
        if time.monotonic() - self.last_write >= RECORD_INTERVAL:
            self.flush()

    def flush(self) -> None:
        from p2c_research.runner.manifest import write_manifest

        if self.pending:
            write_manifest(self.out, self.pending, self.selection, self.header)
            self.pending = []
        self.last_write = time.monotonic()

    def recover(self, codes: list[str], params_file: str, data: str, since: str) -> None:
        """Add the reports of ``codes`` completed on disk since ``since`` but not yet recorded."""
        from p2c_research.runner.execute import completed_statuses

        seen = {(r["country"], r["notebook"]) for r in self.results}
        for code in codes:
            if all((code, nb) in seen for nb in available_notebooks()):
                continue
            self.add([st.to_dict() for st in completed_statuses(code, self.out,
                                                                 params_file=params_file,
                                                                 data=data)
                      if (code, st.notebook) not in seen and st.ended >= since])

    def finish(self) -> None:
        from p2c_research.runner.index import write_index
        from p2c_research.runner.methodology_page import write_methodology

        self.flush()
        write_index(self.out)
        write_methodology(self.out)


def run_batch(
    codes: list[str],
    *,
    out_dir: str | Path | None = None,
    data: str = "auto",
    params_file: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    security: str | None = None,
    dashboard: bool = False,
    resume: bool = False,
    local: bool = False,
    progress: bool = True,
    engine: str | None = None,
    baseline: str | Path | None = None,
) -> int:
    """Run the reports of ``codes``; write ``OUT/index.html`` and ``OUT/manifest.json``.

    ``baseline``: an earlier batch's output folder; each pledge report then gains a
    "Since the last assessment" section and ``OUT/compare.html`` lists every change
    (:mod:`p2c_research.reports.compare_report`).

    ``engine``: how a local run executes its notebooks, ``kernel`` (a fresh Jupyter
    kernel per notebook, as an analyst gets in JupyterLab) or ``inprocess``; None
    (batches) runs them in-process where it can. Dask workers always run in-process.

    Returns the exit code: 0 when every notebook of every country succeeded
    (or was skipped as complete), 1 otherwise.

    Raises:
        P2CError: bad input (output folder, data files, country codes, params,
            worker count, an unreachable scheduler); nothing has been written.
        KeyboardInterrupt: after recording the reports finished so far.
    """
    from p2c_research.runner.execute import ENGINES
    from p2c_research.runner.manifest import manifest_header
    from p2c_research.runner.shared import precompute_shared

    out = check_out_dir(out_dir)
    notebooks = available_notebooks()
    if not notebooks:
        raise P2CError("no report notebooks found under notebooks/; nothing to run")
    n_workers = check_workers(workers)
    selection = select_data(data)  # type: ignore[arg-type]
    selection.check()
    valid = check_codes(codes)
    pf = str(Path(params_file).resolve()) if params_file else ""
    check_params(valid, pf or None)
    if engine is not None and engine not in ENGINES:
        raise P2CError(f"unknown notebook engine {engine!r}; use one of {', '.join(ENGINES)}")
    use_dask = not local and (len(valid) > 1 or bool(scheduler))
    from p2c_research.reports import compare_report

    baseline_dir = compare_report.check_baseline(baseline, out)

    recorder: _Recorder | None = None
    started, started_at = time.perf_counter(), _now()
    try:
        with contextlib.ExitStack() as stack:
            client = (stack.enter_context(dask_client(n_workers, scheduler, security, dashboard))
                      if use_dask else None)
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_error(out, exc) from exc
            compare_report.set_baseline(out, baseline_dir)  # before any report reads it
            recorder = _Recorder(out, selection, manifest_header(selection))
            timings = precompute_shared(selection)
            if timings:
                print("shared work (once per batch): "
                      + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()), file=sys.stderr)
            if client is None:
                for code in _progress(valid, progress):
                    run_country(code, out, params_file=pf, data=data, resume=resume,
                                engine=_engine(engine),
                                on_status=lambda st: recorder.add([st.to_dict()]))
            else:
                _run_dask(client, valid, out, pf, data, resume, progress, recorder.add)
            recorder.finish()
            if baseline_dir is not None:
                written = compare_report.write_comparison(baseline_dir, out)
                print(f"changes since {baseline_dir}: {written['html']}", file=sys.stderr)
            portfolio = _write_portfolio(out, valid, engine, client)
    except BaseException:
        # What finished before an interruption is kept, also the reports a worker
        # finished whose result had not come back (read once the workers are stopped).
        if recorder is not None:
            with contextlib.suppress(P2CError, OSError):
                recorder.recover(valid, pf, data, started_at)
                recorder.finish()
        raise
    if portfolio is not None and portfolio.status == "ok":
        from p2c_research.runner.index import write_index

        write_index(out)  # again, now that the index can link the portfolio page
    elapsed = time.perf_counter() - started
    _print_summary(recorder.results, elapsed)
    countries_ok = all(r["status"] in ("ok", "skipped") for r in recorder.results)
    return 0 if countries_ok and (portfolio is None or portfolio.status == "ok") else 1


def _portfolio_task(out_dir: str, codes: list[str], root: str | None) -> dict | None:
    """What a Dask worker runs for the portfolio page (a plain dict crosses the wire)."""
    from p2c_research.runner.portfolio import run_portfolio

    _on_worker(root)
    status = run_portfolio(out_dir, codes, engine=_engine())
    return None if status is None else status.to_dict()


def _write_portfolio(out: Path, codes: list[str], engine: str | None,
                     client: Client | None = None) -> NotebookStatus | None:
    """``OUT/portfolio.html`` over the batch's countries, once they are all recorded.

    Runs after every country (also those skipped by ``--resume``); a failed
    country is on the page as failed. None when the checkout has no portfolio
    notebook. With a Dask ``client`` it runs on a worker, whose libraries and
    figure caches the countries have already loaded (about 2 s less than a
    cold start in this process).
    """
    from p2c_research.runner.portfolio import NAME, run_portfolio

    if client is None:
        status = run_portfolio(out, codes, engine=_engine(engine))
    else:
        try:
            row = client.submit(_portfolio_task, str(out), list(codes),
                                os.environ.get("P2C_ROOT"), pure=False,
                                key=f"portfolio-{time.time_ns()}").result()
        except Exception as exc:  # the worker died: record, carry on
            row = NotebookStatus(country="ALL", notebook=NAME, status="failed",
                                 error=f"worker failed: {exc!r}").to_dict()
        status = None if row is None else NotebookStatus(**row)
    if status is not None:
        detail = status.html if status.status == "ok" else f"FAILED: {status.error}"
        print(f"portfolio of {len(codes)} countries ({status.seconds:.1f}s): {detail}",
              file=sys.stderr)
    return status


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def _engine(asked: str | None = None) -> str:
    """The engine asked for, or in-process where this process can run notebooks (not inside
    another IPython shell: :func:`p2c_research.runner.inprocess.available`), else kernels."""
    from p2c_research.runner import inprocess

    if asked == "kernel" or not inprocess.available():
        return "kernel"
    return "inprocess"


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
#:   memory limit (a share of the machine's memory), far above the 1.4-1.5 GiB
#:   a worker running the notebooks in its own process reaches over a full batch;
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


#: Added to :data:`LOCAL_CLUSTER_CONFIG` unless the user asks for the dashboard.
#: A Dask scheduler always opens an HTTP server (dashboard, Prometheus metrics,
#: health checks), by default on port 8787, and each worker another. With no
#: routes they answer nothing but "404", and they listen on a free port of
#: 127.0.0.1 instead of 8787.
NO_HTTP_ROUTES = {
    "distributed.scheduler.http.routes": [],
    "distributed.worker.http.routes": [],
}


#: Imported by each worker of the batch's LocalCluster as it starts: the workers leave
#: Ctrl-C to the batch (:mod:`p2c_research.runner.worker_setup`).
WORKER_PRELOAD = "p2c_research.runner.worker_setup"


def local_cluster(n_workers: int, *, dashboard: bool = False) -> LocalCluster:
    """A LocalCluster of ``n_workers`` one-thread processes on 127.0.0.1 (:data:`LOCAL_CLUSTER_CONFIG`).

    Without ``dashboard`` nothing answers HTTP (:data:`NO_HTTP_ROUTES`);
    with it, Dask's dashboard listens on 127.0.0.1 (port 8787, or a free one).
    """
    import dask
    from dask.distributed import LocalCluster

    config = {**LOCAL_CLUSTER_CONFIG, **({} if dashboard else NO_HTTP_ROUTES)}
    with dask.config.set(config):  # the nannies pass it on to their workers
        # CRITICAL: at shutdown a worker's last heartbeat can race the scheduler's
        # close and log a harmless traceback; task failures reach us as results.
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                            host="127.0.0.1",
                            dashboard_address="127.0.0.1:8787" if dashboard else "127.0.0.1:0",
                            scheduler_kwargs={"dashboard": dashboard},
                            preload=[WORKER_PRELOAD], silence_logs=logging.CRITICAL)


def scheduler_security(path: str | Path | None) -> Any:
    """Dask ``Security`` settings for a remote scheduler, from a Dask config file or Dask's config.

    ``path`` is a YAML file in Dask's configuration format (as in
    ``~/.config/dask/``) with the TLS settings under ``distributed.comm``;
    without one, Dask's own configuration (files and ``DASK_*`` variables)
    applies, as for any Dask client.

    Raises:
        P2CError: the file is missing, not YAML, has no TLS settings, or names
            a certificate or key file that does not exist.
    """
    import dask
    from distributed.security import Security

    if not path:
        return Security()
    from p2c_research.yamlio import parse_yaml

    file = Path(path)
    if not file.is_file():
        raise P2CError(f"--security {file}: file not found; pass a Dask configuration YAML with "
                       "the TLS settings under distributed.comm.tls (see the README)")
    try:
        config = parse_yaml(file.read_text(encoding="utf-8"))
    except Exception as exc:  # yaml.YAMLError, UnicodeDecodeError
        raise P2CError(f"--security {file}: not a readable YAML file ({exc})") from exc
    flat = _flatten(config) if isinstance(config, dict) else {}
    tls = {k: v for k, v in flat.items() if k.startswith("distributed.comm.")}
    if not any(k.startswith("distributed.comm.tls.") for k in tls):
        raise P2CError(f"--security {file}: no TLS settings under distributed.comm.tls (ca-file, "
                       "client.cert, client.key); see the README, 'A shared Dask cluster'")
    for key, value in tls.items():
        if key.endswith(("ca-file", ".cert", ".key")) and value and not Path(value).is_file():
            raise P2CError(f"--security {file}: {key} names {value}, which does not exist")
    with dask.config.set(tls):
        return Security()


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def connect_scheduler(address: str, security: str | Path | None = None) -> Client:
    """A client of the running Dask scheduler at ``address``, or one clear error.

    A plain TCP connection is tried first, so a wrong host or port fails at
    once instead of after Dask's connect time-out.

    Raises:
        P2CError: the address is malformed, or nothing answers there in time.
    """
    import dask
    from dask.distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port

    text = address.strip()
    try:
        scheme, location = parse_address(text if "://" in text else f"tcp://{text}")
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise P2CError(f"--scheduler {address}: not an address like tcp://HOST:PORT") from exc
    url = f"{scheme}://{location}"
    fix = ("check the address, start one with `dask scheduler`, or leave out --scheduler to "
           "run on this machine")
    timeout = dask.config.get("distributed.comm.timeouts.connect")
    if scheme in ("tcp", "tls"):
        try:
            with socket.create_connection((host, port), timeout=10):
                pass
        except OSError as exc:
            raise P2CError(f"--scheduler {url}: cannot reach the Dask scheduler "
                           f"({exc.strerror or exc}); {fix}") from exc
    settings = scheduler_security(security)
    try:
        return Client(url, timeout=timeout, security=settings)
    except (OSError, TimeoutError, TypeError, ValueError) as exc:
        # TypeError/ValueError: Dask's complaint about missing or unusable TLS settings
        reason = " ".join(str(exc).split())[:200]
        hint = (" (a scheduler that requires TLS needs --security FILE or Dask's TLS "
                "configuration, and a tls:// address)")
        raise P2CError(f"--scheduler {url}: the Dask scheduler did not accept this client "
                       f"within {timeout}{hint}: {reason}; {fix}") from exc


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None, security: str | None,
                dashboard: bool) -> Iterator[Client]:
    """The batch's Dask client: connected to ``scheduler``, or on its own LocalCluster."""
    from dask.distributed import Client

    if scheduler:
        client = connect_scheduler(scheduler, security)
        cluster = None
        if dashboard:
            link = client.dashboard_link
            print(f"Dask dashboard of the scheduler: {link}" if link else
                  "the scheduler serves no dashboard", file=sys.stderr)
    else:
        if security:
            raise P2CError("--security applies to a remote scheduler; pass --scheduler too")
        cluster = local_cluster(workers or os.cpu_count() or 2, dashboard=dashboard)
        client = Client(cluster)
        if dashboard:
            print(f"Dask dashboard (this machine only): {cluster.dashboard_link}",
                  file=sys.stderr)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run_dask(client: Client, codes: list[str], out: Path, params_file: str, data: str,
              resume: bool, progress: bool, record: Callable[[list[dict]], None]) -> None:
    from dask.distributed import as_completed

    root = os.environ.get("P2C_ROOT")
    futures = {
        client.submit(_country_task, code, str(out), params_file, data, resume, root,
                      key=f"country-{code}-{time.time_ns()}", pure=False): code
        for code in codes
    }
    bar = _progress(None, progress, total=len(futures)) if progress else None
    try:
        for fut in as_completed(list(futures)):
            code = futures.pop(fut)  # dropping the future lets the worker free the result
            try:
                rows = fut.result()
            except Exception as exc:  # a worker died: record, carry on
                rows = _invalid_country_status(code, f"worker failed: {exc!r}",
                                               available_notebooks())
            record(rows)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(code)
    finally:
        if bar is not None:
            bar.close()


def _print_summary(results: list[dict], elapsed: float) -> None:
    by_country: dict[str, list[dict]] = {}
    for r in results:
        by_country.setdefault(r["country"], []).append(r)
    ok = sum(1 for rs in by_country.values() if all(r["status"] in ("ok", "skipped") for r in rs))
    print(f"\n{'country':<8} {'notebook':<16} {'status':<8} {'sec':>6}  error")
    for code in sorted(by_country):
        for r in by_country[code]:
            err = " ".join((r.get("error") or "").split())
            print(f"{code:<8} {r['notebook']:<16} {r['status']:<8} {r.get('seconds', 0):>6.1f}  {err}")
    print(f"\n{ok}/{len(by_country)} countries complete in {elapsed:.1f}s; "
          f"{len(by_country) - ok} with failures")
