"""Run one country's notebooks: papermill, then HTML, each written atomically.

A country run never raises: it returns a status record per notebook, so a
batch can carry on past a failure and list it at the end. A failed notebook
keeps its partial executed copy (``<nb>.failed.ipynb``) and the error.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from p2c_research import countries
from p2c_research.errors import P2CError
from p2c_research.runner.notebooks import (
    NOTEBOOKS,
    available_notebooks,
    notebook_path,
    portable,
    to_html,
    validate_parameters,
)
from p2c_research.store import atomic_write_text

KERNEL_NAME = "python3"
#: How a notebook is executed: ``kernel`` starts a fresh Jupyter kernel for it
#: (papermill's default), ``inprocess`` runs its cells in this process
#: (:mod:`p2c_research.runner.inprocess`; the batch and ``invoke run``).
ENGINES = ("kernel", "inprocess")
#: nbformat validates every notebook it reads and writes; its default validator
#: (jsonschema) takes ~50 ms per report notebook each time, fastjsonschema (an
#: nbformat dependency, same schema) ~5 ms. A user's own choice is respected.
VALIDATOR_ENV = ("NBFORMAT_VALIDATOR", "fastjsonschema")


@dataclass
class NotebookStatus:
    """What happened to one notebook of one country (one row of the batch summary)."""

    country: str
    notebook: str
    status: str  # ok | failed | skipped
    started: str = ""
    ended: str = ""
    seconds: float = 0.0
    error: str = ""
    html: str = ""
    ipynb: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    params_fingerprint: str = ""
    data_fingerprint: str = ""
    data_choice: str = ""
    peak_rss_mb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def kernel_environment():
    """Start kernels without a non-inline ``MPLBACKEND`` inherited from the caller.

    A kernel started with ``MPLBACKEND=Agg`` (common in CI and scripts) shows
    figures as ``<Figure ...>`` text instead of images, and the reports would
    silently lose every chart.
    """
    saved = os.environ.get("MPLBACKEND")
    if saved is not None and "inline" not in saved:
        del os.environ["MPLBACKEND"]
    try:
        yield
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _done_marker(country_dir: Path, notebook: str) -> Path:
    return country_dir / f".{Path(NOTEBOOKS[notebook]).stem}.done.json"


def is_complete(country_dir: Path, notebook: str, params_fp: str, data_fp: str) -> bool:
    """True when the notebook's report exists for the same params and data (for --resume)."""
    marker = _done_marker(country_dir, notebook)
    stem = Path(NOTEBOOKS[notebook]).stem
    if not (marker.exists() and (country_dir / f"{stem}.html").exists()
            and (country_dir / f"{stem}.ipynb").exists()):
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return info.get("params_fingerprint") == params_fp and info.get("data_fingerprint") == data_fp


def _peak_rss_mb(*, children: bool) -> float:
    """Peak resident MiB of the kernels this process started, or of this process itself."""
    try:
        import resource

        who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
        return resource.getrusage(who).ru_maxrss / 1024.0
    except (ImportError, OSError):
        return 0.0


def execute_one(
    country: str,
    notebook: str,
    out_dir: Path,
    *,
    params_file: str = "",
    data: str = "auto",
    kernel: str = KERNEL_NAME,
    engine: str = "kernel",
) -> NotebookStatus:
    """Execute one notebook for one (validated) country with ``engine`` (:data:`ENGINES`); never raises."""

    os.environ.setdefault(*VALIDATOR_ENV)
    stem = Path(NOTEBOOKS[notebook]).stem
    country_dir = out_dir / country
    country_dir.mkdir(parents=True, exist_ok=True)
    status = NotebookStatus(country=country, notebook=notebook, status="failed", started=_now())
    t0 = time.perf_counter()
    running = country_dir / f".{stem}.running.ipynb"
    parameters = {"country": country, "params_file": params_file, "data": data,
                  "out_dir": str(out_dir)}
    try:
        src = notebook_path(notebook)
        validate_parameters(src, parameters)
        executed = _execute(src, running, parameters, kernel, engine)
        html = to_html(executed)
        atomic_write_text(country_dir / f"{stem}.html", html)
        _save_portable(executed, running, out_dir, country_dir / f"{stem}.ipynb")
        os.replace(running, country_dir / f"{stem}.ipynb")
        with contextlib.suppress(FileNotFoundError):
            (country_dir / f"{stem}.failed.ipynb").unlink()
        status.status = "ok"
        status.html = f"{country}/{stem}.html"
        status.ipynb = f"{country}/{stem}.ipynb"
    except BaseException as exc:
        # Ctrl-C inside a kernel's cell comes back as an execution error named KeyboardInterrupt.
        if isinstance(exc, KeyboardInterrupt) or getattr(exc, "ename", None) == "KeyboardInterrupt":
            with contextlib.suppress(FileNotFoundError):
                running.unlink()
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise KeyboardInterrupt from exc
        if running.exists():
            os.replace(running, country_dir / f"{stem}.failed.ipynb")
            status.ipynb = f"{country}/{stem}.failed.ipynb"
        status.error = _describe(exc)
    status.ended = _now()
    status.seconds = round(time.perf_counter() - t0, 2)
    status.peak_rss_mb = round(_peak_rss_mb(children=engine == "kernel"), 1)
    return status


