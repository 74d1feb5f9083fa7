"""Tests of the pledge-gap maps on a tiny hand-made world of square countries."""

from __future__ import annotations

import geopandas as gpd
import mapclassify
import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from pyproj import CRS
from shapely.geometry import box

from p2c_research.figures import maps

matplotlib.use("Agg")


@pytest.fixture
def world() -> gpd.GeoDataFrame:
    """Six squares in a row (10 degrees wide) plus Antarctica and an unnamed territory."""
    codes = ["KHM", "LAO", "THA", "VNM", "MDG", "FRA"]
    shapes = [box(10 * k, 0, 10 * k + 8, 8) for k in range(len(codes))]
    geo = gpd.GeoDataFrame(
        {"iso3": [*codes, "ATA", None]},
        geometry=[*shapes, box(-60, -85, 60, -70), box(-20, 20, -12, 28)],
        crs="EPSG:4326",
    )
    return maps.prepare_geometries(geo, economies=[*codes, "TUV"])


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend()
            for t in ax.get_legend().get_texts()]


def _all_texts(fig) -> str:
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [t.get_text() for t in ax.texts] + [ax.get_title(loc="left")]
    return "\n".join(texts)


def test_prepare_geometries_projects_and_drops_non_economies(world) -> None:
    assert world.crs == CRS(maps.MAP_CRS)
    assert "ATA" not in set(world["iso3"].dropna())
    assert len(world) == 7  # Antarctica dropped, the unnamed territory kept as background
    assert world["iso3"].isna().sum() == 1
    assert maps.not_drawn(world, ["KHM", "TUV", "MDV"]) == ["MDV", "TUV"]
    note = maps.not_drawn_note(["MDV", "TUV"])
    assert "2 economies (MDV, TUV)" in note
    assert maps.not_drawn_note([]) == ""


def test_choropleth_legend_shows_class_bounds_hatches_missing_and_highlights(world) -> None:
    values = pd.Series({"KHM": 1.0, "LAO": 2.0, "THA": 4.0, "VNM": 8.0, "MDG": np.nan})
    fig = maps.choropleth(world, values, title="Gap", legend_title="gap", source="Source: test, 2024",
                          highlight="KHM", scheme="Quantiles", k=2,
                          note=maps.not_drawn_note(["TUV"]))
    labels = _legend_texts(fig)
    # Independent classing of the same four values: two quantile classes, median 3.
    bins = mapclassify.Quantiles(np.array([1.0, 2.0, 4.0, 8.0]), k=2).bins
    assert bins[0] == 3.0
    assert labels == ["1 – 3", "3 – 8", "No data"]
    ax = fig.axes[0]
    hatched = [c for c in ax.collections if c.get_hatch()]
    assert hatched, "the economy without a value (MDG) and FRA must be hatched"
    text = _all_texts(fig)
    assert "KHM" in text and "Source: test, 2024" in text and "TUV" in text
    matplotlib.pyplot.close(fig)


def test_regional_map_zooms_and_keeps_outsiders_unhatched(world, tmp_path) -> None:
    values = pd.Series({"KHM": 1.0, "LAO": 3.0, "THA": 2.0})
    fig = maps.choropleth(world, values, title="Region", legend_title="gap", source="Source: t",
                          highlight="KHM", region=["KHM", "LAO", "THA"], k=3)
    ax = fig.axes[0]
    fra = world.loc[world["iso3"] == "FRA"].total_bounds
    xmax = ax.get_xlim()[1]
    assert xmax < fra[0], "the regional view must stop before the far-away FRA"
    assert not [c for c in ax.collections if c.get_hatch()], "outsiders are context, not no-data"
    path = tmp_path / "regional.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    matplotlib.pyplot.close(fig)


def test_bivariate_map_colours_follow_the_classes(world) -> None:
    need = pd.Series({"KHM": "high", "LAO": "low", "THA": "mid"})
    support = pd.Series({"KHM": "low", "LAO": "high", "THA": "mid"})
    fig = maps.bivariate_map(world, need, support, title="Bivariate", source="Source: t",
                             highlight="KHM")
    ax = fig.axes[0]
    colours = {tuple(np.round(fc, 4)) for c in ax.collections for fc in c.get_facecolors()}
    for s, n in ((0, 2), (2, 0), (1, 1)):  # (support, need) of KHM, LAO, THA
        assert tuple(np.round(to_rgba(maps.BIVARIATE_COLORS[s][n]), 4)) in colours
    assert "High need, thin support" in _legend_texts(fig)
    assert any(c.get_hatch() for c in ax.collections)  # VNM, MDG, FRA have no classes
    matplotlib.pyplot.close(fig)


def test_choropleth_without_any_value_is_all_hatched(world) -> None:
    fig = maps.choropleth(world, pd.Series(dtype=float), title="Empty", legend_title="x",
                          source="Source: t")
    assert _legend_texts(fig) == ["No data"]
    matplotlib.pyplot.close(fig)


def test_regional_map_has_a_world_inset_with_the_country_dotted(world) -> None:
    values = pd.Series({"KHM": 1.0, "LAO": 3.0, "THA": 2.0})
    fig = maps.choropleth(world, values, title="Region", legend_title="gap", source="Source: t",
                          highlight="LAO", region=["KHM", "LAO", "THA"], k=3)
    insets = [ax for ax in fig.axes if ax.get_label() == maps.INSET_LABEL]
    assert len(insets) == 1
    inset = insets[0]
    # the inset shows the whole world (FRA included), the map only the region
    fra = world.loc[world["iso3"] == "FRA"].total_bounds
    assert inset.get_xlim()[1] >= fra[2] and fig.axes[0].get_xlim()[1] < fra[0]
    lao = world.loc[world["iso3"] == "LAO"].geometry.iloc[0].representative_point()
    dots = [line.get_xydata()[0] for line in inset.lines]
    assert any(np.allclose(d, (lao.x, lao.y)) for d in dots)
    matplotlib.pyplot.close(fig)


def test_a_country_a_few_pixels_wide_is_ringed(world) -> None:
    tiny = gpd.GeoDataFrame({"iso3": ["DOM"]}, geometry=[box(100, 0, 100.3, 0.3)],
                            crs="EPSG:4326").to_crs(maps.MAP_CRS)
    geo = pd.concat([world, tiny], ignore_index=True)
    values = pd.Series({"KHM": 1.0, "LAO": 2.0, "DOM": 3.0})
    for iso3, ringed in (("DOM", True), ("KHM", False)):
        fig = maps.choropleth(geo, values, title="World", legend_title="x", source="Source: t",
                              highlight=iso3, k=2)
        rings = [ln for ln in fig.axes[0].lines if ln.get_marker() == "o"
                 and ln.get_markerfacecolor() == "none"]
        assert bool(rings) is ringed, iso3
        matplotlib.pyplot.close(fig)
