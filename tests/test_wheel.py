"""The Digital Transformation Wheel draws what it is given: bars, grey segments, outline, source."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from p2c_research.figures.landscape import (
    indicator_strip_figure,
    target_progress_figure,
    trend_small_multiples,
)
from p2c_research.figures.theme import MISSING_COLOR, PILLAR_COLORS
from p2c_research.figures.wheel import wheel_figure

SUBS = pd.DataFrame({
    "pillar": ["ACCESS", "ACCESS", "ADOPTION", "ADOPTION", "VALUE_CREATION"],
    "sub_pillar": ["infrastructure", "affordability", "usage", "skills", "innovation"],
    "score": [62.0, np.nan, 80.0, 40.0, 35.0],
    "coverage": [0.6, 0.0, 1.0, 0.8, 0.2],
    "n_present": [5, 0, 2, 4, 1],
    "n_total": [9, 2, 2, 5, 5],
    "sufficient": [True, False, True, True, False],
})
PEERS = pd.DataFrame({"sub_pillar": ["infrastructure", "usage", "skills"],
                      "peer_median": [50.0, 70.0, 55.0]})


def _bars(fig):
    ax = fig.axes[0]
    return [p for p in ax.patches if p.get_height() > 0]


def test_wheel_bars_heights_and_insufficient_segments() -> None:
    fig = wheel_figure(SUBS, PEERS, title="Testland", source="Source: test data, 2024")
    bars = _bars(fig)
    assert len(bars) == len(SUBS)
    heights = sorted(round(b.get_height(), 6) for b in bars)
    # sufficient scores as radius; insufficient segments (NaN, or score below coverage) at 100
    assert heights == [40.0, 62.0, 80.0, 100.0, 100.0]
    grey = [b for b in bars if b.get_hatch() == "///"]
    assert len(grey) == 2
    assert all(b.get_facecolor()[:3] == pytest.approx(to_rgba(MISSING_COLOR)[:3]) for b in grey)
    access = next(b for b in bars if b.get_height() == 62.0)
    assert access.get_facecolor()[:3] == pytest.approx(to_rgba(PILLAR_COLORS["ACCESS"])[:3])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "insufficient\ndata\n(0/2)" in texts
    assert "62" in texts
    assert "Source: test data, 2024" in [t.get_text() for t in fig.texts]
    plt.close(fig)


def test_wheel_peer_outline_is_drawn_at_the_medians() -> None:
    fig = wheel_figure(SUBS, PEERS, title="Testland", source="Source: x, 2024")
    radii = np.concatenate([line.get_ydata() for line in fig.axes[0].lines])
    radii = radii[~np.isnan(radii)]
    assert set(np.round(radii, 6)) == {50.0, 70.0, 55.0}
    plt.close(fig)


def test_small_wheel_has_no_labels_and_saves(tmp_path) -> None:
    fig = wheel_figure(SUBS, None, title="Testland", source="Source: x, 2024", small=True)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "62" not in texts and "infrastructure" not in texts
    assert not [line for line in fig.axes[0].lines if len(line.get_ydata())]
    path = tmp_path / "wheel_small.png"
    fig.savefig(path, dpi=60)
    assert path.read_bytes()[:4] == b"\x89PNG"
    w, h = fig.get_size_inches()
    assert w <= 4 and h <= 4
    plt.close(fig)


def test_other_landscape_figures_name_their_source() -> None:
    strip = pd.DataFrame({"iso3": ["AAA", "BBB", "XXX"], "indicator": ["internet_users"] * 3,
                          "pillar": ["ADOPTION"] * 3, "score": [20.0, 60.0, 45.0],
                          "role": ["peer", "peer", "country"]})
    names = {"internet_users": "Individuals using the Internet"}
    lines = pd.DataFrame({"indicator": ["internet_users"] * 3, "pillar": ["ADOPTION"] * 3,
                          "year": [2018, 2020, 2022], "value": [20.0, 30.0, 45.0],
                          "fitted": [19.0, 31.0, 43.0]})
    targets = pd.DataFrame({"indicator": ["internet_users"], "target_kind": ["UMC"],
                            "progress": [45.0], "band": ["limited"], "status": ["on track"]})
    figs = [
        indicator_strip_figure(strip, names, title="t", source="Source: s, 2024",
                               peer_label="peers"),
        trend_small_multiples(lines, names, {"internet_users": "%"}, title="t",
                              source="Source: s, 2024"),
        target_progress_figure(targets, names, title="t", source="Source: s, 2024"),
        target_progress_figure(targets.iloc[0:0], names, title="t", source="Source: s, 2024"),
    ]
    for fig in figs:
        assert "Source: s, 2024" in [t.get_text() for t in fig.texts]
        plt.close(fig)


def test_indicator_strips_are_the_same_picture_on_every_run() -> None:
    from p2c_research.render.images import figure_png

    rng = np.random.default_rng(5)
    inds = ["internet_users", "mobile_subscriptions"]
    rows = [(f"P{k:02d}", ind, "ACCESS", float(rng.uniform(0, 100)), "peer")
            for k in range(25) for ind in inds]
    rows += [("XXX", "internet_users", "ACCESS", 50.0, "country"),
             ("XXX", "mobile_subscriptions", "ACCESS", 70.0, "country"),
             ("P00", "fixed_broadband_subscriptions", "ACCESS", 20.0, "peer")]
    strip = pd.DataFrame(rows, columns=["iso3", "indicator", "pillar", "score", "role"])
    # the country has no score for fixed broadband: it gets no row
    names = {"internet_users": "Internet users", "mobile_subscriptions": "Mobile",
             "fixed_broadband_subscriptions": "Fixed broadband"}

    def draw():
        return indicator_strip_figure(strip, names, title="t", source="Source: s, 2024",
                                      peer_label="peers")

    first, second = draw(), draw()
    assert figure_png(first, 60) == figure_png(second, 60)  # seeded jitter
    peers = first.axes[0].collections[0].get_offsets()
    assert len(peers) == 50
    # each peer sits within the jitter band of its own row (0 = first indicator, on top)
    by_row = np.round(peers[:, 1])
    assert set(by_row) == {0.0, 1.0}
    assert np.abs(peers[:, 1] - by_row).max() <= 0.18
    assert np.abs(peers[:, 1] - by_row).std() > 0.05  # jittered, not on a line
    assert [t.get_text() for t in first.axes[0].get_yticklabels()] == ["Internet users", "Mobile"]
    plt.close(first)
    plt.close(second)
