"""The benchmarking report (notebook 02): cached world fits in, one country's tables and figures out.

The notebook stays thin: it opens the run context, calls
:func:`build_benchmark_report`, displays what the returned
:class:`BenchmarkReport` offers (each with a caption saying what to look
for) and calls :func:`save_benchmark_outputs`. The world fits come from the
cache (:func:`p2c_research.analyses.benchmark.world_benchmark_cached`); only
the small peer refits are made per country.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from p2c_research.analyses.benchmark import (
    MODEL_BASE,
    MODEL_EXTENDED,
    MODEL_FRONTIER,
    MODEL_LOG,
    MODEL_LOGIT,
    MODEL_PANEL,
    BenchmarkResults,
    country_benchmark,
    key_indicators,
    panel_trend,
    peer_refits,
    world_benchmark_cached,
)
from p2c_research.analyses.regression import std_residual_guide
from p2c_research.catalog import PILLAR_LABELS, Catalog
from p2c_research.context import RunContext
from p2c_research.datasets import load_panel
from p2c_research.escaping import md_code, md_text
from p2c_research.figures.benchmark import (
    benchmark_scatter,
    benchmark_scatter_layered,
    residual_dotplot,
)
from p2c_research.figures.theme import PILLAR_COLORS
from p2c_research.params import resolve_peer_sets
from p2c_research.report_io import RenderedImage, save_figure, save_table

#: Columns benchmark.csv must have (the issue's contract; tests check them).
REQUIRED_TABLE_COLUMNS: tuple[str, ...] = (
    "indicator", "model", "n", "r2", "actual", "predicted", "pi_low", "pi_high", "residual",
    "std_residual", "classification",
)
N_SCATTERS = 5

_PUBLISHERS = {"wdi": "World Bank WDI", "sdg": "UN SDG database", "itu": "ITU DataHub"}
#: The classification codes of the tables, as a reviewer reads them.
CLASS_SHORT = {"over": "over", "on_par": "on par", "under": "under", "no_data": "no data"}

#: The model codes of the tables, as a reviewer reads them.
MODEL_WORDS = {
    MODEL_BASE: "OLS on ln GDP pc",
    MODEL_LOGIT: "logit share on ln GDP pc",
    MODEL_LOG: "log value on ln GDP pc",
    MODEL_EXTENDED: "OLS, extended",
    MODEL_FRONTIER: "frontier (q = 0.9)",
    MODEL_PANEL: "panel, year effects",
}

_CLASS_WORDS = {
    "over": "above the range expected for its income",
    "on_par": "within the range expected for its income",
    "under": "below the range expected for its income",
    "no_data": "no value to compare",
}


@dataclass
class BenchmarkReport:
    """One country's benchmark: the tables written to disk and what the notebook displays.

    Attributes:
        table: benchmark.csv, the country's rows of every world model.
        peers: peer refits (base model) per peer set, with notes.
        trend: is the gap closing (panel residual slope), per indicator.
        models: models.csv, coefficients with CIs and diagnostics of every world fit.
        highlight: the peer set drawn in the scatters (label, members).
    """

    iso3: str
    country_name: str
    catalog: Catalog
    world: BenchmarkResults
    table: pd.DataFrame
    peers: pd.DataFrame
    trend: pd.DataFrame
    models: pd.DataFrame
    peer_sets: dict[str, list[str]]
    highlight: tuple[str, list[str]]
    key: list[str]
    window: tuple[int, int]
    pi_level: float
    peer_min_n: int
    sources: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    dpi: int = 110  # of the layered scatters (rendered when built)
    _figures: dict[str, Figure | RenderedImage] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ tables
    def preferred(self) -> pd.DataFrame:
        """The country's row of the preferred model of each indicator."""
        return self.table[self.table["preferred"].astype(bool)]

    def counts(self) -> dict[str, int]:
        """How many indicators are over / on par / under / without data (preferred model)."""
        vc = self.preferred()["classification"].value_counts()
        return {c: int(vc.get(c, 0)) for c in ("over", "on_par", "under", "no_data")}

    def summary(self) -> pd.DataFrame:
        """A readable table: one row per indicator, preferred model, rounded."""
        t = self.preferred()
        out = pd.DataFrame({
            "Indicator": t["name"],
            "Pillar": t["pillar"].map(PILLAR_LABELS),
            "Unit": t["unit"],
            "Model": t["model"].map(lambda m: MODEL_WORDS.get(m, m)),
            "Year": t["year"].where(t["actual"].notna()).astype("Int64"),
            "Actual": t["actual"].round(1),
            "Expected": t["predicted"].round(1),
            "90% interval": [_interval(lo, hi) for lo, hi in zip(t["pi_low"], t["pi_high"],
                                                                  strict=True)],
            "Std. residual": t["perf_std_residual"].round(2),
            "Classification": t["classification"].map(lambda c: CLASS_SHORT.get(c, c)),
            "Frontier gap": t["distance_to_frontier"].round(1),
            "Note": t["note"],
        })
        return out.reset_index(drop=True)

    def models_summary(self) -> pd.DataFrame:
        """The world fits behind the country's numbers (preferred model per indicator)."""
        m = self.world.models
        pref = m[m["preferred"].astype(bool)]
        names = self.catalog.to_frame().set_index("indicator")["name"]
        return pd.DataFrame({
            "Indicator": pref["indicator"].map(names),
            "Model": pref["model"].map(lambda m: MODEL_WORDS.get(m, m)),
            "n": pref["n"],
            "R²": pref["r2"].round(2),
            "Slope on ln GDP pc": pref["slope"].round(2),
            "95% CI": [_interval(lo, hi, 2) for lo, hi in zip(pref["slope_ci_low"],
                                                               pref["slope_ci_high"],
                                                               strict=True)],
            "Breusch-Pagan p": pref["bp_pvalue"].round(3),
            "Influential (Cook's D > 4/n)": pref["n_influential"],
            "Note": pref["note"],
        }).reset_index(drop=True)

    def peers_summary(self) -> pd.DataFrame:
        """Classification per indicator and peer set, saying whether the peers were refitted."""
        if self.peers.empty:
            return pd.DataFrame()
        p = self.peers.copy()
        how = np.where(p["refit"].astype(bool), "refit", "world fit")
        p["cell"] = [f"{CLASS_SHORT.get(c, c)} ({h}, n={n})"
                     for c, h, n in zip(p["classification"], how, p["n"], strict=True)]
        names = self.catalog.to_frame().set_index("indicator")["name"]
        wide = p.pivot(index="indicator", columns="peer_set", values="cell")
        wide = wide.reindex([i for i in self.catalog.ids if i in wide.index])
        wide.index = wide.index.map(names)
        wide.index.name = "Indicator"
        return wide.reset_index()

    def trend_summary(self) -> pd.DataFrame:
        """The country's gap trend per indicator, most informative first."""
        t = self.trend.copy()
        names = self.catalog.to_frame().set_index("indicator")["name"]
        t.insert(0, "name", t["indicator"].map(names))
        order = {"gap closing": 0, "gap widening": 0, "lead growing": 1, "lead shrinking": 1,
                 "no clear change": 2, "too few years": 3, "no data": 4}
        t["_o"] = t["trend"].map(order)
        t = t.sort_values(["_o", "name"]).drop(columns="_o")
        keep = ["name", "scale", "n_years", "first_year", "last_year", "residual_first",
                "residual_last", "perf_slope", "slope_pvalue", "trend"]
        return t[keep].round(3).reset_index(drop=True)

    # ------------------------------------------------------------------ figures
    def figure_dotplot(self) -> Figure:
        """Standardised residuals across indicators, coloured by classification."""
        if "residual_dotplot" not in self._figures:
            t = self.preferred()
            table = pd.DataFrame({
                "label": [textwrap.shorten(str(n), width=50, placeholder="…") for n in t["name"]],
                "pillar": t["pillar"],
                "perf_std_residual": t["perf_std_residual"],
                "classification": t["classification"],
            })
            c = self.counts()
            if c["over"] + c["on_par"] + c["under"] == 0:
                title = (f"{self.country_name}: no indicator can be benchmarked "
                         f"(no value with GDP per capita in {self.window[0]}-{self.window[1]})")
            else:
                title = (f"{self.country_name}: {_count(c['over'], 'indicator')} above and "
                         f"{c['under']} below the range expected for its income")
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
        verdict = _CLASS_WORDS.get(str(row["classification"]), "not classified")
        title = f"{self.country_name}: {verdict}\n{textwrap.shorten(ind.name, 70)}"
        kwargs = dict(iso3=self.iso3, country_label=self.country_name, peers=members,
                      peer_label=label, frontier=frontier, title=title,
                      ylabel=f"{ind.name} ({ind.unit})", source=self.source_line([indicator]),
                      log_y=model == MODEL_LOG)
        fig = (benchmark_scatter_layered(data, curve, dpi=self.dpi, **kwargs) if layered
               else benchmark_scatter(data, curve, **kwargs))
        self._figures[name] = fig
        return fig

    def figure_scatters(self) -> dict[str, Figure | RenderedImage]:
        """Scatters of the country's key indicators (largest gaps, plus Internet use)."""
        return {f"scatter_{i}": self.figure_scatter(i, layered=True) for i in self.key}

    def figures(self) -> dict[str, Figure | RenderedImage]:
        return {"residual_dotplot": self.figure_dotplot(), **self.figure_scatters()}

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
        return (f"Source: {what or 'indicator panel'}; GDP per capita PPP: {gdp}. "
                f"Latest values {span}. Benchmark fits: p2c-research.")

    def caption(self, part: str) -> str:
        """Markdown saying what the reader should see in each output.

        The peer label comes from params: it is shown literally (:func:`md_text`).
        """
        c = self.counts()
        name = md_text(self.country_name)
        pct = round(self.pi_level * 100)
        label = md_text(self.highlight[0])
        texts = {
            "summary": (
                f"**How {name} compares with economies of the same income.** Each row sets "
                f"{name}'s latest value beside the value expected from GDP per capita (PPP) and "
                f"its {pct}% prediction interval. *over* / *under* means outside the interval "
                "on the better / worse side; for prices (lower is better) a value above the "
                f"interval is *under*. {name}: **{c['over']} over, {c['on_par']} on par, "
                f"{c['under']} under**, {c['no_data']} without data (ITU-only indicators "
                "are absent from the embedded sample). Bounded shares are read on the logit "
                "scale and heavy-tailed counts on the log scale (column Model); 'Frontier gap' "
                "is the distance to the best-practice (90th percentile) line, positive when "
                "behind it."),
            "dotplot": (
                f"**Read across the indicators:** a dot right of zero means {name} does better "
                "than its income predicts, left of zero worse (signs are flipped for prices, "
                f"so right is always better). Green and red dots lie outside the {pct}% "
                "prediction interval; grey dots are on par. The shaded band is the approximate "
                "interval on this standardised scale."),
            "scatters": (
                f"**Where {name} sits among all economies** for its key indicators (the "
                "largest gaps either way, and Internet use). The line is what economies of "
                f"each income level typically reach, the band its {pct}% prediction "
                f"interval and the dashed line the best-practice frontier; darker dots are "
                f"{label}. A red dot below the band is an under-performance worth a pledge."
                if self.key else
                f"**No scatter:** {name} has no benchmarked value for any indicator in the "
                "window."),
            "peers": (
                f"**The same comparison against {name}'s peer sets.** The base model is "
                f"refitted on the peers plus {name} when at least {self.peer_min_n} economies "
                "have data ('refit'); smaller sets keep the world fit ('world fit', noted in "
                "peers.csv). A classification that changes between sets shows the verdict "
                "depends on the comparison group."),
            "trend": (
                f"**Is the gap closing?** From a pooled panel over {self.window[0]}-"
                f"{self.window[1]} with year fixed effects (errors clustered by economy), "
                f"{name}'s residual each year says how far it sits from economies of the same "
                "income that year; the slope of those residuals says whether the gap is "
                "closing or widening. Residuals are on each indicator's fitting scale (logit "
                "for shares, ln for heavy-tailed counts, else raw units). 'no clear change' "
                "means the slope is not distinguishable from zero (p >= 0.10)."),
            "models": (
                "**The world fits behind these numbers** (preferred model per indicator): "
                "sample size, R², the slope on ln GDP per capita with its HC3 95% confidence "
                "interval, the Breusch-Pagan p-value (small = heteroskedastic errors, which "
                "HC3 accounts for) and the number of influential economies (Cook's distance "
                "above 4/n). models.csv holds every coefficient of every model."),
        }
        return texts[part]

    def files_markdown(self, paths: dict[str, Path]) -> str:
        lines = ["**Files written:**", ""]
        lines += [f"- {md_code(p)}" for p in paths.values()]
        return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _interval(lo: float, hi: float, digits: int = 1) -> str:
    if pd.isna(lo) or pd.isna(hi):
        return ""
    return f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def _publisher(source: str) -> tuple[str, str]:
    """``"wdi_file:IT.NET.USER.ZS"`` -> ``("World Bank WDI", "IT.NET.USER.ZS")``."""
    head, _, code = str(source).partition(":")
    key = head.lower()
    for prefix, name in _PUBLISHERS.items():
        if key.startswith(prefix):
            return (name, code)
    return (str(source), "")


