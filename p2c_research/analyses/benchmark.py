"""Benchmarking: where an economy does better or worse than its income level predicts.

Every scored catalog indicator is regressed, across all economies at once, on
ln GDP per capita (PPP). The residual against that line is over- or
under-performance, which is what turns a score into a priority. The fits are
made ONCE per data vintage (:func:`p2c_research.steps.benchmark`);
each country's numbers, and the pledge-gap analysis, are read out of them.

Data rules:
    * Cross-section: for each economy and indicator, the latest year in the
      window where the indicator AND GDP per capita PPP of the same year are
      both present (so the regressor is the same country and year as the
      value). An economy with a value but no GDP in any such year keeps its
      latest value as ``actual`` and gets ``no_data`` (no prediction).
    * Urban share and population density (extended model only) are taken at
      that year, or the latest earlier year in the window: both move slowly.
    * Region and income group come from :func:`p2c_research.countries.load_countries`.

Models (``model`` column). Every scored indicator is a non-negative quantity,
and every model respects its bounds: predictions, intervals and the frontier
can go neither below zero nor, for a share, above 100%.
    Candidates, fitted by OLS with HC3 errors on a transformed scale and
    back-transformed:
    ``logit_lngdp``       shares (catalog ``bounded_share``): logit(value clipped to 0.5-99.5%).
    ``cloglog_lngdp``     shares: complementary log-log, ln(-ln(1 - p)) on the same clip;
                          asymmetric, for shares that saturate near 100% (coverage).
    ``log_lngdp``         other non-negative indicators: ln(value floored); the floor is the
                          catalog's positive lower goalpost, else half the smallest positive
                          value of the fit sample (zeros become the floor, said in a note).
    ``sqrt_lngdp``        other non-negative indicators: square root; a fitted value below 0
                          reads as 0.
    ``preferred`` is the candidate with the smallest leave-one-out mean absolute error on
    the indicator's own (raw) scale, so the transforms compete on the same scale
    (:func:`choose_preferred`).
    ``extended``          the base model on the preferred scale plus region and income-group
                          dummies, urban share and ln density (categories with fewer than 3
                          economies in the fit are pooled with the reference); context only.
    ``quantile_frontier`` quantile regression on the preferred scale at q = 0.9 (q = 0.1 for
                          lower-is-better indicators: the best practice is the cheap end),
                          back-transformed (quantiles are equivariant to monotone transforms,
                          so the frontier keeps the bounds).

Per country (``countries`` frame):
    ``residual`` = actual - predicted, in the indicator's raw units (not flipped).
    ``z`` = (actual - predicted) / predictive standard deviation, on the fitting scale (the
    yardstick of the prediction interval); ``perf_z`` flips its sign for lower-is-better
    indicators so that positive always means better than predicted. ``std_residual`` is
    the externally studentised residual (a diagnostic).
    ``verdict`` grades the residual (:func:`p2c_research.analyses.regression.grade`): well
    below | below | on par | above | well above; "no verdict" when the fit's R² on its own
    scale is below :data:`R2_FLOOR` (income explains too little of the indicator for a
    residual to mean anything); "no data" without a value or a prediction.
    For ``quantile_frontier`` rows it is beyond frontier | behind frontier | no data.
    ``distance_to_frontier`` is the shortfall from the frontier in raw units, positive when
    behind it (direction-aware), on every row of the indicator.

Panel (``panel_models``, ``panel_residuals``): pooled OLS over the window of value ~ ln GDP pc
+ year dummies, errors clustered by economy, on the preferred model's scale. A country's gap
trend is the slope of its yearly residuals (see :func:`panel_trend`), chosen over a country x
year interaction because it comes out of the one cached world fit.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from p2c_research import countries
from p2c_research.analyses.regression import (
    LOGIT_CLIP_PERCENT,
    NO_DATA,
    NO_VERDICT,
    VERDICTS,
    cloglog_percent,
    coefficient_table,
    expit_percent,
    fit_ols_hc3,
    fit_panel_year_fe,
    fit_quantile,
    grade,
    inv_cloglog_percent,
    log_floor,
    logit_percent,
    loo_fitted,
    predict_interval,
    predictive_z,
    residual_trend,
    sqrt_back,
    sqrt_forward,
    zero_floor,
)
from p2c_research.catalog import Catalog, Indicator

if TYPE_CHECKING:
    pass

MODEL_LOGIT = "logit_lngdp"
MODEL_CLOGLOG = "cloglog_lngdp"
MODEL_LOG = "log_lngdp"
MODEL_SQRT = "sqrt_lngdp"
MODEL_EXTENDED = "extended"
MODEL_FRONTIER = "quantile_frontier"
MODEL_PANEL = "panel_year_fe"
MODELS: tuple[str, ...] = (MODEL_LOGIT, MODEL_CLOGLOG, MODEL_LOG, MODEL_SQRT, MODEL_EXTENDED,
                           MODEL_FRONTIER)
#: Below this R² (on the fitting scale) a fit gives no verdict: income explains too
#: little of the cross-country variation for a residual to read as over- or under-performance.
R2_FLOOR = 0.20
FRONTIER_VERDICTS = ("beyond frontier", "behind frontier")

REGRESSOR = "gdp_pc_ppp"
URBAN = "urban_share"
DENSITY = "population_density"

#: Fewest economies with data for a world fit of an indicator.
DEFAULT_MIN_N = 30
#: The extended model also needs this many residual degrees of freedom.
EXTENDED_MIN_DF = 10
#: Region / income categories with fewer economies in a fit are pooled with the reference.
MIN_CATEGORY_N = 3
#: Points of the fitted-line grid handed to the scatter figure.
CURVE_POINTS = 60

COUNTRY_COLUMNS: list[str] = [
    "iso3", "indicator", "model", "preferred", "scale", "year", "gdp_pc_ppp", "actual",
    "predicted", "pi_low", "pi_high", "residual", "z", "perf_z", "std_residual", "verdict",
    "frontier", "distance_to_frontier", "note",
]
MODEL_COLUMNS: list[str] = [
    "indicator", "model", "preferred", "fitted", "scale", "n", "k", "r2", "adj_r2", "loo_mae",
    "intercept", "slope", "slope_se", "slope_ci_low", "slope_ci_high", "slope_pvalue",
    "cov_type", "resid_sd", "bp_pvalue", "n_influential", "influential", "quantile",
    "year_min", "year_max", "note",
]
COEF_COLUMNS: list[str] = ["indicator", "model", "term", "coef", "se", "ci_low", "ci_high",
                           "pvalue"]
DATA_COLUMNS: list[str] = ["iso3", "indicator", "year", "value", "gdp_pc_ppp", "ln_gdp",
                           "urban_share", "ln_density", "region", "income_group"]
CURVE_COLUMNS: list[str] = ["indicator", "model", "scale", "gdp_pc_ppp", "ln_gdp", "fitted",
                            "pi_low", "pi_high"]
PANEL_MODEL_COLUMNS: list[str] = ["indicator", "model", "scale", "n_obs", "n_countries", "n_years",
                                  "slope", "slope_se", "slope_ci_low", "slope_ci_high",
                                  "slope_pvalue", "r2", "cov_type"]
PANEL_RESID_COLUMNS: list[str] = ["iso3", "indicator", "year", "scale", "actual",
                                  "predicted", "residual"]
PEER_COLUMNS: list[str] = [
    "iso3", "peer_set", "indicator", "model", "n", "n_peers", "refit", "r2", "slope",
    "actual", "predicted", "pi_low", "pi_high", "residual", "z", "verdict", "note",
]

_FRAMES = ("models", "coefficients", "countries", "data", "curves", "panel_models",
           "panel_residuals")


@dataclass
class BenchmarkResults:
    """All-economy benchmark results of one data vintage (the cacheable unit).

    Attributes:
        models: one row per indicator x model: n, R², intercept/slope with CIs, diagnostics.
        coefficients: one row per indicator x model x term (all terms, incl. dummies).
        countries: one row per economy x indicator x model (see module docstring).
        data: the cross-section each fit used (latest value, GDP of the same year, ...).
        curves: fitted line and prediction band on a sorted ln GDP grid (for scatters).
        panel_models: the pooled year-FE panel fit per indicator (clustered errors).
        panel_residuals: each economy's residual per year from that panel fit.
        options: window, pi_level, frontier_q, min_n used.
    """

    models: pd.DataFrame
    coefficients: pd.DataFrame
    countries: pd.DataFrame
    data: pd.DataFrame
    curves: pd.DataFrame
    panel_models: pd.DataFrame
    panel_residuals: pd.DataFrame
    options: dict[str, Any] = field(default_factory=dict)

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """The results as named frames (for :func:`p2c_research.cache.cached_frames`)."""
        frames = {name: getattr(self, name) for name in _FRAMES}
        frames["options"] = pd.DataFrame(
            [{k: (list(v) if isinstance(v, tuple) else v) for k, v in self.options.items()}]
        ).astype(str)
        return frames

    @classmethod
    def from_frames(cls, frames: dict[str, pd.DataFrame]) -> BenchmarkResults:
        """Rebuild results read back from the cache."""
        options: dict[str, Any] = {}
        if "options" in frames and not frames["options"].empty:
            options = {str(k): v for k, v in frames["options"].iloc[0].items()}
        return cls(**{name: frames[name] for name in _FRAMES}, options=options)


# ---------------------------------------------------------------------- inputs
def candidate_models(indicator: Indicator) -> list[str]:
    """The bounded models an indicator is fitted with (see the module docstring)."""
    return [MODEL_LOGIT, MODEL_CLOGLOG] if indicator.bounded_share else [MODEL_LOG, MODEL_SQRT]


def choose_preferred(loo_mae: dict[str, float]) -> str:
    """The preferred candidate: the smallest leave-one-out mean absolute error on the raw scale.

    Each candidate predicts every economy of the fit sample from a fit without
    it (closed form, :func:`p2c_research.analyses.regression.loo_fitted`), back on
    the indicator's own scale; ties and non-finite errors go to the first
    candidate (logit for shares, log otherwise).
    """
    finite = {m: v for m, v in loo_mae.items() if np.isfinite(v)}
    if not finite:
        return next(iter(loo_mae))
    best = min(finite.values())
    return next(m for m, v in loo_mae.items() if m in finite and v <= best)


def preferred_models(results: BenchmarkResults) -> dict[str, str]:
    """indicator -> its preferred model in a set of world results."""
    m = results.models
    pref = m[m["preferred"].astype(bool)]
    return dict(zip(pref["indicator"].astype(str), pref["model"].astype(str), strict=False))


def _reference_frame(reference: pd.DataFrame | None) -> pd.DataFrame:
    ref = countries.load_countries() if reference is None else reference
    ref = ref[["iso3", "wb_region", "income_group"]].rename(
        columns={"wb_region": "region"})
    return ref.drop_duplicates("iso3").reset_index(drop=True)


def _context_frame(panel: pd.DataFrame) -> pd.DataFrame:
    """GDP (same year only) and slow context variables (carried forward) per economy-year."""
    ctx = panel[panel["indicator"].isin([REGRESSOR, URBAN, DENSITY])]
    wide = ctx.pivot_table(index=["iso3", "year"], columns="indicator", values="value",
                           aggfunc="first")
    wide = wide.reindex(columns=[REGRESSOR, URBAN, DENSITY]).sort_index()
    wide.columns = [str(c) for c in wide.columns]
    slow = wide[[URBAN, DENSITY]].groupby(level="iso3").ffill()
    out = pd.DataFrame({
        "gdp_pc_ppp": wide[REGRESSOR].where(wide[REGRESSOR] > 0),
        URBAN: slow[URBAN],
        "ln_density": np.log(slow[DENSITY].where(slow[DENSITY] > 0)),
    }, index=wide.index).reset_index()
    out["iso3"] = out["iso3"].astype(str)
    out["year"] = out["year"].astype("int64")
    out["ln_gdp"] = np.log(out["gdp_pc_ppp"])
    return out


def benchmark_cross_section(
    panel: pd.DataFrame,
    catalog: Catalog,
    window: tuple[int, int],
    *,
    reference: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The cross-section every world fit uses: one row per economy x scored indicator.

    The row is the latest year in ``window`` where the value and GDP per capita
    PPP of the same year are both present; failing that, the latest value
    (with no GDP, so it cannot be predicted). Columns: :data:`DATA_COLUMNS`.
    """
    start, end = window
    ref = _reference_frame(reference)
    p = panel[(panel["year"] >= start) & (panel["year"] <= end)
              & panel["iso3"].isin(ref["iso3"])]
    p = p.dropna(subset=["value"])
    ctx = _context_frame(p)
    scored = [i.id for i in catalog.scored]
    vals = p.loc[p["indicator"].isin(scored), ["iso3", "indicator", "year", "value"]].copy()
    vals["iso3"] = vals["iso3"].astype(str)
    vals["indicator"] = vals["indicator"].astype(str)
    vals["year"] = vals["year"].astype("int64")
    vals = vals.merge(ctx, on=["iso3", "year"], how="left")
    vals["has_gdp"] = vals["ln_gdp"].notna()
    vals = vals.sort_values(["indicator", "iso3", "has_gdp", "year"])
    latest = vals.groupby(["indicator", "iso3"], sort=False).tail(1)
    latest = latest.merge(ref, on="iso3", how="left")
    return latest[DATA_COLUMNS].sort_values(["indicator", "iso3"]).reset_index(drop=True)


