"""Trend panels: one y-scale per unit, bounded shares 0-100, a single observation as a labelled dot."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from p2c_research.figures import landscape as fl
from p2c_research.figures.trend_scales import PAD, panel_scales
from p2c_research.render import reuse

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _clean_pool():
    reuse.clear()
    yield
    reuse.clear()


def _lines(series: dict[str, list[tuple[int, float]]]) -> pd.DataFrame:
    return pd.DataFrame([{"indicator": ind, "pillar": "ACCESS", "year": y, "value": v,
                          "fitted": np.nan}
                         for ind, points in series.items() for y, v in points])


def _padded(low: float, high: float) -> tuple[float, float]:
    return low - (high - low) * PAD, high + (high - low) * PAD


def test_bounded_shares_run_0_to_100_and_same_units_share_one_range() -> None:
    lines = _lines({
        "coverage_2g": [(2018, 99.0), (2020, 99.7)],       # bounded share (catalog)
        "internet_users": [(2018, 30.0), (2020, 55.0)],    # bounded share
        "mobile_broadband": [(2018, 40.0), (2020, 110.0)],  # per 100 people
        "fixed_broadband": [(2018, 30.0), (2020, 35.0)],    # per 100 people, comparable
        "secure_servers": [(2018, 10.0), (2020, 800.0)],    # per 1 million people
        "patents_resident": [(2018, 0.06), (2020, 0.18)],   # per 1 million people, tiny
    })
    units = {"coverage_2g": "% of population", "internet_users": "% of population",
             "mobile_broadband": "per 100 people", "fixed_broadband": "per 100 people",
             "secure_servers": "per 1 million people",
             "patents_resident": "per 1 million people"}
    scales = panel_scales(lines, units)
    for ind in ("coverage_2g", "internet_users"):
        assert (scales[ind].low, scales[ind].high) == pytest.approx(_padded(0.0, 100.0))
        assert scales[ind].tag == ""
    mb, fb = scales["mobile_broadband"], scales["fixed_broadband"]
    assert (mb.low, mb.high) == (fb.low, fb.high) == pytest.approx(_padded(0.0, 110.0))
    assert mb.tag == fb.tag == ""
    # 0.18 is far below a fifth of 800: a shared axis would flatten it; each keeps its own
    assert (scales["secure_servers"].low, scales["secure_servers"].high) == pytest.approx(
        _padded(0.0, 800.0))
    assert (scales["patents_resident"].low, scales["patents_resident"].high) == pytest.approx(
        _padded(0.0, 0.18))
    assert scales["secure_servers"].tag == scales["patents_resident"].tag == "own scale"


def test_a_target_stays_inside_the_range() -> None:
    lines = _lines({"mobile_data_price": [(2018, 2.7), (2020, 0.6)]})
    scales = panel_scales(lines, {"mobile_data_price": "% of monthly GNI per capita"},
                          {"mobile_data_price": 5.0})
    assert scales["mobile_data_price"].high == pytest.approx(_padded(0.0, 5.0)[1])


def test_figure_uses_the_scales_labels_a_single_point_and_drops_empty_indicators() -> None:
    lines = _lines({
        "mobile_broadband": [(2016, 40.0), (2020, 100.0)],
        "fixed_broadband": [(2016, 1.0), (2020, 4.0)],
        "researchers": [(2019, 30.4)],
        "coverage_5g": [(2020, np.nan)],  # no value in the window: no panel
    })
    names = {"mobile_broadband": "Active mobile-broadband subscriptions",
             "fixed_broadband": "Fixed broadband subscriptions",
             "researchers": "Researchers in R&D", "coverage_5g": "5G coverage"}
    units = {"mobile_broadband": "per 100 people", "fixed_broadband": "per 100 people",
             "researchers": "per 1 million people", "coverage_5g": "% of population"}
    fig = fl.trend_small_multiples(lines, names, units, title="t", source="Source: s, 2024")
    shown = [ax for ax in fig.axes if ax.axison]
    titles = [ax.get_title() for ax in shown]
    assert len(shown) == 3 and not any("5G" in t for t in titles)
    by_title = {ax.get_title().replace("\n", " "): ax for ax in shown}
    mb = by_title["Active mobile-broadband subscriptions"]
    fb = by_title["Fixed broadband subscriptions"]
    assert mb.get_ylim() != fb.get_ylim()  # 4 is below a fifth of 100: own scales
    assert {mb.texts[1].get_text(), fb.texts[1].get_text()} == {"own scale"}
    assert mb.texts[1].get_visible() and fb.texts[1].get_visible()
    rd = by_title["Researchers in R&D"]
    label = rd.texts[0]
    assert label.get_visible() and label.get_text() == "30.4 (2019)"
    assert label.xy == (2019.0, 30.4)
    assert not mb.texts[0].get_visible()  # more than one point: no value label
    assert rd.lines[0].get_markersize() > mb.lines[0].get_markersize()
    assert fig.texts[0].get_text() == "Source: s, 2024"
    assert "share one scale" in fig.texts[1].get_text()
