"""What changed between two assessments: indicator values, verdicts, target progress, pledges.

P2C's third objective is to follow through: monitor progress and troubleshoot.
Two batch outputs (two data vintages, or the same data on two dates) hold the
same tables per country; this module lists every difference that a country
team would act on, one row each, from the tables alone (DataFrames in,
DataFrame out). The file side (reading two output folders and their manifests,
writing ``compare.csv`` and ``compare.html``) is
:mod:`p2c_research.reports.compare_report`.

Rules:

* **indicator value**: the latest value or its year differs (relative
  tolerance :data:`RTOL`), or a value appeared or vanished, per country and
  indicator (``landscape_scores``).
* **verdict**: the benchmark verdict differs (``verdicts``; the one verdict
  engine, :mod:`p2c_research.analyses.verdicts`).
* **target progress**: for the same target (indicator, kind, value, year),
  the country's value, progress or status differs; a target present on one
  side only is listed as added or dropped (``targets``).
* **pledge status**: a pledge reaching the country changed its self-reported
  status, or started or stopped reaching it (``pledges_reaching``).
* **priority flag**: the need-against-support verdict of a strategic
  priority, pillar or the country changed (``pledge_gaps``). With synthetic
  pledges these are illustrative.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

RTOL = 1e-9
KINDS: tuple[str, ...] = ("indicator value", "verdict", "target progress", "pledge status",
                          "priority flag")
CHANGE_COLUMNS = ["kind", "iso3", "item", "label", "detail", "old", "new", "change"]
#: The tables of one country a comparison reads (the CSV names under OUT/<ISO3>/tables/).
TABLES: tuple[str, ...] = ("landscape_scores", "verdicts", "targets", "pledges_reaching",
                           "pledge_gaps")


def _num(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "none"
    v = float(value)  # type: ignore[arg-type]
    if abs(v) >= 100:
        return f"{v:,.1f}"
    return f"{v:,.4g}"


def _year(value: object) -> str:
    return "" if pd.isna(value) else f" ({int(float(value))})"  # type: ignore[arg-type]


def _frame(tables: Mapping[str, pd.DataFrame], name: str, columns: list[str]) -> pd.DataFrame:
    """``tables[name]`` with ``columns`` (missing ones empty), or an empty frame."""
    frame = tables.get(name)
    if frame is None:
        return pd.DataFrame(columns=columns)
    return frame.reindex(columns=columns)


def _same(a: object, b: object) -> bool:
    if pd.isna(a) and pd.isna(b):  # type: ignore[arg-type]
        return True
    if pd.isna(a) or pd.isna(b):  # type: ignore[arg-type]
        return False
    try:
        return bool(np.isclose(float(a), float(b), rtol=RTOL, atol=0.0))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(a) == str(b)


def indicator_changes(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Latest values that changed, appeared or vanished (``iso3, indicator, name, year, value``)."""
    cols = ["iso3", "indicator", "name", "year", "value"]
    o = old.reindex(columns=cols).dropna(subset=["value"])
    n = new.reindex(columns=cols).dropna(subset=["value"])
    both = o.merge(n, on=["iso3", "indicator"], how="outer", suffixes=("_old", "_new"))
    rows = []
    for r in both.itertuples(index=False):
        if _same(r.value_old, r.value_new) and _same(r.year_old, r.year_new):
            continue
        old_text = f"{_num(r.value_old)}{_year(r.year_old)}"
        new_text = f"{_num(r.value_new)}{_year(r.year_new)}"
        what = ("appeared" if pd.isna(r.value_old) else "vanished" if pd.isna(r.value_new)
                else "changed")
        name = r.name_new if isinstance(r.name_new, str) else r.name_old
        rows.append(("indicator value", r.iso3, r.indicator, name, what, old_text, new_text,
                     f"{old_text} -> {new_text}"))
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def verdict_changes(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Benchmark verdicts that differ (``iso3, indicator, name, verdict``)."""
    cols = ["iso3", "indicator", "name", "verdict"]
    both = old.reindex(columns=cols).merge(new.reindex(columns=cols), on=["iso3", "indicator"],
                                           how="outer", suffixes=("_old", "_new"))
    both[["verdict_old", "verdict_new"]] = both[["verdict_old", "verdict_new"]].fillna("no data")
    changed = both[both["verdict_old"] != both["verdict_new"]]
    rows = [("verdict", r.iso3, r.indicator,
             r.name_new if isinstance(r.name_new, str) else r.name_old,
             "benchmark against income", r.verdict_old, r.verdict_new,
             f"{r.verdict_old} -> {r.verdict_new}") for r in changed.itertuples(index=False)]
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def target_changes(old: pd.DataFrame, new: pd.DataFrame,
                   names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Progress towards the same target that moved (``targets`` tables); ``names`` labels ids."""
    names = names or {}
    key = ["iso3", "indicator", "target_kind", "target", "target_year"]
    cols = [*key, "year", "value", "progress", "status"]
    o, n = old.reindex(columns=cols), new.reindex(columns=cols)
    for frame in (o, n):
        frame["target"] = frame["target"].astype(float).round(9)
        frame["target_year"] = pd.to_numeric(frame["target_year"]).astype("Int64")
    both = o.merge(n, on=key, how="outer", suffixes=("_old", "_new"), indicator="side")
    rows = []
    for r in both.itertuples(index=False):
        same = (_same(r.value_old, r.value_new) and _same(r.year_old, r.year_new)
                and _same(r.progress_old, r.progress_new)
                and str(r.status_old) == str(r.status_new))
        if r.side == "both" and same:
            continue
        detail = f"{r.target_kind} target {_num(r.target)} by {r.target_year}"
        old_text = ("no target" if r.side == "right_only" else
                    f"{_num(r.value_old)}{_year(r.year_old)}, progress "
                    f"{_num(r.progress_old)}%, {r.status_old if isinstance(r.status_old, str) else 'no status'}")
        new_text = ("no target" if r.side == "left_only" else
                    f"{_num(r.value_new)}{_year(r.year_new)}, progress "
                    f"{_num(r.progress_new)}%, {r.status_new if isinstance(r.status_new, str) else 'no status'}")
        rows.append(("target progress", r.iso3, r.indicator, names.get(r.indicator, r.indicator),
                     detail, old_text, new_text, f"{old_text} -> {new_text}"))
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def pledge_changes(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Pledges whose status changed, or that started or stopped reaching the country."""
    cols = ["iso3", "pledge_id", "entity", "status"]
    both = old.reindex(columns=cols).merge(new.reindex(columns=cols), on=["iso3", "pledge_id"],
                                           how="outer", suffixes=("_old", "_new"))
    rows = []
    for r in both.itertuples(index=False):
        old_status = r.status_old if isinstance(r.status_old, str) else "not reaching"
        new_status = r.status_new if isinstance(r.status_new, str) else "not reaching"
        if old_status == new_status:
            continue
        entity = r.entity_new if isinstance(r.entity_new, str) else r.entity_old
        rows.append(("pledge status", r.iso3, r.pledge_id, entity, "self-reported status",
                     old_status, new_status, f"{old_status} -> {new_status}"))
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def _with_group_id(gaps: pd.DataFrame) -> pd.DataFrame:
    """``pledge_gaps`` with ``group_id`` (tables written before it existed name the group
    by ``priority_id``, ``pillar`` or, for the country row, "all")."""
    if "group_id" in gaps.columns and gaps["group_id"].notna().all():
        return gaps
    out = gaps.copy()
    level = out.get("level", pd.Series("", index=out.index))
    derived = np.where(level == "priority", out.get("priority_id", ""),
                       np.where(level == "country", "all", out.get("pillar", "")))
    existing = (out["group_id"].astype(object) if "group_id" in out.columns
                else pd.Series(None, index=out.index, dtype=object))
    out["group_id"] = existing.where(existing.notna(),
                                     pd.Series(derived, index=out.index, dtype=object))
    return out


def flag_changes(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Need-against-support flags that changed (``iso3, level, group_id, title, flag``)."""
    cols = ["iso3", "level", "group_id", "title", "flag"]
    old, new = _with_group_id(old), _with_group_id(new)
    both = old.reindex(columns=cols).merge(new.reindex(columns=cols),
                                           on=["iso3", "level", "group_id"], how="outer",
                                           suffixes=("_old", "_new"))
    both[["flag_old", "flag_new"]] = both[["flag_old", "flag_new"]].fillna("no data")
    changed = both[both["flag_old"] != both["flag_new"]]
    rows = [("priority flag", r.iso3, r.group_id,
             r.title_new if isinstance(r.title_new, str) else r.title_old,
             f"{r.level}: need against pledge support", r.flag_old, r.flag_new,
             f"{r.flag_old} -> {r.flag_new}") for r in changed.itertuples(index=False)]
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def compare_assessments(old: Mapping[str, pd.DataFrame], new: Mapping[str, pd.DataFrame]
                        ) -> pd.DataFrame:
    """Every change between two assessments, in :data:`KINDS` order, then country and item.

    ``old`` and ``new`` map table names (:data:`TABLES`) to frames holding
    every compared country (an ``iso3`` column). Only countries present on
    both sides are compared; the caller lists the others.
    """
    scores = [t.get("landscape_scores") for t in (old, new)]
    names = dict(pd.concat([s[["indicator", "name"]] for s in scores
                            if s is not None and {"indicator", "name"} <= set(s.columns)]
                           or [pd.DataFrame(columns=["indicator", "name"])]).dropna()
                 .drop_duplicates("indicator").values.tolist())
    parts = [
        indicator_changes(_frame(old, "landscape_scores", ["iso3", "indicator", "name", "year",
                                                           "value"]),
                          _frame(new, "landscape_scores", ["iso3", "indicator", "name", "year",
                                                           "value"])),
        verdict_changes(_frame(old, "verdicts", ["iso3", "indicator", "name", "verdict"]),
                        _frame(new, "verdicts", ["iso3", "indicator", "name", "verdict"])),
        target_changes(old.get("targets", pd.DataFrame()), new.get("targets", pd.DataFrame()),
                       names),
        pledge_changes(_frame(old, "pledges_reaching", ["iso3", "pledge_id", "entity", "status"]),
                       _frame(new, "pledges_reaching", ["iso3", "pledge_id", "entity",
                                                        "status"])),
        flag_changes(*(_with_group_id(_frame(side, "pledge_gaps",
                                             ["iso3", "level", "group_id", "priority_id",
                                              "pillar", "title", "flag"]))
                       for side in (old, new))),
    ]
    out = pd.concat([p for p in parts if not p.empty] or [pd.DataFrame(columns=CHANGE_COLUMNS)],
                    ignore_index=True)
    out["_k"] = out["kind"].map({k: i for i, k in enumerate(KINDS)})
    return (out.sort_values(["_k", "iso3", "item"], kind="stable").drop(columns="_k")
            .reset_index(drop=True)[CHANGE_COLUMNS])


def change_counts(changes: pd.DataFrame) -> pd.DataFrame:
    """Changes per country and kind (a row per country, a column per kind)."""
    table = pd.crosstab(changes["iso3"], changes["kind"]) if not changes.empty else \
        pd.DataFrame()
    return table.reindex(columns=list(KINDS), fill_value=0).rename_axis(columns=None)
