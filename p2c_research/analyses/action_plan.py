"""A preliminary national action plan: one row per strategic priority that a country team can act on.

P2C's engagement model asks for "preliminary national action plans" and for
monitoring progress. For each priority this module states what measures it,
where it stands, where it should be and by when, whether the recent trend is
fast enough, which pledges are in place, and one suggested step with the rule
that chose it, a KPI and a review date. Everything is computed from tables
other modules already make (the landscape's scores, trends and targets, the
peer-ranked need and support of :mod:`p2c_research.analyses.gaps`, the pledges
reaching the country and their priority labels): DataFrames in, DataFrames out.

Rules (also in ``docs/methodology.md``):

* **Target of an indicator**: the national target in params when there is
  one, else its UMC / Broadband Commission target from the catalog, else the
  median of the headline peers (ITU-D region) by :data:`PEER_TARGET_YEAR`.
  Progress, status and years to target come from
  :func:`p2c_research.analyses.trends.targets_table` (the landscape's own
  projection), so both reports agree.
* **Baseline**: the indicator's latest value in the year window that the
  quality screen lets the scores use (stale values are not baselines).
* **Gap** = what is still to go towards the target in the indicator's unit,
  positive = not yet met; **needed per year** = gap / (target year - baseline
  year, at least 1); **recent trend** = the slope of the landscape trend at
  the latest year, signed so that positive is an improvement.
* **Lead indicator (the KPI)**: among the priority's indicators with a
  baseline, the first by: target not yet met, target kind (national, UMC,
  peer median), key indicator, a baseline no older than
  :data:`RECENT_BASELINE_YEARS` before the reference year, lowest progress.
* **Suggested step**: the first rule of :data:`STEP_RULES` that applies.
* **Review date**: the month end :data:`REVIEW_MONTHS` after the plan is made
  (6 months for an action, 12 to monitor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from p2c_research.analyses.scores import priority_members
from p2c_research.analyses.trends import MET, NOT_ON_TRACK, ON_TRACK, targets_table

PEER_TARGET_YEAR = 2030
RECENT_BASELINE_YEARS = 3
IMPLEMENT_THRESHOLD = 1 / 3
MAX_PLEDGES_LISTED = 5
TARGET_KINDS: tuple[str, ...] = ("national", "UMC", "peer median")

STEP_MOBILISE = "mobilise new pledges"
STEP_ACCELERATE = "accelerate implementation"
STEP_MONITOR = "monitor"
STEP_VALIDATE = "validate data"
STEPS: tuple[str, ...] = (STEP_VALIDATE, STEP_MOBILISE, STEP_ACCELERATE, STEP_MONITOR)
REVIEW_MONTHS: dict[str, int] = {STEP_VALIDATE: 6, STEP_MOBILISE: 6, STEP_ACCELERATE: 6,
                                 STEP_MONITOR: 12}


@dataclass(frozen=True)
class StepRule:
    """One rule of the step table: its number, the step it suggests and why."""

    number: int
    step: str
    text: str

    @property
    def label(self) -> str:
        return f"rule {self.number}: {self.text}"


STEP_RULES: tuple[StepRule, ...] = (
    StepRule(1, STEP_VALIDATE, "no open indicator measures this priority, none of its "
             "indicators has a current value, or the lead indicator's latest value is flagged "
             "by the quality screen: agree a KPI and a trusted baseline with the country team"),
    StepRule(2, STEP_MOBILISE, "no pledge reaching the country serves this priority and its "
             "lead target is not met"),
    StepRule(3, STEP_MOBILISE, "support is thin (bottom third of the peer set, or below the "
             "USD-per-person floor) while need is not in the peers' bottom third and the lead "
             "target is not met"),
    StepRule(4, STEP_ACCELERATE, "a third or more of its pledges are not started or past "
                                 "their end date without being completed"),
    StepRule(5, STEP_ACCELERATE, "pledges are in place but the recent trend of the lead "
                                 "indicator will not reach its target by the target year"),
    StepRule(6, STEP_MONITOR, "otherwise: the lead target is met or on track with pledges in "
                              "place; follow up their self-reporting"),
)

PLAN_COLUMNS = [
    "priority_id", "title", "step", "rule", "indicators", "n_indicators", "lead_indicator",
    "lead_name", "unit", "baseline_value", "baseline_year", "target_value", "target_year",
    "target_kind", "target_source", "gap", "needed_per_year", "trend_per_year", "pace",
    "need", "need_class", "pledge_usd", "usd_per_capita", "support_class", "below_floor",
    "flag", "pledge_count", "pledges", "pledgers", "statuses", "share_lagging", "kpi",
    "review_date", "measurement_note",
]
INDICATOR_COLUMNS = [
    "priority_id", "indicator", "name", "unit", "key", "lead", "baseline_value",
    "baseline_year", "target_value", "target_year", "target_kind", "target_source", "gap",
    "progress", "needed_per_year", "trend_per_year", "pace", "year_reached", "quality",
]


# --------------------------------------------------------------------------- indicators
def indicator_targets(iso3: str, scores: pd.DataFrame, trends: pd.DataFrame,
                      targets: pd.DataFrame, meta: pd.DataFrame,
                      bounded: Sequence[str] = ()) -> pd.DataFrame:
    """One target per indicator with a baseline: national, else UMC, else the peer median.

    Args:
        iso3: the country.
        scores: the landscape scores table (``indicator, year, value, stale,
            peer_median``; :class:`p2c_research.analyses.landscape.LandscapeTables`).
        trends: the country's trends (``indicator, slope, trend_scale, trend_slope,
            slope_low, slope_high``).
        targets: the landscape targets table (national and UMC rows).
        meta: the scored catalog (:func:`p2c_research.analyses.scores.catalog_meta`).
        bounded: ids of bounded shares (trends on the logit scale).

    Returns:
        ``indicator, target_kind, target, target_year, target_source, year,
        value, gap_to_target, progress, slope, year_reached, status, quality``
        plus ``needed_per_year`` and ``trend_per_year`` (both positive =
        improvement, in the indicator's unit).
    """
    current = scores[scores["value"].notna() & ~scores["stale"].astype(bool)]
    chosen = targets[targets["value"].notna()].copy()
    chosen["_rank"] = chosen["target_kind"].map({"national": 0, "UMC": 1}).fillna(2)
    chosen = chosen.sort_values(["indicator", "_rank"]).drop_duplicates("indicator")
    missing = current[~current["indicator"].isin(chosen["indicator"])
                      & current["peer_median"].notna()]
    if not missing.empty:
        peer_rows = pd.DataFrame({
            "indicator": missing["indicator"], "target_kind": "peer median",
            "target": missing["peer_median"].astype(float), "target_year": PEER_TARGET_YEAR,
            "target_source": "median of the headline peers, "
                             + missing["peer_set"].fillna("peer set").astype(str),
            "provisional": False})
        latest = current[["indicator", "year", "value"]].assign(quality="")
        peer = targets_table(iso3, latest, trends, meta, peer_rows, bounded=bounded)
        chosen = pd.concat([chosen.drop(columns="_rank"), peer], ignore_index=True)
    else:
        chosen = chosen.drop(columns="_rank")
    chosen = chosen[chosen["indicator"].isin(current["indicator"])].reset_index(drop=True)
    higher = chosen["indicator"].map(meta.set_index("indicator")["higher_is_better"]).astype(bool)
    years = (chosen["target_year"].astype(float) - chosen["year"].astype(float)).clip(lower=1)
    chosen["needed_per_year"] = chosen["gap_to_target"].clip(lower=0) / years
    chosen["trend_per_year"] = np.where(higher, chosen["slope"], -chosen["slope"])
    return chosen


def _lead_order(rows: pd.DataFrame, key: set[str], reference_year: int) -> pd.DataFrame:
    """Rows sorted by the lead-indicator rule of the module docstring."""
    met = rows["status"] == MET
    kind = rows["target_kind"].map({k: i for i, k in enumerate(TARGET_KINDS)}).fillna(3)
    not_key = ~rows["indicator"].isin(key)
    old = rows["year"].astype(float) < reference_year - RECENT_BASELINE_YEARS
    return rows.assign(_met=met, _kind=kind, _not_key=not_key, _old=old).sort_values(
        ["_met", "_kind", "_not_key", "_old", "progress"], kind="stable").drop(
        columns=["_met", "_kind", "_not_key", "_old"])


def priority_indicators(priorities: Sequence[Any], meta: pd.DataFrame, scores: pd.DataFrame,
                        indicator_rows: pd.DataFrame, key: set[str], reference_year: int,
                        quality: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every (priority, indicator) with baseline, target, gap and pace; ``lead`` marks the KPI.

    Indicators without a current value are listed with empty baseline and
    target. ``quality`` is the landscape's flag table (``indicator, year,
    flag``): flags other than "stale" on the baseline value are named.
    """
    names = meta.set_index("indicator")
    flags = pd.Series(dtype=object)
    if quality is not None and not quality.empty:
        q = quality[quality["flag"] != "stale"]
        flags = q.groupby(["indicator", "year"])["flag"].agg(lambda f: ";".join(sorted(set(f))))
    by_indicator = indicator_rows.set_index("indicator")
    rows: list[dict[str, Any]] = []
    for pr in priorities:
        members = priority_members(meta, pr)
        present = _lead_order(indicator_rows[indicator_rows["indicator"].isin(members)], key,
                              reference_year)
        lead = present["indicator"].iloc[0] if not present.empty else None
        order = list(present["indicator"]) + [m for m in members if m not in set(present["indicator"])]
        for ind in order:
            rec: dict[str, Any] = {
                "priority_id": pr.id, "indicator": ind, "name": names.at[ind, "name"],
                "unit": names.at[ind, "unit"], "key": ind in key, "lead": ind == lead}
            if ind in by_indicator.index:
                t = by_indicator.loc[ind]
                year = int(t["year"])
                rec.update({
                    "baseline_value": float(t["value"]), "baseline_year": year,
                    "target_value": float(t["target"]), "target_year": int(t["target_year"]),
                    "target_kind": t["target_kind"], "target_source": t["target_source"],
                    "gap": float(t["gap_to_target"]), "progress": float(t["progress"]),
                    "needed_per_year": float(t["needed_per_year"]),
                    "trend_per_year": float(t["trend_per_year"]), "pace": t["status"],
                    "year_reached": (t["year_reached"] if np.isfinite(t["year_reached"])
                                     else np.nan),
                    "quality": str(flags.get((ind, year), "")) if len(flags) else ""})
            rows.append(rec)
    out = pd.DataFrame(rows).reindex(columns=INDICATOR_COLUMNS)
    for col in ("baseline_year", "target_year", "year_reached"):
        out[col] = pd.to_numeric(out[col]).astype("Int64")
    return out


# --------------------------------------------------------------------------- steps
def suggested_step(*, measured: bool, lead: pd.Series | None, pledge_count: int,
                   need_class: object, support_class: object,
                   share_lagging: float) -> StepRule:
    """The first rule of :data:`STEP_RULES` that applies to one priority."""
    flagged = lead is not None and isinstance(lead.get("quality"), str) and bool(lead["quality"])
    if not measured or lead is None or flagged:
        return STEP_RULES[0]
    met = lead.get("pace") == MET
    if pledge_count == 0 and not met:
        return STEP_RULES[1]
    need_low = need_class == "low"
    if support_class == "low" and not need_low and not met:
        return STEP_RULES[2]
    if pledge_count > 0 and share_lagging >= IMPLEMENT_THRESHOLD:
        return STEP_RULES[3]
    if pledge_count > 0 and lead.get("pace") == NOT_ON_TRACK:
        return STEP_RULES[4]
    return STEP_RULES[5]


def _known(value: object) -> object:
    """``value``, or None where it is missing (pandas' NA has no truth value)."""
    return None if value is None or pd.isna(value) else value  # type: ignore[arg-type]


def review_date(step: str, made: date) -> date:
    """The month end :data:`REVIEW_MONTHS` after ``made``."""
    later = pd.Timestamp(made) + pd.DateOffset(months=REVIEW_MONTHS[step])
    return (later + pd.offsets.MonthEnd(0)).date()


def _number(value: float) -> str:
    if pd.isna(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.1f}"
    return f"{value:,.3g}"


def kpi_text(lead: pd.Series | None) -> str:
    """The KPI sentence of a lead indicator row (or what to agree when there is none)."""
    if lead is None:
        return ("none in open data: agree a national KPI and its baseline with the country "
                "team (see the measurement note)")
    return (f"{lead['name']} ({lead['unit']}): from {_number(lead['baseline_value'])} in "
            f"{int(lead['baseline_year'])} to {_number(lead['target_value'])} by "
            f"{int(lead['target_year'])} ({lead['target_kind']} target)")


def _pledge_lines(mine: pd.DataFrame) -> tuple[str, str, str]:
    """The pledges list, the pledgers and the status counts of one priority."""
    if mine.empty:
        return "none", "", ""
    shown = mine.sort_values(["usd_split", "pledge_id"], ascending=[False, True],
                             na_position="last")
    items = []
    for r in shown.head(MAX_PLEDGES_LISTED).itertuples():
        money = (f"USD {r.usd_split / 1e6:,.1f}m to this priority"
                 if pd.notna(r.usd_split) else "no USD value")
        items.append(f"{r.pledge_id} {r.entity} ({r.status.replace('_', ' ')}, {money})")
    if len(shown) > MAX_PLEDGES_LISTED:
        items.append(f"and {len(shown) - MAX_PLEDGES_LISTED} more")
    pledgers = "; ".join(dict.fromkeys(shown["entity"].astype(str)))
    counts = shown["status"].value_counts()
    statuses = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items())
    return "; ".join(items), pledgers, statuses


