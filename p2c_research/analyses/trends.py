"""Recent trends and distance to targets (UMC 2030 and national).

Per indicator, a robust trend over its most recent clean observations, on a
scale that respects the indicator's bounds, and from it the years needed to
reach each target, as a range. Values the data-quality screen flags
(:mod:`p2c_research.analyses.quality`: outliers, imputed runs, jumps, values
before a break) are left out before anything here sees them.

Definitions (stated in the reports and in docs/methodology.md):

* **Recent window.** The last :data:`RECENT_POINTS` clean observations in the
  year window; at least ``min_points`` are needed for a trend.
* **Scale.** Bounded shares: the logit of the share (clipped to 0.5-99.5%), so
  the projection saturates below 100% (a logistic curve). Other positive
  series: the natural log (a constant growth rate), so a projection never
  crosses zero. Series with a zero or negative value: raw units.
* **Slope.** Theil-Sen on that scale (the median of all pairwise slopes, robust
  to one odd year), with its 90% confidence interval
  (``scipy.stats.theilslopes``). ``change_per_year`` is the fitted curve's
  change over the last year, in the indicator's unit; ``score_slope`` the
  same on the 0-100 score (score points a year, comparable across units).
* ``cagr_pct`` = ``100 * ((last / first) ** (1 / years) - 1)`` over the recent
  window, only when both values are positive.
* ``gap_to_target`` = what is still to go, in the indicator's unit: ``target -
  value`` where higher is better, ``value - target`` where lower is better;
  zero or less means the target is met.
* ``progress`` = ``100 * value / target`` (higher is better) or ``100 * target /
  value`` (lower is better), clipped to 0-100. UMC bands of progress:
  [0, 50) limited, [50, 75) satisfactory, [75, 95) advanced, [95, 100] met.
* **Years to target.** The trend is projected from the latest value on its
  scale: ``(g(target) - g(value)) / slope``, with the slope's 90% interval
  giving the range (``years_low`` from the faster bound, ``years_high`` from
  the slower; infinite when that bound does not move towards the target). A
  share target of 100% counts as reached at 95%, where ITU's UMC dashboard
  counts a target as met, since a logistic curve never reaches 100%.
  ``year_reached`` is the first whole year by which the central projection
  gets there. **Status**: "met"; "on track" when ``year_reached`` is no later
  than the target year; "not on track" otherwise (including a flat trend or
  one moving away); "no trend" with too few clean points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import theilslopes

from p2c_research.analyses.regression import expit_percent, logit_percent
from p2c_research.analyses.scores import score_frame

TREND_COLUMNS = [
    "iso3", "indicator", "n_points", "first_year", "first_value", "last_year", "last_value",
    "cagr_pct", "trend_scale", "trend_slope", "slope_low", "slope_high", "intercept",
    "slope", "score_slope",
]
TARGET_COLUMNS = [
    "iso3", "indicator", "target_kind", "target", "target_year", "target_source",
    "provisional", "year", "value", "gap_to_target", "progress", "band", "slope",
    "years_to_target", "years_low", "years_high", "year_reached", "status", "quality",
]
#: How many of the latest clean observations a trend uses.
RECENT_POINTS = 5
#: Confidence of the slope interval behind the years-to-target range.
SLOPE_CONFIDENCE = 0.90
#: A share target of 100% counts as met from here (ITU's UMC "target met" band).
SHARE_MET = 95.0
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
    """Years to reach ``target`` from ``value`` at ``slope`` units a year (on any one scale).

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


# --------------------------------------------------------------------------- scales
def trend_scale(bounded_share: bool, values: np.ndarray) -> str:
    """The scale a trend is fitted on (see the module docstring)."""
    if bounded_share:
        return "logit"
    return "log" if np.all(np.asarray(values, dtype="float64") > 0) else "linear"


def to_scale(values, scale: str) -> np.ndarray:
    v = np.asarray(values, dtype="float64")
    if scale == "logit":
        return logit_percent(v)
    if scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(v)
    return v


def from_scale(values, scale: str) -> np.ndarray:
    v = np.asarray(values, dtype="float64")
    if scale == "logit":
        return expit_percent(v)
    if scale == "log":
        return np.exp(v)
    return v


