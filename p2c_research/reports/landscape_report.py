"""Notebook 01 (landscape, the 360 diagnostic): build, save and show one country.

The notebook stays thin (:mod:`~p2c_research.reports.contract`):
``report = build(ctx)``, ``save(report, ctx.out_dir)`` and one cell per
section, ``report.sections.findings`` and so on. This module reads the data
(through the cached all-country scores), calls the pure analyses, draws the
figures and writes the tables. A country the analysis cannot handle (a
:class:`~p2c_research.errors.P2CError` such as ``NoDataError``) gets a report
that carries the plain message and empty tables with headers, so a batch run
still writes every file and the notebook shows the message, not a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from p2c_research import countries, steps
from p2c_research.analyses.coverage import from_scores, indicators_without_data
from p2c_research.analyses.findings import Finding
from p2c_research.analyses.landscape import (
    LandscapeTables,
    country_landscape,
    empty_tables,
)
from p2c_research.analyses.quality import FLAG_RULES
from p2c_research.analyses.scores import INSUFFICIENT, catalog_meta
from p2c_research.analyses.verdicts import country_verdicts
from p2c_research.attribution import licence_note, publishers_text
from p2c_research.errors import P2CError
from p2c_research.escaping import md_text
from p2c_research.figures.landscape import (
    indicator_strip_figure,
    target_progress_figure,
    trend_small_multiples,
)
from p2c_research.figures.wheel import wheel_figure
from p2c_research.labels import label
from p2c_research.params import headline_peers, resolve_peer_sets
from p2c_research.report_io import percentile_text, save_figure, save_table
from p2c_research.reports import landscape_memo
from p2c_research.reports.contract import Section, files_markdown, members
from p2c_research.reports.tables import no_data_list
from p2c_research.store import read_provenance
from p2c_research.textfmt import sig

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from p2c_research.context import RunContext


@dataclass
class LandscapeCsvTables:
    """The tables ``save`` writes as ``OUT/<ISO3>/tables/<name>.csv``, in writing order."""

    peer_sets: pd.DataFrame
    landscape_scores: pd.DataFrame
    pillar_scores: pd.DataFrame
    sub_pillar_scores: pd.DataFrame
    peer_stats: pd.DataFrame
    trends: pd.DataFrame
    targets: pd.DataFrame
    priority_scores: pd.DataFrame
    findings: pd.DataFrame
    data_quality: pd.DataFrame


@dataclass
class LandscapeFigures:
    """The figures ``save`` writes as ``OUT/<ISO3>/figures/<name>.png``; a country without
    data gets only the (all-grey) wheels."""

    wheel: Figure
    wheel_small: Figure
    indicator_strips: Figure | None = None
    trends: Figure | None = None
    target_progress: Figure | None = None


@dataclass
class LandscapeReport:
    """Everything notebook 01 shows and saves for one country.

    ``landscape`` holds the analysis' tables (:class:`LandscapeTables`), which
    the sections read; ``tables`` the CSV views of them that ``save`` writes.
    """

    iso3: str
    country_name: str
    landscape: LandscapeTables
    figures: LandscapeFigures
    source: str
    window: tuple[int, int]
    coverage_threshold: float
    dpi: int = 110
    error: str | None = None
    saved: dict[str, Path] = field(default_factory=dict)
    #: Indicators without any value, with the reason (:mod:`p2c_research.analyses.coverage`).
    no_data: pd.DataFrame | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def findings(self) -> list[Finding]:
        return self.landscape.findings

    @cached_property
    def tables(self) -> LandscapeCsvTables:
        return LandscapeCsvTables(**self.landscape.csv_tables())

    @cached_property
    def sections(self) -> LandscapeSections:
        return LandscapeSections(self)


# --------------------------------------------------------------------------- run
def _source_line(ctx: RunContext, scores: pd.DataFrame) -> str:
    """Publishers of the values shown, the data and its years, and the ITU licence if used."""
    prov = read_provenance(ctx.selection.panel_path)
    built = str(prov.get("retrieved_at", ""))[:4]
    start, end = ctx.params.year_window.start, ctx.params.year_window.end
    shown = scores["source"].dropna().astype(str) if "source" in scores else pd.Series([])
    src = publishers_text(shown) or "tidy indicator panel"
    years = pd.to_numeric(scores.loc[~scores["stale"].astype(bool), "year"],
                          errors="coerce").dropna() if not scores.empty else pd.Series([])
    span = f"{int(years.min())}-{int(years.max())}" if len(years) else f"{start}-{end}"
    data = "embedded sample" if ctx.selection.choice == "sample" else "processed data"
    built_txt = f", built {built}" if built else ""
    return (f"Source: {src} ({data}{built_txt}); latest values within {start}-{end}, "
            f"data years {span}. Scores and peer statistics: p2c-research.{licence_note(shown)}")


def _draw(tables: LandscapeTables, name: str, source: str, meta: pd.DataFrame
          ) -> LandscapeFigures:
    names = dict(zip(meta["indicator"], meta["name"], strict=True))
    units = dict(zip(meta["indicator"], meta["unit"], strict=True))
    subs = tables.sub_pillar_scores
    if subs.empty:  # no data: an all-grey wheel, so the index page still has a thumbnail
        subs = meta[["pillar", "sub_pillar"]].drop_duplicates().assign(
            score=np.nan, sufficient=False, peer_median=np.nan)
    peers = subs[["sub_pillar", "peer_median"]]
    title = f"{name}: Digital Transformation Wheel"
    if tables.peer_set:
        title += f"\noutline = median of {tables.peer_set}"
    figs: dict[str, Figure] = {
        "wheel": wheel_figure(subs, peers, title=title, source=source),
        "wheel_small": wheel_figure(subs, peers, title=name, source=source, small=True),
    }
    if tables.scores.empty:
        for fig in figs.values():
            plt.close(fig)
        return LandscapeFigures(**figs)
    medians = tables.peer_stats[(tables.peer_stats["level"] == "indicator")
                                & (tables.peer_stats["peer_set"] == tables.peer_set)]
    medians = medians.rename(columns={"key": "indicator"})[["indicator", "peer_median_score"]]
    figs["indicator_strips"] = indicator_strip_figure(
        tables.strip, names, title=f"{name}: indicator scores against peers",
        source=source, peer_label=tables.peer_set or "none", peer_medians=medians)
    shown_target = tables.scores[["indicator", "target"]].dropna()
    figs["trends"] = trend_small_multiples(
        tables.trend_lines, names, units, title=f"{name}: trends {_tables_window(tables)}",
        source=source, targets=shown_target)
    figs["target_progress"] = target_progress_figure(
        tables.targets, names, title=f"{name}: progress to UMC and national targets",
        source=source)
    for fig in figs.values():
        plt.close(fig)  # shown by a section, not by the inline backend at the end of a cell
    return LandscapeFigures(**figs)


def _tables_window(tables: LandscapeTables) -> str:
    lines = tables.trend_lines
    if lines.empty:
        return ""
    return f"{int(lines['year'].min())}-{int(lines['year'].max())}"


def build(ctx: RunContext) -> LandscapeReport:
    """Compute, draw and collect the landscape of ``ctx``'s country.

    Uses the cached all-country scores of the data vintage. A P2CError (e.g.
    no data at all) is caught: the result then carries its message, empty
    tables with headers and an all-grey wheel.
    """
    params = ctx.params
    window = (params.year_window.start, params.year_window.end)
    threshold = params.analysis.coverage_threshold
    name = countries.iso3_to_name(ctx.iso3)
    meta = catalog_meta(ctx.catalog)
    peer_sets = resolve_peer_sets(params)
    primary = headline_peers(params, peer_sets).label
    min_n = params.analysis.peer_min_n
    error = None
    no_data = None
    try:
        world = steps.params_scores(ctx.selection, ctx.catalog, params)
        tables = country_landscape(
            world, ctx.screened_panel, ctx.iso3, peer_sets,
            national_targets=params.national_targets,
            priorities=params.strategic_priorities, primary_peer_set=primary,
            country_name=name, peer_min_n=min_n,
            verdicts=country_verdicts(ctx.benchmark(), ctx.iso3, ctx.catalog,
                                      ctx.screened_panel))
        landscape_memo.remember(ctx, tables)
        no_data = indicators_without_data(world, ctx.iso3, ctx.panel)
    except P2CError as exc:
        error = str(exc)
        tables = empty_tables(ctx.iso3, primary,
                              {label: len(members) for label, members in peer_sets.items()},
                              min_n)
    source = _source_line(ctx, tables.scores)
    figures = _draw(tables, name, source, meta)
    return LandscapeReport(iso3=ctx.iso3, country_name=name, landscape=tables, figures=figures,
                           source=source, window=window, coverage_threshold=threshold,
                           dpi=params.output.figure_dpi, error=error, no_data=no_data)


def save(report: LandscapeReport, out: Path | str) -> dict[str, Path]:
    """Write every table (CSV) and figure (PNG) under ``out/<ISO3>/``; returns file name -> path."""
    dpi = report.dpi
    saved: dict[str, Path] = {}
    for name, frame in members(report.tables):
        saved[f"{name}.csv"] = save_table(frame, out, report.iso3, name)
    for name, fig in members(report.figures):
        saved[f"{name}.png"] = save_figure(fig, out, report.iso3, name,
                                           dpi=dpi if name != "wheel_small" else min(dpi, 100))
    report.saved = saved
    return saved


# --------------------------------------------------------------------------- show
def _pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.0f}%"


def _num(x: float, digits: int = 1) -> str:
    """A score on the 0-100 scale, with fixed decimals (scores, score slopes)."""
    return "n/a" if pd.isna(x) else f"{x:,.{digits}f}"


def _val(x: float) -> str:
    """An indicator value, to three significant figures (0.165, not 0.20)."""
    return "n/a" if pd.isna(x) else sig(x)


def _year(y: object) -> str:
    return "n/a" if pd.isna(y) else str(int(y))  # type: ignore[arg-type]


def _level_display(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({k: frame[k].map(label) for k in keys})
    out["score"] = [(_num(s) if ok else INSUFFICIENT)
                    for s, ok in zip(frame["score"], frame["sufficient"], strict=True)]
    out["coverage"] = [f"{_pct(c)} ({n}/{t})" for c, n, t in
                       zip(frame["coverage"], frame["n_present"], frame["n_total"], strict=True)]
    out["peer_median"] = frame["peer_median"].map(_num)
    out["peer_iqr"] = [f"{_num(a)}-{_num(b)}" if pd.notna(a) else "n/a"
                       for a, b in zip(frame["peer_q25"], frame["peer_q75"], strict=True)]
    out["percentile"] = [percentile_text(x, n, has_value=bool(ok)) for x, n, ok in
                         zip(frame["peer_percentile"], frame["peer_n"], frame["sufficient"],
                             strict=True)]
    return out


def _scores_display(scores: pd.DataFrame) -> pd.DataFrame:
    """The indicators that have a value (those without are listed once, apart)."""
    s = scores[scores["value"].notna()]
    return pd.DataFrame({
        "indicator": s["name"],
        "sub_pillar": s["sub_pillar"].map(label),
        "year": s["year"].astype("string").fillna(""),
        "value": s["value"].map(_val),
        "unit": s["unit"],
        "score": [(_num(v) if pd.notna(v) else (n or "n/a"))
                  for v, n in zip(s["score"], s["note"], strict=True)],
        "peer_median": s["peer_median"].map(_val),
        "percentile": [percentile_text(x, n, has_value=pd.notna(v)) for x, n, v in
                       zip(s["peer_percentile"], s["peer_n"], s["score"], strict=True)],
        "target": [f"{_val(t)} by {int(y)}" if pd.notna(t) else ""
                   for t, y in zip(s["target"], s["target_year"], strict=True)],
        "gap_to_target": s["gap_to_target"].map(lambda v: "" if pd.isna(v) else _val(v)),
        "band": s["band"].fillna(""),
        "quality": s["quality"].fillna("") if "quality" in s else "",
    })


def no_data_part(scores: pd.DataFrame, name: str, no_data: pd.DataFrame | None = None):
    """The collapsed list of indicators without data (None when every indicator has one)."""
    missing = no_data if no_data is not None else from_scores(scores)
    if missing.empty:
        return None
    return no_data_list(missing, name,
                        caption="Indicators without any value are listed here once and "
                                "left out of the other tables of this report.")


def _reach_text(row) -> str:
    """When a target is reached at the recent trend, with its range, as the status says."""
    if pd.isna(row.value):
        return ""
    if row.status == "met":
        return "met"
    if pd.isna(row.year_reached):
        return "not at this trend" if row.status == "not on track" else ""
    lo = int(np.ceil(row.year + row.years_low - 1e-9))
    hi = (str(int(np.ceil(row.year + row.years_high - 1e-9))) if np.isfinite(row.years_high)
          else "never")
    return f"{int(row.year_reached)} ({lo} to {hi})"


def _caption(text: str) -> str:
    """A caption in italics; its text (peer labels and titles from params) shown literally."""
    return f"*{md_text(text)}*"


def _thin_note(min_n: int, *frames: pd.DataFrame) -> str:
    """A sentence on withheld percentiles, when a shown table has one ("" otherwise)."""
    for frame in frames:
        has_value = frame["score"].notna()
        if (has_value & frame["peer_percentile"].isna() & (frame["peer_n"] > 0)).any():
            return (f" A percentile needs at least {min_n} peers with a value; with fewer the "
                    "table says \u201ctoo few peers (n)\u201d, n being the peers that have one.")
    return ""


def _findings_parts(r: LandscapeReport) -> list[object]:
    t = r.landscape
    if not t.findings:
        return ["*No finding could be drawn from the available numbers.*"]
    # table and key are catalog and pillar ids; the text may quote params (peer labels)
    items = [f"{k}. {md_text(f.text)}  \n   <small>from `{f.table}.csv`, row `{f.key}`</small>"
             for k, f in enumerate(t.findings, 1)]
    return ["\n".join(items)]


def _pillars_parts(r: LandscapeReport) -> list[object]:
    t = r.landscape
    name = r.country_name
    thr = f"{100 * r.coverage_threshold:.0f}%"
    peer = t.peer_set or "no peer set"
    n_peers = t.peer_set_sizes.get(t.peer_set or "", 0)
    ps = t.pillar_scores
    scored = ps[ps["sufficient"]]
    insuff = ps[~ps["sufficient"]]
    above = scored[scored["score"] > scored["peer_median"]]
    msg = (f"Pillar scores of {name} (0-100) with data coverage beside each, and the "
           f"median, IQR and percentile of {peer} ({n_peers} economies). "
           f"{len(above)} of {len(scored)} scored pillar(s) are above the peer median")
    msg += (f"; {len(insuff)} show \u201cinsufficient data\u201d (coverage below {thr})."
            if len(insuff) else ".")
    msg += _thin_note(t.peer_min_n, ps, t.sub_pillar_scores)
    subs = t.sub_pillar_scores
    wheel_msg = (f"The wheel: each bar is a sub-pillar score of {name}; the dark outline "
                 f"is the {peer} median. A bar reaching past the outline is above peers; "
                 "grey hatched segments have insufficient data.")
    return [_caption(msg), _level_display(ps, ["pillar"]),
            _caption(wheel_msg), r.figures.wheel,
            _caption(f"Sub-pillar scores behind the wheel (coverage threshold {thr})."),
            _level_display(subs, ["pillar", "sub_pillar"])]


def _scores_parts(r: LandscapeReport) -> list[object]:
    t = r.landscape
    name = r.country_name
    start, end = r.window
    peer = t.peer_set or "no peer set"
    s = t.scores
    n_val = int((s["value"].notna() & ~s["stale"].astype(bool)).sum())
    n_stale = int(s["stale"].astype(bool).sum())
    stale_txt = (f"; {n_stale} have only a value older than {start} (shown, not scored)"
                 if n_stale else "")
    msg = (f"Every catalog indicator with a value: latest value within {start}-{end} and "
           f"its year, the 0-100 score, the {peer} median and {name}'s percentile among "
           "them, and the gap to the national target where params set one, else the UMC "
           f"target. {n_val} of {len(s)} indicators have a value{stale_txt}; the others "
           "are listed below the table.") + _thin_note(t.peer_min_n, s)
    table = _scores_display(s)
    table.attrs["summary"] = (f"{len(table)} indicators with a value: {n_val} scored"
                              + (f", {n_stale} older than {start}" if n_stale else "")
                              + " — show")
    return [_caption(msg), table, no_data_part(s, name, r.no_data)]


def _peers_parts(r: LandscapeReport) -> list[object]:
    t = r.landscape
    name = r.country_name
    peer = t.peer_set or "no peer set"
    s = t.scores
    has = s[s["peer_percentile"].notna()]
    above = int((has["peer_percentile"] > 50).sum())
    sizes = ", ".join(f"{k} ({v}" + (", headline)" if k == t.peer_set else ")")
                      for k, v in t.peer_set_sizes.items()) or "none"
    strip_msg = (f"Each row is an indicator: grey dots are {peer} economies, the red "
                 f"diamond is {name}, the black tick the peer median. {name} is above the "
                 f"median of this peer set on {above} of {len(has)} indicators.")
    pil = t.peer_stats[t.peer_stats["level"] == "pillar"]
    order = {label: k for k, label in enumerate(t.peer_set_sizes)}  # headline set first
    pil = pil.assign(_o=pil["peer_set"].map(order)).sort_values("_o", kind="stable")
    pil_tab = pd.DataFrame({
        "peer_set": pil["peer_set"],
        "pillar": pil["key"].map(label),
        "score": pil["score"].map(lambda v: _num(v) if pd.notna(v) else INSUFFICIENT),
        "Peers with a score": pil["peer_n"],
        "peer_median": pil["peer_median"].map(_num),
        "peer_iqr": [f"{_num(a)}-{_num(b)}" if pd.notna(a) else "n/a"
                     for a, b in zip(pil["peer_q25"], pil["peer_q75"], strict=True)],
        "percentile": [percentile_text(x, n, has_value=pd.notna(v)) for x, n, v in
                       zip(pil["peer_percentile"], pil["peer_n"], pil["score"], strict=True)],
    })
    return [_caption(f"Peer sets (economies, country excluded): {sizes}. Tables use the "
                     f"headline set, {peer}; peer_stats.csv has every set, per indicator, "
                     "sub-pillar and pillar."),
            _caption(strip_msg), r.figures.indicator_strips,
            _caption(f"{name}'s pillar scores against every peer set: percentile 50 is the "
                     "middle of the set." + _thin_note(t.peer_min_n, pil)), pil_tab]


def _trends_parts(r: LandscapeReport) -> list[object]:
    t = r.landscape
    start, end = r.window
    tr = t.trends[t.trends["n_points"].fillna(0) > 0]
    has = tr[tr["score_slope"].notna()]
    msg = (f"Recent trends within {start}-{end}: {len(has)} indicator(s) have at least 3 "
           "clean values (the last five values the data-quality screen does not flag, "
           "from the last break on). Solid line: observed; dashed: the Theil-Sen trend on "
           "the logit of a share or the log of a positive series, so it keeps the bounds; "
           "dotted red: the target.")
    if not has.empty:
        best = has.sort_values("score_slope").iloc[-1]
        msg += (f" Fastest improving: {best['name']} "
                f"({best['score_slope']:+.1f} score points a year).")
    tab = pd.DataFrame({
        "indicator": tr["name"], "n_points": tr["n_points"],
        "first_value": [f"{_val(v)} ({_year(y)})" for v, y in
                        zip(tr["first_value"], tr["first_year"], strict=True)],
        "last_value": [f"{_val(v)} ({_year(y)})" for v, y in
                       zip(tr["last_value"], tr["last_year"], strict=True)],
        "cagr_pct": tr["cagr_pct"].map(_val),
        "change_per_year": tr["slope"].map(_val),
        "trend_scale": tr["trend_scale"].fillna(""),
        "score_slope": tr["score_slope"].map(_val),
    })
    return [_caption(msg), r.figures.trends,
            _caption("Compound annual growth (first to last clean value), the trend's "
                     "change over its latest year in the indicator's unit, the scale it was "
                     "fitted on, and the change in score points a year."), tab]


def _targets_parts(r: LandscapeReport) -> list[object]:
    t = r.landscape
    tg = t.targets
    with_value = tg[tg["value"].notna()]
    no_value = tg["indicator"].nunique() - with_value["indicator"].nunique()
    counts = with_value["status"].value_counts()
    msg = (f"{len(with_value)} of {len(tg)} targets have a value: "
           f"{counts.get('met', 0)} met, {counts.get('on track', 0)} on track, "
           f"{counts.get('not on track', 0)} not on track, "
           f"{counts.get('no trend', 0)} without enough points for a trend. Bars show the "
           "progress made; backgrounds are the UMC bands (limited < 50 <= satisfactory < 75 "
           "<= advanced < 95 <= met).")
    shown = tg[tg["value"].notna()]
    tab = pd.DataFrame({
        "indicator": shown["indicator"].map(label), "target_kind": shown["target_kind"],
        "target": [f"{_val(v)} by {y}" for v, y in
                   zip(shown["target"], shown["target_year"], strict=True)],
        "value": [f"{_val(v)} ({int(y)})" for v, y in
                  zip(shown["value"], shown["year"], strict=True)],
        "gap_to_target": shown["gap_to_target"].map(_val),
        "band": shown["band"].fillna(""),
        "reached_by": [_reach_text(r) for r in shown.itertuples(index=False)],
        "status": shown["status"].fillna("no data"),
        "target_source": shown["target_source"],
    })
    if no_value:
        msg += (f" {no_value} target indicator(s) without data are left out (see the "
                "list under Indicators).")
    prov = tg[tg["provisional"].astype(bool)]
    note = (" National targets marked provisional in params are working assumptions, "
            "not official figures." if len(prov) else "")
    return [_caption(msg + note), r.figures.target_progress, tab]


def _quality_parts(r: LandscapeReport) -> list[object]:
    t = r.landscape
    name = r.country_name
    start, end = r.window
    q = t.quality
    rules = pd.DataFrame({"Data-quality flag": list(FLAG_RULES),
                          "rule": list(FLAG_RULES.values())})
    if q.empty:
        return [_caption(f"The data-quality screen flags no value of {name} in "
                         f"{start}-{end}. The rules it applies:"), rules]
    n_used = int(q["used_in_score"].sum())
    msg = (f"{len(q)} flag(s) on values of {name} in {start}-{end} (stale flags only for "
           f"values the tables show); {n_used} flagged value(s) still enter a score "
           "(jumps and breaks may be real). Outliers and imputed repeats are never used: "
           "the latest clean value stands in. Flagged values are left out of trends, "
           "target projections and findings.")
    tab = pd.DataFrame({
        "indicator": q["name"], "year": q["year"], "value": q["value"].map(_val),
        "Data-quality flag": q["flag"], "What the screen saw": q["note"],
        "used_in_score": q["used_in_score"].map({True: "yes", False: "no"}),
    })
    return [_caption(msg), tab, _caption("The rules:"), rules]


def _priorities_parts(r: LandscapeReport) -> list[object]:
    t = r.landscape
    name = r.country_name
    pr = t.priorities
    if pr.empty:
        return ["*No strategic priority in params.*"]
    names = dict(zip(t.scores["indicator"], t.scores["name"], strict=False))
    has_value = set(t.scores.loc[t.scores["value"].notna(), "indicator"])
    measured = []
    for rec in pr.itertuples():
        ids = [i for i in str(rec.indicators or "").split(", ") if i]
        with_data = [names.get(i, label(i)) for i in ids if i in has_value]
        n_without = len(ids) - len(with_data)
        text = ", ".join(with_data) + (f" (+{n_without} without data)" if n_without else "")
        measured.append(text if ids else f"not measured: {rec.measurement_note}")
    scores = []
    for rec in pr.itertuples():
        if rec.sufficient:
            scores.append(_num(rec.score))
        elif rec.n_total == 0:
            scores.append("not measured")
        elif rec.core_missing:
            scores.append(f"{INSUFFICIENT} (core missing: {rec.core_missing})")
        else:
            scores.append(INSUFFICIENT)
    tab = pd.DataFrame({
        "priority": pr["title"],
        "score": scores,
        "coverage": [f"{_pct(c)} ({n}/{m})" if m else "n/a" for c, n, m in
                     zip(pr["coverage"], pr["n_present"], pr["n_total"], strict=True)],
        "indicators": measured,
    })
    return [_caption(f"Strategic priorities of {name} scored like pillars: the weighted mean of "
                     "the scores of the indicators that measure each priority, shown only when "
                     f"at least {100 * r.coverage_threshold:.0f}% of them have a value and "
                     "the core indicators of their sub-pillars are present."), tab]


def _method_text(result: LandscapeReport) -> str:
    start, end = result.window
    thr = f"{100 * result.coverage_threshold:.0f}%"
    return "\n".join([
        "**How the numbers are made.**",
        f"- *Value*: each indicator's latest value within {start}-{end}. A value older than "
        f"{start} is shown with a note but never scored.",
        "- *Score*: 0-100 between the catalog goalposts (log10 scale where the catalog says "
        "so), clipped, reversed where lower is better.",
        "- *Sub-pillar and pillar scores*: weighted means (catalog weights) of the indicator "
        "scores present; a pillar averages its indicators directly, not its sub-pillars. "
        f"*Coverage* is the share of the catalog's indicators present; below {thr}, or when "
        "a core indicator is missing (ACCESS needs mobile coverage and a broadband price, "
        "ADOPTION Internet use; docs/indicators.md lists them all), the score is shown as "
        "*insufficient data*.",
        "- *Peers*: the headline set is named at the top of the report (by default the "
        "ITU-D region; for an economy that is not an ITU member, its World Bank region); the "
        "country excluded; median and IQR by linear "
        "interpolation; *percentile* = share of peers strictly worse plus half the ties "
        f"(100 = best), given only over at least {result.landscape.peer_min_n} peers with a value "
        "(\u201ctoo few peers (n)\u201d otherwise).",
        "- *Trends*: compound annual growth from the first to the last value in the window; "
        "Theil-Sen slope (median of pairwise slopes), at least 3 values.",
        "- *Targets*: gap = what is still to go; progress = value / target (target / value "
        "where lower is better), UMC bands limited < 50 <= satisfactory < 75 <= advanced < 95 "
        "<= met; years to target = gap / trend slope from the latest value, *not on track* "
        "when the trend is flat, moves away, or arrives after the target year.",
        f"- {md_text(result.source)}",
    ])


class LandscapeSections:
    """The sections of notebook 01, in reading order; each is computed when first shown.

    A section the analysis cannot fill (the country has no data, or a
    :class:`~p2c_research.errors.P2CError` while composing it) shows a plain
    message instead, so a report never ends in a traceback for a data problem.
    """

    def __init__(self, report: LandscapeReport) -> None:
        self._report = report

    def _section(self, title: str, parts: Callable[[LandscapeReport], list[object]]
                 ) -> Section:
        r = self._report
        if not r.ok:
            return Section(title, (_caption(f"Not available: {r.error}"),))
        try:
            return Section(title, tuple(parts(r)))
        except P2CError as exc:
            return Section(title, (_caption(f"Not available: {exc}"),))

    @cached_property
    def findings(self) -> Section:
        """Plain sentences drawn from the tables, each naming its table and row."""
        r = self._report
        if not r.ok:
            return Section("Key findings", (
                f"> **No landscape for {md_text(r.country_name)} ({r.iso3}).** "
                f"{md_text(r.error)}\n>\n"
                "> The tables are written with their headers and no rows; the wheel is "
                "all grey.",))
        return self._section("Key findings", _findings_parts)

    @cached_property
    def pillars(self) -> Section:
        """Pillar and sub-pillar scores against the headline peers, and the wheel."""
        return self._section("Pillar scores and the Digital Transformation Wheel",
                             _pillars_parts)

    @cached_property
    def scores(self) -> Section:
        """Every indicator with a value; those without are listed once, collapsed."""
        return self._section("Indicators", _scores_parts)

    @cached_property
    def peers(self) -> Section:
        """The country against each of its peer sets."""
        return self._section("Peers", _peers_parts)

    @cached_property
    def trends(self) -> Section:
        """Recent robust trends per indicator."""
        return self._section("Trends", _trends_parts)

    @cached_property
    def targets(self) -> Section:
        """Gaps to the UMC and national targets, and whether the trend reaches them."""
        return self._section("Targets", _targets_parts)

    @cached_property
    def priorities(self) -> Section:
        """The strategic priorities of params, scored like pillars."""
        return self._section("Strategic priorities", _priorities_parts)

    @cached_property
    def quality(self) -> Section:
        """What the data-quality screen flags, and its rules."""
        return self._section("Data quality", _quality_parts)

    @cached_property
    def method(self) -> Section:
        """How the numbers are made, and the data's source line."""
        return Section("Method and sources", (_method_text(self._report),))

    @property
    def files(self) -> Section:
        """The files :func:`save` wrote (read when shown, so it follows the latest save)."""
        r = self._report
        if not r.saved:
            return Section("Files written", ("*Nothing saved yet: call `save(report, out)` "
                                             "first.*",))
        return Section("Files written",
                       (files_markdown(r.saved, heading="Files written for this country:"),))
