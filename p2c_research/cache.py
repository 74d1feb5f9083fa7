"""On-disk cache of all-country results, keyed by data vintage and options.

Scores, peer statistics and regression fits are computed for every economy in
one pass. A batch computes them once and every country notebook reads them
back, instead of recomputing the world per country. Keys hash the data files
(the vintage) and the options that change the result, so a new vintage or
other options never read a stale entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from p2c_research.config import cache_dir
from p2c_research.store import atomic_write_text, write_parquet

log = logging.getLogger(__name__)


def cache_key(**parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def entry_dir(name: str, key: str, root: Path | None = None) -> Path:
    return (root or cache_dir()) / name / key


def cached_frames(
    name: str,
    key: str,
    compute: Callable[[], dict[str, pd.DataFrame]],
    *,
    root: Path | None = None,
) -> dict[str, pd.DataFrame]:
    """Return the frames stored under ``name/key``, computing and storing them if absent.

    The entry is complete only once its ``DONE`` marker exists (written last),
    so a worker killed mid-write leaves an entry that is simply recomputed.
    """
    folder = entry_dir(name, key, root)
    done = folder / "DONE"
    memo_key = (str(folder), done.stat().st_mtime_ns if done.exists() else None)
    if memo_key in _memo:
        return _shallow(_memo[memo_key])
    if done.exists():
        parts = json.loads(done.read_text())
        try:
            frames = {part: pd.read_parquet(folder / f"{part}.parquet") for part in parts}
            _remember(memo_key, frames)
            return _shallow(frames)
        except (OSError, ValueError) as exc:  # a damaged entry is recomputed, not trusted
            log.warning("cache entry %s unreadable (%s); recomputing", folder, exc)
    frames = compute()
    for part, frame in frames.items():
        write_parquet(frame, folder / f"{part}.parquet")
    atomic_write_text(done, json.dumps(sorted(frames)))
    return frames


#: Entries read in this process, keyed by folder and DONE-marker time: a warm
#: kernel in a batch reads each all-country entry once, not once per country.
_memo: dict[tuple[str, int | None], dict[str, pd.DataFrame]] = {}
_MEMO_MAX = 16


def _remember(key: tuple[str, int | None], frames: dict[str, pd.DataFrame]) -> None:
    if len(_memo) >= _MEMO_MAX:
        _memo.pop(next(iter(_memo)))
    _memo[key] = frames


def _shallow(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Copies that share the data (copy-on-write), so a caller's edits never reach the memo."""
    return {part: frame.copy(deep=False) for part, frame in frames.items()}
