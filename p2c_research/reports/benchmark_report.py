"""The benchmarking report (notebook 02): cached world fits in, one country's tables and figures out.

The notebook stays thin (:mod:`~p2c_research.reports.contract`): it opens the
run context, calls :func:`build` and :func:`save`, and shows each of
``report.sections`` (each with a caption saying what to look for). The world
fits come from the cache (:func:`p2c_research.steps.benchmark`); only the
small peer refits are made per country.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from p2c_research import steps
from p2c_research.analyses.benchmark import BenchmarkResults
from p2c_research.analyses.benchmark_country import (
    country_benchmark,
    key_indicators,
    panel_trend,
    peer_refits,
)
from p2c_research.analyses.benchmark_models import MODEL_FRONTIER, R2_FLOOR
from p2c_research.analyses.coverage import NO_DATA_COLUMNS, indicators_without_data
from p2c_research.analyses.regression import ON_PAR_Z, std_residual_guide
from p2c_research.analyses.verdicts import (
    MODEL_WORDS,
    country_verdicts,
    verdict_counts,
)
from p2c_research.attribution import ITU_LICENCE_LABEL, publisher
from p2c_research.catalog import Catalog
from p2c_research.context import RunContext
from p2c_research.datasets import load_panel
from p2c_research.escaping import md_text
from p2c_research.figures.benchmark import (
    benchmark_scatter,
    benchmark_scatter_layered,
    residual_dotplot,
)
from p2c_research.figures.theme import PILLAR_COLORS
from p2c_research.labels import label
from p2c_research.params import CountryParams, headline_peers, resolve_peer_sets
from p2c_research.report_io import RenderedImage, save_figure, save_table
from p2c_research.reports.contract import Section, files_markdown, members
from p2c_research.reports.tables import HtmlTable, no_data_list, render_table
from p2c_research.textfmt import sig

#: Columns benchmark.csv must have (the issue's contract; tests check them).
REQUIRED_TABLE_COLUMNS: tuple[str, ...] = (
    "indicator", "model", "n", "r2", "actual", "predicted", "pi_low", "pi_high", "residual",
    "z", "verdict",
)
N_SCATTERS = 5

#: The verdicts as a figure title reads them.
_VERDICT_WORDS = {
    "well above": "well above the range expected for its income",
    "above": "above what its income predicts, within the expected range",
    "on par": "on par with what its income predicts",
    "below": "below what its income predicts, within the expected range",
    "well below": "well below the range expected for its income",
    "no verdict": "no verdict (income explains little of this indicator)",
    "no data": "no value to compare",
}


@dataclass
class BenchmarkTables:
    """The tables ``save`` writes as ``OUT/<ISO3>/tables/<name>.csv``.

    Attributes:
        benchmark: the country's rows of every world model.
        verdicts: the one verdict per indicator every page reads.
        models: coefficients with CIs and diagnostics of every world fit.
        peers: peer refits (preferred model) per peer set, with notes.
        panel_trend: is the gap closing (panel residual slope), per indicator.
    """

    benchmark: pd.DataFrame
    verdicts: pd.DataFrame
    models: pd.DataFrame
    peers: pd.DataFrame
    panel_trend: pd.DataFrame


@dataclass
class BenchmarkFigures:
    """The figures ``save`` writes as ``OUT/<ISO3>/figures/<name>.png``: the residual dot
    plot and one scatter per key indicator (``scatter_<indicator>``)."""

    residual_dotplot: Figure
    scatters: dict[str, Figure | RenderedImage]


@dataclass
class BenchmarkReport:
    """One country's benchmark: the tables written to disk and what the notebook displays.

    Attributes:
        tables: the CSV tables (:class:`BenchmarkTables`).
        highlight: the peer set drawn in the scatters (label, members).
        saved: what :func:`save` wrote, file name -> path.
    """

    iso3: str
    country_name: str
    catalog: Catalog
    world: BenchmarkResults
    tables: BenchmarkTables
    peer_sets: dict[str, list[str]]
    highlight: tuple[str, list[str]]
    key: list[str]
    window: tuple[int, int]
    pi_level: float
    peer_min_n: int
    sources: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    no_data: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NO_DATA_COLUMNS))
    dpi: int = 110  # of the figures (the layered scatters are rendered at it when drawn)
    saved: dict[str, Path] = field(default_factory=dict)
    _figures: dict[str, Figure | RenderedImage] = field(default_factory=dict, repr=False)

    @cached_property
    def figures(self) -> BenchmarkFigures:
        """The report's figures, drawn on first use (the explorer draws only its scatter)."""
        return BenchmarkFigures(residual_dotplot=self.figure_dotplot(),
                                scatters=self.figure_scatters())

    @cached_property
    def sections(self) -> BenchmarkSections:
        return BenchmarkSections(self)

    # ------------------------------------------------------------------ tables
    def preferred(self) -> pd.DataFrame:
        """The country's row of the preferred model of each indicator."""
        return self.tables.benchmark[self.tables.benchmark["preferred"].astype(bool)]

    def counts(self) -> dict[str, int]:
        """How many indicators carry each verdict (:mod:`p2c_research.analyses.verdicts`)."""
        return verdict_counts(self.tables.verdicts)

    def _with_data(self, ids: pd.Series) -> pd.Series:
        """True for the indicators that have data for the country (see :attr:`no_data`)."""
        return ~ids.isin(set(self.no_data["indicator"]))

    def summary(self) -> pd.DataFrame:
        """A readable table: one row per indicator with data, its verdict and the model
        behind it (indicators without data are listed once, by :meth:`no_data_html`)."""
        v = self.tables.verdicts[self._with_data(self.tables.verdicts["indicator"])]
        t = self.preferred().set_index("indicator").reindex(v["indicator"])
        out = pd.DataFrame({
            "Indicator": v["name"].to_numpy(),
            "Pillar": v["pillar"].map(label).to_numpy(),
            "Unit": t["unit"].to_numpy(),
            "Year": [str(int(y)) if pd.notna(y) else "" for y in v["year"]],
            "Actual": v["actual"].map(_sig).to_numpy(),
            "Expected": v["predicted"].map(_sig).to_numpy(),
            f"{round(self.pi_level * 100)}% interval": [
                _interval(lo, hi) for lo, hi in zip(v["pi_low"], v["pi_high"], strict=True)],
            "perf_z": v["perf_z"].to_numpy(),
            "Verdict": v["verdict"].to_numpy(),
            "Model (R²)": [f"{MODEL_WORDS.get(m, m)} ({r:.2f})" if pd.notna(r) else "not fitted"
                           for m, r in zip(v["model"], v["r2"], strict=True)],
            "Quality": v["quality"].to_numpy(),
            "Frontier gap": t["distance_to_frontier"].map(_sig).to_numpy(),
            "Note": v["note"].to_numpy(),
        })
        return out.reset_index(drop=True)

    def models_summary(self) -> pd.DataFrame:
        """The world fits behind the country's numbers (preferred model per indicator)."""
        m = self.world.models
        pref = m[m["preferred"].astype(bool) & self._with_data(m["indicator"])]
        names = self.catalog.to_frame().set_index("indicator")["name"]
        return pd.DataFrame({
            "Indicator": pref["indicator"].map(names),
            "Model": pref["model"].map(lambda m: MODEL_WORDS.get(m, m)),
            "n": pref["n"],
            "R²": pref["r2"],
            "Slope on ln GDP pc": pref["slope"],
            "95% CI": [_interval(lo, hi, 2) for lo, hi in zip(pref["slope_ci_low"],
                                                               pref["slope_ci_high"],
                                                               strict=True)],
            "Breusch-Pagan p": pref["bp_pvalue"],
            "Influential (Cook's D > 4/n)": pref["n_influential"],
            "Note": pref["note"],
        }).reset_index(drop=True)

    def peers_summary(self) -> pd.DataFrame:
        """The verdict per indicator and peer set, saying whether the peers were refitted."""
        if self.tables.peers.empty:
            return pd.DataFrame()
        p = self.tables.peers.copy()
        how = np.where(p["refit"].astype(bool), "refit", "world fit")
        p["cell"] = [f"{v} ({h}, n={n})"
                     for v, h, n in zip(p["verdict"], how, p["n"], strict=True)]
        names = self.catalog.to_frame().set_index("indicator")["name"]
        wide = p.pivot(index="indicator", columns="peer_set", values="cell")
        wide = wide.reindex([i for i in self.catalog.ids if i in wide.index
                             and i not in set(self.no_data["indicator"])])
        # The headline set first, then the others in the order params resolved them.
        wide = wide[[label for label in self.peer_sets if label in wide.columns]]
        wide.columns = [f"{label} (headline)" if label == self.highlight[0] else label
                        for label in wide.columns]
        wide.index = wide.index.map(names)
        wide.index.name = "Indicator"
        return wide.reset_index()

    def trend_summary(self) -> pd.DataFrame:
        """The country's gap trend per indicator, most informative first."""
        t = self.tables.panel_trend[self._with_data(self.tables.panel_trend["indicator"])].copy()
        names = self.catalog.to_frame().set_index("indicator")["name"]
        t.insert(0, "name", t["indicator"].map(names))
        order = {"gap closing": 0, "gap widening": 0, "lead growing": 1, "lead shrinking": 1,
                 "no clear change": 2, "too few years": 3, "no data": 4}
        t["_o"] = t["trend"].map(order)
        t = t.sort_values(["_o", "name"]).drop(columns="_o")
        keep = ["name", "scale", "n_years", "first_year", "last_year", "residual_first",
                "residual_last", "perf_slope", "slope_pvalue", "trend"]
        out = t[keep].rename(columns={"name": "indicator"})
        out["first_year"] = out["first_year"].astype("Int64")
        out["last_year"] = out["last_year"].astype("Int64")
        return out.reset_index(drop=True)

    # ------------------------------------------------------------------ shown tables
    def summary_table(self) -> HtmlTable:
        """:meth:`summary` as the report shows it (labels, significant figures)."""
        c = self.counts()
        shown = self.summary()
        return render_table(shown, summary=(
            f"{len(shown)} indicators: {c['well above'] + c['above']} above, {c['on par']} on "
            f"par, {c['below'] + c['well below']} below, {c['no verdict']} without a verdict "
            "— show"))

    def peers_table(self) -> HtmlTable:
        """:meth:`peers_summary` as the report shows it."""
        shown = self.peers_summary()
        return render_table(shown, summary=f"{len(shown)} indicators by peer set — show")

    def trend_table(self) -> HtmlTable:
        """:meth:`trend_summary` as the report shows it."""
        shown = self.trend_summary()
        moving = int(shown["trend"].isin(["gap closing", "gap widening", "lead growing",
                                          "lead shrinking"]).sum())
        return render_table(shown, summary=f"{len(shown)} indicators, {moving} with a clear "
                                           "change — show")

    def models_table(self) -> HtmlTable:
        """:meth:`models_summary` as the report shows it."""
        shown = self.models_summary()
        return render_table(shown, summary=f"{len(shown)} world fits — show")

    def no_data_html(self) -> HtmlTable:
        """The indicators without data for the country, listed once with the reason."""
        return no_data_list(
            self.no_data, self.country_name,
            caption="Indicators without any value are listed here once and left out of the "
                    "other tables of this report.")

    # ------------------------------------------------------------------ figures
    def figure_dotplot(self) -> Figure:
        """Residuals in predictive standard deviations across indicators, coloured by verdict."""
        if "residual_dotplot" not in self._figures:
            t = self.tables.verdicts
            table = pd.DataFrame({
                "label": [textwrap.shorten(str(n), width=50, placeholder="…") for n in t["name"]],
                "pillar": t["pillar"],
                "perf_z": t["perf_z"],
                "verdict": t["verdict"],
            })
            c = self.counts()
            above = c["above"] + c["well above"]
            below = c["below"] + c["well below"]
            if above + below + c["on par"] == 0:
                title = (f"{self.country_name}: no indicator can be benchmarked "
                         f"(no graded verdict in {self.window[0]}-{self.window[1]})")
            else:
                title = (f"{self.country_name}: {_count(above, 'indicator')} above and "
                         f"{below} below what its income predicts")
            self._figures["residual_dotplot"] = residual_dotplot(
                table, title=title, source=self.source_line(list(t["indicator"])),
                guide=std_residual_guide(self.pi_level), pillar_colors=PILLAR_COLORS)
        return self._figures["residual_dotplot"]

    def figure_scatter(self, indicator: str, *, layered: bool = False) -> Figure | RenderedImage:
        """Every economy against GDP per capita for one indicator (preferred model's line).

        ``layered`` returns the finished image drawn over a base shared by every
        country (the report and batches); otherwise a matplotlib figure (explorer).
        """
        name = f"scatter_{indicator}" + ("_layered" if layered else "")
        if name in self._figures:
            return self._figures[name]
        ind = self.catalog[indicator]
        row = self.preferred().set_index("indicator").loc[indicator]
        model = str(row["model"])
        w = self.world
        data = w.data[w.data["indicator"] == indicator]
        curve = w.curves[(w.curves["indicator"] == indicator) & (w.curves["model"] == model)]
        frontier = w.curves[(w.curves["indicator"] == indicator)
                            & (w.curves["model"] == MODEL_FRONTIER)]
        label, members = self.highlight
        verdict = _VERDICT_WORDS.get(str(row["verdict"]), "not graded")
        title = f"{self.country_name}: {verdict}\n{textwrap.shorten(ind.name, 70)}"
        kwargs = dict(iso3=self.iso3, country_label=self.country_name, peers=members,
                      peer_label=label, frontier=frontier, title=title,
                      ylabel=f"{ind.name} ({ind.unit})", source=self.source_line([indicator]),
                      y_scale=str(row["scale"]))
        fig = (benchmark_scatter_layered(data, curve, dpi=self.dpi, **kwargs) if layered
               else benchmark_scatter(data, curve, **kwargs))
        self._figures[name] = fig
        return fig

    def figure_scatters(self) -> dict[str, Figure | RenderedImage]:
        """Scatters of the country's key indicators (largest gaps, plus Internet use)."""
        return {f"scatter_{i}": self.figure_scatter(i, layered=True) for i in self.key}

    # ------------------------------------------------------------------ text
    def source_line(self, indicators: list[str]) -> str:
        """``Source: <publisher (codes)>; ... Latest values <years>. Benchmark fits: p2c-research``.

        One or two indicators name their publisher codes; more name only the
        publishers (the codes are in the catalog), so the line stays readable.
        """
        pairs = sorted({pc for i in indicators for pc in self.sources.get(i, [])})
        if len(indicators) <= 2:
            what = "; ".join(f"{pub} {code}".strip() for pub, code in pairs)
        else:
            pubs = sorted({pub for pub, _ in pairs})
            what = ", ".join(pubs) + f" ({len(indicators)} indicators; codes in the catalog)"
        data = self.world.data[self.world.data["indicator"].isin(indicators)]
        years = data["year"].dropna()
        span = (f"{int(years.min())}-{int(years.max())}" if len(years)
                else f"{self.window[0]}-{self.window[1]}")
        gdp = "; ".join(f"{p} {c}" for p, c in self.sources.get("gdp_pc_ppp", [])) or "World Bank"
        licence = " ITU values: " + ITU_LICENCE_LABEL + "." if any(
            pub == "ITU DataHub" for pub, _ in pairs) else ""
        return (f"Source: {what or 'indicator panel'}; GDP per capita PPP: {gdp}. "
                f"Latest values {span}. Benchmark fits: p2c-research.{licence}")


