"""Run ``notebooks/04_portfolio.ipynb`` once over the countries of a batch: ``OUT/portfolio.html``.

The batch calls :func:`run_portfolio` after its countries have finished (and
have been recorded in the manifest, which says which reports failed), also
with ``--resume``. Like a country report, it never raises: it returns a
status record, keeps a failed run's partial notebook and writes the page
atomically, so a reader never sees half a page.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from p2c_research.config import notebooks_dir
from p2c_research.runner.execute import (
    VALIDATOR_ENV,
    NotebookStatus,
    _describe,
    _execute,
    _save_portable,
)
from p2c_research.runner.notebooks import to_html, validate_parameters
from p2c_research.store import atomic_write_text

NOTEBOOK = "04_portfolio.ipynb"
NAME = "portfolio"


def portfolio_notebook() -> Path:
    return notebooks_dir() / NOTEBOOK


def run_portfolio(out_dir: str | Path, codes: list[str], *, engine: str = "inprocess"
                  ) -> NotebookStatus | None:
    """Execute the portfolio notebook for ``codes`` into ``OUT/portfolio.html``; never raises.

    Returns None when this checkout has no portfolio notebook (nothing to run),
    else the status (``country`` is ``"ALL"``).
    """
    src = portfolio_notebook()
    if not src.exists():
        return None
    os.environ.setdefault(*VALIDATOR_ENV)
    out = Path(out_dir).resolve()
    status = NotebookStatus(country="ALL", notebook=NAME, status="failed",
                            started=datetime.now(UTC).isoformat(timespec="seconds"))
    t0 = time.perf_counter()
    running = out / f".{NAME}.running.ipynb"
    parameters = {"countries": list(codes), "out_dir": str(out)}
    try:
        validate_parameters(src, parameters)
        executed = _execute(src, running, parameters, "python3", engine)
        atomic_write_text(out / f"{NAME}.html", to_html(executed))
        _save_portable(executed, running, out, out / f"{NAME}.ipynb")
        os.replace(running, out / f"{NAME}.ipynb")
        with contextlib.suppress(FileNotFoundError):
            (out / f"{NAME}.failed.ipynb").unlink()
        status.status, status.html, status.ipynb = "ok", f"{NAME}.html", f"{NAME}.ipynb"
    except Exception as exc:
        if running.exists():
            os.replace(running, out / f"{NAME}.failed.ipynb")
            status.ipynb = f"{NAME}.failed.ipynb"
        status.error = _describe(exc)
    status.ended = datetime.now(UTC).isoformat(timespec="seconds")
    status.seconds = round(time.perf_counter() - t0, 2)
    return status
