"""A papermill engine that runs a notebook's cells in this process, without a kernel.

A batch worker used to drive a warm kernel: a second process that held its
own copy of every library, and whose every output (each figure as a base64
PNG) was serialised, sent over ZeroMQ, parsed by nbclient's event loop and
turned back into a notebook output. Here the cells run in an IPython shell
inside the worker itself, and the outputs are written straight into the
notebook, in the same nbformat shapes a kernel would send: ``stream``,
``display_data``, ``execute_result`` and ``error``. papermill still does
everything around the execution (parameters, metadata, the error cell, the
working directory).

**What a notebook starts from**, as in a fresh kernel: between two notebooks
the engine resets an explicit list (:meth:`NotebookShell.restore_defaults` and
:func:`p2c_research.runner.kernel_reset.reset_user_namespace`):

* the user namespace, underscore names included, and IPython's output cache
  and output history (the display data of every output);
* matplotlib rcParams and the display formatters, to what they were when the
  worker's shell was made (:meth:`NotebookShell.restore_defaults`);
* pandas options, warnings filters, the random state of ``random`` and of
  numpy's global generator, environment variables and the working directory,
  to what they were before the notebook (:meth:`NotebookShell.isolated`); the
  notebook itself runs in ``notebooks/``, as papermill gives a kernel;
* a per-cell timeout (papermill's ``execution_timeout``, default
  :data:`DEFAULT_CELL_TIMEOUT` seconds): a cell that runs longer raises
  ``CellTimeout`` in the notebook and the notebook fails.

Imported modules and the in-process data caches stay warm: that is the point.

What a kernel gave that this does not: a notebook that crashes the
interpreter (a segfault, ``os._exit``) takes the worker with it. Dask's nanny
then starts a new worker and the batch records the country as failed; no
report is half-written either way, since reports are written atomically
after the run.

The batch and ``invoke run`` use this engine, except inside another IPython
shell (:func:`available`); JupyterLab and the smoke tests use real kernels.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import random
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import nbformat
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from papermill.engines import Engine, papermill_engines
from traitlets import Type

ENGINE_NAME = "p2c-inprocess"
#: Seconds a cell may run before it is stopped (papermill's ``execution_timeout``
#: overrides it). A report cell takes seconds; twenty minutes means it hangs.
DEFAULT_CELL_TIMEOUT = 1200.0

_lock = threading.Lock()


class CellTimeout(Exception):
    """A notebook cell ran longer than its timeout."""


def _raise_in_thread(thread_id: int, exc: type[BaseException]) -> None:
    """Raise ``exc`` in another thread at its next bytecode (CPython's C API, via ctypes)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc))


def _pandas_option_keys() -> list[str]:
    """Every pandas option key, found by walking the public ``pd.options`` tree."""
    import pandas as pd

    wrapper = type(pd.options)
    keys: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for name in dir(node):
            value = getattr(node, name)
            if isinstance(value, wrapper):
                walk(value, f"{prefix}{name}.")
            else:
                keys.append(f"{prefix}{name}")

    walk(pd.options, "")
    return keys


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """A MIME bundle as a kernel sends it: binary data (PNG) base64-encoded, as nbformat stores it."""
    return {mime: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
            for mime, value in data.items()}


def _output(output_type: str, **fields: Any) -> nbformat.NotebookNode:
    """A notebook output. Not validated one by one (``nbformat.v4.new_output`` would be,
    with jsonschema: 0.1 s per country); the whole notebook is validated when written."""
    return nbformat.from_dict({"output_type": output_type, **fields})


class _CellPublisher(DisplayPublisher):
    """``display()`` appends a ``display_data`` output to the running cell."""

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False,
                **kwargs) -> None:
        self.shell.cell_outputs.append(_output(
            "display_data", data=_jsonable(data), metadata=metadata or {}))

    def clear_output(self, wait: bool = False) -> None:
        self.shell.cell_outputs.clear()


class _CellDisplayHook(DisplayHook):
    """A cell's last expression becomes its ``execute_result`` (IPython's output cache still fills)."""

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(self, format_dict, md_dict=None) -> None:
        self.shell.cell_outputs.append(_output(
            "execute_result", data=_jsonable(format_dict), metadata=md_dict or {},
            execution_count=self.shell.execution_count))

    def finish_displayhook(self) -> None:
        self._is_active = False


