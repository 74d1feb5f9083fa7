"""The pledge gap report (notebook 03): where need is high and pledges are thin.

This module reads the data and the caches, runs the pure analyses and hands
notebook 03 ready tables, figures and HTML. The all-country parts (world
scores, benchmark fits, the allocation of every pledge) are computed once per
data vintage and options and stored with :mod:`p2c_research.cache`, so a batch
of countries shares them; the per-country parts (classification against the
country's priorities, need/support/gap ranked among the country's peers,
matrix, priority totals, follow-through, action plan, the comparison with a
baseline) take a second or two.

With synthetic pledges every pledge figure, table caption and verdict says
"illustrative" (:data:`ILLUSTRATIVE`); with imported real pledges the labels go.

Pledge text (entity, description) and params text are untrusted input:
anything shown in the notebook goes through :func:`html_table`
(``to_html(escape=True)``) or :mod:`p2c_research.escaping`, never raw into
Markdown or HTML.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from p2c_research import countries, steps
from p2c_research.analyses import action_plan as ap
from p2c_research.analyses import gaps as gp
from p2c_research.analyses import pledge_gaps as pg
from p2c_research.analyses.allocation import (
    allocate_pledges,
    describe_rule,
    unresolved_targets,
)
from p2c_research.analyses.classification import (
    SPLIT_RULE,
    classify_pledges,
    label_weights,
    unmatched_pledges,
)
from p2c_research.analyses.coverage import NO_DATA_COLUMNS, indicators_without_data
from p2c_research.analyses.landscape import (
    WorldScores,
    country_landscape,
    priority_scores,
)
from p2c_research.analyses.scores import catalog_meta, latest_values
from p2c_research.analyses.verdicts import country_verdicts, world_verdicts
from p2c_research.attribution import licence_note, publishers_text
from p2c_research.cache import cache_key, cached_frames
from p2c_research.catalog import PILLAR_LABELS, SCORED_PILLARS
from p2c_research.datasets import load_geometries, load_panel, load_pledges
from p2c_research.errors import P2CError
from p2c_research.escaping import html_text, md_code, md_text
from p2c_research.figures import maps
from p2c_research.figures import pledges as pf
from p2c_research.figures.theme import apply_theme, title_text
from p2c_research.labels import label
from p2c_research.params import CountryParams, headline_peers, resolve_peer_sets
from p2c_research.render.layers import frame_digest, render_layered
from p2c_research.report_io import (
    RenderedImage,
    country_output_dir,
    output_relative,
    save_figure,
    save_table,
    saved_image,
)
from p2c_research.reports import compare_report as cr
from p2c_research.reports.tables import (
    COLLAPSE_LIST_ROWS,
    COLLAPSE_ROWS,
    HtmlTable,
    collapsed_list,
    render_table,
)
from p2c_research.store import atomic_path, read_provenance
from p2c_research.textfmt import sig

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from p2c_research.context import RunContext
    from p2c_research.datasets import DataSelection

log = logging.getLogger(__name__)

#: What every pledge figure, table caption and pledge-based verdict carries with synthetic pledges.
ILLUSTRATIVE = "Illustrative (synthetic pledges)"
ILLUSTRATIVE_LINE = "Illustrative: synthetic pledges, not real commitments"
PLEDGE_BASIS_SYNTHETIC = "synthetic pledges: illustrative, not real commitments"
PLEDGE_BASIS_IMPORTED = "imported P2C pledges"
PLEDGE_GAP_COLUMNS = ["priority_id", "pillar", "need", "pledge_usd", "pledge_count",
                      "gap_index", "flag"]
PLEDGE_GAP_EXTRA = ["level", "group_id", "title", "score", "under_share", "n_benchmarked",
                    "n_under", "need_basis", "usd_per_capita", "count_allocated", "need_pct",
                    "support_pct", "need_rank", "support_rank", "gap_rank", "n_ranked",
                    "need_class", "support_class", "below_floor", "peer_set",
                    "world_gap_index", "world_gap_rank", "world_n_ranked", "pledge_basis"]
PLEDGE_LIST_COLUMNS = ["pledge_id", "entity", "stakeholder_group", "focus_area", "pillar",
                       "pledge_type", "status", "end_date", "usd_value", "usd_allocated",
                       "basis", "n_targets", "description"]
CAPTIONS: dict[str, str] = {
    "pledge_gaps": "Need, pledge support and gap index for each strategic priority, each pillar "
                   "and the country as a whole; ranks are among the country's peers (ITU-D "
                   "region and income group); the world columns rank among all economies.",
    "action_plan": "One row per strategic priority; the rule that chose the step is written "
                   "beside it.",
    "action_plan_indicators": "Every indicator of each priority: baseline, target, gap, the "
                              "progress needed a year and the recent trend; 'lead' marks the "
                              "KPI.",
    "priority_pledge_matrix": "Pledges reaching the country that match each priority, by "
                              "declared pillar and stakeholder group (a pledge serving two "
                              "priorities counts in both rows); USD is split across the "
                              "priorities a pledge serves, so with the unmatched row it adds up "
                              "to the total.",
    "priority_totals": "What each priority receives once a pledge serving several priorities "
                       "is split between them; the rows add up to the total.",
    "follow_through": "Self-reported implementation status of the pledges reaching the country.",
    "stale_pledges": "Pledges past their end date that are not completed.",
    "pledges_reaching": "Pledges reaching the country, largest allocated value first "
                        "(usd_allocated is this country's share).",
    "unmatched_pledges": "Pledges reaching the country that match no strategic priority: map "
                         "them by hand or extend the priorities' keywords.",
    "league_table": "Economies by gap index, largest first: high need, low pledge support.",
    "small_states_not_drawn": "Economies with data that have no shape at 1:110m (not on the "
                              "maps).",
    "unresolved_targets": "Pledge targets that are neither economies nor known regions.",
}
TABLE_NAMES = ("pledge_gaps", "action_plan", "action_plan_indicators", "priority_pledge_matrix",
               "priority_totals", "follow_through", "league_table", "unmatched_pledges",
               "stale_pledges", "pledges_reaching", "small_states_not_drawn",
               "unresolved_targets")
#: Columns holding verdicts drawn from pledges (labelled illustrative on screen).
VERDICT_COLUMNS = ("flag", "step")


def table_caption(name: str, synthetic: bool) -> str:
    """A table's caption, starting with :data:`ILLUSTRATIVE` when the pledges are synthetic."""
    text = CAPTIONS.get(name, "")
    return f"{ILLUSTRATIVE}. {text}" if synthetic else text


