"""One country's pledge views: priority-by-pledge matrix, follow-through and action plan.

These take the all-country results of :mod:`~p2c_research.analyses.allocation`,
:mod:`~p2c_research.analyses.classification` and
:mod:`~p2c_research.analyses.gaps` and cut them down to the country under
study. A pledge *reaches* the country when the allocation gives it a share
there (named directly, or through a region, group or ``global``).

Rules:

* **Stale pledge**: its ``end_date`` is before the as-of date and its status
  is not ``completed``.
* **Share of value self-reported**: allocated USD of the pledges whose status
  is not ``not_reported``, over the allocated USD of all valued pledges.
* **Next step** of the action plan, the first rule that applies wins (the
  rule is written beside the step):

  1. *mobilise* when no pledge reaches the priority and its need is not low;
  2. *mobilise* when the priority is flagged "high need, thin support";
  3. *implement* when a third or more of its pledges are not started or stale
     (a pledge whose status is not reported counts only once past its end
     date: an unknown status calls for follow-up, i.e. monitoring);
  4. *monitor* otherwise, following up the self-reporting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from p2c_research.analyses.gaps import FLAG_HIGH_NEED_THIN

STATUSES: tuple[str, ...] = ("completed", "in_progress", "not_started", "not_reported")
IMPLEMENT_THRESHOLD = 1 / 3
TOTAL_ROW = "TOTAL (distinct pledges)"
ALL_ROW = "ALL pledges reaching the country"

STEP_MOBILISE = "mobilise new pledges"
STEP_IMPLEMENT = "implement existing pledges"
STEP_MONITOR = "monitor"
RULE_NO_PLEDGE = "rule 1: no pledge reaches this priority and its need is not low"
RULE_HIGH_GAP = "rule 2: need in the top third and support in the bottom third across economies"
RULE_IMPLEMENT = ("rule 3: a third or more of its pledges are not started or past their end "
                  "date without being completed")
RULE_MONITOR = ("rule 4: otherwise (pledges in place and mostly under way, done or of unknown "
                "status): follow up their self-reporting")


def country_pledges(pledges: pd.DataFrame, allocation: pd.DataFrame, iso3: str) -> pd.DataFrame:
    """The pledges reaching ``iso3``, with this country's share and allocated USD.

    Adds ``share, usd_allocated, basis, n_targets`` to the pledge columns.
    """
    mine = allocation.loc[allocation["iso3"] == iso3,
                          ["pledge_id", "share", "usd_allocated", "basis", "n_targets"]]
    out = pledges.assign(pledge_id=pledges["pledge_id"].astype(str)).merge(
        mine, on="pledge_id", how="inner")
    return out.sort_values(["usd_allocated", "pledge_id"], ascending=[False, True],
                           na_position="last").reset_index(drop=True)


def _priority_ids(priorities: Sequence) -> list[str]:
    return [p.id for p in priorities]


def priority_pledge_matrix(
    reaching: pd.DataFrame, labels: pd.DataFrame, priorities: Sequence
) -> pd.DataFrame:
    """Priorities (rows) by pledges grouped by pillar and by stakeholder group, with totals.

    Cells count the pledges reaching the country that match the priority.
    ``pledges`` is the row total and ``usd_allocated`` the USD allocated to the
    country. The last row counts distinct pledges: a pledge matching two
    priorities is in both rows but once in the total.
    """
    lab = labels.loc[labels["pledge_id"].isin(set(reaching["pledge_id"])),
                     ["pledge_id", "priority_id"]]
    joined = lab.merge(reaching[["pledge_id", "pillar", "stakeholder_group", "usd_allocated"]],
                       on="pledge_id")
    ids = _priority_ids(priorities)
    pillars = sorted(reaching["pillar"].dropna().unique())
    groups = sorted(reaching["stakeholder_group"].dropna().unique())

    by_pillar = (pd.crosstab(joined["priority_id"], joined["pillar"]) if not joined.empty
                 else pd.DataFrame(index=pd.Index([], name="priority_id")))
    by_group = (pd.crosstab(joined["priority_id"], joined["stakeholder_group"])
                if not joined.empty else pd.DataFrame(index=pd.Index([], name="priority_id")))
    by_pillar = by_pillar.reindex(index=ids, columns=pillars, fill_value=0)
    by_group = by_group.reindex(index=ids, columns=groups, fill_value=0)
    by_pillar.columns = [f"pillar: {c}" for c in by_pillar.columns]
    by_group.columns = [f"stakeholder: {c}" for c in by_group.columns]
    totals = joined.groupby("priority_id").agg(
        pledges=("pledge_id", "nunique"),
        usd_allocated=("usd_allocated", "sum")).reindex(ids)
    totals["pledges"] = totals["pledges"].fillna(0).astype("int64")
    totals["usd_allocated"] = totals["usd_allocated"].fillna(0.0)
    matrix = pd.concat([by_pillar, by_group, totals], axis=1).fillna(0)
    matrix.index.name = "priority_id"
    total = pd.concat([
        reaching["pillar"].value_counts().reindex(pillars, fill_value=0)
        .rename(lambda c: f"pillar: {c}"),
        reaching["stakeholder_group"].value_counts().reindex(groups, fill_value=0)
        .rename(lambda c: f"stakeholder: {c}"),
        pd.Series({"pledges": len(reaching),
                   "usd_allocated": float(reaching["usd_allocated"].sum())}),
    ])
    matrix.loc[TOTAL_ROW] = total.reindex(matrix.columns).fillna(0)
    count_cols = [c for c in matrix.columns if c != "usd_allocated"]
    matrix[count_cols] = matrix[count_cols].astype("int64")
    return matrix.reset_index()


def priorities_without_pledges(matrix: pd.DataFrame) -> list[str]:
    """Priority ids that no pledge reaching the country matches."""
    rows = matrix[matrix["priority_id"] != TOTAL_ROW]
    return rows.loc[rows["pledges"] == 0, "priority_id"].tolist()


def stale_mask(reaching: pd.DataFrame, as_of: date) -> pd.Series:
    """True for pledges past their end date and not completed."""
    end = pd.to_datetime(reaching["end_date"], errors="coerce")
    return ((end < pd.Timestamp(as_of)) & (reaching["status"] != "completed")).fillna(False)


def stale_pledges(reaching: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The stale pledges (see the module docstring), oldest end date first."""
    cols = ["pledge_id", "entity", "stakeholder_group", "focus_area", "pillar", "status",
            "end_date", "usd_allocated", "description"]
    out = reaching.loc[stale_mask(reaching, as_of), [c for c in cols if c in reaching.columns]]
    return out.sort_values("end_date").reset_index(drop=True)