class _Stream:
    """``sys.stdout`` / ``sys.stderr`` during a cell: text joins the cell's last output of that stream."""

    encoding = "utf-8"

    def __init__(self, shell: NotebookShell, name: str) -> None:
        self.shell, self.name = shell, name

    def write(self, text: str) -> int:
        if text:
            outputs = self.shell.cell_outputs
            last = outputs[-1] if outputs else None
            if last is not None and last.output_type == "stream" and last.name == self.name:
                last.text += text
            else:
                outputs.append(_output("stream", name=self.name, text=text))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class NotebookShell(InteractiveShell):
    """An IPython shell whose outputs go into the cell being executed."""

    displayhook_class = Type(_CellDisplayHook)
    display_pub_class = Type(_CellPublisher)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cell_outputs: list = []
        self.cell_timeout = DEFAULT_CELL_TIMEOUT
        self._pristine_printers: dict[str, tuple[dict, dict]] = {}
        self._pristine_rc: dict[str, Any] = {}

    def remember_defaults(self) -> None:
        """Take the display formatters and matplotlib settings as they are now (the inline
        backend's) as every notebook's starting point."""
        import matplotlib as mpl

        self._pristine_printers = {
            mime: (dict(f.type_printers), dict(f.deferred_printers))
            for mime, f in self.display_formatter.formatters.items()}
        self._pristine_rc = {k: v for k, v in mpl.rcParams.items() if k != "backend"}

    def restore_defaults(self) -> None:
        """Undo the formatters and matplotlib settings a previous notebook changed.

        A fresh kernel would not have them: without this, a figure's look would
        depend on which notebook ran before it in the same worker.
        """
        import matplotlib as mpl

        for mime, (types, deferred) in self._pristine_printers.items():
            formatter = self.display_formatter.formatters[mime]
            formatter.type_printers = dict(types)
            formatter.deferred_printers = dict(deferred)
        mpl.rcParams.update(self._pristine_rc)

    @contextlib.contextmanager
    def isolated(self) -> Iterator[None]:
        """Run a notebook so that what it changes of the process is undone when it ends.

        Pandas options, warnings filters, the random state of ``random`` and of
        numpy's global generator, environment variables and the working
        directory are taken before the notebook and put back after it, error or
        not: the next notebook, and the caller, see none of its changes (and
        every notebook starts from the same random state).
        """
        import numpy as np
        import pandas as pd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reading a deprecated option warns
            options = {k: pd.get_option(k) for k in _pandas_option_keys()}
        filters = list(warnings.filters)
        py_random, np_random = random.getstate(), np.random.get_state()
        environ, cwd = dict(os.environ), os.getcwd()
        try:
            yield
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for key, value in options.items():
                    if pd.get_option(key) != value:
                        pd.set_option(key, value)
            warnings.filters[:] = filters
            random.setstate(py_random)
            np.random.set_state(np_random)
            if dict(os.environ) != environ:
                os.environ.clear()
                os.environ.update(environ)
            os.chdir(cwd)

    def enable_gui(self, gui: str | None = None) -> None:
        """No event loop to integrate: figures are only ever shown inline."""
        if gui not in (None, "inline"):
            raise ValueError(f"a batch notebook cannot use the {gui!r} GUI event loop")

    def _showtraceback(self, etype, evalue, stb) -> None:
        self.cell_outputs.append(_output(
            "error", ename=str(etype.__name__), evalue=str(evalue), traceback=stb))

    def run_notebook_cell(self, source: str, execution_count: int) -> tuple[list, bool]:
        """Run one cell's source; returns its outputs and whether it raised.

        A watchdog raises :class:`CellTimeout` in this thread when the cell runs
        past ``cell_timeout`` seconds (at its next bytecode: a long C call
        finishes first).
        """
        self.cell_outputs = outputs = []
        self.execution_count = execution_count
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Stream(self, "stdout"), _Stream(self, "stderr")
        watchdog = threading.Timer(self.cell_timeout, _raise_in_thread,
                                   (threading.get_ident(), CellTimeout))
        watchdog.daemon = True
        watchdog.start()
        try:
            result = self.run_cell(source, store_history=False, silent=False)
        finally:
            watchdog.cancel()
            sys.stdout, sys.stderr = saved
        self.cell_outputs = []
        return outputs, not result.success


def available() -> bool:
    """Whether notebooks can run in this process: not inside another IPython shell.

    In a Jupyter kernel or the IPython terminal (an analyst calling the batch
    from JupyterLab) the shell belongs to the user; the notebooks then get
    kernels of their own.
    """
    return (not InteractiveShell.initialized()
            or isinstance(InteractiveShell.instance(), NotebookShell))


def notebook_shell() -> NotebookShell:
    """This process's shell, made on first use with the inline matplotlib backend.

    The inline backend is what a kernel uses: a figure left open at the end of
    a cell is shown and closed there, exactly as in Jupyter.
    """
    with _lock:
        if NotebookShell.initialized():
            return NotebookShell.instance()
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False  # no SQLite history file per worker
        shell = NotebookShell.instance(config=config)
        shell.enable_matplotlib("inline")
        shell.remember_defaults()
        return shell


class InProcessEngine(Engine):
    """papermill engine: each code cell runs in :func:`notebook_shell`; stops at the first error."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        from p2c_research.runner.kernel_reset import reset_user_namespace

        shell = notebook_shell()
        reset_user_namespace()
        shell.restore_defaults()
        timeout = kwargs.get("execution_timeout")
        shell.cell_timeout = float(timeout) if timeout else DEFAULT_CELL_TIMEOUT
        with shell.isolated():
            return cls._run_cells(shell, nb_man)

    @staticmethod
    def _run_cells(shell: NotebookShell, nb_man) -> Any:
        from ipykernel.ipkernel import IPythonKernel

        nb = nb_man.nb
        nb.metadata["language_info"] = dict(IPythonKernel.language_info)
        count = 0
        for index, cell in enumerate(nb.cells):
            nb_man.cell_start(cell, index)
            try:
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                count += 1
                cell.execution_count = count
                cell.outputs, failed = shell.run_notebook_cell(cell.source, count)
                if failed:
                    error = next((o for o in cell.outputs if o.output_type == "error"), None)
                    if error is not None and error.ename == "KeyboardInterrupt":
                        raise KeyboardInterrupt
                    nb_man.cell_exception(cell, cell_index=index)
                    break
            finally:
                nb_man.cell_complete(cell, cell_index=index)
        return nb


papermill_engines.register(ENGINE_NAME, InProcessEngine)
