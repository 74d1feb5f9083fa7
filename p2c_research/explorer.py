"""The interactive explorer behind ``notebooks/00_explorer.ipynb``.

An analyst picks a country, a peer group, a pillar and an indicator; the
wheel, the benchmark scatter and the pledge-gap map update in place. The logic
lives here, not in the notebook, so a test can change the widget state and
check which views were redrawn, without a browser:

* country  -> every view (and the peer-group choices, which depend on it);
* peer group -> wheel and scatter (the outline and the highlighted peers);
* pillar -> the indicator choices and the map;
* indicator -> the scatter.

All-country results come from the same caches as the reports (scores, fits,
pledge allocation), so a change redraws in about a second instead of
recomputing the world.

A second pair of dropdowns compares two countries: their pillar scores and
indicator values side by side (:func:`compare_countries`), with the labels of
the reports and the portfolio page (:mod:`p2c_research.labels`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import pandas as pd

from p2c_research import countries
from p2c_research.analyses.portfolio import PairComparison, pair_comparison
from p2c_research.catalog import PILLAR_LABELS, SCORED_PILLARS, load_catalog
from p2c_research.config import outputs_dir
from p2c_research.context import RunContext, open_context
from p2c_research.errors import P2CError
from p2c_research.escaping import html_text, relative_href
from p2c_research.labels import indicator_label, label
from p2c_research.params import resolve_peer_sets
from p2c_research.store import atomic_path, write_csv
from p2c_research.textfmt import sig

if TYPE_CHECKING:
    from matplotlib.figure import Figure

VIEWS = ("wheel", "scatter", "map")
# Which views a change of each control redraws.
REDRAW = {
    "country": ("wheel", "scatter", "map"),
    "peer_group": ("wheel", "scatter"),
    "pillar": ("map",),
    "indicator": ("scatter",),
}


@dataclass(frozen=True)
class ExplorerState:
    """What the analyst has chosen."""

    country: str
    peer_group: str
    pillar: str
    indicator: str


@dataclass
class ViewResult:
    """A rendered view: its figure and the table behind it (exported as CSV)."""

    figure: Figure
    data: pd.DataFrame


def countries_with_data(data: str = "auto") -> list[tuple[str, str]]:
    """(label, ISO3) pairs of every economy with a scored indicator, sorted by name."""
    from p2c_research.runner.batch import all_countries_with_data

    codes = all_countries_with_data(data)
    return sorted(((f"{countries.iso3_to_name(c)} ({c})", c) for c in codes), key=lambda t: t[0])


def indicators_of(pillar: str) -> list[tuple[str, str]]:
    """(name, id) pairs of the scored indicators of a pillar."""
    return [(i.name, i.id) for i in load_catalog().scored if i.pillar == pillar]


# --------------------------------------------------------------------------- renderers
def render_wheel(ctx: RunContext, state: ExplorerState) -> ViewResult:
    """The country's wheel with the chosen peer group's median as the outline."""
    from p2c_research import steps
    from p2c_research.figures.wheel import wheel_figure

    p = ctx.params
    world = steps.scores(ctx.selection, ctx.catalog, (p.year_window.start, p.year_window.end),
                                p.analysis.coverage_threshold, p.reference_year)
    subs = world.sub_pillars
    own = subs[subs["iso3"] == ctx.iso3]
    peers = resolve_peer_sets(p).get(state.peer_group, [])
    peer_rows = subs[subs["iso3"].isin(peers) & subs["sufficient"]]
    medians = (peer_rows.groupby(["pillar", "sub_pillar"], as_index=False)["score"].median()
               .rename(columns={"score": "peer_median"}))
    fig = wheel_figure(own, medians if len(medians) else None,
                       title=f"{p.country_name}: Digital Transformation Wheel\n"
                             f"outline = median of {state.peer_group}",
                       source=f"Source: {ctx.selection.describe().split(' Pledges:')[0]} "
                              f"Latest values {p.year_window.start}-{p.year_window.end}.")
    data = own.merge(medians, on=["pillar", "sub_pillar"], how="left")
    return ViewResult(fig, data)


def render_scatter(ctx: RunContext, state: ExplorerState) -> ViewResult:
    """The benchmark scatter of the chosen indicator, with the chosen peers highlighted."""
    from p2c_research.reports import benchmark_report

    report = benchmark_report.build(ctx)
    peers = resolve_peer_sets(ctx.params).get(state.peer_group, [])
    report.highlight = (state.peer_group, peers)
    fig = report.figure_scatter(state.indicator)
    table = report.tables.benchmark
    data = table[table["indicator"] == state.indicator].copy() if "indicator" in table else table
    return ViewResult(fig, data)


def render_map(ctx: RunContext, state: ExplorerState) -> ViewResult:
    """World map of the pledge gap index of the chosen pillar, the country outlined."""
    from p2c_research.figures import maps
    from p2c_research.reports import pledge_report

    report = pledge_report.build(ctx)
    world = report.world
    rows = world[(world["level"] == "pillar") & (world["group_id"] == state.pillar)]
    values = rows.set_index("iso3")["gap_index"]
    from p2c_research.datasets import load_geometries

    geo = maps.prepare_geometries(load_geometries(ctx.selection),
                                  countries.load_countries()["iso3"])
    synthetic = " Pledges: SYNTHETIC." if ctx.selection.pledges_synthetic else ""
    fig = maps.choropleth(
        geo, values, title=f"Gap index, {PILLAR_LABELS[state.pillar]}: high need, thin support",
        legend_title="gap index 0-100 (quintiles)", scheme="Quantiles",
        source=report.source_line + synthetic + " Boundaries: Natural Earth 1:110m.",
        highlight=ctx.iso3, note=maps.not_drawn_note(report.not_drawn))
    cols = [c for c in ("iso3", "group_id", "need", "usd_per_capita", "pledge_count",
                        "gap_index", "gap_rank", "flag") if c in rows]
    return ViewResult(fig, rows[cols].sort_values("gap_index", ascending=False))


def _png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


RENDERERS: dict[str, Callable[[RunContext, ExplorerState], ViewResult]] = {
    "wheel": render_wheel,
    "scatter": render_scatter,
    "map": render_map,
}


# --------------------------------------------------------------------------- two countries
#: The country the comparison starts against: the first partner that is not the explorer's own.
COMPARE_DEFAULTS: tuple[str, ...] = ("MDG", "KHM", "DOM", "MRT")


@dataclass
class CountryComparison:
    """Two countries side by side, as numbers (``pair``) and as the tables a reader sees."""

    pair: PairComparison
    pillars: pd.DataFrame
    indicators: pd.DataFrame

    def html(self) -> str:
        """Both tables as escaped HTML, numbers to three significant figures."""
        return "".join(f"<h4>{html_text(title)}</h4>{_plain_table(frame)}" for title, frame in
                       (("Pillar scores", self.pillars), ("Indicator values", self.indicators)))


def _plain_table(frame: pd.DataFrame) -> str:
    def cell(value: object) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f'<td style="text-align:right">{html_text(sig(value))}</td>'
        return f'<td style="text-align:left">{html_text("n/a" if pd.isna(value) else value)}</td>'

    head = "".join(f"<th>{html_text(c)}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _who(code: str) -> str:
    return f"{countries.iso3_to_name(code)} ({code})"


def compare_countries(a: str, b: str, data: str = "auto") -> CountryComparison:
    """Pillar scores and latest indicator values of ``a`` and ``b`` side by side.

    Each country is scored with its own params (window, threshold, reference
    year), from the same cached all-economy scores as its landscape report, so
    the numbers are the ones its report shows.
    """
    from p2c_research import steps

    codes = [countries.validate_iso3(a), countries.validate_iso3(b)]
    pillars, indicators = [], []
    for code in codes:
        ctx = open_context(code, "", data)
        world = steps.params_scores(ctx.selection, ctx.catalog, ctx.params)
        pillars.append(world.pillars[world.pillars["iso3"] == code])
        indicators.append(world.indicators[world.indicators["iso3"] == code])
    order = [i.id for i in load_catalog().scored]
    pair = pair_comparison(codes[0], codes[1], pd.concat(pillars), pd.concat(indicators), order)
    who_a, who_b = _who(pair.a), _who(pair.b)
    pillar_view = pd.DataFrame({
        label("pillar"): [label(p) for p in pair.pillars["pillar"]],
        f"{who_a}: {label('score')}": pair.pillars["score_a"],
        f"{who_b}: {label('score')}": pair.pillars["score_b"],
        f"{label('difference')}, {pair.b} minus {pair.a}": pair.pillars["difference"],
    })
    ind = pair.indicators
    indicator_view = pd.DataFrame({
        label("indicator"): [indicator_label(i, with_unit=True) for i in ind["indicator"]],
        f"{who_a}: {label('value')}": ind["value_a"],
        f"{who_a}: {label('year')}": ind["year_a"].astype("Int64").astype("string"),
        f"{who_b}: {label('value')}": ind["value_b"],
        f"{who_b}: {label('year')}": ind["year_b"].astype("Int64").astype("string"),
    })
    return CountryComparison(pair=pair, pillars=pillar_view, indicators=indicator_view)


# --------------------------------------------------------------------------- the explorer
class Explorer:
    """Widgets plus the rules that connect them to the renderers.

    Args:
        country: ISO3 to start with.
        data: ``auto`` | ``sample`` | ``processed``.
        out_dir: where exports and background reports go.
        renderers: replace the renderers (tests pass recording fakes).
    """

    def __init__(self, country: str = "KHM", *, data: str = "auto",
                 out_dir: str | Path | None = None,
                 renderers: dict[str, Callable[[RunContext, ExplorerState], ViewResult]] | None = None):
        import ipywidgets as w

        self.data = data
        self.out_dir = Path(out_dir or outputs_dir())
        self.renderers = dict(RENDERERS if renderers is None else renderers)
        self.calls: list[tuple[str, ExplorerState]] = []
        self.results: dict[str, ViewResult] = {}
        self.errors: dict[str, str] = {}
        self._ctx_cache: dict[str, RunContext] = {}
        self._quiet = False
        self.report_thread: threading.Thread | None = None
        code = countries.validate_iso3(country)

        self.country = w.Dropdown(description="Country", options=countries_with_data(data),
                                  value=code, style={"description_width": "80px"})
        self.peer_group = w.Dropdown(description="Peer group", style={"description_width": "80px"},
                                     layout=w.Layout(width="420px"))
        self.pillar = w.Dropdown(description="Pillar", value=SCORED_PILLARS[0],
                                 options=[(PILLAR_LABELS[p], p) for p in SCORED_PILLARS],
                                 style={"description_width": "80px"})
        self.indicator = w.Dropdown(description="Indicator", style={"description_width": "80px"},
                                    layout=w.Layout(width="420px"))
        self.outputs = {v: w.Output(layout=w.Layout(border="1px solid #ddd")) for v in VIEWS}
        self.status = w.HTML()
        self.export_button = w.Button(description="Export view (PNG + CSV)", icon="download",
                                      layout=w.Layout(width="220px"))
        self.report_button = w.Button(description="Run full report", icon="play",
                                      button_style="primary", layout=w.Layout(width="220px"))
        self.progress = w.IntProgress(min=0, max=3, value=0, description="Report",
                                      layout=w.Layout(visibility="hidden"))
        self.report_status = w.HTML()
        options = list(self.country.options)
        codes = [c for _, c in options]
        other = next((c for c in COMPARE_DEFAULTS if c in codes and c != code),
                     next((c for c in codes if c != code), code))
        self.compare_a = w.Dropdown(description="Compare", options=options, value=code,
                                    style={"description_width": "80px"})
        self.compare_b = w.Dropdown(description="with", options=options, value=other,
                                    style={"description_width": "40px"})
        self.compare_out = w.HTML()
        self.comparison: CountryComparison | None = None

        self._quiet = True
        self._update_peer_options()
        self._update_indicator_options()
        self._quiet = False
        self.country.observe(self._on_change("country"), names="value")
        self.peer_group.observe(self._on_change("peer_group"), names="value")
        self.pillar.observe(self._on_change("pillar"), names="value")
        self.indicator.observe(self._on_change("indicator"), names="value")
        self.compare_a.observe(lambda _c: self.refresh_compare(), names="value")
        self.compare_b.observe(lambda _c: self.refresh_compare(), names="value")
        self.export_button.on_click(lambda _b: self.export_view())
        self.report_button.on_click(lambda _b: self.run_report())

    # ----------------------------------------------------------------- state
    @property
    def state(self) -> ExplorerState:
        return ExplorerState(self.country.value, self.peer_group.value or "",
                             self.pillar.value, self.indicator.value or "")

    def context(self, iso3: str) -> RunContext:
        if iso3 not in self._ctx_cache:
            self._ctx_cache[iso3] = open_context(iso3, "", self.data, str(self.out_dir))
        return self._ctx_cache[iso3]

    def _update_peer_options(self) -> None:
        labels = list(resolve_peer_sets(self.context(self.country.value).params))
        keep = self.peer_group.value if self.peer_group.value in labels else (labels[0] if labels else None)
        self.peer_group.options = labels
        self.peer_group.value = keep

    def _update_indicator_options(self) -> None:
        options = indicators_of(self.pillar.value)
        ids = [i for _, i in options]
        keep = self.indicator.value if self.indicator.value in ids else (ids[0] if ids else None)
        self.indicator.options = options
        self.indicator.value = keep

    def _on_change(self, control: str) -> Callable[[dict[str, Any]], None]:
        def handler(_change: dict[str, Any]) -> None:
            if self._quiet:
                return
            self._quiet = True  # dependent dropdowns change without cascading redraws
            try:
                if control == "country":
                    self._update_peer_options()
                elif control == "pillar":
                    self._update_indicator_options()
            finally:
                self._quiet = False
            views = set(REDRAW[control])
            if control == "pillar":
                views.add("scatter")  # the indicator changed with the pillar
            self.refresh([v for v in VIEWS if v in views])
        return handler

    # ----------------------------------------------------------------- drawing
    def refresh(self, views: list[str] | tuple[str, ...] = VIEWS) -> None:
        """Redraw ``views`` for the current state, each in its output area."""
        from IPython.display import Image, display

        state = self.state
        ctx = self.context(state.country)
        for view in views:
            self.calls.append((view, state))
            out = self.outputs[view]
            out.clear_output(wait=True)
            try:
                result = self.renderers[view](ctx, state)
            except P2CError as exc:
                self.errors[view] = str(exc)
                self.results.pop(view, None)
                with out:
                    print(f"{view}: {exc}")
                continue
            old = self.results.get(view)
            if old is not None and old.figure is not result.figure:
                plt.close(old.figure)
            self.results[view] = result
            self.errors.pop(view, None)
            with out:  # PNG bytes: shown the same whatever matplotlib backend is active
                display(Image(data=_png_bytes(result.figure)))
        self.status.value = html_text(  # peer labels and sources come from files
            f"Showing {countries.iso3_to_name(state.country)} ({state.country}); peers: "
            f"{state.peer_group}. {ctx.selection.describe()}").join(("<small>", "</small>"))

    def refresh_compare(self) -> CountryComparison | None:
        """Redraw the comparison of the two chosen countries (the tables under the views)."""
        try:
            self.comparison = compare_countries(self.compare_a.value, self.compare_b.value,
                                                self.data)
        except P2CError as exc:
            self.comparison = None
            self.compare_out.value = f"<p>{html_text(exc)}</p>"
            return None
        self.compare_out.value = self.comparison.html()
        return self.comparison

    # ----------------------------------------------------------------- actions
    def export_view(self) -> list[Path]:
        """Save the current views as PNG and their tables as CSV under ``OUT/explorer/<ISO3>/``."""
        state = self.state
        folder = self.out_dir / "explorer" / countries.validate_iso3(state.country)
        slug = re.sub(r"[^a-z0-9]+", "-", f"{state.pillar}-{state.indicator}".lower()).strip("-")
        written = []
        for view, result in self.results.items():
            png = folder / f"{view}_{slug}.png"
            with atomic_path(png) as tmp:
                result.figure.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
            csv = folder / f"{view}_{slug}.csv"
            write_csv(result.data, csv)
            written += [png, csv]
        self.status.value = f"<small>Exported {len(written)} files to {html_text(folder)}</small>"
        return written

    def run_report(self, *, wait: bool = False) -> threading.Thread:
        """Run the three report notebooks for the current country in a background thread."""
        from p2c_research.runner.execute import execute_one
        from p2c_research.runner.notebooks import REPORT_TITLES, available_notebooks

        code = self.country.value
        names = available_notebooks()
        self.progress.max = len(names)
        self.progress.value = 0
        self.progress.layout.visibility = "visible"
        self.report_button.disabled = True

        def work() -> None:
            statuses = []
            for k, name in enumerate(names):
                self.report_status.value = html_text(
                    f"running {REPORT_TITLES[name]} for {code} ({k + 1}/{len(names)})")
                statuses.append(execute_one(code, name, self.out_dir.resolve(), data=self.data))
                self.progress.value = k + 1
            failed = [s for s in statuses if s.status != "ok"]
            links = ", ".join(f'<a href="{relative_href(s.html)}" target="_blank">'
                              f'{html_text(REPORT_TITLES[s.notebook])}</a>'
                              for s in statuses if s.status == "ok")
            self.report_status.value = (f"done for {html_text(code)}: {links}" if not failed else
                                        f"{len(failed)} notebook(s) failed: "
                                        + "; ".join(html_text(s.error[:200]) for s in failed))
            self.report_button.disabled = False

        self.report_thread = threading.Thread(target=work, name=f"p2c-report-{code}", daemon=True)
        self.report_thread.start()
        if wait:
            self.report_thread.join()
        return self.report_thread

    # ----------------------------------------------------------------- layout
    def widget(self):
        """The whole explorer as one widget box (what the notebook displays)."""
        import ipywidgets as w

        controls = w.VBox([w.HBox([self.country, self.peer_group]),
                           w.HBox([self.pillar, self.indicator]),
                           w.HBox([self.export_button, self.report_button, self.progress]),
                           self.report_status, self.status])
        views = w.VBox([w.HBox([self.outputs["wheel"], self.outputs["scatter"]]),
                        self.outputs["map"]])
        compare = w.VBox([w.HTML("<h3>Compare two countries</h3>"),
                          w.HBox([self.compare_a, self.compare_b]), self.compare_out])
        return w.VBox([controls, views, compare])


def explore(country: str = "KHM", data: str = "auto") -> Explorer:
    """Build the explorer, draw every view once and return it (display ``.widget()``)."""
    explorer = Explorer(country, data=data)
    explorer.refresh()
    explorer.refresh_compare()
    return explorer


__all__ = ["CountryComparison", "Explorer", "ExplorerState", "ViewResult", "compare_countries",
           "explore", "render_map", "render_scatter", "render_wheel"]
