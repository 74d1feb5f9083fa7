"""Pooled figures (figures.reuse): a reused trend grid draws exactly what a fresh one draws.

The pool is only worth having if a report cannot tell the difference, so each
report of a sequence (other indicators, other panel counts, targets above and
below the data, panels that change from bottom row to inner row) is drawn on a
grid that earlier reports used, and compared pixel for pixel with the same
report drawn on a fresh figure.
"""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from p2c_research.figures import landscape as fl
from p2c_research.render import reuse
from p2c_research.render.images import figure_png

matplotlib.use("Agg")
DPI = 80


@pytest.fixture(autouse=True)
def _clean_pool():
    reuse.clear()
    yield
    reuse.clear()


def _report(seed: int, n_indicators: int, *, with_targets: bool) -> dict:
    rng = np.random.default_rng(seed)
    inds = [f"IND{k:02d}" for k in rng.choice(40, n_indicators, replace=False)]
    rows = []
    for k, ind in enumerate(inds):
        years = np.arange(2015 + (k % 3), 2024)
        level = rng.uniform(1, 10 ** rng.uniform(0, 3))
        values = level * (1 + 0.05 * (years - 2015)) + rng.normal(0, level / 10, len(years))
        fitted = values.mean() + (years - years.mean()) * level * 0.05 if k % 4 else np.nan
        rows += [{"indicator": ind, "pillar": ["ACCESS", "ADOPTION", "VALUE"][k % 3], "year": y,
                  "value": v, "fitted": f}
                 for y, v, f in zip(years, values, np.broadcast_to(fitted, len(years)), strict=True)]
    lines = pd.DataFrame(rows)
    names = {ind: f"Indicator {ind} with a fairly long name number {seed}" for ind in inds}
    units = {ind: "% of population" if k % 2 else "per 100 people" for k, ind in enumerate(inds)}
    targets = None
    if with_targets:
        top = lines.groupby("indicator")["value"].max()
        targets = pd.DataFrame({"indicator": inds[:5],
                                "target": [top[i] * f for i, f in zip(inds[:5], (2, 0.1, 1.5, 0.5, 3),
                                                                      strict=True)]})
    return dict(lines=lines, names=names, units=units, targets=targets,
                title=f"Country {seed}: trends 2015-2024", source=f"Source: test {seed}")


def _draw(report: dict) -> bytes:
    return figure_png(fl.trend_small_multiples(
        report["lines"], report["names"], report["units"], title=report["title"],
        source=report["source"], targets=report["targets"]), DPI)


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


REPORTS = [(1, 19, True), (2, 17, False), (3, 9, True), (4, 18, True), (5, 19, False)]


@pytest.mark.slow  # draws reports twice
def test_a_reused_grid_draws_what_a_fresh_grid_draws() -> None:
    reports = [_report(seed, n, with_targets=t) for seed, n, t in REPORTS]
    fresh = [_draw(r) for r in reports]  # the pool is off: a new figure each time
    assert reuse.stats["reused"] == 0

    reuse.release_all()  # what a batch worker does between two notebooks
    before = dict(reuse.stats)
    pooled = []
    for report in reports:
        pooled.append(_draw(report))
        reuse.release_all()
    # 19, 17 and 18 indicators use the same 5 x 4 grid: reused three times
    assert reuse.stats["reused"] - before["reused"] == 3
    for (seed, n, _), a, b in zip(REPORTS, fresh, pooled, strict=True):
        pa, pb = _pixels(a), _pixels(b)
        assert pa.shape == pb.shape, (seed, n)
        assert np.array_equal(pa, pb), (seed, n, int((pa != pb).any(axis=2).sum()))


def test_nothing_is_lent_twice_before_a_release() -> None:
    report = _report(1, 19, with_targets=False)
    reuse.release_all()
    first = fl.trend_small_multiples(report["lines"], report["names"], report["units"],
                                     title="a", source="s")
    second = fl.trend_small_multiples(report["lines"], report["names"], report["units"],
                                      title="b", source="s")
    assert first is not second  # the first is still in use: the second is new
    assert first.get_suptitle() == "a" and second.get_suptitle() == "b"
    reuse.release_all()
    third = fl.trend_small_multiples(report["lines"], report["names"], report["units"],
                                     title="c", source="s")
    assert third in (first, second)
    assert getattr(third, "_p2c_png", None) is None  # the old rendering is not kept


def test_outside_a_batch_worker_every_figure_is_new() -> None:
    report = _report(2, 9, with_targets=False)
    figs = [fl.trend_small_multiples(report["lines"], report["names"], report["units"],
                                     title="t", source="s") for _ in range(3)]
    assert len({id(f) for f in figs}) == 3
    assert reuse.stats["made"] == reuse.stats["reused"] == 0
