"""The pledge report's maps and charts, drawn once per country.

World maps share their base among every country of a batch (only the
country's outline is drawn per country, :mod:`p2c_research.render.layers`);
the regional map shares its base among the countries of a region. With
synthetic pledges every pledge figure's title (and so its alt text) says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from p2c_research import countries
from p2c_research.datasets import load_geometries
from p2c_research.figures import maps
from p2c_research.figures import pledges as pf
from p2c_research.figures.theme import apply_theme, title_text
from p2c_research.render.layers import frame_digest, render_layered
from p2c_research.report_io import RenderedImage
from p2c_research.reports.pledge_tables import ILLUSTRATIVE_LINE, PRIORITY_ROWS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from p2c_research.datasets import DataSelection
    from p2c_research.reports.pledge_report import PledgeGapReport


@dataclass
class PledgeFigures:
    """The figures ``save`` writes as ``OUT/<ISO3>/figures/<name>.png``, in drawing order."""

    map_pledge_usd_pc: RenderedImage
    map_need: RenderedImage
    map_gap_index: RenderedImage
    map_bivariate: RenderedImage
    map_regional_gap_index: RenderedImage
    pledge_matrix: Figure
    follow_through: Figure
    need_vs_support: RenderedImage


def figure_title(title: str, synthetic: bool) -> str:
    """A pledge figure's title (and so its alt text), with a second line when pledges are synthetic."""
    return f"{title}\n{ILLUSTRATIVE_LINE}" if synthetic else title



def draw(report: PledgeGapReport) -> PledgeFigures:
    """The maps and charts of the report (render only; :func:`~p2c_research.reports.pledge_report.save`
    writes them)."""
    apply_theme()
    with warnings.catch_warnings():
        # mapclassify says it runs without numba (slower, same classes): not for the reader.
        warnings.filterwarnings("ignore", message="Numba not installed", category=UserWarning)
        return PledgeFigures(**_draw_figures(report))


_projected: dict[tuple[str, float], Any] = {}


def map_geometries(selection: DataSelection) -> Any:
    """Projected map features of ``selection``, once per file version (shared; do not mutate).

    Projection costs ~0.1 s, so a batch does it once per worker, on the frame
    :func:`load_geometries` already keeps (which also gives the clear error
    when the file is missing).
    """
    raw = load_geometries(selection)
    p = selection.geometries_path
    key = (str(p), p.stat().st_mtime)
    if key not in _projected:
        _projected.clear()
        _projected[key] = maps.prepare_geometries(raw, countries.load_countries()["iso3"])
    return _projected[key]


def _world_map(geo: Any, iso3: str, dpi: int, kind: str, build: Callable[[], Figure],
               *key_parts: Any) -> RenderedImage:
    """A world map whose base is shared by every country; only ``iso3``'s outline is drawn here."""
    key = ("world-map", kind, id(geo), frame_digest(*key_parts))
    return render_layered(key, build,
                          lambda fig: maps.highlight_country(fig.axes[0], geo, iso3), dpi)


def _regional_map(report: PledgeGapReport, geo: Any, overall: pd.DataFrame, src: str,
                  dpi: int) -> RenderedImage:
    """The region's gap map; its base is shared by the region's countries, the title
    and outline are the country's overlay."""
    region_label, region = report.map_region
    values = overall["gap_index"].reindex(region)
    note = maps.not_drawn_note([c for c in report.not_drawn if c in set(region)])
    # The base reserves room for the longest title any member of the region gets.
    room = figure_title(max((f"Gap index in {region_label}: {countries.iso3_to_name(c)} outlined"
                             for c in [*region, report.iso3] if countries.is_economy(c)),
                            key=len), report.synthetic)

    def build() -> Figure:
        fig = maps.choropleth(geo, values, title=room, legend_title="gap index (quintiles in region)",
                              scheme="Quantiles", source=src, region=region,
                              note=note)
        fig.axes[0].set_title("", loc="left")
        title_text(fig.axes[0], room, color=(0, 0, 0, 0))
        return fig

    title = figure_title(f"Gap index in {region_label}: {report.name} outlined", report.synthetic)

    def overlay(fig: Figure) -> list:
        ax = fig.axes[0]
        return [title_text(ax, title), *maps.highlight_country(ax, geo, report.iso3)]

    key = ("regional-map", id(geo), frame_digest(values, region_label, src, note, room))
    return render_layered(key, build, overlay, dpi, alt=title)


def _draw_figures(report: PledgeGapReport) -> dict[str, Figure | RenderedImage]:
    geo = map_geometries(report.selection)
    dpi = report.dpi
    overall = report.world[report.world["level"] == "country"].set_index("iso3")
    note = maps.not_drawn_note(report.not_drawn)
    chart_src = report.source_line + f" Allocation rule: {report.rule}."
    src = chart_src + " Boundaries: Natural Earth 1:110m."
    iso3, name = report.iso3, report.name
    synthetic = report.synthetic
    figs: dict[str, Figure | RenderedImage] = {}
    # World maps: one shared rendering per batch (see figures.layers); the
    # parameters below are all the base depends on, and all go into its key.
    world_choropleths = {
        "map_pledge_usd_pc": dict(
            values=overall["usd_per_capita"], title=figure_title("Pledge USD allocated per person, all pledges",
                                                           synthetic),
            legend_title="USD per person (quintiles)", cmap="Blues"),
        "map_need": dict(
            # Need rests on indicator data alone, so it carries no pledge label.
            values=overall["need"], title="Need: distance to 100 plus under-performance",
            legend_title="need (quintiles)"),
        "map_gap_index": dict(
            values=overall["gap_index"],
            title=figure_title("Gap index: high need, thin pledge support", synthetic),
            legend_title="gap index 0-100 (quintiles)"),
    }
    for key, kw in world_choropleths.items():
        def build(kw=kw) -> Figure:
            return maps.choropleth(geo, scheme="Quantiles", source=src, note=note, **kw)

        figs[key] = _world_map(geo, iso3, dpi, key, build, *kw.values(), src, note)
    figs["map_bivariate"] = _world_map(
        geo, iso3, dpi, "map_bivariate",
        lambda: maps.bivariate_map(
            geo, overall["need_class"], overall["support_class"],
            title=figure_title("Need by pledge support (terciles across economies)", synthetic),
            source=src, note=note),
        overall["need_class"].astype(str), overall["support_class"].astype(str), src, note)
    figs["map_regional_gap_index"] = _regional_map(report, geo, overall, src, dpi)
    figs["pledge_matrix"] = pf.matrix_heatmap(
        report.tables.priority_pledge_matrix,
        title=figure_title(f"{name}: pledges per strategic priority, by pillar and stakeholder",
                           synthetic), source=chart_src,
        row_labels={**PRIORITY_ROWS, **report.priority_titles})
    figs["follow_through"] = pf.follow_through_bars(
        report.tables.follow_through,
        title=figure_title(f"{name}: implementation status of pledges, by priority "
                           f"(as of {report.as_of.isoformat()})", synthetic), source=chart_src,
        row_labels={**PRIORITY_ROWS, **report.priority_titles})
    figs["need_vs_support"] = pf.need_support_scatter_layered(
        overall.reset_index(), highlight=iso3,
        title=figure_title("Need against pledge support, every economy", synthetic),
        source=chart_src,
        need_label="need (0-110)", dpi=dpi)
    return figs
