"""Legend class breaks: rounded to two significant figures, increasing, no class empty."""

from __future__ import annotations

import mapclassify
import numpy as np
import pytest

from p2c_research.figures.class_breaks import readable_breaks, round_sig


@pytest.mark.parametrize(("x", "mode", "expected"), [
    (14.81, "nearest", 15.0), (1560.09, "nearest", 1600.0), (0.01234, "nearest", 0.012),
    (1.7, "down", 1.7), (1.72, "down", 1.7), (242.2, "up", 250.0), (-14.81, "down", -15.0),
    (0.0, "nearest", 0.0),
])
def test_round_sig_by_hand(x, mode, expected) -> None:
    assert round_sig(x, 2, mode) == expected


def test_issue_example_breaks_read_15_and_1600() -> None:
    values = np.array([3.2, 9.0, 14.0, 14.81, 20.0, 800.0, 1560.09, 2400.0])
    breaks = readable_breaks(values, [14.81, 1560.09, 2400.0])
    assert breaks.labels() == ["3.2 – 15", "15 – 1,600", "1,600 – 2,400"]


def _independent(values: np.ndarray, bins: np.ndarray) -> list[float]:
    """Two significant figures with string formatting ('%.2g'), no Decimal."""
    return [float(f"{b:.2g}") for b in bins[:-1]]


@pytest.mark.parametrize("seed", range(12))
def test_quantile_breaks_match_an_independent_rounding_and_keep_every_class(seed) -> None:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(mean=rng.uniform(-2, 6), sigma=rng.uniform(0.3, 2.0), size=150)
    bins = mapclassify.Quantiles(values, k=5).bins
    breaks = readable_breaks(values, bins)
    uppers = np.array(breaks.uppers)
    assert np.all(np.diff(uppers) > 0), "breaks must increase"
    classes = breaks.classify(values)
    assert set(classes) == set(range(len(uppers))), "no class may be empty"
    assert breaks.lower <= values.min() and uppers[-1] >= values.max()
    # With 150 spread values two figures always keep five classes apart, so every inner
    # break is exactly the two-figure rounding of the classifier's break.
    assert list(uppers[:-1]) == _independent(values, bins)
    # every value sits in the class whose bounds enclose it
    bounds = np.array([breaks.lower, *uppers])
    assert np.all(values > bounds[classes] - (classes == 0) * 1e-12)
    assert np.all(values <= bounds[classes + 1])


def test_close_breaks_take_a_third_figure_rather_than_empty_a_class() -> None:
    values = np.array([1.80, 1.81, 1.83, 1.84, 1.86, 1.87, 5.0])
    # two figures would make both inner breaks 1.8 (an empty second class)
    breaks = readable_breaks(values, [1.815, 1.845, 5.0])
    assert breaks.uppers == (1.8, 1.84, 5.0)
    assert set(breaks.classify(values)) == {0, 1, 2}


def test_a_break_no_rounding_can_keep_is_dropped() -> None:
    values = np.array([1.0, 1.0, 1.0, 2.0])
    breaks = readable_breaks(values, [1.0, 1.0, 2.0])  # duplicate quantiles
    assert breaks.uppers == (1.0, 2.0)
    assert breaks.labels() == ["1", "1 – 2"]


def test_missing_values_have_no_class() -> None:
    breaks = readable_breaks(np.array([1.0, 5.0]), [1.0, 5.0])
    assert list(breaks.classify(np.array([np.nan, 1.0, 5.0]))) == [-1, 0, 1]
