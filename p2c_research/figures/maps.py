"""World and regional maps of pledge support, need and the gap index.

Render only: every value, class and tercile comes in from the analyses; the
classing a choropleth legend shows (quantiles or Fisher-Jenks, via
mapclassify) is the map's own drawing choice and its bounds are printed in the
legend. Conventions on every map:

* Equal Earth projection (``+proj=eqearth``, handled by PROJ offline);
* economies drawn at 110m but without a value are hatched ("no data");
  Natural Earth features that are not economies (``iso3`` missing, e.g.
  Somaliland) and, on a regional map, economies outside the region are drawn
  white with grey borders (context); Antarctica is left out;
* the country under study is outlined in :data:`COUNTRY_COLOR` and labelled;
* a note lists the economies that have a value but no shape at 110m (small
  island states mostly), so nothing silently disappears;
* a source line names the data and its year.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from p2c_research.figures.class_breaks import ClassBreaks, readable_breaks
from p2c_research.figures.theme import COUNTRY_COLOR, add_source

if TYPE_CHECKING:
    import geopandas as gpd

MAP_CRS = "+proj=eqearth"
NO_DATA_HATCH = "////"
#: Bivariate palette (Joshua Stevens' 3x3), indexed [support class][need class]:
#: need grows to the right in red, support grows upward in blue, so "high
#: need, thin support" is the saturated red corner.
BIVARIATE_COLORS: tuple[tuple[str, str, str], ...] = (
    ("#e8e8e8", "#e4acac", "#c85a5a"),
    ("#b0d5df", "#ad9ea5", "#985356"),
    ("#64acbe", "#627f8c", "#574249"),
)
CLASS_ORDER: tuple[str, str, str] = ("low", "mid", "high")
#: Border of context shapes (non-economies; outside the region on a regional map).
CONTEXT_EDGE = "#bdbdbd"


def prepare_geometries(geo: gpd.GeoDataFrame, economies: Iterable[str] | None = None,
                       crs: str = MAP_CRS) -> gpd.GeoDataFrame:
    """Project the Natural Earth features; ``iso3`` is None where not an economy.

    Antarctica is dropped (no economy, and it takes a fifth of a world map).
    With ``economies`` given, features whose code is not among them become
    background, so they are never hatched as "no data".
    """
    out = geo[["iso3", "geometry"]].copy()
    codes = out["iso3"].astype(object).where(out["iso3"].notna(), None)
    if economies is not None:
        keep = set(economies)
        codes = codes.where(codes.isin(keep), None)
    out["iso3"] = codes
    # Antarctica: every shape south of 60°S (its code is missing in some extracts).
    antarctic = out.to_crs("EPSG:4326").bounds["maxy"] < -60
    return out[~antarctic.to_numpy()].to_crs(crs)


def not_drawn(geo: gpd.GeoDataFrame, codes: Iterable[str]) -> list[str]:
    """The economies among ``codes`` that have no shape in ``geo`` (sorted)."""
    drawn = set(geo["iso3"].dropna())
    return sorted(set(codes) - drawn)


def not_drawn_note(missing: Sequence[str], limit: int = 18) -> str:
    """The figure note listing economies with data but no shape at this scale."""
    if not missing:
        return ""
    shown = ", ".join(missing[:limit]) + (f" and {len(missing) - limit} more"
                                          if len(missing) > limit else "")
    noun = "economy" if len(missing) == 1 else "economies"
    return (f"Not drawn at 1:110m (too small), though they have data: {len(missing)} "
            f"{noun} ({shown}); see the table of small states.")


def _main_part(shape):
    """The largest polygon of a shape: a country's main mass.

    Far-flung parts (Alaska and Hawaii, French Guiana, the Chukotka tip of
    Russia across the antimeridian) would otherwise stretch a regional view.
    """
    parts = getattr(shape, "geoms", None)
    return max(parts, key=lambda g: g.area) if parts else shape


#: Members whose main mass lies further than this (metres, about 27 degrees at the
#: equator) from the rest of their region, along either axis, are left out of its view.
REGION_GAP = 3.0e6


def _extent(geo: gpd.GeoDataFrame, iso3s: Sequence[str] | None,
            pad: float = 0.05) -> tuple[float, float, float, float] | None:
    """The view of a regional map: the main mass of every member, far-flung members left out.

    Each member counts with its largest polygon only (so Russia's tip across
    the antimeridian or a distant overseas part does not stretch the view).
    Members are then grouped along each axis wherever their centres leave a gap
    wider than :data:`REGION_GAP`; the group with the most members is the view
    (Pacific island states east of the antimeridian, say, are left out of Asia
    and the Pacific). Every member of that group is shown whole.
    """
    if not iso3s:
        return None
    sub = geo[geo["iso3"].isin(list(iso3s))]
    if sub.empty:
        return None
    bounds = np.array([_main_part(g).bounds for g in sub.geometry])  # minx, miny, maxx, maxy
    keep = np.ones(len(bounds), dtype=bool)
    for lo, hi in ((0, 2), (1, 3)):
        centres = (bounds[:, lo] + bounds[:, hi]) / 2
        keep &= _largest_cluster(centres, keep)
    b = bounds[keep]
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    dx = (x1 - x0) * pad + 2e5
    dy = (y1 - y0) * pad + 2e5
    return x0 - dx, x1 + dx, y0 - dy, y1 + dy


def _largest_cluster(centres: np.ndarray, among: np.ndarray) -> np.ndarray:
    """The members (of ``among``) in the largest run of centres without a gap over REGION_GAP."""
    idx = np.flatnonzero(among)
    order = idx[np.argsort(centres[idx], kind="stable")]
    runs = np.split(order, np.flatnonzero(np.diff(centres[order]) > REGION_GAP) + 1)
    best = max(runs, key=len)  # the first of equal runs: the westernmost / southernmost
    out = np.zeros(len(centres), dtype=bool)
    out[best] = True
    return out


#: Label of the world inset axes of a regional map (found again by :func:`highlight_country`).
INSET_LABEL = "world-inset"
#: A country smaller than this on the map (pixels at 100 dpi) is also ringed.
SMALL_PX = 18.0


def highlight_country(ax, geo: gpd.GeoDataFrame, iso3: str | None) -> list:
    """Outline and label ``iso3``, ring it when small, dot it on a world inset.

    Returns the artists added (for layered rendering). A country that would
    be a few pixels on the map (most of the Caribbean on a world map) gets a
    ring of fixed size around it, so a reader finds it at a glance.
    """
    if not iso3:
        return []
    own = geo[geo["iso3"] == iso3]
    if own.empty:
        return []
    fig = ax.figure
    before = {id(a) for a in ax.get_children()}
    with _one_draw(fig):
        own.boundary.plot(ax=ax, color=COUNTRY_COLOR, linewidth=1.8, zorder=5)
    main = _main_part(own.geometry.iloc[0])
    point = main.representative_point()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    bx0, by0, bx1, by1 = main.bounds
    # its size on the page: data units -> inches -> pixels at 100 dpi
    width_in, height_in = _axes_inches(ax)
    size_px = 100 * max((bx1 - bx0) / (x1 - x0) * width_in, (by1 - by0) / (y1 - y0) * height_in)
    small = size_px < SMALL_PX
    if small:
        ax.plot([point.x], [point.y], marker="o", markersize=18, markerfacecolor="none",
                markeredgecolor=COUNTRY_COLOR, markeredgewidth=1.8, zorder=6)
    # Label inward near the right edge, so it stays inside the map's frame.
    right = (point.x - x0) > 0.85 * (x1 - x0)
    offset = 12 if small else 6
    ax.annotate(iso3, xy=(point.x, point.y), xytext=(-offset if right else offset, offset),
                textcoords="offset points", ha="right" if right else "left",
                color=COUNTRY_COLOR, fontsize=9, fontweight="bold", zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": COUNTRY_COLOR,
                      "lw": 0.6, "alpha": 0.85})
    added = [a for a in ax.get_children() if id(a) not in before]
    for inset in fig.axes:
        if inset.get_label() == INSET_LABEL:
            added += inset.plot([point.x], [point.y], marker="o", markersize=4.5,
                                color=COUNTRY_COLOR, markeredgecolor="white",
                                markeredgewidth=0.5, zorder=6)
    return added


def _axes_inches(ax) -> tuple[float, float]:
    """The axes box in inches (from its position in the figure; nothing is drawn)."""
    pos = ax.get_position()
    return pos.width * ax.figure.get_figwidth(), pos.height * ax.figure.get_figheight()


def _finish(fig: Figure, ax, title: str, source: str, note: str,
            extent: tuple[float, float, float, float] | None,
            geo: gpd.GeoDataFrame | None = None,
            region: Sequence[str] | None = None) -> Figure:
    ax.set_axis_off()
    if extent is not None:
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        # Fit the figure to the region's shape so the map fills it.
        height = fig.get_figheight()
        aspect = (extent[1] - extent[0]) / (extent[3] - extent[2])
        map_width = float(np.clip(height * 0.9 * aspect, 3.5, 10.0))
        fig.set_figwidth(map_width + 2.6)  # room for the legend and the inset on the right
        fig.subplots_adjust(left=0.01, right=map_width / (map_width + 2.6), bottom=0.03,
                            top=0.93)
        if geo is not None and region:
            _world_inset(fig, geo, region, extent, map_width)
    else:
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.03, top=0.93)
    ax.set_title(title, loc="left")
    width_chars = int(fig.get_figwidth() * 15)
    text = "\n".join(textwrap.fill(part, width_chars) for part in (source, note) if part)
    add_source(fig, text)
    return fig


def _world_inset(fig: Figure, geo: gpd.GeoDataFrame, region: Sequence[str],
                 extent: tuple[float, float, float, float], map_width: float) -> None:
    """A small world map under the legend: the region in grey, the view as a frame.

    A figure axes of its own (not an inset of the map axes), so it belongs to
    the shared base of a layered map and is drawn once per region.
    """
    width_in, height_in = 2.3, 1.25
    fig_w, fig_h = fig.get_figwidth(), fig.get_figheight()
    inset = fig.add_axes((map_width / fig_w + 0.15 / fig_w, 0.05,
                          width_in / fig_w, height_in / fig_h), label=INSET_LABEL)
    members = geo["iso3"].isin(list(region)).to_numpy()
    with _one_draw(fig):
        geo[~members].plot(ax=inset, facecolor="#e6e6e6", edgecolor="none")
        geo[members].plot(ax=inset, facecolor="#8c8c8c", edgecolor="none")
    x0, x1, y0, y1 = extent
    inset.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black",
                              linewidth=0.8))
    wx0, wy0, wx1, wy1 = geo.total_bounds
    inset.set_xlim(wx0, wx1)
    inset.set_ylim(wy0, wy1)
    inset.set_aspect("equal")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_xlabel("")  # geopandas names the projected axes (Easting, Northing)
    inset.set_ylabel("")
    for spine in inset.spines.values():
        spine.set_edgecolor("#bdbdbd")
        spine.set_linewidth(0.5)
    inset.set_title("Where the region is", fontsize=7, loc="left", pad=2, fontweight="normal")


@contextlib.contextmanager
def _one_draw(fig: Figure) -> Iterator[None]:
    """Skip the full redraw geopandas asks for after every layer (drawn once when saved).

    ``GeoDataFrame.plot`` calls ``canvas.draw_idle()``, which the Agg canvas
    runs at once: a map of four layers was drawn four times before being
    saved. The patch is on this figure's own canvas only and removed after.
    """
    canvas = fig.canvas
    if "draw_idle" in vars(canvas):  # already inside _one_draw (nested use)
        yield
        return
    canvas.draw_idle = lambda *args, **kwargs: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        del canvas.draw_idle


def _context_layers(ax, geo: gpd.GeoDataFrame, frame: gpd.GeoDataFrame,
                    region: Sequence[str] | None) -> gpd.GeoDataFrame:
    """Draw non-economies and, on a regional map, economies outside the region, plain grey.

    Returns the economies left to colour (those inside the region, or all).
    """
    context = geo[geo["iso3"].isna()]
    if region:  # economies outside the region are context, not "no data"
        inside = frame["iso3"].isin(list(region))
        context = pd.concat([context, frame.loc[~inside, ["iso3", "geometry"]]])
        frame = frame[inside]
    if not context.empty:
        context.plot(ax=ax, facecolor="white", edgecolor=CONTEXT_EDGE, linewidth=0.4)
    return frame


def _legend_place(region: Sequence[str] | None) -> dict[str, object]:
    """World maps keep the legend in the empty South Pacific; regional maps put it outside."""
    if region:
        return {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}
    return {"loc": "lower left"}


def _no_data_patch() -> Patch:
    return Patch(facecolor="white", edgecolor="#8c8c8c", hatch=NO_DATA_HATCH, label="No data")


def choropleth(
    geo: gpd.GeoDataFrame,
    values: pd.Series,
    *,
    title: str,
    legend_title: str,
    source: str,
    highlight: str | None = None,
    scheme: str = "Quantiles",
    k: int = 5,
    cmap: str = "YlOrRd",
    region: Sequence[str] | None = None,
    note: str = "",
    figsize: tuple[float, float] = (10.0, 5.4),
) -> Figure:
    """A classed choropleth of ``values`` (indexed by ISO3) with class bounds in the legend.

    The classifier's breaks are rounded for the legend
    (:func:`p2c_research.figures.class_breaks.readable_breaks`) and the map is
    coloured by the rounded classes, so legend and colours agree.

    Args:
        geo: projected features from :func:`prepare_geometries`.
        values: one value per economy; NaN or absent economies are hatched.
        scheme: a mapclassify scheme, ``Quantiles`` or ``FisherJenks``.
        region: ISO3 codes of a regional map: the view is zoomed to them and a
            world inset shows where they are; None = world.
        note: extra text under the map (e.g. :func:`not_drawn_note`).
    """
    vals = pd.Series(values.to_numpy(dtype=float), index=values.index.astype(str))
    frame = geo[geo["iso3"].notna()].copy()
    frame["value"] = frame["iso3"].map(vals[~vals.index.duplicated()]).astype(float)
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_axis_off()
    with _one_draw(fig):
        frame = _context_layers(ax, geo, frame, region)
        present = frame["value"].dropna().to_numpy()
        handles: list[Patch] = []
        if present.size:
            breaks = _classes(present, scheme, k)
            classes = breaks.classify(frame["value"].to_numpy())
            colors = _class_colors(cmap, len(breaks.uppers))
            has = classes >= 0
            frame[has].plot(ax=ax, color=[colors[c] for c in classes[has]], edgecolor="white",
                            linewidth=0.3)
            handles = [Patch(facecolor=c, edgecolor="#bdbdbd", linewidth=0.5, label=lab)
                       for c, lab in zip(colors, breaks.labels(), strict=True)]
        missing = frame[frame["value"].isna()]
        if not missing.empty:
            missing.plot(ax=ax, facecolor="white", edgecolor="#8c8c8c", hatch=NO_DATA_HATCH,
                         linewidth=0.3)
            handles.append(_no_data_patch())
        if handles:
            ax.legend(handles=handles, title=legend_title, fontsize=8, title_fontsize=8,
                      frameon=True, **_legend_place(region))
    _finish(fig, ax, title, source, note, _extent(geo, region), geo, region)
    highlight_country(ax, geo, highlight)  # on the finished view: its size decides the ring
    return fig


def _classes(values: np.ndarray, scheme: str, k: int) -> ClassBreaks:
    """The classifier's classes of ``values``, rounded for reading."""
    import warnings

    import mapclassify

    k = max(1, min(k, len(np.unique(values))))
    with warnings.catch_warnings():
        # mapclassify says it runs without numba (slower, same classes), and warns
        # about duplicate quantiles it then merges: neither is for the reader.
        warnings.simplefilter("ignore", UserWarning)
        bins = mapclassify.classify(values, scheme, k=k).bins
    return readable_breaks(values, bins)