def _execute(src: Path, running: Path, parameters: dict[str, Any], kernel: str,
             engine: str) -> Any:
    """Run ``src`` into ``running`` with papermill; returns the executed notebook node."""
    import papermill

    if engine == "inprocess":
        from p2c_research.runner import inprocess

        return papermill.execute_notebook(
            str(src), str(running), parameters=parameters, kernel_name=kernel,
            engine_name=inprocess.ENGINE_NAME, progress_bar=False, log_output=False,
            cwd=str(src.parent), execution_timeout=inprocess.DEFAULT_CELL_TIMEOUT,
            # papermill would rewrite the whole notebook (images included) after every
            # cell; it still writes it once at the end, and on an error with the error.
            request_save_on_cell_execute=False,
        )
    if engine != "kernel":
        raise P2CError(f"unknown notebook engine {engine!r}; use one of {', '.join(ENGINES)}")
    with kernel_environment():
        return papermill.execute_notebook(
            str(src), str(running), parameters=parameters, kernel_name=kernel,
            cwd=str(src.parent), progress_bar=False, log_output=False,
        )


def _save_portable(executed: Any, running: Path, out_dir: Path, saved_as: Path) -> None:
    """Rewrite papermill's copy without the machine's paths (:func:`notebooks.portable`)."""
    import nbformat

    nbformat.write(portable(executed, out_dir, saved_as), str(running))


def _describe(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    if ename:  # papermill.PapermillExecutionError: the error inside the notebook
        return f"{ename}: {getattr(exc, 'evalue', '')}".strip()
    if isinstance(exc, P2CError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def run_country(
    country: str,
    out_dir: str | Path,
    *,
    params_file: str = "",
    data: str = "auto",
    resume: bool = False,
    notebooks: list[str] | None = None,
    engine: str = "kernel",
    on_status: Callable[[NotebookStatus], None] | None = None,
) -> list[NotebookStatus]:
    """Run every report notebook of one country; returns one status per notebook.

    Params are validated before anything is written. With ``resume``, notebooks
    whose report exists for the same params and data fingerprints are skipped.
    ``on_status`` is called with each status as soon as it is known (the batch
    records finished reports before the country is done).
    """
    from p2c_research.datasets import selection_for
    from p2c_research.params import load_params

    out_dir = Path(out_dir).resolve()
    names = notebooks or available_notebooks()
    try:
        code = countries.validate_iso3(country)
        params = load_params(code, params_file or None)
        selection = selection_for(data, params.data.choice, params.data.itu)
    except P2CError as exc:
        now = _now()
        safe = country if countries.is_economy(str(country).strip().upper()) else str(country)[:12]
        failed = [NotebookStatus(country=safe, notebook=n, status="failed", started=now,
                                 ended=now, error=str(exc)) for n in names]
        for st in failed:
            if on_status is not None:
                on_status(st)
        return failed
    names = [n for n in names if n in params.output.notebooks]
    params_fp, data_fp = params.fingerprint(), selection.fingerprint()
    country_dir = out_dir / code
    results = []
    for name in names:
        common = {"params": params.model_dump(mode="json"), "params_fingerprint": params_fp,
                  "data_fingerprint": data_fp, "data_choice": selection.choice}
        if resume and is_complete(country_dir, name, params_fp, data_fp):
            stem = Path(NOTEBOOKS[name]).stem
            info = json.loads(_done_marker(country_dir, name).read_text())
            st = NotebookStatus(country=code, notebook=name, status="skipped",
                                started=info.get("started", ""), ended=info.get("ended", ""),
                                html=f"{code}/{stem}.html", ipynb=f"{code}/{stem}.ipynb", **common)
            results.append(st)
            if on_status is not None:
                on_status(st)
            continue
        st = execute_one(code, name, out_dir, params_file=params_file or "",
                         data=selection.spec, engine=engine)
        for key, value in common.items():
            setattr(st, key, value)
        if st.status != "ok":
            with contextlib.suppress(FileNotFoundError):
                _done_marker(country_dir, name).unlink()
        else:
            atomic_write_text(_done_marker(country_dir, name), json.dumps(
                {"params_fingerprint": params_fp, "data_fingerprint": data_fp,
                 "started": st.started, "ended": st.ended}) + "\n")
        results.append(st)
        if on_status is not None:
            on_status(st)
    return results


def completed_statuses(country: str, out_dir: str | Path, *, params_file: str = "",
                       data: str = "auto") -> list[NotebookStatus]:
    """Statuses of the notebooks of ``country`` whose reports are complete on disk.

    A batch interrupted while workers were finishing countries uses it to
    record the reports that were done but had not reached it yet: the
    completion marker (written after the report) says when, and for which
    params and data.
    """
    from p2c_research.datasets import selection_for
    from p2c_research.params import load_params

    code = countries.validate_iso3(country)
    params = load_params(code, params_file or None)
    selection = selection_for(data, params.data.choice, params.data.itu)
    params_fp, data_fp = params.fingerprint(), selection.fingerprint()
    country_dir = Path(out_dir) / code
    found = []
    for name in available_notebooks():
        if not is_complete(country_dir, name, params_fp, data_fp):
            continue
        stem = Path(NOTEBOOKS[name]).stem
        info = json.loads(_done_marker(country_dir, name).read_text())
        found.append(NotebookStatus(
            country=code, notebook=name, status="ok", started=info.get("started", ""),
            ended=info.get("ended", ""), html=f"{code}/{stem}.html", ipynb=f"{code}/{stem}.ipynb",
            params=params.model_dump(mode="json"), params_fingerprint=params_fp,
            data_fingerprint=data_fp, data_choice=selection.choice))
    return found
