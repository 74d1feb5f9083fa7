"""Settings of the processes a batch owns: its Dask workers and the command line.

**Ctrl-C belongs to the batch, not to its workers.** A terminal sends Ctrl-C
(SIGINT) to every process of the foreground group, the LocalCluster's workers
included. Each worker would then stop with a traceback of its own while the
batch is still recording what finished. The workers ignore it
(:func:`dask_setup`, a Dask preload); the batch catches the interrupt,
records, and closes the cluster, which stops the workers.

**Python-backed ``str`` columns.** pandas 3 stores ``str`` columns in pyarrow
by default. The reports touch small string columns many times in small
pieces (``isin``, ``map``, masks, row lookups), where pyarrow's per-call
overhead costs more than the work: with Python-backed strings the three
reports of a country take about 14% less CPU and write byte-identical tables
and figures (``benchmarks/report_cpu.py`` measures it;
``tests/test_string_storage.py`` checks the results match). Importing the
package changes nothing: the setting is made only in processes the
workbench owns (:func:`use_python_strings`). A user's own session
(JupyterLab, a script calling ``run_batch``) keeps its pandas options; the
panel's own string columns are Python-backed wherever it is loaded
(:func:`p2c_research.store.validate_panel`).

**Imports while the batch computes its shared work.** A worker's first
report would otherwise wait for the libraries every report imports
(statsmodels, geopandas, matplotlib, IPython, papermill, nbconvert and its
templates: about 4 s). The batch computes its shared work (scores, fits) in
its own process right after the cluster starts, while the workers are idle;
each worker imports those modules then, in a background thread
(:func:`warm_up`), so the first report finds them loaded.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from typing import Any

import pandas as pd

#: Modules every report imports (:func:`warm_up`).
WARM_IMPORTS: tuple[str, ...] = (
    "p2c_research.reports.landscape_report",
    "p2c_research.reports.benchmark_report",
    "p2c_research.reports.pledge_report",
    "p2c_research.reports.pledge_tables",
    "p2c_research.reports.pledge_figures",
    "p2c_research.reports.pledge_world",
    "p2c_research.runner.inprocess",
    "p2c_research.runner.notebooks",
    "papermill",
)

#: What ``mode.string_storage`` is set to in a batch process, unless already chosen.
STRING_STORAGE = "python"


def use_python_strings() -> str:
    """Python-backed ``str`` columns in this (batch-owned) process, unless a storage was
    chosen already; returns the storage in force."""
    if pd.get_option("mode.string_storage") == "auto":
        pd.set_option("mode.string_storage", STRING_STORAGE)
    return str(pd.get_option("mode.string_storage"))


def in_dask_worker() -> bool:
    """True inside a Dask worker process (a process the batch owns)."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def warm_up() -> None:
    """Import :data:`WARM_IMPORTS` and build the HTML exporter. A failure is left for the
    report that needs the module to raise, with its own traceback."""
    with contextlib.suppress(Exception):
        for name in WARM_IMPORTS:
            importlib.import_module(name)
        from p2c_research.runner.notebooks import _exporter

        _exporter(True)


def dask_setup(worker: Any) -> None:
    """Called by Dask in each worker process of the batch's own cluster as it starts
    (``preload``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    use_python_strings()
    threading.Thread(target=warm_up, name="p2c-warm-up", daemon=True).start()