def _economy_profiles(panel: pd.DataFrame, window: tuple[int, int],
                      ref: pd.DataFrame) -> pd.DataFrame:
    """Latest GDP year per economy with its context: predictors for economies lacking a value."""
    start, end = window
    p = panel[(panel["year"] >= start) & (panel["year"] <= end)
              & panel["iso3"].isin(ref["iso3"])].dropna(subset=["value"])
    ctx = _context_frame(p)
    ctx = ctx[ctx["ln_gdp"].notna()].sort_values(["iso3", "year"]).groupby("iso3").tail(1)
    prof = ref.merge(ctx, on="iso3", how="left").set_index("iso3")
    # Plain object strings: the fits index and compare these a few thousand
    # times, and pandas' Arrow-backed default string dtype is slow at that.
    prof.index = pd.Index(prof.index.astype(object), dtype=object, name="iso3")
    for col in ("region", "income_group"):
        prof[col] = prof[col].astype(object).where(prof[col].notna(), None)
    return prof


# ---------------------------------------------------------------------- design matrices
def _base_exog(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"const": 1.0, "ln_gdp": rows["ln_gdp"].astype("float64")},
                        index=rows.index)


def _category_levels(values: pd.Series) -> tuple[str | None, list[str]]:
    """Reference category (the most common; ties by name) and the categories given a dummy."""
    counts = values.dropna().astype(str).value_counts()
    if counts.empty:
        return None, []
    counts = counts.sort_index().sort_values(ascending=False, kind="stable")
    ref = str(counts.index[0])
    kept = sorted(str(c) for c, n in counts.items() if c != ref and n >= MIN_CATEGORY_N)
    return ref, kept