def _class_colors(cmap: str, n: int) -> list[tuple[float, float, float, float]]:
    """``n`` colours spread over ``cmap`` from its light to its dark end."""
    colormap = plt.get_cmap(cmap)
    return [tuple(colormap(x)) for x in (np.linspace(0.0, 1.0, n) if n > 1 else [0.6])]


def bivariate_map(
    geo: gpd.GeoDataFrame,
    need_class: pd.Series,
    support_class: pd.Series,
    *,
    title: str,
    source: str,
    highlight: str | None = None,
    region: Sequence[str] | None = None,
    note: str = "",
    need_label: str = "Need",
    support_label: str = "Support (USD per capita)",
    figsize: tuple[float, float] = (10.0, 5.4),
) -> Figure:
    """Need x support in 3 x 3 classes (terciles from the analysis) with a square legend.

    ``need_class`` and ``support_class`` are indexed by ISO3 with values
    ``low``, ``mid`` or ``high``; economies without both are hatched.
    """
    index = {c: i for i, c in enumerate(CLASS_ORDER)}
    frame = geo[geo["iso3"].notna()].copy()
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_axis_off()
    with _one_draw(fig):
        frame = _context_layers(ax, geo, frame, region)
        need_i = frame["iso3"].map(need_class.astype(object).map(index.get))
        supp_i = frame["iso3"].map(support_class.astype(object).map(index.get))
        ok = (need_i.notna() & supp_i.notna()).to_numpy()
        if ok.any():
            colors = [BIVARIATE_COLORS[int(s)][int(n)]
                      for n, s in zip(need_i[ok], supp_i[ok], strict=True)]
            frame[ok].plot(ax=ax, color=colors, edgecolor="white", linewidth=0.3)
        if (~ok).any():
            frame[~ok].plot(ax=ax, facecolor="white", edgecolor="#8c8c8c",
                            hatch=NO_DATA_HATCH, linewidth=0.3)
    _bivariate_legend(ax, need_label, support_label)
    _finish(fig, ax, title, source, note, _extent(geo, region), geo, region)
    highlight_country(ax, geo, highlight)  # on the finished view: its size decides the ring
    return fig


