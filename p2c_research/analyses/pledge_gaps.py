"""One country's pledge views: priority-by-pledge matrix, priority totals and follow-through.

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
* **Split, not double counted**: a pledge matching several priorities gives
  each the share of its allocated USD set by its label weights
  (:func:`p2c_research.analyses.classification.label_weights`). Priority rows
  of the matrix, the priority totals and the follow-through carry these split
  amounts; with the row of pledges matching no priority they add up to what
  the country receives. Pledge counts stay whole (a pledge counts in every
  priority it serves).

The action plan built on these is :mod:`p2c_research.analyses.action_plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

STATUSES: tuple[str, ...] = ("completed", "in_progress", "not_started", "not_reported")
TOTAL_ROW = "TOTAL (distinct pledges)"
ALL_ROW = "ALL pledges reaching the country"
UNMATCHED_ROW = "UNMATCHED (no priority)"


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


def _weighted(labels: pd.DataFrame) -> pd.DataFrame:
    """Labels with their split ``weight`` (computed when the caller did not)."""
    from p2c_research.analyses.classification import label_weights

    return labels if "weight" in labels.columns else label_weights(labels)


def priority_pledge_matrix(
    reaching: pd.DataFrame, labels: pd.DataFrame, priorities: Sequence
) -> pd.DataFrame:
    """Priorities (rows) by pledges grouped by pillar and by stakeholder group, with totals.

    Cells count the pledges reaching the country that match the priority (a
    pledge serving two priorities counts in both rows). ``pledges`` is the row
    total and ``usd_allocated`` the USD allocated to the country, *split*
    across the priorities a pledge serves (module docstring). A row
    :data:`UNMATCHED_ROW` holds the pledges that match no priority, and the
    last row counts distinct pledges: the USD of the priority rows and the
    unmatched row add up to it.
    """
    lab = _weighted(labels)
    lab = lab.loc[lab["pledge_id"].isin(set(reaching["pledge_id"])),
                  ["pledge_id", "priority_id", "weight"]]
    joined = lab.merge(reaching[["pledge_id", "pillar", "stakeholder_group", "usd_allocated"]],
                       on="pledge_id")
    joined["usd_allocated"] = joined["usd_allocated"] * joined["weight"]
    unmatched = reaching[~reaching["pledge_id"].isin(set(lab["pledge_id"]))]
    joined = pd.concat([joined, unmatched[["pledge_id", "pillar", "stakeholder_group",
                                           "usd_allocated"]].assign(priority_id=UNMATCHED_ROW)],
                       ignore_index=True)
    ids = [*_priority_ids(priorities), UNMATCHED_ROW]
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


def priority_totals(reaching: pd.DataFrame, labels: pd.DataFrame, priorities: Sequence
                    ) -> pd.DataFrame:
    """What each priority receives once pledges are split, with the unmatched and total rows.

    Columns ``priority_id, title, pledges, pledges_shared, usd_split,
    usd_if_counted_whole, share_of_total``: ``pledges_shared`` counts the
    pledges that also serve another priority, ``usd_if_counted_whole`` is what
    the priority would show if each such pledge counted in full (the double
    counting the split removes). The priority rows' ``usd_split`` and the
    :data:`UNMATCHED_ROW` add up to the :data:`TOTAL_ROW`, the USD allocated
    to the country.
    """
    lab = _weighted(labels)
    lab = lab[lab["pledge_id"].isin(set(reaching["pledge_id"]))]
    joined = lab.merge(reaching[["pledge_id", "usd_allocated"]], on="pledge_id")
    n_labels = joined.groupby("pledge_id")["priority_id"].transform("size")
    rows = []
    for pr in priorities:
        own = joined[joined["priority_id"] == pr.id]
        rows.append({
            "priority_id": pr.id, "title": pr.title, "pledges": int(own["pledge_id"].nunique()),
            "pledges_shared": int((n_labels.loc[own.index] > 1).sum()),
            "usd_split": float((own["usd_allocated"] * own["weight"]).sum()),
            "usd_if_counted_whole": float(own["usd_allocated"].sum())})
    unmatched = reaching[~reaching["pledge_id"].isin(set(lab["pledge_id"]))]
    usd_unmatched = float(unmatched["usd_allocated"].sum())
    rows.append({"priority_id": UNMATCHED_ROW, "title": "pledges matching no priority",
                 "pledges": len(unmatched), "pledges_shared": 0, "usd_split": usd_unmatched,
                 "usd_if_counted_whole": usd_unmatched})
    total = float(reaching["usd_allocated"].sum())
    rows.append({"priority_id": TOTAL_ROW, "title": "all pledges reaching the country",
                 "pledges": len(reaching), "pledges_shared": 0, "usd_split": total,
                 "usd_if_counted_whole": total})
    out = pd.DataFrame(rows)
    out["share_of_total"] = out["usd_split"] / total if total > 0 else np.nan
    return out


def priorities_without_pledges(matrix: pd.DataFrame) -> list[str]:
    """Priority ids that no pledge reaching the country matches."""
    rows = matrix[~matrix["priority_id"].isin([TOTAL_ROW, UNMATCHED_ROW])]
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


def _follow_row(frame: pd.DataFrame, stale: pd.Series,
                weight: pd.Series | float = 1.0) -> dict[str, float | int]:
    counts = frame["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    valued = frame["usd_allocated"].notna()
    usd = frame["usd_allocated"] * weight
    value_total = float(usd[valued].sum())
    value_reported = float(usd[valued & (frame["status"] != "not_reported")].sum())
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
    ``pledges``, ``stale``, ``usd_allocated`` (split across priorities, see the
    module docstring), ``usd_self_reported`` and ``share_value_self_reported``
    (NaN where no pledge has a value).
    """
    stale = stale_mask(reaching, as_of)
    lab = _weighted(labels)
    rows = []
    for pid in _priority_ids(priorities):
        weights = lab.loc[lab["priority_id"] == pid].drop_duplicates("pledge_id").set_index(
            "pledge_id")["weight"]
        frame = reaching[reaching["pledge_id"].isin(set(weights.index))]
        weight = frame["pledge_id"].map(weights).astype(float)
        rows.append({"priority_id": pid, **_follow_row(frame, stale, weight)})
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