def _extended_exog(rows: pd.DataFrame, levels: dict[str, list[str]]) -> pd.DataFrame:
    exog = _base_exog(rows)
    exog["urban_share"] = rows["urban_share"].astype("float64")
    exog["ln_density"] = rows["ln_density"].astype("float64")
    for col, prefix in (("region", "region"), ("income_group", "income")):
        known = rows[col].notna()
        values = rows[col].to_numpy(dtype=object)
        for level in levels[col]:
            dummy = pd.Series((values == level).astype("float64"), index=rows.index)
            exog[f"{prefix}[{level}]"] = dummy.where(known)
    return exog


# ---------------------------------------------------------------------- per indicator
@dataclass
class _Transform:
    scale: str
    forward: Any
    back: Any
    #: (is the raw value clipped by ``forward``?, the note saying so)
    clipped: Any = None
    clip_note: str = ""


def _transform(model: str, ind: Indicator, floor: float = np.nan) -> _Transform:
    """The fitting scale of a candidate model (``floor``: the log model's zero floor)."""
    lo, hi = LOGIT_CLIP_PERCENT
    clip_note = f"value outside {lo:g}-{hi:g}%: compared at the clip"
    if model == MODEL_LOGIT:
        return _Transform("logit", logit_percent, expit_percent,
                          lambda v: (v < lo) | (v > hi), clip_note)
    if model == MODEL_CLOGLOG:
        return _Transform("cloglog", cloglog_percent, inv_cloglog_percent,
                          lambda v: (v < lo) | (v > hi), clip_note)
    if model == MODEL_LOG:
        return _Transform("log", lambda v: log_floor(v, floor), np.exp,
                          lambda v: v < floor,
                          f"value below the log floor ({floor:.3g}): compared at the floor")
    if model == MODEL_SQRT:
        return _Transform("sqrt", sqrt_forward, sqrt_back)
    raise ValueError(f"no transform for model {model!r}")


