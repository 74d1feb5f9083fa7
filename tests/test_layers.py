"""Layered rendering: a shared base drawn once, the country's overlay composited on top.

The check that matters is that a layered image equals the figure drawn in one
go, pixel for pixel (up to antialiasing rounding), for a map and a scatter.
"""

from __future__ import annotations

import io

import geopandas as gpd
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from shapely.geometry import box

from p2c_research.figures import benchmark as fb
from p2c_research.figures import maps
from p2c_research.render import layers
from p2c_research.render.images import figure_png
from p2c_research.report_io import save_figure

matplotlib.use("Agg")
DPI = 90


@pytest.fixture(autouse=True)
def _fresh_cache():
    layers.clear_cache()
    before = dict(layers.stats)
    yield before
    layers.clear_cache()


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


@pytest.fixture
def world() -> gpd.GeoDataFrame:
    codes = ["KHM", "LAO", "THA", "VNM", "MDG", "FRA"]
    shapes = [box(10 * k, 10 * (k % 2), 10 * k + 8, 10 * (k % 2) + 8) for k in range(len(codes))]
    geo = gpd.GeoDataFrame({"iso3": codes}, geometry=shapes, crs="EPSG:4326")
    return maps.prepare_geometries(geo, economies=codes)


def _map(world, highlight):
    values = pd.Series({"KHM": 1.0, "LAO": 2.0, "THA": 4.0, "VNM": 8.0, "MDG": 3.0, "FRA": 5.0})
    return maps.choropleth(world, values, title="Gap index", legend_title="gap", k=3,
                           source="Source: test, 2024", highlight=highlight)


@pytest.mark.parametrize("country", ["KHM", "FRA"])
def test_layered_map_equals_the_map_drawn_at_once(world, country) -> None:
    direct = _pixels(figure_png(_map(world, country), DPI))
    image = layers.render_layered(
        ("test-map",), lambda: _map(world, None),
        lambda fig: maps.highlight_country(fig.axes[0], world, country), DPI)
    layered = _pixels(image.png)
    assert layered.shape == direct.shape
    assert np.abs(layered - direct).mean() < 0.05
    assert (np.abs(layered - direct).max(axis=2) > 24).sum() < 20  # a few antialiased edge pixels
    plain = _pixels(figure_png(_map(world, None), DPI))
    # the outline shows (the crops may differ by the outline's width at the map's edge)
    h, w = min(plain.shape[0], direct.shape[0]), min(plain.shape[1], direct.shape[1])
    assert np.abs(plain[:h, :w] - direct[:h, :w]).max(axis=2).astype(bool).sum() > 200


def test_base_is_built_once_and_left_clean(world, _fresh_cache) -> None:
    built = []

    def build():
        built.append(1)
        return _map(world, None)

    for country in ("KHM", "LAO", "KHM"):
        layers.render_layered(("clean",), build,
                              lambda fig, c=country: maps.highlight_country(fig.axes[0], world, c),
                              DPI)
    assert len(built) == 1
    assert layers.stats["reused"] - _fresh_cache["reused"] == 2
    base = layers._bases[(("clean",), DPI)]
    # every overlay artist was removed again: the base holds no outline or label
    assert not any(getattr(t, "get_text", lambda: "")() in ("KHM", "LAO")
                   for t in base.fig.axes[0].texts)
    # and a new, different key builds a new base
    layers.render_layered(("other",), build, lambda fig: [], DPI)
    assert len(built) == 2


def test_layered_scatter_matches_the_direct_scatter() -> None:
    rng = np.random.default_rng(3)
    gdp = np.exp(rng.uniform(7, 11, 60))
    data = pd.DataFrame({"iso3": [f"C{k:02d}" for k in range(60)], "gdp_pc_ppp": gdp,
                         "value": 10 * np.log(gdp) - 60 + rng.normal(0, 5, 60)})
    grid = np.exp(np.linspace(7, 11, 30))
    curve = pd.DataFrame({"gdp_pc_ppp": grid, "fitted": 10 * np.log(grid) - 60})
    curve["pi_low"], curve["pi_high"] = curve["fitted"] - 8, curve["fitted"] + 8
    kw = dict(iso3="C05", country_label="Country five", peers=["C01", "C02", "C03"],
              peer_label="region", title="Country five: below\nIndicator", ylabel="value (%)",
              source="Source: test")
    direct = _pixels(figure_png(fb.benchmark_scatter(data, curve, **kw), DPI))
    layered = _pixels(fb.benchmark_scatter_layered(data, curve, dpi=DPI, **kw).png)
    assert layered.shape == direct.shape
    # Peers are drawn over the grey base points (the direct figure leaves them out of
    # the grey layer) and the legend markers are proxies: small local differences only.
    assert np.abs(layered - direct).mean() < 1.5
    red = (layered[..., 0] > 180) & (layered[..., 1] < 80) & (layered[..., 2] < 80)
    assert red.sum() > 100  # the country's point and label are there


def test_save_figure_writes_a_rendered_image_as_is(tmp_path, world) -> None:
    image = layers.render_layered(("save",), lambda: _map(world, None), lambda fig: [], DPI)
    path = save_figure(image, tmp_path, "KHM", "map_test", dpi=300)
    assert path.read_bytes() == image.png
    assert image.alt == "Gap index"  # the base's title (see test_report_presentation.py)
    assert image._repr_png_() == (image.png, {"alt": "Gap index"})
    plt.close("all")


@pytest.mark.parametrize("country", ["C07", "C33", "none"])
def test_layered_need_support_scatter_equals_the_direct_one(country) -> None:
    from p2c_research.figures import pledges as fp

    rng = np.random.default_rng(5)
    rows = pd.DataFrame({"iso3": [f"C{k:02d}" for k in range(50)],
                         "need": rng.uniform(0, 110, 50),
                         "usd_per_capita": np.exp(rng.uniform(-6, 3, 50)),
                         "flag": rng.choice(["high need, thin support", ""], 50)})
    kw = dict(highlight=country, title="Need against pledge support", source="Source: test",
              need_label="need (0-110)")
    direct = _pixels(figure_png(fp.need_support_scatter(rows, **kw), DPI))
    layered = _pixels(fp.need_support_scatter_layered(rows, dpi=DPI, **kw).png)
    assert layered.shape == direct.shape
    assert np.abs(layered - direct).mean() < 0.05
    assert (np.abs(layered - direct).max(axis=2) > 24).sum() < 20
    # the country's red (#d62728), not the thin-support points' #c85a5a
    red = (layered[..., 0] > 190) & (layered[..., 1] < 70) & (layered[..., 2] < 70)
    assert (red.sum() > 50) == (country != "none")
