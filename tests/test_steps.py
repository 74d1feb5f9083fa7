"""The declared world steps: computed once per key, and the key follows inputs and code."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from helpers import WINDOW, make_panel

from p2c_research import steps
from p2c_research.datasets import DataSelection
from p2c_research.store import PANEL_COLUMNS, validate_panel, write_parquet

ROWS = [("AAA", "internet_users", 2020, 60.0), ("AAA", "adult_literacy", 2020, 80.0),
        ("BBB", "internet_users", 2021, 40.0), ("CTX", "population", 2020, 1e6)]


@pytest.fixture
def selection(tmp_path, monkeypatch) -> DataSelection:
    monkeypatch.setenv("P2C_CACHE", str(tmp_path / "cache"))
    panel_path = tmp_path / "panel.parquet"
    write_parquet(validate_panel(make_panel(ROWS)[PANEL_COLUMNS]), panel_path)
    return DataSelection(choice="sample", panel_path=panel_path,
                         pledges_path=tmp_path / "none.parquet",
                         geometries_path=tmp_path / "none.geojson", pledges_synthetic=True)


def test_scores_are_computed_once_per_key(selection, catalog, tmp_path, monkeypatch):
    first = steps.scores(selection, catalog, WINDOW, 0.5)
    assert list((tmp_path / "cache" / "world_scores").glob("*/DONE"))

    def boom(*args, **kwargs):
        raise AssertionError("recomputed although the cache entry exists")

    monkeypatch.setattr(steps, "world_scores", boom)
    again = steps.scores(selection, catalog, WINDOW, 0.5)
    pd.testing.assert_frame_equal(first.pillars.reset_index(drop=True),
                                  again.pillars.reset_index(drop=True), check_dtype=False)
    assert again.window == WINDOW and again.coverage_threshold == 0.5
    with pytest.raises(AssertionError, match="recomputed"):  # another option, another key
        steps.scores(selection, catalog, WINDOW, 0.6)
    with pytest.raises(AssertionError, match="recomputed"):  # screened: another key too
        steps.scores(selection, catalog, WINDOW, 0.5, reference_year=2023)


def test_benchmark_is_computed_once_per_options(selection, catalog, tmp_path, monkeypatch):
    calls = []
    real = steps.world_benchmark

    def counting(*args, **kwargs):
        calls.append(kwargs.get("pi_level"))
        return real(*args, **kwargs)

    monkeypatch.setattr(steps, "world_benchmark", counting)
    root = tmp_path / "bench"
    steps.benchmark(selection, catalog, WINDOW, min_n=2, root=root)
    steps.benchmark(selection, catalog, WINDOW, min_n=2, root=root)
    steps.benchmark(selection, catalog, WINDOW, min_n=2, pi_level=0.8, root=root)
    assert calls == [0.9, 0.8]


def test_a_key_follows_the_code_of_its_step(tmp_path, monkeypatch):
    module = tmp_path / "p2c_step_probe.py"
    module.write_text("def f():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = steps.Step("probe", ("p2c_step_probe",))
    before = probe.key(vintage="v1")
    assert probe.key(vintage="v1") == before and probe.key(vintage="v2") != before
    module.write_text("def f():\n    return 2\n")  # the step's code changes ...
    steps._code_hash.cache_clear()                 # ... in a new process
    assert probe.key(vintage="v1") != before
    sys.modules.pop("p2c_step_probe", None)


def test_every_declared_step_has_code_that_exists():
    for step in steps.STEPS:
        assert len(step.code_hash()) == 16, step.name