def _bivariate_legend(ax, need_label: str, support_label: str) -> None:
    """The 3 x 3 key (need to the right, support upward) and the no-data key."""
    leg = ax.inset_axes([0.02, 0.04, 0.14, 0.24])
    for s in range(3):
        for n in range(3):
            leg.add_patch(Rectangle((n, s), 1, 1, facecolor=BIVARIATE_COLORS[s][n],
                                    edgecolor="white"))
    leg.add_patch(Rectangle((2, 0), 1, 1, fill=False, edgecolor="black", linewidth=1.2))
    leg.set_xlim(0, 3)
    leg.set_ylim(0, 3)
    leg.set_xticks(np.arange(3) + 0.5, list(CLASS_ORDER), fontsize=7)
    leg.set_yticks(np.arange(3) + 0.5, list(CLASS_ORDER), fontsize=7)
    leg.set_xlabel(f"{need_label} →", fontsize=8)
    leg.set_ylabel(f"{support_label} →", fontsize=8)
    leg.tick_params(length=0)
    leg.set_aspect("equal")
    for spine in leg.spines.values():
        spine.set_visible(False)
    ax.legend(handles=[_no_data_patch(),
                       Patch(facecolor=BIVARIATE_COLORS[0][2], edgecolor="black",
                             label="High need, thin support")],
              loc="lower left", bbox_to_anchor=(0.2, 0.02), fontsize=8)