def indicator_sources(panel: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """Publisher and code per indicator, from the panel's ``source`` column, for figure notes."""
    pairs = panel[["indicator", "source"]].drop_duplicates()
    out: dict[str, list[tuple[str, str]]] = {}
    for ind, group in pairs.groupby("indicator"):
        out[str(ind)] = sorted({_publisher(s) for s in group["source"]})[:3]
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


def build_benchmark_report(ctx: RunContext) -> BenchmarkReport:
    """Everything notebook 02 shows for ``ctx``'s country, from the cached world fits.

    A country without any value gets ``no_data`` rows and empty scatters, not an error.
    """
    params = ctx.params
    opts = params.analysis
    window = (params.year_window.start, params.year_window.end)
    world = world_benchmark_cached(ctx.selection, ctx.catalog, window,
                                   pi_level=opts.prediction_interval,
                                   frontier_q=opts.frontier_quantile)
    table = country_benchmark(world, ctx.iso3, ctx.catalog)
    peer_sets = resolve_peer_sets(params)
    peers = peer_refits(world, ctx.iso3, peer_sets, ctx.catalog, min_n=opts.peer_min_n,
                        pi_level=opts.prediction_interval)
    trend = panel_trend(world, ctx.iso3, ctx.catalog)
    trend = trend.merge(world.panel_models[["indicator", "n_obs", "n_countries", "slope"]]
                        .rename(columns={"slope": "panel_slope_ln_gdp"}),
                        on="indicator", how="left")
    return BenchmarkReport(
        iso3=ctx.iso3,
        country_name=params.country_name,
        catalog=ctx.catalog,
        world=world,
        table=table,
        peers=peers,
        trend=trend,
        models=models_table(world),
        peer_sets=peer_sets,
        highlight=_highlight_set(peer_sets),
        key=key_indicators(table, k=N_SCATTERS),
        window=window,
        pi_level=opts.prediction_interval,
        peer_min_n=opts.peer_min_n,
        sources=indicator_sources(load_panel(ctx.selection)),
        dpi=ctx.params.output.figure_dpi,
    )


def _highlight_set(peer_sets: dict[str, list[str]]) -> tuple[str, list[str]]:
    """The peer set drawn in the scatters: an explicit list (e.g. ASEAN) if any, else the region."""
    if not peer_sets:
        return ("peers", [])
    labels = list(peer_sets)
    standard = [lab for lab in labels if lab.endswith(("(World Bank)", "(World Bank region)",
                                                        "(UN)"))]
    explicit = [lab for lab in labels if lab not in standard]
    region = [lab for lab in labels if lab.endswith("(World Bank region)")]
    label = (explicit or region or labels)[-1 if explicit else 0]
    return (label, peer_sets[label])


def save_benchmark_outputs(report: BenchmarkReport, out_dir: Path | str,
                           dpi: int = 110) -> dict[str, Path]:
    """Write the tables under ``OUT/<ISO3>/tables`` and the figures under ``.../figures``."""
    paths: dict[str, Path] = {
        "benchmark": save_table(report.table, out_dir, report.iso3, "benchmark"),
        "models": save_table(report.models, out_dir, report.iso3, "models"),
        "peers": save_table(report.peers, out_dir, report.iso3, "peers"),
        "panel_trend": save_table(report.trend, out_dir, report.iso3, "panel_trend"),
    }
    for name, fig in report.figures().items():
        paths[name] = save_figure(fig, out_dir, report.iso3, name, dpi=dpi)
    return paths


def precompute(selection, params) -> None:
    """Batch hook: fit every model for every indicator once, for ``params``' options."""
    from p2c_research.catalog import load_catalog

    opts = params.analysis
    world_benchmark_cached(selection, load_catalog(), (params.year_window.start, params.year_window.end),
                           pi_level=opts.prediction_interval, frontier_q=opts.frontier_quantile)
