"""The landscape tables a process built last, handed on to the pledge report's action plan.

A batch worker runs a country's landscape notebook and then, in the same
process, its pledge notebook, whose action plan rests on the same scores,
trends, targets and quality screen. Computing them costs about 0.4 s of CPU a
country, so the pledge report takes the landscape report's tables when they
were built from the same inputs (country, data files, catalog, params) and
computes them itself otherwise: a kernel per notebook, a notebook run alone,
another country in between.

The two arguments in which the two calls differ (the benchmark verdicts and
the country's display name) feed the findings only, which the action plan does
not read; ``tests/test_landscape_memo.py`` checks that the tables agree.
"""

from __future__ import annotations

import threading
from typing import Any

from p2c_research import steps

_lock = threading.Lock()
_last: dict[tuple[str, str, str, str], Any] = {}


def _key(ctx: Any) -> tuple[str, str, str, str]:
    return (ctx.iso3, ctx.selection.fingerprint(), steps.catalog_hash(ctx.catalog),
            ctx.params.fingerprint())


def remember(ctx: Any, tables: Any) -> None:
    """Keep ``tables`` (a :class:`~p2c_research.analyses.landscape.LandscapeTables`) as the
    landscape of ``ctx``; only the last one is kept."""
    key = _key(ctx)
    with _lock:
        _last.clear()
        _last[key] = tables


def recall(ctx: Any) -> Any | None:
    """The tables kept for exactly ``ctx``'s inputs, or None."""
    key = _key(ctx)
    with _lock:
        return _last.get(key)


def forget() -> None:
    """Drop what is kept (tests)."""
    with _lock:
        _last.clear()
