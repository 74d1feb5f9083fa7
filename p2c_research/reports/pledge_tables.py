"""The pledge report's tables as a reader sees them: display views, labels, escaped HTML.

The CSV files keep every column and id; these functions choose the columns
worth reading on screen (USD in millions), turn ids into words and mark the
verdicts drawn from synthetic pledges as illustrative. Pledge text (entity,
description) and params text are untrusted input: everything shown goes
through :func:`html_table` (``to_html(escape=True)``), the report tables'
renderer or :mod:`p2c_research.escaping`, never raw into Markdown or HTML.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from p2c_research.analyses import action_plan as ap
from p2c_research.analyses import gaps as gp
from p2c_research.analyses import pledge_gaps as pg
from p2c_research.escaping import html_text, md_text
from p2c_research.labels import label

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
#: Columns holding verdicts drawn from pledges (labelled illustrative on screen).
VERDICT_COLUMNS = ("flag", "step")


def table_caption(name: str, synthetic: bool) -> str:
    """A table's caption, starting with :data:`ILLUSTRATIVE` when the pledges are synthetic."""
    text = CAPTIONS.get(name, "")
    return f"{ILLUSTRATIVE}. {text}" if synthetic else text



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
PRIORITY_ROWS = {pg.ALL_ROW: "All pledges reaching the country",
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
            titles = {**PRIORITY_ROWS, **priority_titles}
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
