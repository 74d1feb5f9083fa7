"""Shared test fixtures: where the real-data snapshot is, and a private cache per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_DIR = PROJECT_ROOT.parent / "shared" / "real"

# Keep test runs from reading or writing the developer's cache. (No MPLBACKEND here:
# kernels inherit the environment, and the reports need the inline backend.)
os.environ.setdefault("P2C_CACHE", tempfile.mkdtemp(prefix="p2c-test-cache-"))


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """The real-data snapshot in ../shared/real; tests using it skip cleanly when absent."""
    if not REAL_DIR.is_dir():
        pytest.skip(f"real-data snapshot not found at {REAL_DIR}")
    return REAL_DIR


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every matplotlib figure a test left open (they pile up across tests)."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(scope="module")
def catalog():
    from p2c_research.catalog import load_catalog

    return load_catalog()


@pytest.fixture(scope="session")
def partner_outputs(tmp_path_factory) -> Path:
    """The Quick start's batch (the four partners on the embedded sample), run once per session."""
    from p2c_research.runner.batch import run_batch

    out = tmp_path_factory.mktemp("partners")
    code = run_batch(["KHM", "MDG", "DOM", "MRT"], out_dir=out, data="sample", local=True,
                     progress=False)
    assert code == 0, "the partner batch failed; see its summary above"
    return out