def figure_title(title: str, synthetic: bool) -> str:
    """A pledge figure's title (and so its alt text), with a second line when pledges are synthetic."""
    return f"{title}\n{ILLUSTRATIVE_LINE}" if synthetic else title


# --------------------------------------------------------------------------- HTML safety
def _usd_m(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for col in columns:
        if col in out.columns:
            out[f"{col}_m"] = out[col] / 1e6
    return out


def display_view(name: str, frame: pd.DataFrame, *, synthetic: bool = False) -> pd.DataFrame:
    """The columns of a table worth reading on screen (USD in millions); the CSV keeps all.

    With synthetic pledges the verdicts drawn from them (flags, steps) read
    "... (illustrative)".
    """
    usd = ["pledge_usd", "usd_allocated", "usd_value", "usd_self_reported", "usd_split",
           "usd_if_counted_whole"]
    views: dict[str, list[str]] = {
        "pledge_gaps": ["level", "priority_id", "title", "pillar", "score", "need", "need_basis",
                        "pledge_usd_m", "usd_per_capita", "below_floor", "pledge_count",
                        "need_rank", "support_rank", "gap_index", "gap_rank", "n_ranked",
                        "world_gap_rank", "flag"],
        "action_plan": ["priority_id", "title", "step", "lead_name", "baseline_value",
                        "baseline_year", "target_value", "target_year", "target_kind",
                        "pledge_count", "pledge_usd_m", "flag", "review_date"],
        "action_plan_indicators": ["priority_id", "name", "unit", "lead", "baseline_value",
                                   "baseline_year", "target_value", "target_year",
                                   "target_kind", "gap", "needed_per_year", "trend_per_year",
                                   "pace", "quality"],
        "league_table": ["gap_rank", "iso3", "name", "wb_region", "income_group", "ldc",
                         "need", "need_rank", "usd_per_capita", "support_rank",
                         "pledge_count", "gap_index", "flag"],
        "priority_pledge_matrix": [c for c in frame.columns if c != "usd_allocated"]
                                  + ["usd_allocated_m"],
        "priority_totals": ["priority_id", "title", "pledges", "pledges_shared", "usd_split_m",
                            "usd_if_counted_whole_m", "share_of_total"],
        "follow_through": ["priority_id", "completed", "in_progress", "not_started",
                           "not_reported", "pledges", "stale", "usd_allocated_m",
                           "share_value_self_reported", "as_of"],
        "pledges_reaching": ["pledge_id", "entity", "stakeholder_group", "pillar", "status",
                             "end_date", "usd_value_m", "usd_allocated_m", "basis",
                             "description"],
        "stale_pledges": ["pledge_id", "entity", "stakeholder_group", "pillar", "status",
                          "end_date", "usd_allocated_m", "description"],
        "unmatched_pledges": ["pledge_id", "entity", "stakeholder_group", "focus_area",
                              "pillar", "usd_allocated_m", "description"],
    }
    out = frame
    if synthetic:
        out = out.assign(**{c: out[c].map(_illustrative) for c in VERDICT_COLUMNS
                            if c in out.columns})
    if name not in views:
        return out
    out = _usd_m(out, usd)
    return out[[c for c in views[name] if c in out.columns]]


#: Pledge vocabulary columns whose values are ids with a label (stakeholder groups ...).
_VOCABULARY_COLUMNS = ("stakeholder_group", "focus_area", "status", "level")
_PRIORITY_ROWS = {pg.ALL_ROW: "All pledges reaching the country",
                  pg.UNMATCHED_ROW: "Unmatched (no priority)"}


def _pillars_text(value: object) -> object:
    """``infrastructure;affordability`` as "Infrastructure, Affordability"; ALL as all pillars."""
    if pd.isna(value):  # type: ignore[arg-type]
        return value
    if value == "ALL":
        return "All pillars"
    return ", ".join(label(p) for p in str(value).split(";") if p)


def readable_view(view: pd.DataFrame, priority_titles: dict[str, str]) -> pd.DataFrame:
    """A display view with its ids in words, for the page (the CSV keeps the ids).

    Priority ids become the priorities' titles from params (the column is
    dropped where the view already has the title), pillar and sub-pillar ids
    their catalog labels, stakeholder groups, focus areas and statuses their
    labels; matrix columns such as ``pillar: ict_sector_and_trade`` read
    "Pillar: ICT sector and trade".
    """
    out = view.copy()
    if "priority_id" in out.columns:
        if "title" in out.columns:
            out["title"] = out["title"].where(out["title"].notna(), out["priority_id"])
            out = out.drop(columns="priority_id")
        else:
            titles = {**_PRIORITY_ROWS, **priority_titles}
            out["priority_id"] = out["priority_id"].map(lambda p: titles.get(p, p))
    if "pillar" in out.columns:
        out["pillar"] = out["pillar"].map(_pillars_text)
    for col in _VOCABULARY_COLUMNS:
        if col in out.columns:
            out[col] = out[col].map(lambda v: label(v) if isinstance(v, str) else v)
    if "name" in out.columns and "indicator" not in out.columns and "iso3" not in out.columns:
        out = out.rename(columns={"name": "indicator"})
    renamed = {}
    for col in out.columns:
        kind, sep, rest = str(col).partition(": ")
        if sep and kind in ("pillar", "stakeholder"):
            renamed[col] = f"{kind.capitalize()}: {label(rest)}"
    return out.rename(columns=renamed)


def _illustrative(verdict: object) -> object:
    """A verdict drawn from synthetic pledges, marked so; "validate data" rests on no pledge."""
    if pd.isna(verdict) or verdict in (ap.STEP_VALIDATE, gp.FLAG_NO_DATA):  # type: ignore[arg-type]
        return verdict
    return f"{verdict} (illustrative)"


def html_table(frame: pd.DataFrame, *, max_rows: int | None = None, float_format: str = "{:,.2f}",
               caption: str = "") -> str:
    """An HTML table with every cell escaped (pledge text is untrusted)."""
    shown = frame if max_rows is None else frame.head(max_rows)
    # Nullable integers print as "<NA>"; show missing ranks like other missing values.
    shown = shown.assign(**{
        c: shown[c].map(lambda v: "–" if pd.isna(v) else str(int(v))).astype(str)
        for c in shown.columns if isinstance(shown[c].dtype, pd.Int64Dtype)})

    def fmt(value: Any) -> str:
        return float_format.format(value)

    text = shown.to_html(index=False, escape=True, na_rep="–", float_format=fmt, border=0,
                         classes="p2c-table")
    if caption:
        text = f"<p><em>{html_text(caption)}</em></p>\n{text}"
    if max_rows is not None and len(frame) > max_rows:
        text += f"<p><em>First {max_rows} of {len(frame)} rows; the CSV has them all.</em></p>"
    return text


def escape_md(text: object) -> str:
    """Text for a Markdown cell, shown literally (:func:`p2c_research.escaping.md_text`)."""
    return md_text(text)


def _money(value: float) -> str:
    return "n/a" if pd.isna(value) else f"USD {value / 1e6:,.1f}m"


def plan_html(plan: pd.DataFrame, synthetic: bool) -> str:
    """The action plan as a readable block per priority (every cell escaped)."""
    esc = html_text
    parts = []
    if synthetic:
        parts.append(f"<p><strong>{esc(ILLUSTRATIVE)}</strong>: the pledges, support and "
                     "steps below come from synthetic pledges; the indicators, targets and "
                     "trends are real data.</p>")
    for r in plan.to_dict("records"):
        row = pd.Series(r)
        step = _illustrative(r["step"]) if synthetic else r["step"]
        if pd.notna(r.get("lead_indicator")):
            baseline = (f"{ap._number(r['baseline_value'])} in {int(r['baseline_year'])}; "
                        f"target {ap._number(r['target_value'])} by {int(r['target_year'])} "
                        f"({r['target_kind']}: {r['target_source']})")
            pace = ap.pace_text(row)
            gap = f"gap {ap._number(r['gap'])} {r['unit']}"
        else:
            baseline, pace, gap = "no current value", "no baseline to measure progress from", ""
        money = (_money(r["pledge_usd"]) if pd.notna(r["pledge_usd"]) else "no USD value")
        support = (f"{r['pledge_count']} pledge(s), {money} to this priority "
                   f"(USD {r['usd_per_capita']:,.2f} per person"
                   + (", below the floor" if r["below_floor"] else "")
                   + "); need against support: "
                   + f"{_illustrative(r['flag']) if synthetic else r['flag']}."
                   if pd.notna(r.get("usd_per_capita")) else
                   f"{r['pledge_count']} pledge(s), {money} to this priority.")
        items = [
            ("Measured by", r["indicators"] or f"no open indicator. {r['measurement_note']}"),
            ("Lead indicator", f"{r['lead_name']} ({r['unit']})"
             if pd.notna(r.get("lead_name")) else "none"),
            ("Baseline and target", baseline),
            ("Gap and pace", f"{gap}; {pace}" if gap else pace),
            ("Against income", r.get("benchmark_status", "")),
            ("Support", support),
            ("Pledges", f"{r['pledges']}" + (f". Status: {r['statuses']}" if r["statuses"]
                                            else "")),
            ("Why this step", r["rule"]),
            ("KPI", r["kpi"]),
            ("Review", f"by {r['review_date']}"),
        ]
        lis = "".join(f"<li><strong>{esc(k)}:</strong> {esc(str(v))}</li>" for k, v in items)
        parts.append(f"<h3>{esc(r['title'])}: {esc(step)}</h3><ul>{lis}</ul>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- the result
@dataclass
class PledgeGapReport:
    """Everything notebook 03 shows and saves for one country."""

    iso3: str
    name: str
    rule: str
    as_of: date
    as_of_reason: str
    benchmark_available: bool
    tables: dict[str, pd.DataFrame]
    world: pd.DataFrame  # gap_index rows of every economy, all levels
    priorities_without_pledges: list[str]
    map_region: tuple[str, list[str]]
    not_drawn: list[str]
    source_line: str
    notes: list[str] = field(default_factory=list)
    synthetic: bool = True
    peer_label: str = ""
    since_last: cr.SinceLast | None = None
    no_data: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NO_DATA_COLUMNS))

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    @property
    def priority_titles(self) -> dict[str, str]:
        """Priority id -> its title in params (from the pledge_gaps table)."""
        gaps = self.tables["pledge_gaps"]
        rows = gaps[gaps["level"] == "priority"]
        return dict(zip(rows["priority_id"], rows["title"], strict=True))

    def _shown(self, name: str, frame: pd.DataFrame) -> pd.DataFrame:
        view = display_view(name, frame, synthetic=self.synthetic)
        if name == "action_plan_indicators" and "indicator" in frame.columns:
            view = view[~frame.loc[view.index, "indicator"].isin(
                set(self.no_data["indicator"]))]
        shown = readable_view(view, self.priority_titles)
        if "iso3" in shown.columns and "name" in shown.columns:
            shown = shown.rename(columns={"name": "country"})
        if "title" in shown.columns:
            shown = shown.rename(columns={"title": "Priority or pillar" if name == "pledge_gaps"
                                          else "priority"})
        return shown

    def _summary(self, name: str, frame: pd.DataFrame) -> str | None:
        """The line a collapsed table shows (None: the renderer's "<n> rows")."""
        if name in ("pledges_reaching", "unmatched_pledges", "stale_pledges"):
            usd = frame["usd_allocated"].sum() if "usd_allocated" in frame else float("nan")
            what = {"pledges_reaching": "pledges", "unmatched_pledges": "unmatched pledges",
                    "stale_pledges": "stale pledges"}[name]
            return (f"{len(frame)} {what}, USD {sig(usd / 1e9)} bn allocated to "
                    f"{self.name} in all \u2014 show")
        if name == "action_plan_indicators":
            return (f"{len(frame)} indicators with data behind the {len(self.priority_titles)} "
                    "priorities: baseline, target, pace \u2014 show")
        if name == "small_states_not_drawn":
            return f"{len(frame)} economies too small for the maps \u2014 show"
        return None

    def html(self, name: str, max_rows: int | None = None, caption: str | None = None
             ) -> HtmlTable:
        """The named table as the report shows it (labels, escaped; pledge text is untrusted).

        Long tables are folded into ``<details>`` with a summary line; ``max_rows``
        shows only the first rows.
        """
        text = table_caption(name, self.synthetic) if caption is None else caption
        frame = self.tables[name]
        shown = self._shown(name, frame)
        # Lists to look things up in (pledges, the indicators behind the plan) fold sooner.
        is_list = name in ("pledges_reaching", "unmatched_pledges", "stale_pledges",
                           "action_plan_indicators", "small_states_not_drawn")
        return render_table(shown, caption=text, max_rows=max_rows,
                            summary=self._summary(name, frame.loc[shown.index]),
                            collapse_rows=COLLAPSE_LIST_ROWS if is_list else COLLAPSE_ROWS)

    def no_data_html(self) -> HtmlTable:
        """The indicators without data for the country, listed once with the reason."""
        nd = self.no_data
        if nd.empty:
            return HtmlTable(html="", n_rows=0, collapsed=False)
        table = pd.DataFrame({"indicator": nd["name"], "sub_pillar": nd["sub_pillar"].map(label),
                              "reason": nd["reason"]})
        return collapsed_list(
            f"{len(table)} indicator(s) without data for {self.name}, with the reason "
            "\u2014 show", table,
            caption=(f"{ILLUSTRATIVE}. " if self.synthetic else "")
            + "Indicators without any value are listed here once and left out of the tables "
              "of this report; a priority they measure asks to validate data.")

    def plan_html(self):
        """The action plan as a readable plan per priority, for ``display``."""
        from IPython.display import HTML

        return HTML(plan_html(self.tables["action_plan"], self.synthetic))

    def since_last_html(self):
        """The "Since the last assessment" section, or nothing without a baseline."""
        from IPython.display import HTML

        return HTML(self.since_last.html() if self.since_last is not None else "")

    def league_html(self, top: int = 25) -> HtmlTable:
        """The top of the league table, plus the country's own row when it is further down."""
        league = self.tables["league_table"]
        shown = league.head(top)
        own = league[league["iso3"] == self.iso3]
        if not own.empty and own.index[0] >= top:
            shown = pd.concat([shown, own])
        text = (f"{table_caption('league_table', self.synthetic)} Top {top} of {len(league)} economies"
                + (f", then {self.iso3}." if len(shown) > top else "."))
        return render_table(self._shown("league_table", shown), caption=text,
                            summary=f"Top {top} of {len(league)} economies by gap index "
                                    "\u2014 show", collapse_rows=COLLAPSE_LIST_ROWS)

    def method_markdown(self) -> str:
        """The rules behind the numbers, for the reader (no pledge text inside)."""
        bench = ("benchmark classes from each indicator's preferred model (logit for shares, "
                 "log for log-scaled indicators, else OLS on ln GDP per capita), 'under' "
                 "meaning below its prediction interval" if self.benchmark_available else
                 "**no benchmark results were available: need is 100 minus the score alone**")
        lines = [
            "### How to read this report",
            f"- **Allocation.** {escape_md(describe_rule(self.rule))}",
            "- **Classification.** A pledge is mapped to a priority when its declared pillar is "
            "one of the priority's sub-pillars (or, for cross-cutting pillars and priorities "
            "without sub-pillars, its focus area is one of the priority's pillars), or when one "
            "of the priority's keywords starts a word in the pledge's entity or description "
            "(case-insensitive; acronyms in capitals match as whole words). Pledges matching "
            "no priority are listed below.",
            f"- **No double counting.** {escape_md(SPLIT_RULE)}",
            f"- **Need.** {escape_md(gp.NEED_FORMULA)}; {bench}.",
            f"- **Gap index and support.** {escape_md(gp.GAP_FORMULA)}. The country's ranks "
            f"are among its peers, {escape_md(self.peer_label)}; the world columns and the "
            "maps rank every economy. Flags use terciles of the percentile ranks, and "
            f"{escape_md(gp.SUPPORT_FLOOR_RULE)}.",
            f"- **Stale pledges**: end date before {self.as_of.isoformat()} "
            f"({escape_md(self.as_of_reason)}) and not completed.",
            "- **Action plan steps** (the first rule that applies): "
            + "; ".join(escape_md(f"{r.label} -> {r.step}") for r in ap.STEP_RULES) + ".",
        ]
        if self.synthetic:
            lines.insert(1, f"- **{ILLUSTRATIVE}.** Every pledge figure, table and verdict "
                         "below rests on synthetic pledges: read them as a demonstration of "
                         "the method, not as findings about real commitments.")
        return "\n".join(lines)

    def summary_markdown(self) -> str:
        """Headline numbers for the country (ids and numbers only, escaped)."""
        reach = self.tables["pledges_reaching"]
        by_basis = reach["basis"].value_counts()
        follow = self.tables["follow_through"].set_index("priority_id").loc[pg.ALL_ROW]
        country_row = self.tables["pledge_gaps"]
        overall = country_row[country_row["level"] == "country"].iloc[0]
        share = follow["share_value_self_reported"]
        titles = self.priority_titles
        missing = ", ".join(md_text(titles.get(p, p)) for p in self.priorities_without_pledges)
        n_unmatched = len(self.tables["unmatched_pledges"])
        label = " (illustrative)" if self.synthetic else ""
        lines = [
            *([f"**{ILLUSTRATIVE}: the pledges below are not real commitments.**", ""]
              if self.synthetic else []),
            f"**{len(reach)} pledges reach {escape_md(self.name)}** "
            f"({', '.join(f'{n} via {escape_md(b)}' for b, n in by_basis.items())}); "
            f"USD {reach['usd_allocated'].sum() / 1e6:,.1f} m allocated to it under the "
            f"{md_code(self.rule)} rule "
            f"({int(reach['usd_allocated'].isna().sum())} pledges have no USD value and count "
            "by number only).",
            "",
            f"Overall need {overall['need']:.1f} (rank {overall['need_rank']} of "
            f"{overall['n_ranked']} peers), pledge support USD {overall['usd_per_capita']:,.2f} "
            f"per person (rank {overall['support_rank']}, 1 = least), gap index "
            f"{overall['gap_index']:.0f} (rank {overall['gap_rank']}): "
            f"**{escape_md(overall['flag'])}{label}**." if pd.notna(overall["gap_index"]) else
            "Overall need could not be computed (insufficient data).",
            "",
            "Priorities with no pledge at all: " + (missing or "none") + ".",
            "",
            f"{n_unmatched} pledge(s) reaching the country match no priority (listed under "
            "'Pledges reaching the country').",
            "",
            f"Follow-through: {follow['completed']} completed, {follow['in_progress']} in "
            f"progress, {follow['not_started']} not started, {follow['not_reported']} not "
            f"reported; {follow['stale']} stale. Share of pledged value self-reported: "
            + (f"{share:.0%}." if pd.notna(share) else "n/a (no valued pledge)."),
        ]
        if self.notes:
            lines += ["", *[f"> {escape_md(n)}" for n in self.notes]]
        return "\n".join(lines)


