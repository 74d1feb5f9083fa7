"""Every path the workbench uses, in one place.

The project root is the folder that holds ``params/`` and ``data/``. It is the
checkout in a development install; ``P2C_ROOT`` overrides it so tests and
batch workers can point the package at another tree.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
RESOURCES_DIR = PACKAGE_DIR / "resources"


def project_root() -> Path:
    """Return the project root (``P2C_ROOT`` or the checkout holding the package)."""
    env = os.environ.get("P2C_ROOT")
    return Path(env).resolve() if env else PACKAGE_DIR.parent


def data_dir() -> Path:
    return project_root() / "data"


def sample_dir() -> Path:
    """The embedded sample shipped in git (WDI + Natural Earth + synthetic pledges)."""
    return data_dir() / "sample"


def processed_dir() -> Path:
    """Panels built from fetched real sources (git-ignored)."""
    return data_dir() / "processed"


def raw_dir() -> Path:
    """Immutable raw responses with provenance sidecars (git-ignored)."""
    return data_dir() / "raw"


def params_dir() -> Path:
    return project_root() / "params"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def outputs_dir() -> Path:
    """Default output folder for reports (git-ignored)."""
    return project_root() / "outputs"


def docs_dir() -> Path:
    return project_root() / "docs"


def cache_dir() -> Path:
    """Cache of all-country results, keyed by data vintage (git-ignored)."""
    env = os.environ.get("P2C_CACHE")
    return Path(env).resolve() if env else project_root() / ".p2c-cache"
