"""A papermill engine that reuses one warm kernel per worker thread.

Starting a kernel and importing pandas, geopandas, statsmodels and
matplotlib costs seconds per notebook, more than most of our notebooks take
to run. In a batch, each worker keeps one kernel alive and runs notebook
after notebook in it, clearing the user namespace and closing figures before
each one (:mod:`p2c_research.runner.kernel_reset`), so no variable leaks from one report into the next
while imported modules and the in-process data caches stay warm.

The cold path (a fresh kernel per notebook, papermill's default) is still
what ``invoke run`` uses for a single country and what the smoke tests use.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import nbformat
from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines

log = logging.getLogger(__name__)

ENGINE_NAME = "p2c-warm"
RESET_TAG = "p2c-warm-reset"
RESET_SOURCE = "__import__('p2c_research.runner.kernel_reset', fromlist=['_']).reset_user_namespace();"

_kernels: dict[int, tuple[Any, Any]] = {}
_lock = threading.Lock()


def _warm_kernel(kernel_name: str, client: PapermillNotebookClient) -> tuple[Any, Any]:
    """The (kernel manager, kernel client) of this thread, started on first use."""
    key = threading.get_ident()
    with _lock:
        pair = _kernels.get(key)
    if pair is not None and pair[0].has_kernel and run_sync(pair[0].is_alive)():
        return pair
    km = client.create_kernel_manager()
    client.km = km
    client.start_new_kernel()
    kc = client.start_new_kernel_client()
    with _lock:
        _kernels[key] = (km, kc)
    return km, kc


class WarmKernelEngine(NBClientEngine):
    """papermill engine: like the default nbclient engine, but the kernel outlives the notebook."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                 stderr_file=None, start_timeout=60, execution_timeout=None,
                                 **kwargs):
        client = PapermillNotebookClient(
            nb_man, timeout=execution_timeout, startup_timeout=start_timeout,
            kernel_name=kernel_name, log=log, log_output=log_output,
            stdout_file=stdout_file, stderr_file=stderr_file,
        )
        km, kc = _warm_kernel(kernel_name, client)
        client.km, client.kc, client.owns_km = km, kc, False
        try:
            return client.execute(cleanup_kc=False)
        finally:
            # Before papermill writes the notebook (also when a cell failed), so the
            # saved notebook and the report never show the reset cell.
            strip_reset_cell(nb_man.nb)


papermill_engines.register(ENGINE_NAME, WarmKernelEngine)


def with_reset_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose first cell clears the kernel (removed again by :func:`strip_reset_cell`)."""
    out = nbformat.from_dict(nb)
    cell = nbformat.v4.new_code_cell(RESET_SOURCE)
    cell.metadata["tags"] = [RESET_TAG]
    out.cells.insert(0, cell)
    return out


def strip_reset_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.cells = [c for c in nb.cells if RESET_TAG not in c.get("metadata", {}).get("tags", [])]
    return nb


def shutdown_warm_kernels() -> None:
    """Stop every warm kernel of this process (called when a worker is done)."""
    with _lock:
        pairs = list(_kernels.values())
        _kernels.clear()
    for km, kc in pairs:
        try:
            kc.stop_channels()
            run_sync(km.shutdown_kernel)(now=True)
        except Exception as exc:  # best effort at exit
            log.debug("warm kernel shutdown: %s", exc)
