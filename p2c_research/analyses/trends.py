"""Trends over the window and distance to targets (UMC 2030 and national).

Per indicator: compound annual growth between the first and last value in the
window, and a robust linear trend (Theil-Sen: the median of all pairwise
slopes, so one odd year does not swing it). At that trend, the years needed to
reach each target, or "not on track". The gap to each target comes with the
UMC dashboard band of the progress made.

Definitions (stated in the reports):

* ``cagr_pct`` = ``100 * ((last / first) ** (1 / (last_year - first_year)) - 1)``,
  only when both values are positive.
* Theil-Sen ``slope`` (units per year) = median over pairs ``i < j`` of
  ``(y_j - y_i) / (t_j - t_i)``; ``intercept`` = ``median(y) - slope * median(t)``
  (as ``scipy.stats.theilslopes``). ``score_slope`` is the same on the 0-100
  score, so trends of different units compare (score points per year).
  Trends need at least ``min_points`` observations in the window.
* ``gap_to_target`` = what is still to go, in the indicator's unit: ``target -
  value`` where higher is better, ``value - target`` where lower is better;
  zero or less means the target is met.
* ``progress`` = ``100 * value / target`` (higher is better) or ``100 * target /
  value`` (lower is better), clipped to 0-100. UMC bands of progress:
  [0, 50) limited, [50, 75) satisfactory, [75, 95) advanced, [95, 100] met.
* ``years_to_target`` = ``gap / |slope|`` from the latest value when the trend
  moves towards the target, 0 when met, NaN ("not on track") when the trend
  is flat or moving away. ``status`` is "met", "on track" (reached by the
  target year), "not on track", or "no trend" (too few points).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from p2c_research.analyses.scores import score_frame

TREND_COLUMNS = [
    "iso3", "indicator", "n_points", "first_year", "first_value", "last_year", "last_value",
    "cagr_pct", "slope", "intercept", "score_slope",
]
TARGET_COLUMNS = [
    "iso3", "indicator", "target_kind", "target", "target_year", "target_source",
    "provisional", "year", "value", "gap_to_target", "progress", "band", "slope",
    "years_to_target", "year_reached", "status",
]
BANDS: tuple[tuple[float, str], ...] = (
    (95.0, "met"), (75.0, "advanced"), (50.0, "satisfactory"), (0.0, "limited"),
)
MET, ON_TRACK, NOT_ON_TRACK, NO_TREND = "met", "on track", "not on track", "no trend"


# --------------------------------------------------------------------------- scalar helpers
def cagr(first: float, last: float, years: float) -> float:
    """Compound annual growth rate as a fraction per year (NaN unless both values > 0)."""
    if not (first > 0 and last > 0 and years > 0):
        return float("nan")
    return float((last / first) ** (1.0 / years) - 1.0)


def umc_band(progress: float) -> str | None:
    """UMC dashboard band of a progress share (0-100): limited, satisfactory, advanced, met."""
    if progress is None or np.isnan(progress):
        return None
    for edge, label in BANDS:
        if progress >= edge:
            return label
    return "limited"


def target_progress(value: Any, target: Any, higher_is_better: Any) -> np.ndarray:
    """Progress towards a target, 0-100 (100 = met), element-wise."""
    v = np.asarray(value, dtype="float64")
    t = np.asarray(target, dtype="float64")
    higher = np.asarray(higher_is_better, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(higher, v / t, np.where(v > 0, t / v, 1.0))
    ratio = np.where(np.isnan(v) | np.isnan(t), np.nan, ratio)
    return np.clip(100.0 * ratio, 0.0, 100.0)


def years_to_target(value: float, slope: float, target: float, higher_is_better: bool) -> float:
    """Years to reach ``target`` from ``value`` at ``slope`` units/year.

    0 when already met; ``inf`` when the trend is flat or moves away; NaN when
    the slope or value is unknown.
    """
    if np.isnan(value) or np.isnan(target):
        return float("nan")
    gap = (target - value) if higher_is_better else (value - target)
    if gap <= 0:
        return 0.0
    if np.isnan(slope):
        return float("nan")
    towards = slope if higher_is_better else -slope
    if towards <= 0:
        return float("inf")
    return float(gap / towards)


# --------------------------------------------------------------------------- trends
def window_series(panel: pd.DataFrame, meta: pd.DataFrame, window: tuple[int, int],
                  iso3s: Iterable[str] | None = None) -> pd.DataFrame:
    """In-window observations of scored indicators, with their scores.

    Returns ``iso3, indicator, pillar, year, value, score`` sorted by year.
    """
    start, end = window
    p = panel[panel["indicator"].isin(meta["indicator"]) & panel["value"].notna()
              & (panel["year"] >= start) & (panel["year"] <= end)]
    if iso3s is not None:
        p = p[p["iso3"].isin(list(iso3s))]
    p = p[["iso3", "indicator", "year", "value"]].merge(
        meta[["indicator", "pillar"]], on="indicator", how="left")
    p["score"] = score_frame(p, meta)
    return p.sort_values(["iso3", "indicator", "year"]).reset_index(drop=True)


def theil_sen(series: pd.DataFrame, keys: list[str], x: str = "year",
              y: str = "value") -> pd.DataFrame:
    """Theil-Sen slope and intercept per group, vectorised over all groups.

    Returns ``keys + [slope, intercept]`` (groups with fewer than two distinct
    ``x`` have NaN).
    """
    s = series[[*keys, x, y]].dropna()
    pairs = s.merge(s, on=keys, suffixes=("_i", "_j"))
    pairs = pairs[pairs[f"{x}_i"] < pairs[f"{x}_j"]]
    pairs = pairs.assign(_slope=(pairs[f"{y}_j"] - pairs[f"{y}_i"])
                         / (pairs[f"{x}_j"] - pairs[f"{x}_i"]))
    slopes = pairs.groupby(keys, as_index=False).agg(slope=("_slope", "median"))
    medians = s.groupby(keys, as_index=False).agg(_mx=(x, "median"), _my=(y, "median"))
    out = medians.merge(slopes, on=keys, how="left")
    out["intercept"] = out["_my"] - out["slope"] * out["_mx"]
    return out[[*keys, "slope", "intercept"]]


def indicator_trends(series: pd.DataFrame, min_points: int = 3) -> pd.DataFrame:
    """CAGR and Theil-Sen trends per economy and indicator (see the module docstring).

    Args:
        series: :func:`window_series` output.
        min_points: fewest in-window observations for a trend; fewer give NaN.
    """
    keys = ["iso3", "indicator"]
    if series.empty:
        return pd.DataFrame(columns=TREND_COLUMNS)
    s = series.sort_values([*keys, "year"])
    g = s.groupby(keys, as_index=False)
    ends = g.agg(n_points=("year", "size"), first_year=("year", "first"),
                 first_value=("value", "first"), last_year=("year", "last"),
                 last_value=("value", "last"))
    ts = theil_sen(s, keys, "year", "value")
    ts_score = theil_sen(s, keys, "year", "score").rename(
        columns={"slope": "score_slope"}).drop(columns="intercept")
    out = ends.merge(ts, on=keys, how="left").merge(ts_score, on=keys, how="left")
    span = (out["last_year"] - out["first_year"]).astype("float64")
    first = out["first_value"].to_numpy(dtype="float64")
    last = out["last_value"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where((first > 0) & (last > 0) & (span.to_numpy() > 0),
                          (last / first) ** (1.0 / span.to_numpy()) - 1.0, np.nan)
    out["cagr_pct"] = 100.0 * growth
    enough = out["n_points"] >= min_points
    for col in ("cagr_pct", "slope", "intercept", "score_slope"):
        out[col] = out[col].where(enough)
    return out[TREND_COLUMNS].reset_index(drop=True)


def trend_lines(series: pd.DataFrame, trends: pd.DataFrame) -> pd.DataFrame:
    """Observed values with the Theil-Sen fitted value at each year (for trend charts)."""
    out = series.merge(trends[["iso3", "indicator", "slope", "intercept"]],
                       on=["iso3", "indicator"], how="left")
    out["fitted"] = out["intercept"] + out["slope"] * out["year"]
    return out[["iso3", "indicator", "pillar", "year", "value", "score", "fitted"]]


# --------------------------------------------------------------------------- targets
def target_rows(meta: pd.DataFrame, national_targets: Iterable[Any]) -> pd.DataFrame:
    """All targets of a country: the catalog's UMC targets and the national targets in params.

    Returns ``indicator, target_kind, target, target_year, target_source, provisional``.
    """
    umc = meta[meta["umc_target"].notna()]
    rows = [{"indicator": r.indicator, "target_kind": "UMC", "target": float(r.umc_target),
             "target_year": int(r.umc_target_year), "target_source": r.umc_target_label,
             "provisional": False} for r in umc.itertuples()]
    for t in national_targets:
        rows.append({"indicator": t.indicator, "target_kind": "national",
                     "target": float(t.value), "target_year": int(t.year),
                     "target_source": t.source, "provisional": bool(t.provisional)})
    return pd.DataFrame(rows, columns=["indicator", "target_kind", "target", "target_year",
                                       "target_source", "provisional"])


def targets_table(iso3: str, latest: pd.DataFrame, trends: pd.DataFrame, meta: pd.DataFrame,
                  targets: pd.DataFrame) -> pd.DataFrame:
    """Gap, UMC band, years to target and status for each target of one country.

    Args:
        latest: the country's in-window latest values (``indicator, year, value``).
        trends: the country's :func:`indicator_trends` rows.
        targets: :func:`target_rows` output.
    """
    if targets.empty:
        return pd.DataFrame(columns=TARGET_COLUMNS)
    t = targets.merge(meta[["indicator", "higher_is_better"]], on="indicator", how="left")
    t = t.merge(latest[["indicator", "year", "value"]], on="indicator", how="left")
    t = t.merge(trends[["indicator", "slope"]], on="indicator", how="left")
    t.insert(0, "iso3", iso3)
    higher = t["higher_is_better"].astype(bool)
    t["gap_to_target"] = np.where(higher, t["target"] - t["value"], t["value"] - t["target"])
    t["progress"] = target_progress(t["value"], t["target"], higher)
    t["band"] = [umc_band(p) for p in t["progress"]]
    years = [years_to_target(v, s, tg, h) for v, s, tg, h in
             zip(t["value"], t["slope"], t["target"], higher, strict=True)]
    t["years_to_target"] = np.where(np.isinf(years), np.nan, years)
    t["year_reached"] = t["year"] + t["years_to_target"]
    status = []
    for y, reached, tyear, v in zip(years, t["year_reached"], t["target_year"], t["value"],
                                    strict=True):
        if np.isnan(v):
            status.append(None)
        elif y == 0:
            status.append(MET)
        elif np.isnan(y):
            status.append(NO_TREND)
        elif np.isinf(y) or reached > tyear:
            status.append(NOT_ON_TRACK)
        else:
            status.append(ON_TRACK)
    t["status"] = status
    t["year"] = t["year"].astype("Int64")
    return t[TARGET_COLUMNS].reset_index(drop=True)
