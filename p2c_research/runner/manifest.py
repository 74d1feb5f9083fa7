"""``OUT/manifest.json``: for each output, what produced it and from what.

For every country and notebook: the resolved params, the data file hashes,
the package versions, the git commit, start and end times and the status.
Entries of earlier runs in the same folder are kept unless this run redid them.

Several batches may write into one folder at once (two analysts, or a rerun
started before the first finished). The manifest is read, changed and
written under a file lock on the folder (:func:`output_lock`, ``filelock``),
so no batch drops another's entries.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from p2c_research.config import project_root
from p2c_research.datasets import DataSelection
from p2c_research.errors import P2CError
from p2c_research.store import atomic_write_text

#: The lock file of an output folder (hidden; ``filelock`` leaves it in place).
LOCK_NAME = ".p2c-outputs.lock"
#: Seconds a batch waits for another one to finish writing the manifest or index.
LOCK_TIMEOUT = 120.0

_locks: dict[str, FileLock] = {}
_locks_guard = threading.Lock()


@contextlib.contextmanager
def output_lock(out: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the output folder's lock: one writer of ``manifest.json`` and ``index.html`` at a time.

    Re-entrant within a process (one ``FileLock`` per folder), so a function
    holding it may call another that takes it too.

    Raises:
        P2CError: another process held the lock for ``timeout`` seconds.
    """
    path = str(Path(out).resolve() / LOCK_NAME)
    with _locks_guard:
        lock = _locks.setdefault(path, FileLock(path, thread_local=False))
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        raise P2CError(f"{out}: another batch has been writing this output folder's manifest for "
                       f"{timeout:.0f} s ({path} is locked); wait for it to finish, or use "
                       "another --out folder") from exc
    try:
        yield
    finally:
        lock.release()

VERSIONED = ("p2c_research", "pandas", "numpy", "scipy", "statsmodels", "geopandas", "shapely",
             "matplotlib", "seaborn", "papermill", "nbconvert", "dask", "distributed", "pydantic",
             "pandera", "pyarrow", "mapclassify")


def package_versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = res.stdout.strip()
    if res.returncode != 0 or not commit:
        return "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           cwd=project_root(), capture_output=True, text=True, check=False)
    return commit + ("+dirty" if dirty.stdout.strip() else "")


def read_manifest(out: Path) -> dict[str, Any]:
    path = out / "manifest.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError:
        return {}


def repository_path(path: str | Path) -> str:
    """A data file as the manifest names it: relative to the repository (``data/sample/panel.parquet``).

    A file outside the repository (data under ``P2C_DATA`` elsewhere) is named
    by its last two parts, folder and file: the manifest is shared with the
    outputs and carries no path of the machine that built them.
    """
    resolved = Path(path).resolve()
    root = project_root().resolve()
    if resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix()
    return "/".join(resolved.parts[-2:])


def manifest_header(selection: DataSelection) -> dict[str, Any]:
    """What every manifest write of one batch shares: commit, versions, data files.

    Computed once per batch (hashing the data files and asking git take
    longer than writing the manifest), then passed to :func:`write_manifest`.
    """
    files = {repository_path(p): digest for p, digest in selection.file_hashes().items()}
    return {
        "git_commit": git_commit(),
        "package_versions": package_versions(),
        "data": {"choice": selection.choice, "itu": selection.itu,
                 "fingerprint": selection.fingerprint(),
                 "description": selection.describe(), "files": files},
    }


def write_manifest(out: Path, results: list[dict], selection: DataSelection,
                   header: dict[str, Any] | None = None) -> Path:
    """Merge ``results`` into ``OUT/manifest.json`` under the folder's lock.

    An entry of an earlier run (or of a batch running beside this one) is
    kept unless ``results`` redo the same country and notebook.
    """
    header = header or manifest_header(selection)
    files = header["data"]["files"]
    entries = []
    for r in results:
        entry = dict(r)
        entry["data_files"] = files
        entries.append(entry)
    redone = {(r["country"], r["notebook"]) for r in results}
    path = out / "manifest.json"
    with output_lock(out):
        previous = read_manifest(out).get("outputs", [])
        kept = [e for e in previous if (e.get("country"), e.get("notebook")) not in redone]
        manifest = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **header,
            "outputs": sorted(kept + entries, key=lambda e: (e.get("country", ""),
                                                             e.get("notebook", ""))),
        }
        atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=False, default=str)
                          + "\n")
    return path