def _population(panel: pd.DataFrame, window: tuple[int, int]) -> pd.Series:
    """Latest population per economy within the window (older if none), persons."""
    pop = latest_values(panel, ["population"], window)
    return pop.set_index("iso3")["value"].astype(float)


def _verdicts(ctx: RunContext) -> pd.DataFrame | None:
    """Every economy's verdicts (the same cached fits and engine as notebook 02), or None."""
    try:
        results = ctx.benchmark()
    except P2CError as exc:  # e.g. a panel without GDP: report the score-only need
        log.warning("benchmark unavailable (%s); need uses the score only", exc)
        return None
    return world_verdicts(results)


_world_gaps_memo: dict[str, tuple[pd.DataFrame, ...]] = {}


def _world_gaps(key: str, compute: Callable[[], tuple[pd.DataFrame, ...]]
                ) -> tuple[pd.DataFrame, ...]:
    """``(labels, world_gaps, under)`` for ``key``, computed once per process.

    Every country of a batch with the default priorities shares them; the
    frames handed out are copy-on-write copies, so callers cannot alter the memo.
    """
    if key not in _world_gaps_memo:
        if len(_world_gaps_memo) >= 8:
            _world_gaps_memo.pop(next(iter(_world_gaps_memo)))
        _world_gaps_memo[key] = compute()
    return tuple(frame.copy(deep=False) for frame in _world_gaps_memo[key])


