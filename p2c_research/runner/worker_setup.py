"""Preload of the batch's Dask workers: Ctrl-C belongs to the batch, not to its workers.

A terminal sends Ctrl-C (SIGINT) to every process of the foreground group,
the LocalCluster's workers included. Each worker would then stop with a
traceback of its own while the batch is still recording what finished. The
batch catches the interrupt, records, and closes the cluster, which stops
the workers.
"""

from __future__ import annotations

import signal
from typing import Any


def dask_setup(worker: Any) -> None:
    """Called by Dask in each worker process as it starts (``preload``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