def _empty_model_row(ind: Indicator, model: str, n: int, note: str,
                     preferred: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(MODEL_COLUMNS, np.nan)
    row.update(indicator=ind.id, model=model, preferred=preferred, fitted=False, n=n, note=note,
               scale="", cov_type="", influential="")
    return row


def _coef_rows(ind_id: str, model: str, result, level: float = 0.95) -> list[dict[str, Any]]:
    table = coefficient_table(result, level)
    table.insert(0, "model", model)
    table.insert(0, "indicator", ind_id)
    return table.to_dict("records")


def _no_verdict_note(r2: float) -> str:
    return (f"no verdict: income explains little of this indicator (R\u00b2 {r2:.2f} below "
            f"{R2_FLOOR:.2f})")


def _fit_indicator(ind: Indicator, rows: pd.DataFrame, *, pi_level: float, frontier_q: float,
                   min_n: int) -> dict[str, list]:
    """Fit every model of one indicator; ``rows`` is indexed by iso3 over all economies."""
    out: dict[str, list] = {"models": [], "coefficients": [], "countries": [], "curves": []}
    hib = ind.higher_is_better
    sign = 1.0 if hib else -1.0
    candidates = candidate_models(ind)
    actual = rows["actual"]
    base_sample = actual.notna() & rows["ln_gdp"].notna()
    n_base = int(base_sample.sum())
    years = rows.loc[base_sample, "year"]
    floor = zero_floor(actual[base_sample], ind.goalposts.lower)

    nan_col = np.full(len(rows), np.nan)
    base_note = np.where(actual.isna(), "no value in the window",
                         np.where(rows["ln_gdp"].isna(),
                                  "no GDP per capita (PPP) for the year of the value", ""))

    def country_frame(model: str, scale: str) -> pd.DataFrame:
        cols: dict[str, Any] = {
            "iso3": rows.index.to_numpy(), "indicator": ind.id, "model": model,
            "preferred": False, "scale": scale, "year": rows["year"].to_numpy(),
            "gdp_pc_ppp": rows["gdp_pc_ppp"].to_numpy(), "actual": actual.to_numpy()}
        for col in ("predicted", "pi_low", "pi_high", "residual", "z", "perf_z",
                    "std_residual", "frontier", "distance_to_frontier"):
            cols[col] = nan_col.copy()
        cols["verdict"] = NO_DATA
        cols["note"] = base_note.astype(object)
        return pd.DataFrame(cols, index=rows.index)

    if n_base < min_n:
        note = ("no economy has a value in the window: not fitted" if n_base == 0 else
                f"only {n_base} economies with a value (fewer than {min_n}): not fitted")
        out["models"].append(_empty_model_row(ind, candidates[0], n_base, note, preferred=True))
        frame = country_frame(candidates[0], "")
        frame["preferred"] = True
        frame["note"] = note
        out["countries"].append(frame)
        return out

    grid_ln = np.linspace(rows.loc[base_sample, "ln_gdp"].min(),
                          rows.loc[base_sample, "ln_gdp"].max(), CURVE_POINTS)
    grid = pd.DataFrame({"ln_gdp": grid_ln})

    def curve(model: str, scale: str, fitted, lo=np.nan, hi=np.nan) -> pd.DataFrame:
        return pd.DataFrame({"indicator": ind.id, "model": model, "scale": scale,
                             "gdp_pc_ppp": np.exp(grid_ln), "ln_gdp": grid_ln,
                             "fitted": fitted, "pi_low": lo, "pi_high": hi})

    def ols_model(model: str, tr: _Transform, exog_all: pd.DataFrame, sample: pd.Series
                  ) -> tuple[dict[str, Any], pd.DataFrame, Any]:
        """Fit one OLS model on ``tr``'s scale; its models row, country frame and fit."""
        has_x = exog_all.notna().all(axis=1)
        sample = sample & has_x
        frame = country_frame(model, tr.scale)
        y = tr.forward(actual[sample])
        fit = fit_ols_hc3(pd.Series(y, index=exog_all.index[sample]), exog_all[sample])
        res = fit.result
        ci = np.asarray(res.conf_int(alpha=0.05))
        infl = fit.influential()
        loo = tr.back(loo_fitted(res))
        row: dict[str, Any] = dict.fromkeys(MODEL_COLUMNS, np.nan)
        row.update(indicator=ind.id, model=model, preferred=False, fitted=True, scale=tr.scale,
                   n=int(sample.sum()), k=exog_all.shape[1], note="", cov_type="HC3",
                   year_min=int(years.min()), year_max=int(years.max()),
                   r2=float(res.rsquared), adj_r2=float(res.rsquared_adj),
                   loo_mae=float(np.mean(np.abs(actual[sample].to_numpy() - loo))),
                   intercept=float(res.params.iloc[0]), slope=float(res.params.iloc[1]),
                   slope_se=float(res.bse.iloc[1]), slope_ci_low=float(ci[1, 0]),
                   slope_ci_high=float(ci[1, 1]), slope_pvalue=float(res.pvalues.iloc[1]),
                   resid_sd=float(np.sqrt(res.scale)), bp_pvalue=fit.bp_pvalue,
                   n_influential=len(infl), influential=";".join(map(str, infl.index[:5])))
        out["coefficients"].extend(_coef_rows(ind.id, model, res))
        pred = predict_interval(res, exog_all[has_x], pi_level).reindex(rows.index)
        for col in ("predicted", "pi_low", "pi_high"):
            frame[col] = tr.back(pred[col])
        frame["residual"] = actual - frame["predicted"]
        frame["std_residual"] = fit.std_resid
        # z and the verdict on the fitting scale: the transforms are monotone, so this is the
        # raw comparison except at a clip or floor, where the value is read as the fit saw it.
        fitted_actual = pd.Series(np.nan, index=rows.index)
        fitted_actual[actual.notna()] = tr.forward(actual[actual.notna()])
        z = predictive_z(fitted_actual, pred["predicted"], pred["pi_low"], pred["pi_high"],
                         pi_level, float(res.df_resid))
        frame["z"] = z
        frame["perf_z"] = sign * z
        outside = (fitted_actual < pred["pi_low"]) | (fitted_actual > pred["pi_high"])
        frame["verdict"] = grade(z, outside.to_numpy(), hib)
        if row["r2"] < R2_FLOOR:
            graded = frame["verdict"] != NO_DATA
            frame.loc[graded, "verdict"] = NO_VERDICT
            frame.loc[graded & (frame["note"] == ""), "note"] = _no_verdict_note(row["r2"])
            row["note"] = _no_verdict_note(row["r2"])
        if tr.clipped is not None:
            frame.loc[actual.notna() & tr.clipped(actual) & (frame["note"] == ""), "note"] = (
                tr.clip_note)
        return row, frame, res

    # 1. the candidates, on the base design, and the preferred one by LOO error on the raw scale
    fits: dict[str, tuple[dict[str, Any], pd.DataFrame, Any]] = {}
    for model in candidates:
        tr = _transform(model, ind, floor)
        fits[model] = ols_model(model, tr, _base_exog(rows), base_sample)
    pref = choose_preferred({m: f[0]["loo_mae"] for m, f in fits.items()})
    frames: list[pd.DataFrame] = []
    for model, (row, frame, res) in fits.items():
        tr = _transform(model, ind, floor)
        row["preferred"] = model == pref
        frame["preferred"] = model == pref
        band = predict_interval(res, _base_exog(grid), pi_level)
        out["curves"].append(curve(model, tr.scale, tr.back(band["predicted"]),
                                   tr.back(band["pi_low"]), tr.back(band["pi_high"])))
        out["models"].append(row)
        frames.append(frame)
    tr = _transform(pref, ind, floor)

    # 2. the extended model, on the preferred scale (context: its verdicts are not read)
    ext_cols = ["ln_gdp", "urban_share", "ln_density", "region", "income_group"]
    ext_sample = actual.notna() & rows[ext_cols].notna().all(axis=1)
    levels = {c: _category_levels(rows.loc[ext_sample, c])[1] for c in ("region", "income_group")}
    ext_exog = _extended_exog(rows, levels)
    n_ext = int((ext_sample & ext_exog.notna().all(axis=1)).sum())
    k_ext = ext_exog.shape[1]
    if n_ext < min_n or n_ext - k_ext < EXTENDED_MIN_DF:
        note = f"n = {n_ext} with all covariates for k = {k_ext} terms: extended model not fitted"
        out["models"].append(_empty_model_row(ind, MODEL_EXTENDED, n_ext, note))
        frame = country_frame(MODEL_EXTENDED, tr.scale)
        frame.loc[frame["note"] == "", "note"] = note
    else:
        row, frame, _ = ols_model(MODEL_EXTENDED, tr, ext_exog, ext_sample)
        frame.loc[actual.notna() & rows["ln_gdp"].notna() & ~ext_exog.notna().all(axis=1)
                  & (frame["note"] == ""), "note"] = (
            "missing urban share, density, region or income group")
        out["models"].append(row)
    frames.append(frame)

    # 3. the frontier, on the preferred scale
    q = frontier_q if hib else 1.0 - frontier_q
    exog_all = _base_exog(rows)
    has_x = exog_all.notna().all(axis=1)
    res = fit_quantile(pd.Series(tr.forward(actual[base_sample]),
                                 index=exog_all.index[base_sample]), exog_all[base_sample], q)
    ci = np.asarray(res.conf_int(alpha=0.05))
    row = dict.fromkeys(MODEL_COLUMNS, np.nan)
    row.update(indicator=ind.id, model=MODEL_FRONTIER, preferred=False, fitted=True,
               scale=tr.scale, n=n_base, k=2, note="", influential="", cov_type="quantreg",
               quantile=q, r2=float(res.prsquared), year_min=int(years.min()),
               year_max=int(years.max()), intercept=float(res.params.iloc[0]),
               slope=float(res.params.iloc[1]), slope_se=float(res.bse.iloc[1]),
               slope_ci_low=float(ci[1, 0]), slope_ci_high=float(ci[1, 1]),
               slope_pvalue=float(res.pvalues.iloc[1]))
    frame = country_frame(MODEL_FRONTIER, tr.scale)
    front = pd.Series(np.nan, index=rows.index)
    front[has_x] = tr.back(res.predict(exog_all[has_x]))
    frame["predicted"] = front
    frame["residual"] = actual - front
    dist = sign * (front - actual)
    frame["verdict"] = np.where(dist.isna(), NO_DATA,
                                np.where(dist <= 0, FRONTIER_VERDICTS[0], FRONTIER_VERDICTS[1]))
    out["coefficients"].extend(_coef_rows(ind.id, MODEL_FRONTIER, res))
    out["curves"].append(curve(MODEL_FRONTIER, tr.scale, tr.back(res.predict(_base_exog(grid)))))
    out["models"].append(row)
    frames.append(frame)

    # The frontier distance is a property of economy x indicator: copy it onto every model row.
    for frame in frames:
        frame["frontier"] = front
        frame["distance_to_frontier"] = sign * (front - actual)
    out["countries"].extend(frames)
    return out


# ---------------------------------------------------------------------- panel
def _panel_indicator(ind: Indicator, long: pd.DataFrame, min_n: int, preferred: str
                     ) -> tuple[dict[str, Any] | None, pd.DataFrame | None]:
    """Pooled year-FE panel on the preferred model's scale.

    The preferred scale, not raw units: on raw units the heavy-tailed series
    (secure servers, patents) give residuals of thousands that swing with a
    few rich economies and say nothing about the country.
    """
    rows = long.loc[long["indicator"] == ind.id, ["iso3", "year", "value", "ln_gdp"]]
    rows = rows.dropna()
    tr = _transform(preferred, ind, zero_floor(rows["value"], ind.goalposts.lower))
    if rows["iso3"].nunique() < min_n:
        return None, None
    rows = rows.assign(y=tr.forward(rows["value"]))
    fit = fit_panel_year_fe(rows)
    res = fit.result
    ci = np.asarray(res.conf_int(alpha=0.05))
    model_row = {
        "indicator": ind.id, "model": MODEL_PANEL, "scale": tr.scale, "n_obs": int(res.nobs),
        "n_countries": fit.n_clusters, "n_years": int(fit.rows["year"].nunique()),
        "slope": float(res.params["ln_gdp"]), "slope_se": float(res.bse["ln_gdp"]),
        "slope_ci_low": float(ci[1, 0]), "slope_ci_high": float(ci[1, 1]),
        "slope_pvalue": float(res.pvalues["ln_gdp"]), "r2": float(res.rsquared),
        "cov_type": "cluster(iso3)",
    }
    raw = rows.set_index(["iso3", "year"])["value"]
    keys = pd.MultiIndex.from_frame(fit.rows[["iso3", "year"]])
    resid = pd.DataFrame({
        "iso3": fit.rows["iso3"].to_numpy(), "indicator": ind.id,
        "year": fit.rows["year"].to_numpy(), "scale": tr.scale,
        "actual": raw.reindex(keys).to_numpy(),
        "predicted": tr.back(np.asarray(res.fittedvalues)),
        "residual": np.asarray(res.resid)})
    return model_row, resid


def _world_indicator(ind: Indicator, by_indicator: dict[str, pd.DataFrame],
                     profiles: pd.DataFrame, long: pd.DataFrame, parts: dict[str, list],
                     panel_models: list, panel_resid: list, *, pi_level: float,
                     frontier_q: float, min_n: int) -> None:
    """Fit one indicator's cross-section models and panel; append to the collectors."""
    own = by_indicator.get(ind.id, pd.DataFrame(columns=DATA_COLUMNS)).set_index("iso3")
    rows = profiles.copy()
    rows["actual"] = own["value"].reindex(rows.index).astype("float64")
    has_value = rows["actual"].notna()
    # An economy with a value takes the year, GDP and context of that value;
    # one without keeps its latest GDP year so it still gets a prediction.
    for col in ("year", "gdp_pc_ppp", "ln_gdp", "urban_share", "ln_density"):
        mine = own[col].reindex(rows.index).astype("float64")
        rows[col] = mine.where(has_value, rows[col].astype("float64"))
    part = _fit_indicator(ind, rows, pi_level=pi_level, frontier_q=frontier_q, min_n=min_n)
    for key, values in part.items():
        parts[key] += values
    preferred = next(r["model"] for r in part["models"] if r["preferred"])
    if not any(r["fitted"] for r in part["models"]):
        return
    model_row, resid = _panel_indicator(ind, long, min_n, preferred)
    if model_row is not None:
        panel_models.append(model_row)
        panel_resid.append(resid)


def usable_values(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel without the values the quality screen sets aside for every analysis.

    Outliers and imputed repeats are not observations; a fit on them would
    judge the screen's artefacts. Stale, jump and break values stay (a stale
    value is compared with GDP of its own year; findings leave them out). A
    panel without the screen's ``quality`` column passes unchanged.
    """
    if "quality" not in panel.columns:
        return panel
    from p2c_research.analyses.quality import SCORE_SKIPPED, has_flag

    skipped = np.zeros(len(panel), dtype=bool)
    for flag in SCORE_SKIPPED:
        skipped |= has_flag(panel["quality"], flag).to_numpy()
    return panel[~skipped]


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run the fits with one BLAS thread.

    The matrices are tiny (~200 x 2 to ~2,000 x 12); multi-threaded OpenBLAS
    spends more time synchronising than computing, and on a shared 2-core
    machine the world fits took 8-11 s instead of 2-3 s. threadpoolctl comes
    with scikit-learn (via mapclassify); without it the fits simply run as is.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional speed-up
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ---------------------------------------------------------------------- world entry point
def world_benchmark(
    panel: pd.DataFrame,
    catalog: Catalog,
    window: tuple[int, int],
    *,
    pi_level: float = 0.90,
    frontier_q: float = 0.90,
    min_n: int = DEFAULT_MIN_N,
    reference: pd.DataFrame | None = None,
) -> BenchmarkResults:
    """Fit every benchmark model for every scored indicator, once, for all economies.

    Args:
        panel: tidy panel (``iso3, indicator, year, value, source``) holding the
            scored indicators and the context ids gdp_pc_ppp, urban_share,
            population_density.
        catalog: the indicator catalog (direction, bounded_share, scaling).
        window: first and last year (inclusive) searched for the latest value.
        pi_level: coverage of the prediction interval (0.90 = the issue's 90%).
        frontier_q: quantile of the frontier for higher-is-better indicators.
        min_n: fewest economies with data for a world fit of an indicator.
        reference: economies with ``iso3, wb_region, income_group`` (default: the
            package's country reference); it also fixes the universe of economies.

    Returns:
        BenchmarkResults whose ``countries`` frame has a row for every economy in
        ``reference``, so a data-sparse country gets ``no_data`` rows, not a crash.
    """
    ref = _reference_frame(reference)
    start, end = int(window[0]), int(window[1])
    panel = usable_values(panel)
    data = benchmark_cross_section(panel, catalog, (start, end), reference=reference)
    profiles = _economy_profiles(panel, (start, end), ref)
    parts: dict[str, list] = {"models": [], "coefficients": [], "countries": [], "curves": []}
    panel_models: list[dict[str, Any]] = []
    panel_resid: list[pd.DataFrame] = []

    p = panel[(panel["year"] >= start) & (panel["year"] <= end)
              & panel["iso3"].isin(ref["iso3"])].dropna(subset=["value"])
    ctx = _context_frame(p)
    long = p.loc[p["indicator"].isin([i.id for i in catalog.scored]),
                 ["iso3", "indicator", "year", "value"]].copy()
    long["iso3"] = long["iso3"].astype(str)
    long["indicator"] = long["indicator"].astype(str)
    long["year"] = long["year"].astype("int64")
    long = long.merge(ctx[["iso3", "year", "ln_gdp"]], on=["iso3", "year"], how="left")

    by_indicator = dict(tuple(data.groupby("indicator", sort=False)))
    with _single_threaded_blas():
        for ind in catalog.scored:
            _world_indicator(ind, by_indicator, profiles, long, parts, panel_models,
                             panel_resid, pi_level=pi_level, frontier_q=frontier_q,
                             min_n=min_n)

    countries_frame = pd.concat(parts["countries"], ignore_index=True)[COUNTRY_COLUMNS]
    countries_frame["year"] = countries_frame["year"].astype("Int64")
    countries_frame["verdict"] = countries_frame["verdict"].astype(str)
    countries_frame["note"] = countries_frame["note"].astype(str)
    models = pd.DataFrame(parts["models"]).reindex(columns=MODEL_COLUMNS)
    for col in ("n", "k", "n_influential", "year_min", "year_max"):
        models[col] = models[col].astype("Int64")
    return BenchmarkResults(
        models=models,
        coefficients=pd.DataFrame(parts["coefficients"]).reindex(columns=COEF_COLUMNS),
        countries=countries_frame,
        data=data,
        curves=(pd.concat(parts["curves"], ignore_index=True) if parts["curves"]
                else pd.DataFrame(columns=CURVE_COLUMNS)),
        panel_models=pd.DataFrame(panel_models).reindex(columns=PANEL_MODEL_COLUMNS),
        panel_residuals=(pd.concat(panel_resid, ignore_index=True) if panel_resid
                         else pd.DataFrame(columns=PANEL_RESID_COLUMNS)),
        options={"window": [start, end], "pi_level": pi_level, "frontier_q": frontier_q,
                 "min_n": min_n},
    )


# ---------------------------------------------------------------------- one country
def country_benchmark(results: BenchmarkResults, iso3: str, catalog: Catalog) -> pd.DataFrame:
    """The country's rows of the world fits, with each model's n and R² (benchmark.csv).

    Indicators are in catalog order, models in :data:`MODELS` order; indicators
    without the country's value carry "no data" and a note saying why.
    """
    rows = results.countries[results.countries["iso3"] == iso3].drop(columns="scale")
    meta = results.models[["indicator", "model", "n", "r2", "scale"]]
    table = rows.merge(meta, on=["indicator", "model"], how="left")
    cat = catalog.to_frame()[["indicator", "name", "pillar", "unit", "higher_is_better"]]
    table = table.merge(cat, on="indicator", how="left")
    order = {ind.id: k for k, ind in enumerate(catalog.indicators)}
    table["_i"] = table["indicator"].map(order)
    table["_m"] = table["model"].map({m: k for k, m in enumerate(MODELS)})
    table = table.sort_values(["_i", "_m"]).drop(columns=["_i", "_m"])
    cols = ["indicator", "name", "pillar", "unit", "higher_is_better", "model", "preferred",
            "scale", "n", "r2", "year", "gdp_pc_ppp", "actual", "predicted", "pi_low",
            "pi_high", "residual", "z", "perf_z", "std_residual", "verdict",
            "frontier", "distance_to_frontier", "note"]
    return table[cols].reset_index(drop=True)


def peer_refits(
    results: BenchmarkResults,
    iso3: str,
    peer_sets: dict[str, list[str]],
    catalog: Catalog,
    *,
    min_n: int = 15,
    pi_level: float = 0.90,
) -> pd.DataFrame:
    """The preferred model refitted on each peer set plus the country, where the set is big enough.

    A refit needs ``n >= min_n`` economies (peers plus the country) with a
    value and GDP of the same year. It uses the preferred model's transform of
    the world fit and grades the country's residual with the same rule, so a
    peer column and the main table disagree only where the peers really place
    the country differently. Below ``min_n`` the world fit's row is repeated
    with the note "world fit used". The fits are small; they are memoised
    in-process (:func:`_peer_fit`), not on disk, because the members of a
    region share them within a batch.
    """
    records: list[dict[str, Any]] = []
    countries_frame = results.countries
    world = countries_frame[(countries_frame["iso3"] == iso3)
                            & countries_frame["preferred"].astype(bool)].set_index("indicator")
    digest = _data_digest(results)
    by_indicator = _by_indicator(results)
    pref = preferred_models(results)
    fitted = set(results.models.loc[results.models["fitted"].astype(bool)
                                    & results.models["preferred"].astype(bool), "indicator"])
    empty = results.data.iloc[:0].set_index("iso3")
    for label, members in peer_sets.items():
        group = set(members) | {iso3}
        for ind in catalog.scored:
            if ind.id not in fitted:
                continue
            rows = by_indicator.get(ind.id, empty)
            sample = rows[rows.index.isin(group)]
            n = len(sample)
            rec: dict[str, Any] = dict.fromkeys(PEER_COLUMNS, np.nan)
            rec.update(iso3=iso3, peer_set=label, indicator=ind.id, model=pref[ind.id], n=n,
                       n_peers=len(set(members) - {iso3}), refit=False, verdict=NO_DATA,
                       note="")
            w = world.loc[ind.id] if ind.id in world.index else None
            if iso3 not in sample.index:
                rec["note"] = "no value for the country (or no GDP the same year)"
                if w is not None:
                    rec["actual"] = w["actual"]
            elif n >= min_n:
                floor = zero_floor(rows["value"], ind.goalposts.lower)
                fit = _peer_fit(digest, ind, pref[ind.id], floor, sample, pi_level)
                rec.update(refit=True, r2=fit.r2, slope=fit.slope,
                           note=f"refit on {n} economies (peers + country)",
                           **fit.country[iso3])
            else:
                rec["note"] = f"n < {min_n}: world fit used"
                if w is not None:
                    for col in ("actual", "predicted", "pi_low", "pi_high", "residual", "z",
                                "verdict"):
                        rec[col] = w[col]
            records.append(rec)
    out = pd.DataFrame(records).reindex(columns=PEER_COLUMNS)
    out["n"] = out["n"].astype("Int64")
    out["n_peers"] = out["n_peers"].astype("Int64")
    return out


@dataclass(frozen=True)
class _PeerFit:
    """What a report needs of one peer refit, for every economy in its sample."""

    r2: float
    slope: float
    country: dict[str, dict[str, Any]]  # iso3 -> actual, predicted, pi bounds, residual, z, verdict


#: Peer refits of this process. Every country of a region refits the same
#: region, so in a batch each (indicator, sample) is fitted once, with the
#: prediction for every member, not once per member. The key is a digest of the
#: fits' cross-section (one per country report) and the sample's members, which
#: fix its rows; hashing each sample's rows instead cost more than the fits.
_peer_fits: dict[tuple[str, str, str, frozenset[str], float], _PeerFit] = {}
_PEER_FITS_MAX = 1024


def _data_digest(results: BenchmarkResults) -> str:
    """A digest of the cross-section every peer sample is cut from."""
    return hashlib.sha256(pd.util.hash_pandas_object(results.data, index=False)
                          .to_numpy().tobytes()).hexdigest()


def _by_indicator(results: BenchmarkResults) -> dict[str, pd.DataFrame]:
    """The fits' cross-section with GDP, split by indicator and indexed by iso3."""
    data = results.data[results.data["ln_gdp"].notna()]
    return {str(k): g.set_index("iso3")
            for k, g in data.groupby("indicator", sort=False, observed=True)}


def _peer_fit(digest: str, ind: Indicator, model: str, floor: float, sample: pd.DataFrame,
              pi_level: float) -> _PeerFit:
    """:func:`fit_ols_hc3` on a peer sample, on ``model``'s scale, graded for each member."""
    key = (digest, ind.id, model, frozenset(sample.index), pi_level)
    fit = _peer_fits.get(key)
    if fit is None:
        tr = _transform(model, ind, floor)
        exog = _base_exog(sample)
        y = pd.Series(tr.forward(sample["value"]), index=sample.index)
        ols = fit_ols_hc3(y, exog)
        pred = predict_interval(ols.result, exog, pi_level)
        r2 = float(ols.result.rsquared)
        z = predictive_z(y, pred["predicted"], pred["pi_low"], pred["pi_high"], pi_level,
                         float(ols.result.df_resid))
        outside = ((y < pred["pi_low"]) | (y > pred["pi_high"])).to_numpy()
        verdicts = grade(z, outside, ind.higher_is_better)
        if r2 < R2_FLOOR:
            verdicts[:] = NO_VERDICT
        country = {}
        for k, iso in enumerate(sample.index):
            predicted = float(tr.back(pred["predicted"].iloc[k]))
            actual = float(sample["value"].iloc[k])
            country[str(iso)] = {
                "actual": actual, "predicted": predicted,
                "pi_low": float(tr.back(pred["pi_low"].iloc[k])),
                "pi_high": float(tr.back(pred["pi_high"].iloc[k])),
                "residual": actual - predicted, "z": float(z[k]), "verdict": str(verdicts[k])}
        fit = _PeerFit(r2=r2, slope=float(ols.result.params["ln_gdp"]), country=country)
        if len(_peer_fits) >= _PEER_FITS_MAX:
            _peer_fits.pop(next(iter(_peer_fits)))
        _peer_fits[key] = fit
    return fit


def panel_trend(results: BenchmarkResults, iso3: str, catalog: Catalog) -> pd.DataFrame:
    """Is the country's gap closing? Slope of its yearly panel residuals, per indicator.

    The residual is against the pooled year-fixed-effects fit, so it measures
    the country's position relative to economies of the same income in the
    same year. ``perf_slope`` is signed so that positive means improving
    (flipped for lower-is-better indicators). ``trend`` is "gap closing" /
    "gap widening" when the country is below the line in its latest year,
    "lead growing" / "lead shrinking" when above, "no clear change" when the
    slope's p-value is 0.10 or more, "too few years" under 3 years. Residuals
    and slopes are on the panel's fitting scale (column ``scale``: the preferred
    model's transform).
    """
    res = results.panel_residuals
    res = res[res["iso3"] == iso3]
    scales = dict(zip(results.panel_models["indicator"], results.panel_models["scale"],
                      strict=False))
    records = []
    for ind in catalog.scored:
        if ind.id not in scales:
            continue
        rows = res[res["indicator"] == ind.id].sort_values("year")
        sign = 1.0 if ind.higher_is_better else -1.0
        stats = residual_trend(rows["year"].to_numpy(), rows["residual"].to_numpy())
        scale = scales[ind.id]
        rec: dict[str, Any] = {"iso3": iso3, "indicator": ind.id, "scale": scale, **stats}
        rec["n_years"] = int(stats["n_years"])
        rec["first_year"] = int(rows["year"].min()) if len(rows) else pd.NA
        rec["last_year"] = int(rows["year"].max()) if len(rows) else pd.NA
        rec["residual_first"] = float(rows["residual"].iloc[0]) if len(rows) else np.nan
        rec["residual_last"] = float(rows["residual"].iloc[-1]) if len(rows) else np.nan
        rec["perf_slope"] = sign * stats["slope"]
        if len(rows) == 0:
            trend = "no data"
        elif len(rows) < 3:
            trend = "too few years"
        elif not (stats["slope_pvalue"] < 0.10):
            trend = "no clear change"
        else:
            behind = sign * rec["residual_last"] < 0
            improving = rec["perf_slope"] > 0
            trend = {(True, True): "gap closing", (True, False): "gap widening",
                     (False, True): "lead growing", (False, False): "lead shrinking"}[
                (behind, improving)]
        rec["trend"] = trend
        records.append(rec)
    cols = ["iso3", "indicator", "scale", "n_years", "first_year", "last_year", "residual_first",
            "residual_last", "slope", "slope_se", "slope_pvalue", "perf_slope", "trend"]
    return pd.DataFrame(records, columns=cols)


def key_indicators(table: pd.DataFrame, k: int = 5,
                   always: tuple[str, ...] = ("internet_users",)) -> list[str]:
    """The indicators worth a scatter for this country: the largest gaps either way.

    ``table`` is :func:`country_benchmark` output. Picks, among the preferred
    model's rows with a graded verdict, the ``always`` ids that have one and
    then the largest absolute z, up to ``k``; returned in table (catalog) order.
    """
    rows = table[table["preferred"].astype(bool) & table["verdict"].isin(VERDICTS)]
    chosen = [i for i in always if i in set(rows["indicator"])]
    ranked = rows.assign(_abs=rows["perf_z"].abs()).sort_values(
        "_abs", ascending=False)
    for ind in ranked["indicator"]:
        if len(chosen) >= k:
            break
        if ind not in chosen:
            chosen.append(ind)
    order = list(dict.fromkeys(table["indicator"]))
    return sorted(chosen, key=order.index)
