"""The benchmark models of one indicator: bounded transforms, candidates, the preferred fit.

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

The panel fit (``panel_year_fe``) is the pooled year-fixed-effects OLS on the
preferred model's scale (:func:`panel_indicator`). :mod:`p2c_research.analyses.benchmark`
runs these fits for every indicator; this module knows one indicator at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from p2c_research.analyses.regression import (
    LOGIT_CLIP_PERCENT,
    NO_DATA,
    NO_VERDICT,
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
    sqrt_back,
    sqrt_forward,
    zero_floor,
)
from p2c_research.catalog import Indicator

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
CURVE_COLUMNS: list[str] = ["indicator", "model", "scale", "gdp_pc_ppp", "ln_gdp", "fitted",
                            "pi_low", "pi_high"]
PANEL_MODEL_COLUMNS: list[str] = ["indicator", "model", "scale", "n_obs", "n_countries", "n_years",
                                  "slope", "slope_se", "slope_ci_low", "slope_ci_high",
                                  "slope_pvalue", "r2", "cov_type"]
PANEL_RESID_COLUMNS: list[str] = ["iso3", "indicator", "year", "scale", "actual",
                                  "predicted", "residual"]


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


# ---------------------------------------------------------------------- design matrices
def base_exog(rows: pd.DataFrame) -> pd.DataFrame:
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
    exog = base_exog(rows)
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
class Transform:
    scale: str
    forward: Any
    back: Any
    #: (is the raw value clipped by ``forward``?, the note saying so)
    clipped: Any = None
    clip_note: str = ""


def transform_for(model: str, ind: Indicator, floor: float = np.nan) -> Transform:
    """The fitting scale of a candidate model (``floor``: the log model's zero floor)."""
    lo, hi = LOGIT_CLIP_PERCENT
    clip_note = f"value outside {lo:g}-{hi:g}%: compared at the clip"
    if model == MODEL_LOGIT:
        return Transform("logit", logit_percent, expit_percent,
                          lambda v: (v < lo) | (v > hi), clip_note)
    if model == MODEL_CLOGLOG:
        return Transform("cloglog", cloglog_percent, inv_cloglog_percent,
                          lambda v: (v < lo) | (v > hi), clip_note)
    if model == MODEL_LOG:
        return Transform("log", lambda v: log_floor(v, floor), np.exp,
                          lambda v: v < floor,
                          f"value below the log floor ({floor:.3g}): compared at the floor")
    if model == MODEL_SQRT:
        return Transform("sqrt", sqrt_forward, sqrt_back)
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


def fit_indicator(ind: Indicator, rows: pd.DataFrame, *, pi_level: float, frontier_q: float,
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

    def ols_model(model: str, tr: Transform, exog_all: pd.DataFrame, sample: pd.Series
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
        tr = transform_for(model, ind, floor)
        fits[model] = ols_model(model, tr, base_exog(rows), base_sample)
    pref = choose_preferred({m: f[0]["loo_mae"] for m, f in fits.items()})
    frames: list[pd.DataFrame] = []
    for model, (row, frame, res) in fits.items():
        tr = transform_for(model, ind, floor)
        row["preferred"] = model == pref
        frame["preferred"] = model == pref
        band = predict_interval(res, base_exog(grid), pi_level)
        out["curves"].append(curve(model, tr.scale, tr.back(band["predicted"]),
                                   tr.back(band["pi_low"]), tr.back(band["pi_high"])))
        out["models"].append(row)
        frames.append(frame)
    tr = transform_for(pref, ind, floor)

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
    exog_all = base_exog(rows)
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
    out["curves"].append(curve(MODEL_FRONTIER, tr.scale, tr.back(res.predict(base_exog(grid)))))
    out["models"].append(row)
    frames.append(frame)

    # The frontier distance is a property of economy x indicator: copy it onto every model row.
    for frame in frames:
        frame["frontier"] = front
        frame["distance_to_frontier"] = sign * (front - actual)
    out["countries"].extend(frames)
    return out


# ---------------------------------------------------------------------- panel
def panel_indicator(ind: Indicator, long: pd.DataFrame, min_n: int, preferred: str
                     ) -> tuple[dict[str, Any] | None, pd.DataFrame | None]:
    """Pooled year-FE panel on the preferred model's scale.

    The preferred scale, not raw units: on raw units the heavy-tailed series
    (secure servers, patents) give residuals of thousands that swing with a
    few rich economies and say nothing about the country.
    """
    rows = long.loc[long["indicator"] == ind.id, ["iso3", "year", "value", "ln_gdp"]]
    rows = rows.dropna()
    tr = transform_for(preferred, ind, zero_floor(rows["value"], ind.goalposts.lower))
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
