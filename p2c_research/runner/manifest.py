"""``OUT/manifest.json``: for each output, what produced it and from what.

For every country and notebook: the resolved params, the data file hashes,
the package versions, the git commit, start and end times and the status.
Entries of earlier runs in the same folder are kept unless this run redid them.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from p2c_research.config import project_root
from p2c_research.datasets import DataSelection
from p2c_research.store import atomic_write_text

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


def write_manifest(out: Path, results: list[dict], selection: DataSelection) -> Path:
    previous = read_manifest(out).get("outputs", [])
    redone = {(r["country"], r["notebook"]) for r in results}
    kept = [e for e in previous if (e.get("country"), e.get("notebook")) not in redone]
    files = selection.file_hashes()
    entries = []
    for r in results:
        entry = dict(r)
        entry["data_files"] = files
        entries.append(entry)
    manifest = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "package_versions": package_versions(),
        "data": {"choice": selection.choice, "itu": selection.itu,
                 "fingerprint": selection.fingerprint(),
                 "description": selection.describe(), "files": files},
        "outputs": sorted(kept + entries, key=lambda e: (e.get("country", ""),
                                                         e.get("notebook", ""))),
    }
    path = out / "manifest.json"
    atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    return path