# --------------------------------------------------------------------------- trends
def window_series(panel: pd.DataFrame, meta: pd.DataFrame, window: tuple[int, int],
                  iso3s: Iterable[str] | None = None) -> pd.DataFrame:
    """In-window observations of scored indicators, with their scores.

    Returns ``iso3, indicator, pillar, year, value, score`` sorted by year
    (plus ``quality`` when the panel carries the screen's column).
    """
    start, end = window
    p = panel[panel["indicator"].isin(meta["indicator"]) & panel["value"].notna()
              & (panel["year"] >= start) & (panel["year"] <= end)]
    if iso3s is not None:
        p = p[p["iso3"].isin(list(iso3s))]
    extra = [c for c in ("quality",) if c in p.columns]
    p = p[["iso3", "indicator", "year", "value", *extra]].merge(
        meta[["indicator", "pillar"]], on="indicator", how="left")
    p["score"] = score_frame(p, meta)
    return p.sort_values(["iso3", "indicator", "year"]).reset_index(drop=True)


def _one_trend(rows: pd.DataFrame, bounded: bool, min_points: int, recent: int,
               meta_row: pd.DataFrame) -> dict[str, Any]:
    rows = rows.sort_values("year").tail(recent)
    x = rows["year"].to_numpy(dtype="float64")
    y = rows["value"].to_numpy(dtype="float64")
    rec: dict[str, Any] = {
        "n_points": len(rows), "first_year": int(x[0]), "first_value": y[0],
        "last_year": int(x[-1]), "last_value": y[-1]}
    nan = float("nan")
    rec.update(cagr_pct=nan, trend_scale="", trend_slope=nan, slope_low=nan, slope_high=nan,
               intercept=nan, slope=nan, score_slope=nan)
    if len(rows) < min_points or np.ptp(x) == 0:
        return rec
    scale = trend_scale(bounded, y)
    ty = to_scale(y, scale)
    res = theilslopes(ty, x, alpha=SLOPE_CONFIDENCE)
    rec.update(trend_scale=scale, trend_slope=float(res.slope), slope_low=float(res.low_slope),
               slope_high=float(res.high_slope), intercept=float(res.intercept))
    rec["cagr_pct"] = 100.0 * cagr(y[0], y[-1], x[-1] - x[0])
    ends = from_scale(res.intercept + res.slope * np.array([x[-1] - 1, x[-1]]), scale)
    rec["slope"] = float(ends[1] - ends[0])
    span = np.array([x[0], x[-1]])
    fitted = from_scale(res.intercept + res.slope * span, scale)
    scores = score_frame(pd.DataFrame({"indicator": meta_row["indicator"].iloc[0],
                                       "value": fitted}), meta_row)
    rec["score_slope"] = float((scores.iloc[1] - scores.iloc[0]) / (x[-1] - x[0]))
    return rec


def indicator_trends(series: pd.DataFrame, min_points: int = 3, *,
                     meta: pd.DataFrame | None = None, recent: int = RECENT_POINTS,
                     bounded: Iterable[str] = ()) -> pd.DataFrame:
    """Recent robust trends per economy and indicator (see the module docstring).

    Args:
        series: :func:`window_series` output, already cut to the observations a
            trend may use (the quality screen's clean rows).
        min_points: fewest clean observations for a trend; fewer give NaN.
        meta: the scored catalog (:func:`p2c_research.analyses.scores.catalog_meta`),
            for the score slope; without it ``score_slope`` is NaN.
        recent: how many of the latest observations the trend uses.
        bounded: ids of the bounded shares (fitted on the logit scale).
    """
    if series.empty:
        return pd.DataFrame(columns=TREND_COLUMNS)
    shares = set(bounded)
    records = []
    for (iso3, ind), rows in series.groupby(["iso3", "indicator"], sort=True):
        meta_row = (meta[meta["indicator"] == ind] if meta is not None
                    else pd.DataFrame({"indicator": [ind]}))
        rec = _one_trend(rows, ind in shares, min_points, recent, meta_row)
        if meta is None:
            rec["score_slope"] = float("nan")
        records.append({"iso3": iso3, "indicator": ind, **rec})
    return pd.DataFrame(records, columns=TREND_COLUMNS)