def action_plan(
    priorities: Sequence[Any],
    indicators: pd.DataFrame,
    priority_gaps: pd.DataFrame,
    reaching: pd.DataFrame,
    labels: pd.DataFrame,
    stale: pd.Series,
    made: date,
) -> pd.DataFrame:
    """One row per priority: measures, baseline and target, pace, pledges, step, KPI, review.

    Args:
        priorities: the country's priorities (``id, title, measurement_note``...).
        indicators: :func:`priority_indicators` output.
        priority_gaps: the country's peer-ranked priority rows of
            :func:`p2c_research.analyses.gaps.rank_among` (``group_id, need,
            need_class, pledge_usd, usd_per_capita, support_class, below_floor,
            flag``).
        reaching: pledges reaching the country (``pledge_id, entity, status,
            usd_allocated``).
        labels: their priority labels with ``weight``
            (:func:`p2c_research.analyses.classification.label_weights`).
        stale: per row of ``reaching``, past its end date and not completed.
        made: the date the plan is made (the review dates count from it).
    """
    gaps = priority_gaps.set_index("group_id")
    lagging_all = (reaching["status"] == "not_started") | stale.reindex(reaching.index,
                                                                        fill_value=False)
    rows = []
    for pr in priorities:
        g = gaps.loc[pr.id] if pr.id in gaps.index else pd.Series(dtype=object)
        own = indicators[indicators["priority_id"] == pr.id]
        lead_rows = own[own["lead"].astype(bool)]
        lead = lead_rows.iloc[0] if not lead_rows.empty else None
        lab = labels.loc[labels["priority_id"] == pr.id, ["pledge_id", "weight"]]
        mine = reaching.merge(lab, on="pledge_id", how="inner")
        mine["usd_split"] = mine["usd_allocated"] * mine["weight"]
        lagging = lagging_all[reaching["pledge_id"].isin(set(lab["pledge_id"]))]
        n = len(mine)
        share_lagging = float(lagging.sum() / n) if n else 0.0
        rule = suggested_step(measured=bool(len(own)), lead=lead, pledge_count=n,
                              need_class=_known(g.get("need_class")),
                              support_class=_known(g.get("support_class")),
                              share_lagging=share_lagging)
        pledges, pledgers, statuses = _pledge_lines(mine)
        rec: dict[str, Any] = {
            "priority_id": pr.id, "title": pr.title, "step": rule.step, "rule": rule.label,
            "indicators": "; ".join(own["name"].astype(str)), "n_indicators": len(own),
            "need": g.get("need", np.nan), "need_class": _known(g.get("need_class")),
            "pledge_usd": float(mine["usd_split"].sum(min_count=1)) if n else 0.0,
            "usd_per_capita": g.get("usd_per_capita", np.nan),
            "support_class": _known(g.get("support_class")),
            "below_floor": bool(g.get("below_floor", False)), "flag": g.get("flag", "no data"),
            "pledge_count": n, "pledges": pledges, "pledgers": pledgers, "statuses": statuses,
            "share_lagging": share_lagging, "kpi": kpi_text(lead),
            "review_date": review_date(rule.step, made).isoformat(),
            "measurement_note": getattr(pr, "measurement_note", "") or "",
        }
        if lead is not None:
            rec.update({
                "lead_indicator": lead["indicator"], "lead_name": lead["name"],
                "unit": lead["unit"], "baseline_value": lead["baseline_value"],
                "baseline_year": lead["baseline_year"], "target_value": lead["target_value"],
                "target_year": lead["target_year"], "target_kind": lead["target_kind"],
                "target_source": lead["target_source"], "gap": lead["gap"],
                "needed_per_year": lead["needed_per_year"],
                "trend_per_year": lead["trend_per_year"], "pace": lead["pace"]})
        rows.append(rec)
    out = pd.DataFrame(rows).reindex(columns=PLAN_COLUMNS)
    for col in ("baseline_year", "target_year"):
        out[col] = pd.to_numeric(out[col]).astype("Int64")
    return out


def pace_text(row: pd.Series) -> str:
    """Needed against recent progress, in words, for one plan row."""
    if pd.isna(row.get("gap")):
        return "no baseline to measure progress from"
    unit = row["unit"]
    if row["pace"] == MET or row["gap"] <= 0:
        return f"target met ({row['target_kind']} target)"
    needed = f"needs {_number(row['needed_per_year'])} {unit} a year"
    if pd.isna(row["trend_per_year"]):
        return f"{needed}; no recent trend (too few clean observations)"
    verdict = {ON_TRACK: "on track", NOT_ON_TRACK: "not on track"}.get(row["pace"], row["pace"])
    trend = row["trend_per_year"]
    moving = "improving" if trend > 0 else ("worsening" if trend < 0 else "flat")
    amount = f" by {_number(abs(trend))} {unit} a year" if trend != 0 else ""
    return f"{needed}; recent trend {moving}{amount} ({verdict})"
