"""Figures that a batch worker lends out again, report after report.

A figure of twenty small panels (the trend small multiples) costs about 0.3 s
of CPU just to create its axes (``plt.subplots(5, 4)``: 0.29-0.36 s), before
anything is drawn, and its tick marks are made anew on every first draw. In a
batch the same grid is made for nearly every country. This pool keeps such a
figure and hands it back for the next report, which gives the panels' lines
new data (:func:`p2c_research.figures.landscape.trend_small_multiples`).
Two processes side by side over the same 36 countries used 5.18 s of CPU per
country with the pool and 5.61 s without; the pooled grids (one per number of
rows) kept the worker 70-110 MiB larger (820 against 709 MiB at the peak).

A pooled figure must not be redrawn while someone still holds it: an analyst
who keeps the trends of one country and draws those of another would see the
first figure change. So the pool lends nothing until
:func:`release_all` says that every figure lent so far is out of use. A batch
worker says so between two notebooks, after it has cleared the user namespace
(:func:`p2c_research.runner.kernel_reset.reset_user_namespace`). Anywhere else
(an analyst's session or kernel) :func:`take` returns None and every call
makes a fresh figure.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from matplotlib.figure import Figure

#: Figures kept per key once released (one is all a report uses at a time).
_free: dict[Hashable, Figure] = {}
#: Figures lent since the last release, with their keys.
_lent: list[tuple[Hashable, Figure]] = []
_state = {"enabled": False}
_lock = threading.Lock()
stats = {"made": 0, "reused": 0}


def take(key: Hashable) -> Figure | None:
    """A released figure made under ``key``, now lent to the caller; None if there is none."""
    with _lock:
        if not _state["enabled"]:
            return None
        fig = _free.pop(key, None)
        if fig is not None:
            _lent.append((key, fig))
            stats["reused"] += 1
    if fig is not None:
        from p2c_research.render.images import forget_png

        forget_png(fig)  # its rendering belongs to the report that had it before
    return fig


def lend(key: Hashable, fig: Figure) -> None:
    """Record a new figure made under ``key``, to be reused once released (pooling on only)."""
    with _lock:
        if _state["enabled"]:
            _lent.append((key, fig))
            stats["made"] += 1


def release_all() -> None:
    """Every figure lent so far is out of use: pool them for the next report (and pool from now on).

    A pooled figure keeps its canvas and renderer. Giving it a new canvas, or
    making its canvas drop the renderer, looked like a way to free the last
    rendering's pixel buffers; both made a worker grow from 790 to 1000 MiB over
    24 countries, since artists that were not drawn again still held the old
    renderers.
    """
    with _lock:
        _state["enabled"] = True
        for key, fig in _lent:
            _free.setdefault(key, fig)
        _lent.clear()


def clear() -> None:
    """Forget every pooled figure, stop pooling and zero the counts (tests)."""
    with _lock:
        _free.clear()
        _lent.clear()
        _state["enabled"] = False
        stats.update(made=0, reused=0)