def _compute_world_gaps(ctx: RunContext, pledges: pd.DataFrame, priorities: list,
                        world: WorldScores, verdicts: pd.DataFrame | None,
                        allocation: pd.DataFrame, population: pd.Series,
                        economies: pd.DataFrame, group_index: pd.DataFrame
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pledge labels; need, support and gap index of every economy; the 'under' shares."""
    labels = label_weights(classify_pledges(pledges, priorities))
    membership = gp.indicator_membership(ctx.catalog, priorities)
    under = gp.under_shares(verdicts, membership)
    prio = priority_scores(world, priorities)
    prio_scores = prio.rename(columns={"priority_id": "group_id"}).assign(level="priority")
    scores = pd.concat([prio_scores[["iso3", "level", "group_id", "score"]],
                        _pillar_and_country_scores(world)], ignore_index=True)
    need = gp.need_scores(scores, under)
    groups = gp.pledge_groups(pledges, labels)
    support = gp.support_by_group(allocation, groups, population, list(economies["iso3"]),
                                  group_index=group_index)
    world_gaps = gp.gap_index(need, support)
    return labels, world_gaps[world_gaps["iso3"].isin(set(economies["iso3"]))], under


def _pillar_and_country_scores(world: WorldScores) -> pd.DataFrame:
    """Pillar scores and the country-level mean, in the long ``level, group_id`` shape."""
    pillars = world.pillars[["iso3", "pillar", "score"]]
    part = pillars.rename(columns={"pillar": "group_id"}).assign(level="pillar")
    overall = gp.overall_scores(pillars)[["iso3", "level", "group_id", "score"]]
    return pd.concat([part[["iso3", "level", "group_id", "score"]], overall],
                     ignore_index=True)


def world_allocation(ctx: RunContext, rule: str | None = None) -> dict[str, pd.DataFrame]:
    """Every pledge allocated to economies under ``rule`` (default: the params' rule), cached.

    A declared step (:data:`p2c_research.steps.ALLOCATION`): the key is the
    data vintage, the rule, the scoring and benchmark options and the catalog
    (they feed the ``need`` rule), the country reference (it resolves pledge
    targets) and the hash of the step's code. Returns frames ``allocation``
    and ``unresolved``.
    """
    params = ctx.params
    rule = rule or params.analysis.allocation_rule
    window = (params.year_window.start, params.year_window.end)
    threshold = params.analysis.coverage_threshold
    # The scoring and benchmark options feed the ``need`` rule only, but are cheap to key on.
    key = steps.ALLOCATION.key(
        vintage=ctx.selection.fingerprint(), rule=rule, window=list(window),
        coverage_threshold=threshold, catalog=steps.catalog_hash(ctx.catalog),
        reference=steps.reference_hash(), reference_year=params.reference_year,
        pi_level=params.analysis.prediction_interval,
        frontier_q=params.analysis.frontier_quantile)

    def compute() -> dict[str, pd.DataFrame]:
        pledges = load_pledges(ctx.selection)
        economies = countries.load_countries()
        panel = load_panel(ctx.selection)
        population = _population(panel, window)
        need = None
        if rule == "need":
            world = steps.params_scores(ctx.selection, ctx.catalog, ctx.params)
            membership = gp.indicator_membership(ctx.catalog, [])
            under = gp.under_shares(_verdicts(ctx), membership)
            needs = gp.need_scores(_pillar_and_country_scores(world), under)
            overall = needs[needs["level"] == "country"].set_index("iso3")["need"]
            need = overall.dropna()
        allocation = allocate_pledges(pledges, economies, rule, population=population, need=need)
        unresolved = unresolved_targets(pledges, economies["iso3"])
        return {"allocation": allocation, "unresolved": unresolved}

    return cached_frames(steps.ALLOCATION.name, key, compute)


def _map_region(params: CountryParams) -> tuple[str, list[str]]:
    """The regional map: the headline peer set of all three reports, plus the country.

    That is the ITU-D region (``params.headline_peers``); an economy that is
    not an ITU member, or whose params switch every peer set off, gets its
    World Bank region.
    """
    headline = headline_peers(params)
    if headline.label is not None:
        return headline.region_name, sorted({*headline.members, params.country})
    region = countries.load_countries().set_index("iso3").at[params.country, "wb_region"]
    return f"{region} (World Bank region)", countries.group_members(region)


def status_date(selection: DataSelection, today: date | None = None) -> tuple[date, str]:
    """The date that statuses were reported at, which decides which pledges are stale.

    Self-reported statuses are a snapshot: judging a pledge stale after that
    date would blame it for a report that was never asked for. The date is the
    pledge file's ``snapshot`` (its month end) when the provenance gives one,
    else the day it was retrieved, never later than today.
    """
    today = today or date.today()
    prov = read_provenance(selection.pledges_path)
    snapshot = str((prov.get("parameters") or {}).get("snapshot", ""))
    try:
        if snapshot:
            month_end = pd.Period(snapshot, freq="M").end_time.date()
            return min(month_end, today), f"the status snapshot of the pledge file ({snapshot})"
        retrieved = str(prov.get("retrieved_at", ""))[:10]
        if retrieved:
            return (min(date.fromisoformat(retrieved), today),
                    "the date the pledge file was retrieved")
    except ValueError:
        log.warning("unreadable snapshot/retrieved date in %s provenance", selection.pledges_path)
    return today, "today (the pledge file states no status date)"


def _source_line(ctx: RunContext) -> str:
    p = ctx.params
    pledges = ("SYNTHETIC pledges (seeded, calibrated to P2C totals of Dec 2023)"
               if ctx.selection.pledges_synthetic else "P2C pledges (imported export)")
    shown = ctx.panel["source"].astype(str).unique()
    data = publishers_text(shown) or "the indicator panel"
    return (f"Source: {pledges}; scores and benchmarks from {data}, latest values "
            f"{p.year_window.start}-{p.year_window.end}; p2c-research analysis, reference year "
            f"{p.reference_year}.{licence_note(shown)}")


def pledge_peers(params: CountryParams) -> tuple[str, list[str]]:
    """The peer set the country's pledge verdicts rank it in: ITU-D region plus income group.

    The headline peers of every report (the ITU-D region, or a non-member's
    World Bank region) joined with the World Bank income group, the country
    included. Returns a label for the reader and the ISO3 codes.
    """
    headline = headline_peers(params)
    ref = countries.load_countries().set_index("iso3")
    income = ref.at[params.country, "income_group"]
    members = set(headline.members) | {params.country}
    parts = [headline.region_name] if headline.label else []
    if isinstance(income, str) and income:
        members |= set(countries.group_members(income))
        parts.append(f"{income} (World Bank)")
    return " plus ".join(parts) + f", {len(members)} economies", sorted(members)


def _landscape(ctx: RunContext, world: WorldScores):
    """The country's landscape tables (scores, trends, targets) for the action plan, or None."""
    params = ctx.params
    peer_sets = resolve_peer_sets(params)
    try:
        return country_landscape(
            world, ctx.screened_panel, ctx.iso3, peer_sets,
            national_targets=params.national_targets, priorities=params.strategic_priorities,
            primary_peer_set=headline_peers(params, peer_sets).label,
            country_name=params.country_name, peer_min_n=params.analysis.peer_min_n)
    except P2CError as exc:  # e.g. no value at all: every priority then asks for data
        log.warning("no landscape for %s (%s); the action plan asks to validate data",
                    ctx.iso3, exc)
        return None


def _plan_tables(ctx: RunContext, world: WorldScores, priority_gaps: pd.DataFrame,
                 reaching: pd.DataFrame, labels: pd.DataFrame, as_of: date,
                 made: date) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """The action plan, its indicator rows and the landscape tables they rest on."""
    params = ctx.params
    meta = catalog_meta(ctx.catalog)
    land = _landscape(ctx, world)
    bounded = meta.loc[meta["bounded_share"].astype(bool), "indicator"].tolist()
    if land is not None:
        targets = ap.indicator_targets(ctx.iso3, land.scores, land.trends, land.targets, meta,
                                       bounded)
        quality = land.quality
    else:
        targets = pd.DataFrame(columns=["indicator", "year", "value", "target", "target_year",
                                        "target_kind", "target_source", "gap_to_target",
                                        "progress", "needed_per_year", "trend_per_year",
                                        "status", "year_reached"])
        quality = None
    indicators = ap.priority_indicators(
        params.strategic_priorities.items, meta, land.scores if land is not None else None,
        targets, ctx.catalog.key_indicators(), params.reference_year, quality)
    plan = ap.action_plan(params.strategic_priorities.items, indicators, priority_gaps,
                          reaching, labels, pg.stale_mask(reaching, as_of), made)
    return plan, indicators, land


def _current_tables(ctx: RunContext, land: Any, pledge_gaps: pd.DataFrame,
                    reaching: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """This run's tables in the shapes the comparison reads (as notebooks 01-03 write them)."""
    tables = {"pledges_reaching": reaching, "pledge_gaps": pledge_gaps}
    if land is not None:
        tables["landscape_scores"] = land.scores
        tables["targets"] = land.targets
    try:
        tables["verdicts"] = country_verdicts(ctx.benchmark(), ctx.iso3, ctx.catalog,
                                              ctx.screened_panel)
    except P2CError as exc:
        log.warning("no verdicts to compare for %s (%s)", ctx.iso3, exc)
    return tables


# --------------------------------------------------------------------------- one country
def build_pledge_report(ctx: RunContext, *, as_of: date | None = None,
                        made: date | None = None) -> PledgeGapReport:
    """Run the pledge gap analysis for the context's country.

    Args:
        ctx: the run context (params, data selection, catalog, output folder).
        as_of: the date that decides which pledges are stale (default:
            :func:`status_date` of the pledge file).
        made: the date the action plan is made, from which its review dates
            count (default: today).
    """
    params = ctx.params
    iso3 = ctx.iso3
    if as_of is None:
        as_of, as_of_reason = status_date(ctx.selection)
    else:
        as_of_reason = "given by the caller"
    made = made or date.today()
    synthetic = ctx.selection.pledges_synthetic
    priorities = list(params.strategic_priorities.items)
    window = (params.year_window.start, params.year_window.end)
    rule = params.analysis.allocation_rule
    notes: list[str] = []

    pledges = load_pledges(ctx.selection)
    pledges = pledges.assign(pledge_id=pledges["pledge_id"].astype(str))
    economies = countries.load_countries()
    panel = load_panel(ctx.selection)
    population = _population(panel, window)
    world = steps.params_scores(ctx.selection, ctx.catalog, params)
    verdicts = _verdicts(ctx)
    if verdicts is None:
        notes.append("No benchmark results: need is 100 minus the landscape score alone.")
    alloc_frames = world_allocation(ctx, rule)
    allocation = alloc_frames["allocation"]

    # Need, support and the gap index for every economy (shared by every country
    # with the same priorities and options: memoised in-process, see _world_gaps).
    group_index = pd.DataFrame(
        [("priority", p.id) for p in priorities]
        + [("pillar", p) for p in SCORED_PILLARS] + [("country", gp.COUNTRY_GROUP)],
        columns=["level", "group_id"])
    memo_key = cache_key(
        vintage=ctx.selection.fingerprint(), rule=rule, window=list(window),
        threshold=params.analysis.coverage_threshold,
        pi_level=params.analysis.prediction_interval,
        frontier_q=params.analysis.frontier_quantile,
        priorities=[p.model_dump(mode="json") for p in priorities],
        catalog=hashlib.sha256(ctx.catalog.model_dump_json().encode()).hexdigest())
    labels, world_gaps, under = _world_gaps(
        memo_key, lambda: _compute_world_gaps(ctx, pledges, priorities, world, verdicts,
                                              allocation, population, economies, group_index))

    # The country's rows, ranked among its peers (the world ranks kept beside them).
    peer_label, peers = pledge_peers(params)
    ranked = gp.rank_among(world_gaps, peers)
    mine = ranked[ranked["iso3"] == iso3].copy()
    world_rows = world_gaps[world_gaps["iso3"] == iso3].set_index(["level", "group_id"])
    keys = pd.MultiIndex.from_frame(mine[["level", "group_id"]])
    mine["world_gap_index"] = world_rows["gap_index"].reindex(keys).to_numpy()
    mine["world_gap_rank"] = world_rows["gap_rank"].reindex(keys).to_numpy()
    mine["world_n_ranked"] = world_rows["n_ranked"].reindex(keys).to_numpy()
    mine["peer_set"] = peer_label
    mine["pledge_basis"] = PLEDGE_BASIS_SYNTHETIC if synthetic else PLEDGE_BASIS_IMPORTED
    titles = {p.id: p.title for p in priorities}
    pillars_of = {p.id: ";".join(p.pillars) for p in priorities}
    is_prio = mine["level"] == "priority"
    mine["priority_id"] = mine["group_id"].where(is_prio)
    mine["pillar"] = mine["group_id"].map(pillars_of).where(is_prio, mine["group_id"])
    mine.loc[mine["level"] == "country", "pillar"] = "ALL"
    mine["title"] = mine["group_id"].map(titles).where(
        is_prio, mine["group_id"].map(PILLAR_LABELS).fillna("All pillars"))
    order = {g: k for k, g in enumerate(group_index["group_id"])}
    mine = mine.assign(_o=mine["group_id"].map(order)).sort_values("_o").drop(columns="_o")
    pledge_gaps = mine[PLEDGE_GAP_COLUMNS + PLEDGE_GAP_EXTRA].reset_index(drop=True)

    reaching = pg.country_pledges(pledges, allocation, iso3)
    my_labels = labels[labels["pledge_id"].isin(set(reaching["pledge_id"]))]
    matrix = pg.priority_pledge_matrix(reaching, my_labels, priorities)
    totals = pg.priority_totals(reaching, my_labels, priorities)
    totals["pledge_basis"] = pledge_gaps["pledge_basis"].iloc[0]
    follow = pg.follow_through(reaching, my_labels, priorities, as_of)
    stale = pg.stale_pledges(reaching, as_of)
    plan, plan_indicators, land = _plan_tables(
        ctx, world, pledge_gaps[pledge_gaps["level"] == "priority"], reaching, my_labels, as_of,
        made)
    bench = pg.benchmark_status(under, iso3).set_index("group_id")["benchmark_status"]
    plan["benchmark_status"] = plan["priority_id"].map(bench).fillna(
        "not benchmarked (no model results for its indicators)")
    plan["pledge_basis"] = pledge_gaps["pledge_basis"].iloc[0]
    unmatched = unmatched_pledges(reaching, my_labels)
    league = gp.league_table(world_gaps, economies)

    geo = load_geometries(ctx.selection)
    with_data = world_gaps.loc[(world_gaps["level"] == "country")
                               & world_gaps["gap_index"].notna(), "iso3"]
    drawn = set(geo["iso3"].dropna())
    missing = sorted(set(with_data) - drawn)
    small = league[league["iso3"].isin(missing)][
        ["iso3", "name", "sids", "need", "usd_per_capita", "gap_index", "gap_rank", "flag"]]

    unresolved = alloc_frames["unresolved"]
    if not unresolved.empty:
        notes.append(f"{unresolved['pledge_id'].nunique()} pledges have targets that are not "
                     "economies or regions; see unresolved_targets.csv.")
    reaching_table = reaching[[c for c in PLEDGE_LIST_COLUMNS if c in reaching]]
    tables = {
        "pledge_gaps": pledge_gaps,
        "action_plan": plan,
        "action_plan_indicators": plan_indicators,
        "priority_pledge_matrix": matrix,
        "priority_totals": totals,
        "follow_through": follow,
        "league_table": league,
        "unmatched_pledges": unmatched[[c for c in PLEDGE_LIST_COLUMNS if c in unmatched]],
        "stale_pledges": stale,
        "pledges_reaching": reaching_table,
        "small_states_not_drawn": small.reset_index(drop=True),
        "unresolved_targets": unresolved,
    }
    since_last = None
    baseline = cr.baseline_of(ctx.out_dir)
    if baseline is not None:
        since_last = cr.since_last_assessment(
            iso3, baseline, _current_tables(ctx, land, pledge_gaps, reaching_table), synthetic)
    return PledgeGapReport(
        iso3=iso3, name=params.country_name, rule=rule, as_of=as_of, as_of_reason=as_of_reason,
        benchmark_available=verdicts is not None, tables=tables,
        world=world_gaps, priorities_without_pledges=pg.priorities_without_pledges(matrix),
        map_region=_map_region(params), not_drawn=missing, source_line=_source_line(ctx),
        notes=notes, synthetic=synthetic, peer_label=peer_label, since_last=since_last,
        no_data=indicators_without_data(world, iso3, panel),
    )


def save_action_plan_xlsx(report: PledgeGapReport, out_dir: Path | str) -> Path:
    """Write ``OUT/<ISO3>/tables/action_plan.xlsx``: the plan, its indicators and the rules.

    Every text cell is written as text, never as a formula: pledge names and
    descriptions are untrusted, and a cell starting with "=" must not run.
    """
    from openpyxl import Workbook

    book = Workbook()
    sheets = [("action plan", report.tables["action_plan"]),
              ("indicators", report.tables["action_plan_indicators"])]
    notes = [(ILLUSTRATIVE + ": built on synthetic pledges, not real commitments.",)
             if report.synthetic else ("Pledges: imported P2C export.",),
             (f"Country: {report.name} ({report.iso3}); peers: {report.peer_label}.",),
             *[(f"{r.label} -> {r.step}",) for r in ap.STEP_RULES],
             (SPLIT_RULE,), (gp.SUPPORT_FLOOR_RULE,)]
    sheet = book.active
    for k, (title, frame) in enumerate(sheets):
        ws = sheet if k == 0 else book.create_sheet()
        ws.title = title
        values = frame.astype(object).where(frame.notna(), None).values.tolist()
        _write_rows(ws, [list(frame.columns), *values])
    _write_rows(book.create_sheet("notes"), [list(n) for n in notes])
    # The same tables give the same bytes: the book's dates are the status date and
    # the zip members carry a fixed time (openpyxl stamps both with "now").
    stamp = datetime.combine(report.as_of, datetime.min.time())
    book.properties.created = stamp
    raw = io.BytesIO()
    book.save(raw)
    path = country_output_dir(out_dir, report.iso3) / "tables" / "action_plan.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, zipfile.ZipFile(raw) as source, \
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl sets "modified" on save
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*",
                              rb"\g<1>" + stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode(), data)
            target.writestr(fixed, data)
    return path


def _write_rows(ws: Any, rows: list[list[Any]]) -> None:
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is pd.NA:
                value = None
            cell = ws.cell(row=r, column=c)
            if isinstance(value, str):
                cell.value = value
                cell.data_type = "s"  # text, never a formula
            elif hasattr(value, "item"):
                cell.value = value.item()
            else:
                cell.value = value


def save_pledge_tables(report: PledgeGapReport, out_dir: Path | str) -> dict[str, Path]:
    """Write every table as ``OUT/<ISO3>/tables/<name>.csv``, and the action plan as XLSX."""
    paths = {name: save_table(report.tables[name], out_dir, report.iso3, name)
             for name in TABLE_NAMES}
    paths["action_plan.xlsx"] = save_action_plan_xlsx(report, out_dir)
    return paths


# --------------------------------------------------------------------------- figures
def pledge_figures(report: PledgeGapReport, ctx: RunContext) -> dict[str, Figure | RenderedImage]:
    """The maps and charts of the report, by output name (render only)."""
    apply_theme()
    with warnings.catch_warnings():
        # mapclassify says it runs without numba (slower, same classes): not for the reader.
        warnings.filterwarnings("ignore", message="Numba not installed", category=UserWarning)
        return _draw_figures(report, ctx)


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


def _draw_figures(report: PledgeGapReport, ctx: RunContext) -> dict[str, Figure | RenderedImage]:
    geo = map_geometries(ctx.selection)
    dpi = ctx.params.output.figure_dpi
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
        report.tables["priority_pledge_matrix"],
        title=figure_title(f"{name}: pledges per strategic priority, by pillar and stakeholder",
                           synthetic), source=chart_src,
        row_labels={**_PRIORITY_ROWS, **report.priority_titles})
    figs["follow_through"] = pf.follow_through_bars(
        report.tables["follow_through"],
        title=figure_title(f"{name}: implementation status of pledges, by priority "
                           f"(as of {report.as_of.isoformat()})", synthetic), source=chart_src,
        row_labels={**_PRIORITY_ROWS, **report.priority_titles})
    figs["need_vs_support"] = pf.need_support_scatter_layered(
        overall.reset_index(), highlight=iso3,
        title=figure_title("Need against pledge support, every economy", synthetic),
        source=chart_src,
        need_label="need (0-110)", dpi=dpi)
    return figs


def save_pledge_figures(figs: dict[str, Figure | RenderedImage], ctx: RunContext
                        ) -> dict[str, Path]:
    """Save each figure as ``OUT/<ISO3>/figures/<name>.png`` and close it."""
    import matplotlib.pyplot as plt

    paths = {}
    for name, fig in figs.items():
        paths[name] = save_figure(fig, ctx.out_dir, ctx.iso3, name, ctx.params.output.figure_dpi)
        if not isinstance(fig, RenderedImage):
            plt.close(fig)
    return paths


def images(paths: dict[str, Path], *names: str) -> list:
    """The saved PNGs as IPython images with their alt text (shown without drawing again)."""
    return [saved_image(paths[name]) for name in names]


def outputs_markdown(tables: dict[str, Path], figures: dict[str, Path]) -> str:
    """A list of the files written, for the last cell of the notebook."""
    lines = ["### Files written", ""]
    lines += [f"- {md_code(output_relative(p))}" for p in [*tables.values(), *figures.values()]]
    return "\n".join(lines)


def precompute(selection, params) -> None:
    """Batch hook: allocate every pledge to economies once, under ``params``' rule."""
    from p2c_research.catalog import load_catalog
    from p2c_research.context import RunContext

    ctx = RunContext(params=params, selection=selection, catalog=load_catalog(), out_dir=Path("."))
    world_allocation(ctx)