def trend_lines(series: pd.DataFrame, trends: pd.DataFrame) -> pd.DataFrame:
    """Observed values with the trend's fitted value at each year of its recent window.

    The fitted value comes back from the trend's scale, so it keeps the
    indicator's bounds (never below zero, shares below 100%); years before
    the recent window, and flagged values, get no fitted value.
    """
    out = series.merge(trends[["iso3", "indicator", "trend_scale", "trend_slope", "intercept",
                               "first_year", "last_year"]],
                       on=["iso3", "indicator"], how="left")
    fitted = np.full(len(out), np.nan)
    for scale in ("logit", "log", "linear"):
        m = (out["trend_scale"] == scale).to_numpy()
        if m.any():
            lin = out["intercept"].to_numpy()[m] + out["trend_slope"].to_numpy()[m] * \
                out["year"].to_numpy(dtype="float64")[m]
            fitted[m] = from_scale(lin, scale)
    inside = ((out["year"] >= out["first_year"]) & (out["year"] <= out["last_year"])).to_numpy()
    if "quality" in out:
        inside = inside & (out["quality"].fillna("") == "").to_numpy()
    out["fitted"] = np.where(inside, fitted, np.nan)
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


def _effective_target(target: float, bounded: bool) -> float:
    """A share target of 100% is met at :data:`SHARE_MET` (see the module docstring)."""
    return SHARE_MET if bounded and target >= 100.0 else target


def _projection(rec: Any, bounded: bool) -> tuple[float, float, float, float, str | None]:
    """(years, years_low, years_high, year_reached, status) of one target row."""
    nan = float("nan")
    if pd.isna(rec.value):
        return nan, nan, nan, nan, None
    goal = _effective_target(rec.target, bounded)
    if (rec.value >= goal) if rec.higher_is_better else (rec.value <= goal):
        return 0.0, 0.0, 0.0, float(rec.year), MET
    scale = rec.trend_scale if isinstance(rec.trend_scale, str) else ""
    if not scale:
        return nan, nan, nan, nan, NO_TREND
    v, g = float(to_scale([rec.value], scale)[0]), float(to_scale([goal], scale)[0])
    years = [years_to_target(v, b, g, bool(rec.higher_is_better))
             for b in (rec.trend_slope, rec.slope_high, rec.slope_low)]
    fast, slow = sorted(years[1:])  # the faster slope bound gives the fewer years
    reached = float(math.ceil(rec.year + years[0] - 1e-9)) if np.isfinite(years[0]) else np.inf
    return years[0], fast, slow, reached, (ON_TRACK if reached <= rec.target_year
                                           else NOT_ON_TRACK)


def targets_table(iso3: str, latest: pd.DataFrame, trends: pd.DataFrame, meta: pd.DataFrame,
                  targets: pd.DataFrame, bounded: Iterable[str] = ()) -> pd.DataFrame:
    """Gap, UMC band, years to target (a range) and status for each target of one country.

    Args:
        latest: the country's in-window latest values (``indicator, year, value``).
        trends: the country's :func:`indicator_trends` rows.
        targets: :func:`target_rows` output.
        bounded: ids of the bounded shares.
    """
    if targets.empty:
        return pd.DataFrame(columns=TARGET_COLUMNS)
    shares = set(bounded)
    t = targets.merge(meta[["indicator", "higher_is_better"]], on="indicator", how="left")
    latest = latest if "quality" in latest else latest.assign(quality="")
    t = t.merge(latest[["indicator", "year", "value", "quality"]], on="indicator", how="left")
    t["quality"] = t["quality"].fillna("")
    t = t.merge(trends[["indicator", "slope", "trend_scale", "trend_slope", "slope_low",
                        "slope_high"]], on="indicator", how="left")
    t.insert(0, "iso3", iso3)
    higher = t["higher_is_better"].astype(bool)
    t["gap_to_target"] = np.where(higher, t["target"] - t["value"], t["value"] - t["target"])
    t["progress"] = target_progress(t["value"], t["target"], higher)
    t["band"] = [umc_band(p) for p in t["progress"]]
    projections = [_projection(rec, rec.indicator in shares) for rec in t.itertuples(index=False)]
    central, low, high, reached, status = (list(col) for col in zip(*projections, strict=True))
    t["years_to_target"] = np.where(np.isinf(central), np.nan, central)
    t["years_low"] = low
    t["years_high"] = high  # inf: the slower bound never gets there
    t["year_reached"] = np.where(np.isinf(reached), np.nan, reached)
    t["status"] = status
    t["year"] = t["year"].astype("Int64")
    return t[TARGET_COLUMNS].reset_index(drop=True)
