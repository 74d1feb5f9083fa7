"""What every adapter hands back, and small helpers they share.

An adapter's job is ``fetch -> raw cache -> parse -> tidy rows``. The result
record is the same for all of them so :mod:`p2c_research.sources.fetch` and
:mod:`p2c_research.build` can treat the publishers alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from p2c_research.store import PANEL_COLUMNS, empty_panel

FIRST_YEAR = 2000


def default_end_year() -> int:
    """The last year a fetch asks for: the current calendar year."""
    return datetime.now(UTC).year


@dataclass
class AdapterResult:
    """Tidy rows produced by an adapter, with the raw files behind them.

    Attributes:
        panel: tidy rows ``iso3, indicator, year, value, source``.
        files: raw files read (downloaded now or served from the cache).
        messages: what a user should know (aggregates dropped, no data, ...).
        errors: per-request failures that did not stop the whole fetch.
        n_downloaded: raw files downloaded by this call.
        n_cached: raw files served from the cache by this call.
    """

    panel: pd.DataFrame = field(default_factory=empty_panel)
    files: list[Path] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    n_downloaded: int = 0
    n_cached: int = 0


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the panel columns with plain dtypes (empty frames keep the schema)."""
    if frame is None or frame.empty:
        return empty_panel()
    out = frame[PANEL_COLUMNS].copy()
    out["year"] = out["year"].astype("int64")
    out["value"] = out["value"].astype("float64")
    return out.reset_index(drop=True)


def newest_first(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """De-duplicate rows on ``keys``, keeping the most recently retrieved.

    Needs a ``retrieved_at`` column (ISO timestamps sort as text).
    """
    if frame.empty:
        return frame
    ordered = frame.sort_values("retrieved_at", ascending=False, kind="stable")
    return ordered.drop_duplicates(keys, keep="first")


def listing(values: set[str] | list[str], limit: int = 12) -> str:
    """A short comma list for messages ("A, B, C and 9 more")."""
    items = sorted(str(v) for v in values)
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