def _follow_row(frame: pd.DataFrame, stale: pd.Series) -> dict[str, float | int]:
    counts = frame["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    valued = frame["usd_allocated"].notna()
    value_total = float(frame.loc[valued, "usd_allocated"].sum())
    value_reported = float(frame.loc[valued & (frame["status"] != "not_reported"),
                                     "usd_allocated"].sum())
    row: dict[str, float | int] = {s: int(counts[s]) for s in STATUSES}
    row.update({
        "pledges": len(frame),
        "stale": int(stale.loc[frame.index].sum()),
        "usd_allocated": value_total,
        "usd_self_reported": value_reported,
        "share_value_self_reported": (value_reported / value_total if value_total > 0
                                      else np.nan),
    })
    return row


def follow_through(
    reaching: pd.DataFrame, labels: pd.DataFrame, priorities: Sequence, as_of: date
) -> pd.DataFrame:
    """Implementation status by priority, stale pledges and the value self-reported.

    One row per priority and a last row for all pledges reaching the country:
    counts by status (completed, in_progress, not_started, not_reported),
    ``pledges``, ``stale``, ``usd_allocated``, ``usd_self_reported`` and
    ``share_value_self_reported`` (NaN where no pledge has a value).
    """
    stale = stale_mask(reaching, as_of)
    rows = []
    for pid in _priority_ids(priorities):
        ids = set(labels.loc[labels["priority_id"] == pid, "pledge_id"])
        frame = reaching[reaching["pledge_id"].isin(ids)]
        rows.append({"priority_id": pid, **_follow_row(frame, stale)})
    rows.append({"priority_id": ALL_ROW, **_follow_row(reaching, stale)})
    out = pd.DataFrame(rows)
    out["as_of"] = pd.Timestamp(as_of).date().isoformat()
    return out


def benchmark_status(under: pd.DataFrame, iso3: str, level: str = "priority") -> pd.DataFrame:
    """A sentence per group on how the country compares with what its income predicts.

    ``under`` comes from ``gaps.under_shares``. Columns ``group_id, n_benchmarked,
    n_under, benchmark_status``.
    """
    rows = under[(under["iso3"] == iso3) & (under["level"] == level)]
    out = rows[["group_id", "n_benchmarked", "n_under"]].copy()
    out["benchmark_status"] = [
        f"{u} of {n} benchmarked indicators below the level predicted from GDP per capita"
        for u, n in zip(out["n_under"], out["n_benchmarked"], strict=True)
    ]
    return out.reset_index(drop=True)


def next_step(pledge_count: int, need_class: object, flag: object,
              share_lagging: float) -> tuple[str, str]:
    """The suggested next step for one priority and the rule that chose it (first match)."""
    need_known = isinstance(need_class, str)
    if pledge_count == 0 and need_known and need_class != "low":
        return STEP_MOBILISE, RULE_NO_PLEDGE
    if flag == FLAG_HIGH_NEED_THIN:
        return STEP_MOBILISE, RULE_HIGH_GAP
    if pledge_count > 0 and share_lagging >= IMPLEMENT_THRESHOLD:
        return STEP_IMPLEMENT, RULE_IMPLEMENT
    return STEP_MONITOR, RULE_MONITOR


def action_plan(
    priority_gaps: pd.DataFrame,
    follow: pd.DataFrame,
    bench: pd.DataFrame,
    reaching: pd.DataFrame,
    labels: pd.DataFrame,
    priorities: Sequence,
    as_of: date,
) -> pd.DataFrame:
    """One row per strategic priority: the gap, the benchmark status, the pledges, the next step.

    Args:
        priority_gaps: the country's priority rows of ``gaps.gap_index``
            (``group_id, need, need_class, gap_index, gap_rank, n_ranked, flag``...).
        follow: from :func:`follow_through`.
        bench: from :func:`benchmark_status`.
        reaching: from :func:`country_pledges`.
        labels: from ``classify_pledges``.
        priorities: the country's priorities (``id``, ``title``).
        as_of: the date that decides which pledges are stale.
    """
    gaps = priority_gaps.set_index("group_id")
    fol = follow.set_index("priority_id")
    ben = bench.set_index("group_id")
    stale = stale_mask(reaching, as_of)
    rows = []
    for pr in priorities:
        g = gaps.loc[pr.id] if pr.id in gaps.index else pd.Series(dtype=object)
        f = fol.loc[pr.id]
        ids = set(labels.loc[labels["priority_id"] == pr.id, "pledge_id"])
        mine = reaching["pledge_id"].isin(ids)
        lagging = mine & ((reaching["status"] == "not_started") | stale)
        n = int(mine.sum())
        share_lagging = float(lagging.sum() / n) if n else 0.0
        step, rule = next_step(n, g.get("need_class"), g.get("flag"), share_lagging)
        need = g.get("need", np.nan)
        gap_value = g.get("gap_index", np.nan)
        if pd.notna(gap_value):
            diagnosed = (f"need {need:.1f}, gap index {gap_value:.0f} (rank {g['gap_rank']} of "
                         f"{g['n_ranked']}): {g['flag']}")
        else:
            diagnosed = "no score: insufficient data to diagnose"
        rows.append({
            "priority_id": pr.id,
            "title": pr.title,
            "diagnosed_gap": diagnosed,
            "need": need,
            "gap_index": gap_value,
            "flag": g.get("flag", "no data"),
            "benchmark_status": (ben.loc[pr.id, "benchmark_status"] if pr.id in ben.index
                                 else "not benchmarked (no model results for its indicators)"),
            "pledges_in_place": (f"{n} pledges (USD {f['usd_allocated'] / 1e6:,.1f}m allocated); "
                                 f"{f['completed']} completed, {f['in_progress']} in progress, "
                                 f"{f['not_started']} not started, {f['not_reported']} not "
                                 f"reported, {f['stale']} stale"),
            "pledge_count": n,
            "share_lagging": share_lagging,
            "next_step": step,
            "rule": rule,
        })
    return pd.DataFrame(rows)
