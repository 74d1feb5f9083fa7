"""Landscape scores for every economy: indicators scaled 0-100, sub-pillars and pillars.

One vectorised pass over the tidy panel scores all economies at once, so a
batch computes the world once per data vintage and every country report, the
benchmark and the pledge-gap analysis read the same numbers.

Rules (stated in every report that shows these scores):

* **Value used.** Each indicator's latest value within the year window, with
  its year. When there is none, the latest older value is kept in the
  indicator table with ``stale=True`` and a note, but its score is NaN: a value
  older than the window is never used in a score.
* **Scaling.** ``100 * (x - lower) / (upper - lower)`` with the catalog
  goalposts, on log10 of value and goalposts when the catalog says ``log``;
  values outside the goalposts are clipped to 0 or 100; for indicators where
  lower is better the score is ``100 - that``.
* **Sub-pillar score.** Weighted mean (catalog weights) of the indicator
  scores present.
* **Pillar score.** Weighted mean (catalog weights) of the pillar's indicator
  scores present, *not* the mean of its sub-pillar scores: with sparse data a
  sub-pillar holding one indicator (e.g. ``trust``) would otherwise carry a
  third of the pillar. Equivalently, a mean of sub-pillar scores weighted by
  the catalog weight present in each.
* **Coverage.** The unweighted share of the catalog's scored indicators of that
  sub-pillar or pillar with an in-window value (``n_present / n_total``).
* **Core.** The catalog declares core indicators per pillar and sub-pillar
  (for example ACCESS needs a coverage indicator and a price basket). A level
  is ``sufficient`` only when its coverage reaches ``coverage_threshold`` *and*
  every core group has a value; otherwise its score is NaN ("insufficient
  data") and ``core_missing`` names the missing groups. ``raw_score`` keeps the
  weighted mean of what is present, for sensitivity checks only, never for
  display as the score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from p2c_research.catalog import SCORED_PILLARS, Catalog

INDICATOR_COLUMNS = [
    "iso3", "indicator", "pillar", "sub_pillar", "year", "value", "score", "stale", "source",
    "quality", "quality_note",
]
SUB_PILLAR_COLUMNS = [
    "iso3", "pillar", "sub_pillar", "score", "coverage", "n_present", "n_total",
    "sufficient", "raw_score", "core_missing",
]
PILLAR_COLUMNS = [
    "iso3", "pillar", "score", "coverage", "n_present", "n_total", "sufficient", "raw_score",
    "core_missing",
]
PRIORITY_COLUMNS = ["iso3", "priority_id", "score", "coverage", "n_present", "n_total",
                    "sufficient", "core_missing", "indicators"]
META_COLUMNS = [
    "indicator", "name", "pillar", "sub_pillar", "sub_pillar_label", "unit", "higher_is_better",
    "lower", "upper", "scaling", "bounded_share", "weight", "umc_target", "umc_target_year",
    "umc_target_label", "sources",
]
INSUFFICIENT = "insufficient data"
PUBLISHER_LABELS = (("itu", "ITU DataHub"), ("sdg", "UN SDG"), ("wdi", "World Bank WDI"))
_EPS = 1e-9


# --------------------------------------------------------------------------- scaling
def scale_values(
    values: Any,
    lower: Any,
    upper: Any,
    *,
    higher_is_better: Any = True,
    log: Any = False,
) -> np.ndarray:
    """Scale values to 0-100 between goalposts, clipped, in the indicator's direction.

    Arguments broadcast element-wise, so one call scales a whole column with
    per-row goalposts. On the log scale a value at or below zero counts as the
    lower goalpost (it cannot be logged and is below any positive goalpost).

    Returns:
        Scores in [0, 100] (NaN where the value is NaN).
    """
    x = np.asarray(values, dtype="float64")
    lo = np.asarray(lower, dtype="float64")
    hi = np.asarray(upper, dtype="float64")
    is_log = np.asarray(log, dtype=bool)
    higher = np.asarray(higher_is_better, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_log = np.log10(np.maximum(x, np.where(is_log, lo, -np.inf)))
        x_t = np.where(is_log, x_log, x)
        lo_t = np.where(is_log, np.log10(np.where(is_log, lo, 1.0)), lo)
        hi_t = np.where(is_log, np.log10(np.where(is_log, hi, 1.0)), hi)
        raw = 100.0 * (x_t - lo_t) / (hi_t - lo_t)
    score = np.clip(raw, 0.0, 100.0)
    return np.where(higher, score, 100.0 - score)


def catalog_meta(catalog: Catalog) -> pd.DataFrame:
    """One row per scored indicator: pillar, sub-pillar, goalposts, direction, weight, UMC target."""
    rows = []
    labels = {sp.id: sp.label for sp in catalog.sub_pillars}
    for ind in catalog.scored:
        codes = [f"{label} {ind.codes(pub)[0]}" for pub, label in PUBLISHER_LABELS
                 if ind.codes(pub)]
        rows.append({
            "indicator": ind.id,
            "name": ind.name,
            "pillar": ind.pillar,
            "sub_pillar": ind.sub_pillar,
            "sub_pillar_label": labels.get(ind.sub_pillar, ind.sub_pillar),
            "unit": ind.unit,
            "higher_is_better": ind.higher_is_better,
            "lower": ind.goalposts.lower,
            "upper": ind.goalposts.upper,
            "scaling": ind.scaling,
            "bounded_share": ind.bounded_share,
            "weight": ind.weight,
            "umc_target": ind.umc_target.value if ind.umc_target else np.nan,
            "umc_target_year": ind.umc_target.year if ind.umc_target else np.nan,
            "umc_target_label": ind.umc_target.label if ind.umc_target else "",
            "sources": "; ".join(codes),
        })
    return pd.DataFrame(rows, columns=META_COLUMNS)


def score_frame(frame: pd.DataFrame, meta: pd.DataFrame) -> pd.Series:
    """Scores of a frame with ``indicator`` and ``value`` columns (any years), by catalog rules."""
    m = frame[["indicator"]].merge(meta, on="indicator", how="left")
    scores = scale_values(
        frame["value"].to_numpy(dtype="float64"),
        m["lower"].to_numpy(dtype="float64"),
        m["upper"].to_numpy(dtype="float64"),
        higher_is_better=m["higher_is_better"].fillna(True).to_numpy(dtype=bool),
        log=(m["scaling"] == "log").to_numpy(dtype=bool),
    )
    return pd.Series(scores, index=frame.index, name="score")


# --------------------------------------------------------------------------- world scores
@dataclass
class WorldScores:
    """Scores of every economy in the panel (see the module docstring for the rules).

    Attributes:
        indicators: ``iso3, indicator, pillar, sub_pillar, year, value, score, stale, source``;
            one row per economy and indicator with a value (in-window, or stale with NaN score).
        sub_pillars: ``iso3, pillar, sub_pillar, score, coverage, n_present, n_total,
            sufficient, raw_score``; every economy x every catalog sub-pillar.
        pillars: ``iso3, pillar, score, coverage, n_present, n_total, sufficient, raw_score``;
            every economy x every scored pillar.
        meta: the scored catalog as a frame (:func:`catalog_meta`).
        core: the catalog's core groups (``level, key, group, indicator``).
        window: the inclusive year window ``(start, end)``.
        coverage_threshold: minimum coverage for a score to be shown.
    """

    indicators: pd.DataFrame
    sub_pillars: pd.DataFrame
    pillars: pd.DataFrame
    meta: pd.DataFrame
    core: pd.DataFrame
    window: tuple[int, int]
    coverage_threshold: float

    def frames(self) -> dict[str, pd.DataFrame]:
        """The frames to store in the cache (window and threshold are part of the key)."""
        return {"indicators": self.indicators, "sub_pillars": self.sub_pillars,
                "pillars": self.pillars, "meta": self.meta, "core": self.core}

    @classmethod
    def from_frames(cls, frames: dict[str, pd.DataFrame], window: tuple[int, int],
                    coverage_threshold: float) -> WorldScores:
        return cls(indicators=frames["indicators"], sub_pillars=frames["sub_pillars"],
                   pillars=frames["pillars"], meta=frames["meta"], core=frames["core"],
                   window=tuple(window), coverage_threshold=float(coverage_threshold))

    @property
    def available_indicators(self) -> set[str]:
        """Indicators with at least one value for some economy in the data (any year)."""
        return set(self.indicators["indicator"].unique())

    @property
    def economies(self) -> list[str]:
        return sorted(self.pillars["iso3"].unique())

    def country(self, iso3: str) -> dict[str, pd.DataFrame]:
        """The three frames restricted to one economy."""
        return {name: f[f["iso3"] == iso3].reset_index(drop=True)
                for name, f in (("indicators", self.indicators),
                                ("sub_pillars", self.sub_pillars), ("pillars", self.pillars))}


def latest_values(panel: pd.DataFrame, indicators: Iterable[str],
                  window: tuple[int, int], *, include_stale: bool = True) -> pd.DataFrame:
    """Latest value per economy and indicator within the window; else the latest older one.

    Returns ``iso3, indicator, year, value, source, stale`` (plus ``quality`` and
    ``quality_note`` when the panel was screened). Values after the window's end
    are ignored (the window is the analysis period). On a screened panel
    (:func:`p2c_research.analyses.quality.screen_panel`), outliers and imputed
    repeats are never used (the latest clean value stands in), and a value the
    screen calls stale (older than ``reference_year - max_age``) is stale here too.
    """
    from p2c_research.analyses.quality import SCORE_SKIPPED, has_flag

    start, end = window
    p = panel[panel["indicator"].isin(list(indicators)) & panel["value"].notna()]
    screened = "quality" in p.columns
    if screened:
        skipped = np.zeros(len(p), dtype=bool)
        for flag in SCORE_SKIPPED:
            skipped |= has_flag(p["quality"], flag).to_numpy()
        p = p[~skipped]
    cols = ["iso3", "indicator", "year", "value", "source"]
    cols += ["quality", "quality_note"] if screened else []
    p = p[cols]
    in_window = p[(p["year"] >= start) & (p["year"] <= end)]
    latest = (in_window.sort_values("year")
              .drop_duplicates(["iso3", "indicator"], keep="last")
              .assign(stale=False))
    if screened:
        latest["stale"] = has_flag(latest["quality"], "stale").to_numpy()
    if include_stale:
        older = p[p["year"] < start].sort_values("year").drop_duplicates(
            ["iso3", "indicator"], keep="last")
        seen = pd.MultiIndex.from_frame(latest[["iso3", "indicator"]])
        older = older[~pd.MultiIndex.from_frame(older[["iso3", "indicator"]]).isin(seen)]
        latest = pd.concat([latest, older.assign(stale=True)], ignore_index=True)
    return latest.reset_index(drop=True)


def core_missing(present: pd.DataFrame, grid: pd.DataFrame, groups: pd.DataFrame,
                 keys: list[str]) -> pd.Series:
    """For each row of ``grid`` (``iso3`` + ``keys``), the core groups without a value.

    Args:
        present: ``iso3, indicator`` of the values that count.
        grid: the rows to check.
        groups: ``<keys...>, group, indicator``: any indicator of a group satisfies it.

    Returns:
        A string per grid row: the missing groups joined by "; " ("" when none).
    """
    if groups.empty:
        return pd.Series("", index=grid.index, dtype=object)
    required = grid[["iso3", *keys]].merge(groups[[*keys, "group"]].drop_duplicates(), on=keys)
    met = present[["iso3", "indicator"]].merge(groups, on="indicator")[["iso3", *keys, "group"]]
    met = met.drop_duplicates().assign(_met=True)
    missing = required.merge(met, on=["iso3", *keys, "group"], how="left")
    missing = missing[missing["_met"].isna()]
    text = (missing.sort_values("group").groupby(["iso3", *keys])["group"]
            .agg("; ".join).rename("core_missing").reset_index())
    out = grid[["iso3", *keys]].merge(text, on=["iso3", *keys], how="left")["core_missing"]
    return pd.Series(out.fillna("").to_numpy(dtype=object), index=grid.index)


def _aggregate(present: pd.DataFrame, grid: pd.DataFrame, keys: list[str],
               threshold: float, groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """Weighted mean of present scores and coverage over ``keys``, on a full grid."""
    present = present.assign(wscore=present["score"] * present["weight"])
    agg = present.groupby(keys, as_index=False).agg(
        n_present=("score", "size"), w_present=("weight", "sum"), wscore=("wscore", "sum"))
    out = grid.merge(agg, on=keys, how="left")
    out["n_present"] = out["n_present"].fillna(0).astype("int64")
    out["n_total"] = out["n_total"].astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["raw_score"] = np.where(out["n_present"] > 0,
                                    out["wscore"] / out["w_present"], np.nan)
    out["coverage"] = out["n_present"] / out["n_total"]
    out["core_missing"] = core_missing(present, out, groups if groups is not None
                                       else pd.DataFrame(columns=[*keys[1:], "group",
                                                                  "indicator"]), keys[1:])
    out["sufficient"] = ((out["n_present"] > 0) & (out["coverage"] >= threshold - _EPS)
                         & (out["core_missing"] == ""))
    out["score"] = out["raw_score"].where(out["sufficient"])
    return out


def world_scores(panel: pd.DataFrame, catalog: Catalog, window: tuple[int, int],
                 coverage_threshold: float, *, include_stale: bool = True) -> WorldScores:
    """Score every economy of the panel in one vectorised pass.

    Args:
        panel: tidy panel ``iso3, indicator, year, value, source``.
        catalog: the indicator catalog (goalposts, direction, scaling, weights).
        window: inclusive ``(start, end)`` years for the latest value.
        coverage_threshold: share of a (sub-)pillar's indicators needed to show its score.
        include_stale: keep older-than-window values in ``indicators`` (flagged, unscored).

    Economies are those with at least one row in the panel (any indicator,
    context included), so an economy with context data only gets coverage 0.
    """
    start, end = int(window[0]), int(window[1])
    meta = catalog_meta(catalog)
    core = catalog.core_groups()
    latest = latest_values(panel, meta["indicator"], (start, end), include_stale=include_stale)
    ind = latest.merge(meta[["indicator", "pillar", "sub_pillar"]], on="indicator", how="left")
    ind["score"] = score_frame(ind, meta).where(~ind["stale"])
    for col in ("quality", "quality_note"):
        ind[col] = ind[col].fillna("").astype(str) if col in ind else ""
    ind = ind[INDICATOR_COLUMNS].sort_values(["iso3", "indicator"]).reset_index(drop=True)
    ind["year"] = ind["year"].astype("int64")
    ind["stale"] = ind["stale"].astype(bool)

    economies = pd.DataFrame({"iso3": sorted(panel["iso3"].dropna().unique())})
    present = ind[~ind["stale"] & ind["score"].notna()].merge(
        meta[["indicator", "weight"]], on="indicator")

    sub_totals = (meta.groupby(["pillar", "sub_pillar"], as_index=False, sort=False)
                  .agg(n_total=("indicator", "size")))
    sub_grid = economies.merge(sub_totals, how="cross")
    sub_core = (core[core["level"] == "sub_pillar"].rename(columns={"key": "sub_pillar"})
                .merge(meta[["sub_pillar", "pillar"]].drop_duplicates(), on="sub_pillar"))
    subs = _aggregate(present, sub_grid, ["iso3", "pillar", "sub_pillar"], coverage_threshold,
                      sub_core[["pillar", "sub_pillar", "group", "indicator"]])

    pil_totals = meta.groupby("pillar", as_index=False).agg(n_total=("indicator", "size"))
    pil_totals = pil_totals.set_index("pillar").reindex(list(SCORED_PILLARS)).reset_index()
    pil_grid = economies.merge(pil_totals, how="cross")
    pil_core = core[core["level"] == "pillar"].rename(columns={"key": "pillar"})
    pillars = _aggregate(present, pil_grid, ["iso3", "pillar"], coverage_threshold,
                         pil_core[["pillar", "group", "indicator"]])

    return WorldScores(
        indicators=ind,
        sub_pillars=subs[SUB_PILLAR_COLUMNS].reset_index(drop=True),
        pillars=pillars[PILLAR_COLUMNS].reset_index(drop=True),
        meta=meta,
        core=core,
        window=(start, end),
        coverage_threshold=float(coverage_threshold),
    )


# --------------------------------------------------------------------------- priorities
def priority_members(meta: pd.DataFrame, priority: Any) -> list[str]:
    """The indicators that measure a priority.

    Its own ``indicators`` list when the params give one (possibly empty: a
    priority no catalog indicator measures), else every scored indicator of
    the sub-pillars it lists, else of its pillars.
    """
    explicit = getattr(priority, "indicators", None)
    if explicit is not None:
        return [i for i in explicit if i in set(meta["indicator"])]
    subs = list(priority.sub_pillars)
    mask = meta["sub_pillar"].isin(subs) if subs else meta["pillar"].isin(list(priority.pillars))
    return meta.loc[mask, "indicator"].tolist()


def priority_scores(world: WorldScores, priorities: Iterable[Any]) -> pd.DataFrame:
    """Score each strategic priority for every economy.

    A priority is measured by its indicators (:func:`priority_members`). Its
    score is the weighted mean (catalog weights) of their current scores,
    under the same rules as a sub-pillar: its coverage must reach the
    threshold, and every core group of the sub-pillars it draws on (limited to
    the group members it includes) must have a value. A priority with no
    measuring indicator has ``n_total`` 0 and is never scored.

    Args:
        world: the all-country scores.
        priorities: objects with ``id``, ``pillars``, ``sub_pillars`` and
            optionally ``indicators`` (``params.Priority``), or a
            ``Priorities`` object with ``items``.

    Returns:
        ``iso3, priority_id, score, coverage, n_present, n_total, sufficient,
        core_missing, indicators`` (the member ids joined by ", ").
    """
    items = list(getattr(priorities, "items", priorities))
    if not items:
        return pd.DataFrame(columns=PRIORITY_COLUMNS)
    meta = world.meta
    members = [pd.DataFrame({"priority_id": pr.id, "indicator": priority_members(meta, pr)},
                            columns=["priority_id", "indicator"]) for pr in items]
    membership = pd.concat(members, ignore_index=True)
    ids = [pr.id for pr in items]
    totals = (membership.groupby("priority_id").size().reindex(ids, fill_value=0)
              .rename("n_total").rename_axis("priority_id").reset_index())
    listing = (membership.groupby("priority_id")["indicator"].agg(", ".join)
               .reindex(ids, fill_value="").rename("indicators").rename_axis("priority_id")
               .reset_index())
    ind = world.indicators
    present = ind[~ind["stale"] & ind["score"].notna()].merge(
        meta[["indicator", "weight"]], on="indicator").merge(membership, on="indicator")
    sub_core = world.core[world.core["level"] == "sub_pillar"].rename(
        columns={"key": "sub_pillar"})
    groups = membership.merge(meta[["indicator", "sub_pillar"]], on="indicator").merge(
        sub_core[["sub_pillar", "group"]].drop_duplicates(), on="sub_pillar")
    groups = groups.merge(sub_core[["sub_pillar", "group", "indicator"]],
                          on=["sub_pillar", "group", "indicator"])
    grid = pd.DataFrame({"iso3": world.economies}).merge(totals, how="cross")
    out = _aggregate(present, grid, ["iso3", "priority_id"], world.coverage_threshold,
                     groups[["priority_id", "group", "indicator"]])
    out["n_total"] = out["n_total"].astype("int64")
    out["coverage"] = out["coverage"].where(out["n_total"] > 0)
    out = out.merge(listing, on="priority_id", how="left")
    return out[PRIORITY_COLUMNS].reset_index(drop=True)