class BenchmarkSections:
    """The sections of notebook 02, in reading order: each a caption saying what to look
    for, then its table or figure. The peer label comes from params: it is shown
    literally (:func:`md_text`)."""

    def __init__(self, report: BenchmarkReport) -> None:
        self._report = report
        self._counts = report.counts()
        self._name = md_text(report.country_name)
        self._pct = round(report.pi_level * 100)
        self._label = md_text(report.highlight[0])

    @cached_property
    def summary(self) -> Section:
        """Every indicator with data against the value its income predicts."""
        r, c, name, pct = self._report, self._counts, self._name, self._pct
        text = (
            f"**How {name} compares with economies of the same income.** Each row sets "
            f"{name}'s latest value beside the value expected from GDP per capita (PPP), "
            f"its {pct}% prediction interval and the verdict. *Performance* is the distance "
            "from the expected value in predictive standard deviations, signed so that positive is "
            f"better (prices flipped). Verdicts: *on par* within {ON_PAR_Z:g} standard "
            f"deviation; *above* / *below* beyond it but inside the {pct}% interval; *well "
            "above* / *well below* outside the interval; *no verdict* where income explains "
            f"less than {R2_FLOOR:.0%} of the cross-country variation (R²). {name}: "
            f"**{c['well above']} well above, {c['above']} above, {c['on par']} on par, "
            f"{c['below']} below, {c['well below']} well below**; {c['no verdict']} without "
            f"a verdict and {c['no data']} without data (listed under the table with the "
            "reason for each). Every model respects the indicator's bounds (no negative "
            "values, shares within 0-100%); the column Model names the one the verdict comes "
            "from and its R². 'Frontier gap' is the distance to the best-practice (90th "
            "percentile) line, positive when behind it. See docs/methodology.md.")
        return Section("The country against economies of the same income",
                       (text, r.summary_table(), r.no_data_html()))

    @cached_property
    def dotplot(self) -> Section:
        """Over and under at a glance: the residual of every indicator."""
        name, pct = self._name, self._pct
        text = (
            f"**Read across the indicators:** a dot right of zero means {name} does better "
            "than its income predicts, left of zero worse (signs are flipped for prices, "
            f"so right is always better), in predictive standard deviations. The colour is "
            f"the verdict; the shaded band is the {pct}% interval on this scale.")
        return Section("Over and under at a glance", (text, self._report.figures.residual_dotplot))

    @cached_property
    def scatters(self) -> Section:
        """The key indicators against all economies."""
        r, name, pct, label = self._report, self._name, self._pct, self._label
        text = (
            f"**Where {name} sits among all economies** for its key indicators (the "
            "largest gaps either way, and Internet use). The line is what economies of "
            f"each income level typically reach under the preferred model, the band its "
            f"{pct}% prediction interval and the dashed line the best-practice frontier, "
            "all drawn on the scale the model was fitted on (the axis says which); darker "
            f"dots are {label}. A gap is a question for the country team, not by itself a "
            "case for a pledge: check the data and the context first."
            if r.key else
            f"**No scatter:** {name} has no benchmarked value for any indicator in the "
            "window.")
        return Section("Key indicators against all economies",
                       (text, *r.figures.scatters.values()))

    @cached_property
    def peers(self) -> Section:
        """The same comparison against each peer set."""
        r, name, label = self._report, self._name, self._label
        text = (
            f"**The same comparison against {name}'s peer sets.** The preferred model is "
            f"refitted on the peers plus {name} when at least {r.peer_min_n} economies "
            "have data ('refit') and graded by the same rule; smaller sets repeat the world "
            f"verdict ('world fit'). The first column is the headline set, {label}. A "
            "verdict that changes between a refit and the world fit shows it depends on "
            "the comparison group.")
        return Section("Peer sets", (text, r.peers_table()))

    @cached_property
    def trend(self) -> Section:
        """Is the gap closing: the panel residual slope per indicator."""
        r, name = self._report, self._name
        text = (
            f"**Is the gap closing?** From a pooled panel over {r.window[0]}-"
            f"{r.window[1]} with year fixed effects (errors clustered by economy), "
            f"{name}'s residual each year says how far it sits from economies of the same "
            "income that year; the slope of those residuals says whether the gap is "
            "closing or widening. Residuals are on each indicator's fitting scale (the "
            "preferred model's transform, column scale). 'no clear change' "
            "means the slope is not distinguishable from zero (p >= 0.10).")
        return Section("Is the gap closing?", (text, r.trend_table()))

    @cached_property
    def models(self) -> Section:
        """The world fits behind the numbers."""
        text = (
            "**The world fits behind these numbers** (preferred model per indicator): "
            "sample size, R², the slope on ln GDP per capita with its HC3 95% confidence "
            "interval, the Breusch-Pagan p-value (small = heteroskedastic errors, which "
            "HC3 accounts for) and the number of influential economies (Cook's distance "
            "above 4/n). models.csv holds every coefficient of every model.")
        return Section("The world fits", (text, self._report.models_table()))

    @property
    def files(self) -> Section:
        """The files :func:`save` wrote (read when shown, so it follows the latest save)."""
        return Section("Files", (files_markdown(self._report.saved),))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _interval(lo: float, hi: float, digits: int = 3) -> str:
    if pd.isna(lo) or pd.isna(hi):
        return ""
    return f"[{sig(lo, digits)}, {sig(hi, digits)}]"


