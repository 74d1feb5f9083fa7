"""The process-wide text cache renders exactly what matplotlib renders without it."""

from __future__ import annotations

import contextlib
from unittest.mock import patch

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_agg import RendererAgg

from p2c_research.render import raster, text_cache
from p2c_research.render.raster import render_rgba, snap_to_pixels


def _figure(title: str = "Côte d’Ivoire: fixed broadband\nper 100 people"):
    """Labels of every kind: ticks, a two-line title, bold, rotated, small, mathtext,
    a legend, a label without antialiasing."""
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([2015, 2019, 2023], [0.2, 0.5, 0.4], label="observed")
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_ylabel("share of people (%)")
    ax.text(2016, 0.45, "bold label", fontweight="bold", fontsize=9)
    ax.text(2020, 0.3, "turned 30°", rotation=30)
    ax.text(2018, 0.25, "upright", rotation=90, fontsize=7)
    ax.text(2017, 0.35, r"$R^2 = 0.81$")
    ax.text(2021, 0.22, "aliased", antialiased=False)
    ax.legend(loc="best", fontsize=8)
    plt.close(fig)
    return fig


def _render(fig, cached: bool, dpi: int = 90) -> np.ndarray:
    """``fig`` through the report renderer, with the cache or with matplotlib alone."""
    box = snap_to_pixels(fig.bbox_inches.padded(0.6), dpi)
    if cached:
        return render_rgba(fig, box, dpi).copy()
    with patch.object(raster, "cached_text", contextlib.nullcontext):
        return render_rgba(fig, box, dpi).copy()


@pytest.fixture(autouse=True)
def _fresh_cache():
    text_cache.clear()
    yield
    text_cache.clear()


def test_the_cache_is_active_exactly_on_the_verified_matplotlib_versions() -> None:
    minor = ".".join(matplotlib.__version__.split(".")[:2])
    assert (minor in text_cache.VERIFIED_MATPLOTLIB) == text_cache.ACTIVE
    assert {"3.10": "bitmap", "3.11": "layout"}.get(minor) == text_cache.MODE
    print(f"matplotlib {matplotlib.__version__}: text cache "
          f"{text_cache.MODE + ' path active' if text_cache.ACTIVE else 'off (stock rendering)'}")
    if not text_cache.ACTIVE:
        original = RendererAgg.draw_text
        with text_cache.cached_text():
            assert RendererAgg.draw_text is original  # nothing patched: stock rendering


def test_cached_renders_are_pixel_identical_to_matplotlib_alone() -> None:
    plain = _render(_figure(), cached=False)
    first = _render(_figure(), cached=True)  # fills the cache
    misses = dict(text_cache.stats)
    second = _render(_figure(), cached=True)  # a new figure and renderer: served from it
    assert np.array_equal(plain, first)
    assert np.array_equal(plain, second)
    if not text_cache.ACTIVE:
        return  # stock rendering on this matplotlib: nothing was cached
    drawn = "bitmap" if text_cache.MODE == "bitmap" else "layout"
    assert misses[f"{drawn}_misses"] >= 8 and misses["metrics_misses"] >= 8
    # The second figure shaped nothing again (mathtext goes through matplotlib).
    assert text_cache.stats[f"{drawn}_misses"] == misses[f"{drawn}_misses"]
    assert text_cache.stats["metrics_misses"] == misses["metrics_misses"]
    assert text_cache.stats[f"{drawn}_hits"] >= 8


def test_a_changed_setting_is_not_served_from_the_cache() -> None:
    """Hinting, font size, font family and dpi are in the key: changing one renders afresh."""
    _render(_figure(), cached=True)
    assert np.array_equal(_render(_figure(), cached=True, dpi=120),
                          _render(_figure(), cached=False, dpi=120))
    changed = {"font.size": 13, "font.family": "DejaVu Serif"}
    if text_cache.MODE == "bitmap":  # the hinting factor is deprecated from matplotlib 3.11
        changed["text.hinting_factor"] = 1
    with matplotlib.rc_context(changed):
        plain = _render(_figure(), cached=False)
        cached = _render(_figure(), cached=True)
    default = _render(_figure(), cached=False)
    assert not np.array_equal(plain, default)  # the settings change the picture
    assert np.array_equal(plain, cached)


@pytest.mark.skipif(not text_cache.ACTIVE, reason="text cache off on this matplotlib")
def test_matplotlib_is_itself_again_outside_the_block() -> None:
    original = (RendererAgg.get_text_width_height_descent, RendererAgg.draw_text)
    with text_cache.cached_text():
        with text_cache.cached_text():  # re-entrant
            assert RendererAgg.draw_text is not original[1]
        assert RendererAgg.draw_text is not original[1]
    assert (RendererAgg.get_text_width_height_descent, RendererAgg.draw_text) == original
    _render(_figure(), cached=False)
    assert text_cache.stats["bitmap_misses"] == text_cache.stats["metrics_misses"] == 0
    assert text_cache.stats["layout_misses"] == 0


@pytest.mark.skipif(text_cache.MODE != "bitmap", reason="no whole-string bitmaps on this matplotlib")
def test_the_bitmaps_kept_stay_within_their_budget(monkeypatch) -> None:
    monkeypatch.setattr(text_cache, "MAX_BITMAP_BYTES", 20_000)
    monkeypatch.setattr(text_cache, "MAX_METRICS", 10)
    for k in range(6):
        _render(_figure(title=f"title number {k} " * 3), cached=True)
    assert 0 < text_cache._state["bitmap_bytes"] <= 20_000
    assert text_cache._state["bitmap_bytes"] == sum(
        e[0].nbytes for e in text_cache._bitmaps.values())
    assert len(text_cache._metrics) == 10


def _scattered_labels(offset: float):
    """One label at 24 origins a fraction of a pixel apart (and a few whole pixels), some
    turned: the glyph bitmaps of matplotlib 3.11 depend on each origin's sub-pixel part."""
    fig = plt.figure(figsize=(3, 3))
    for k in range(24):
        fig.text(0.05 + 0.013 * k + offset, 0.04 * k + 0.02, "Agx 7.5%",
                 fontsize=7 + (k % 3), rotation=(0, 15, 90)[k % 3])
    plt.close(fig)
    return fig


@pytest.mark.skipif(text_cache.MODE != "layout", reason="no glyph bitmaps on this matplotlib")
def test_glyph_bitmaps_are_placed_exactly_at_every_sub_pixel_origin() -> None:
    _render(_scattered_labels(0.0), cached=True)  # fills the glyph cache
    misses = text_cache.stats["glyph_misses"]
    for offset in (0.0, 1 / 270, 0.0021):  # whole pixels at 90 dpi and 3 in, then a fraction
        plain = _render(_scattered_labels(offset), cached=False)
        assert np.array_equal(plain, _render(_scattered_labels(offset), cached=True))
    assert misses > 0 and text_cache.stats["glyph_hits"] > misses


@pytest.mark.skipif(text_cache.MODE != "layout", reason="no glyph bitmaps on this matplotlib")
def test_the_glyph_bitmaps_kept_stay_within_their_budget(monkeypatch) -> None:
    monkeypatch.setattr(text_cache, "MAX_GLYPH_BYTES", 30_000)
    for offset in (0.0, 0.001, 0.002, 0.003):
        _render(_scattered_labels(offset), cached=True)
    kept = text_cache._state["glyph_bytes"]
    assert 0 < kept <= 30_000
    assert kept == sum(e[0].nbytes + text_cache.GLYPH_OVERHEAD_BYTES
                       for e in text_cache._glyphs.values())