def _sig(x: float) -> str:
    """Three significant figures; a difference below a millionth (float noise) reads 0."""
    if pd.isna(x):
        return ""
    return "0" if abs(x) < 1e-6 else sig(x)


def indicator_sources(panel: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """Publisher and code per indicator, from the panel's ``source`` column, for figure notes."""
    pairs = panel[["indicator", "source"]].drop_duplicates()
    out: dict[str, list[tuple[str, str]]] = {}
    for ind, group in pairs.groupby("indicator"):
        out[str(ind)] = sorted({publisher(s) for s in group["source"]})[:3]
    return out


def models_table(world: BenchmarkResults) -> pd.DataFrame:
    """models.csv: every coefficient with its CI, beside its model's n, R² and diagnostics."""
    diag = world.models[["indicator", "model", "preferred", "fitted", "scale", "n", "k", "r2",
                         "adj_r2", "cov_type", "resid_sd", "bp_pvalue", "n_influential",
                         "influential", "quantile", "year_min", "year_max", "note"]]
    coefs = world.coefficients.merge(diag, on=["indicator", "model"], how="right")
    pm = world.panel_models
    if not pm.empty:
        panel_rows = pd.DataFrame({
            "indicator": pm["indicator"], "model": pm["model"], "term": "ln_gdp",
            "coef": pm["slope"], "se": pm["slope_se"], "ci_low": pm["slope_ci_low"],
            "ci_high": pm["slope_ci_high"], "pvalue": pm["slope_pvalue"], "preferred": False,
            "fitted": True, "scale": pm["scale"], "n": pm["n_obs"], "r2": pm["r2"],
            "cov_type": pm["cov_type"],
            "note": [f"{c} economies, {y} years; year fixed effects not shown"
                     for c, y in zip(pm["n_countries"], pm["n_years"], strict=True)],
        })
        coefs = pd.concat([coefs, panel_rows], ignore_index=True)
    return coefs


def build(ctx: RunContext) -> BenchmarkReport:
    """Everything notebook 02 shows for ``ctx``'s country, from the cached world fits.

    A country without any value gets ``no_data`` rows and empty scatters, not an error.
    """
    params = ctx.params
    opts = params.analysis
    window = (params.year_window.start, params.year_window.end)
    world = ctx.benchmark()
    table = country_benchmark(world, ctx.iso3, ctx.catalog)
    verdicts = country_verdicts(world, ctx.iso3, ctx.catalog, ctx.screened_panel)
    peer_sets = resolve_peer_sets(params)
    peers = peer_refits(world, ctx.iso3, peer_sets, ctx.catalog, min_n=opts.peer_min_n,
                        pi_level=opts.prediction_interval)
    trend = panel_trend(world, ctx.iso3, ctx.catalog)
    scores = steps.params_scores(ctx.selection, ctx.catalog, params)
    no_data = indicators_without_data(scores, ctx.iso3, ctx.panel)
    no_data = no_data[no_data["indicator"].isin(set(verdicts["indicator"]))]
    trend = trend.merge(world.panel_models[["indicator", "n_obs", "n_countries", "slope"]]
                        .rename(columns={"slope": "panel_slope_ln_gdp"}),
                        on="indicator", how="left")
    return BenchmarkReport(
        iso3=ctx.iso3,
        country_name=params.country_name,
        catalog=ctx.catalog,
        world=world,
        tables=BenchmarkTables(benchmark=table, verdicts=verdicts, models=models_table(world),
                               peers=peers, panel_trend=trend),
        peer_sets=peer_sets,
        highlight=_highlight_set(params, peer_sets),
        key=key_indicators(table, k=N_SCATTERS),
        window=window,
        pi_level=opts.prediction_interval,
        peer_min_n=opts.peer_min_n,
        sources=indicator_sources(load_panel(ctx.selection)),
        no_data=no_data.reset_index(drop=True),
        dpi=ctx.params.output.figure_dpi,
    )


def _highlight_set(params: CountryParams, peer_sets: dict[str, list[str]]
                   ) -> tuple[str, list[str]]:
    """The peer set drawn in the scatters: the headline set of all three reports
    (``params.headline_peers``: the ITU-D region, or a non-member's World Bank region)."""
    headline = headline_peers(params, peer_sets)
    if headline.label is None:
        return ("peers", [])
    return (headline.label, headline.members)


def save(report: BenchmarkReport, out: Path | str) -> dict[str, Path]:
    """Write the tables under ``out/<ISO3>/tables`` and the figures under ``.../figures``
    (drawing them if no section has yet); returns file name -> path."""
    saved: dict[str, Path] = {}
    for name, frame in members(report.tables):
        saved[f"{name}.csv"] = save_table(frame, out, report.iso3, name)
    figures = report.figures
    for name, fig in {"residual_dotplot": figures.residual_dotplot, **figures.scatters}.items():
        saved[f"{name}.png"] = save_figure(fig, out, report.iso3, name, dpi=report.dpi)
    report.saved = saved
    return saved
