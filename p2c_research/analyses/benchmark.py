"""Benchmarking: where an economy does better or worse than its income level predicts.

Every scored catalog indicator is regressed, across all economies at once, on
ln GDP per capita (PPP). The residual against that line is over- or
under-performance, which is what turns a score into a priority. The fits are
made ONCE per data vintage (:func:`world_benchmark_cached`);
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

Models (``model`` column):
    ``ols_lngdp``         value ~ ln GDP pc; OLS, HC3 errors (the base model).
    ``logit_lngdp``       bounded shares only: logit(value clipped to 0.5-99.5%) ~ ln GDP pc;
                          actual, predicted and the interval are back-transformed to percent.
    ``log_lngdp``         log-scaled indicators only (catalog ``scaling: log``, e.g. secure
                          servers): ln(value floored at the lower goalpost) ~ ln GDP pc,
                          back-transformed. Raw-unit fits of these heavy-tailed series give
                          negative lower bounds and classify almost every poor economy on par.
    ``ols_extended``      the base model plus region and income-group dummies, urban share
                          and ln density (categories with fewer than 3 economies in the fit
                          are pooled with the reference category).
    ``quantile_frontier`` quantile regression of the value on ln GDP pc at q = 0.9 (q = 0.1 for
                          lower-is-better indicators: the best practice is the cheap end),
                          fitted on the preferred model's scale and back-transformed (quantiles
                          are equivariant to monotone transforms, so the frontier of a share
                          stays below 100%).
    ``preferred`` marks the model to read first: logit for bounded shares, log for log-scaled
    indicators, else the base model.

Per country (``countries`` frame):
    ``residual`` = actual - predicted, in the indicator's raw units (not flipped).
    ``std_residual`` = externally studentised residual on the model's fitting scale (see
    :mod:`p2c_research.analyses.regression`); ``perf_std_residual`` flips its sign for
    lower-is-better indicators so that positive always means better than predicted.
    ``classification`` = over | on_par | under | no_data against the 90% prediction
    interval, as *performance*: for a lower-is-better indicator (a price) a value ABOVE the
    interval is "under". The comparison is made on the model's fitting scale (identical to raw
    units except at the logit clip, where 100% reads as 99.5%, as the fit saw it).
    For ``quantile_frontier`` rows it is beyond_frontier |
    behind_frontier | no_data. ``distance_to_frontier`` is the shortfall from the frontier
    in raw units, positive when behind it (direction-aware), on every row of the indicator.

Panel (``panel_models``, ``panel_residuals``): pooled OLS over the window of value ~ ln GDP pc
+ year dummies, errors clustered by economy, on the preferred model's scale (logit / ln /
raw). A country's gap trend is the slope of its yearly residuals (see :func:`panel_trend`),
chosen over a country x year interaction because
it comes out of the one cached world fit.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from p2c_research import countries
from p2c_research.analyses.regression import (
    LOGIT_CLIP_PERCENT,
    classify,
    coefficient_table,
    expit_percent,
    fit_ols_hc3,
    fit_panel_year_fe,
    fit_quantile,
    log_floor,
    logit_percent,
    predict_interval,
    residual_trend,
)
from p2c_research.catalog import Catalog, Indicator

if TYPE_CHECKING:
    from p2c_research.datasets import DataSelection

# Bump when a modelling rule or a stored text changes, so cached world fits are recomputed.
BENCHMARK_VERSION = 5  # 5: plain wording of the "not fitted" note

MODEL_BASE = "ols_lngdp"
MODEL_LOGIT = "logit_lngdp"
MODEL_LOG = "log_lngdp"
MODEL_EXTENDED = "ols_extended"
MODEL_FRONTIER = "quantile_frontier"
MODEL_PANEL = "panel_year_fe"
MODELS: tuple[str, ...] = (MODEL_BASE, MODEL_LOGIT, MODEL_LOG, MODEL_EXTENDED, MODEL_FRONTIER)

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
    "iso3", "indicator", "model", "preferred", "year", "gdp_pc_ppp", "actual", "predicted",
    "pi_low", "pi_high", "residual", "std_residual", "perf_std_residual", "classification",
    "frontier", "distance_to_frontier", "note",
]
MODEL_COLUMNS: list[str] = [
    "indicator", "model", "preferred", "fitted", "scale", "n", "k", "r2", "adj_r2",
    "intercept", "slope", "slope_se", "slope_ci_low", "slope_ci_high", "slope_pvalue",
    "cov_type", "resid_sd", "bp_pvalue", "n_influential", "influential", "quantile",
    "year_min", "year_max", "note",
]
COEF_COLUMNS: list[str] = ["indicator", "model", "term", "coef", "se", "ci_low", "ci_high",
                           "pvalue"]
DATA_COLUMNS: list[str] = ["iso3", "indicator", "year", "value", "gdp_pc_ppp", "ln_gdp",
                           "urban_share", "ln_density", "region", "income_group"]
CURVE_COLUMNS: list[str] = ["indicator", "model", "gdp_pc_ppp", "ln_gdp", "fitted", "pi_low",
                            "pi_high"]
PANEL_MODEL_COLUMNS: list[str] = ["indicator", "model", "scale", "n_obs", "n_countries", "n_years",
                                  "slope", "slope_se", "slope_ci_low", "slope_ci_high",
                                  "slope_pvalue", "r2", "cov_type"]
PANEL_RESID_COLUMNS: list[str] = ["iso3", "indicator", "year", "scale", "actual",
                                  "predicted", "residual"]
PEER_COLUMNS: list[str] = [
    "iso3", "peer_set", "indicator", "model", "n", "n_peers", "refit", "r2", "slope",
    "actual", "predicted", "pi_low", "pi_high", "residual", "std_residual", "classification",
    "note",
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
def preferred_model(indicator: Indicator) -> str:
    """The model to read first for an indicator (see module docstring)."""
    if indicator.bounded_share:
        return MODEL_LOGIT
    if indicator.scaling == "log":
        return MODEL_LOG
    return MODEL_BASE


def models_for(indicator: Indicator) -> list[str]:
    """The models fitted for an indicator, in reporting order."""
    out = [MODEL_BASE]
    if indicator.bounded_share:
        out.append(MODEL_LOGIT)
    if indicator.scaling == "log":
        out.append(MODEL_LOG)
    return [*out, MODEL_EXTENDED, MODEL_FRONTIER]


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


def _transform(model: str, ind: Indicator) -> _Transform:
    if model == MODEL_LOGIT:
        lo, hi = LOGIT_CLIP_PERCENT
        return _Transform("logit", logit_percent, expit_percent,
                          lambda v: (v < lo) | (v > hi),
                          f"value outside {lo:g}-{hi:g}%: compared at the logit clip")
    if model == MODEL_LOG:
        floor = ind.goalposts.lower
        return _Transform("log", lambda v: log_floor(v, floor), np.exp,
                          lambda v: v < floor,
                          f"value below the log floor ({floor:g}, the lower goalpost): "
                          "compared at the floor")
    return _Transform("raw", lambda v: np.asarray(v, dtype="float64"),
                      lambda v: np.asarray(v, dtype="float64"))


def _empty_model_row(ind: Indicator, model: str, n: int, note: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(MODEL_COLUMNS, np.nan)
    row.update(indicator=ind.id, model=model, preferred=model == preferred_model(ind),
               fitted=False, n=n, note=note, scale="", cov_type="", influential="")
    return row


def _coef_rows(ind_id: str, model: str, result, level: float = 0.95) -> list[dict[str, Any]]:
    table = coefficient_table(result, level)
    table.insert(0, "model", model)
    table.insert(0, "indicator", ind_id)
    return table.to_dict("records")


def _fit_indicator(ind: Indicator, rows: pd.DataFrame, *, pi_level: float, frontier_q: float,
                   min_n: int) -> dict[str, list]:
    """Fit every model of one indicator; ``rows`` is indexed by iso3 over all economies."""
    out: dict[str, list] = {"models": [], "coefficients": [], "countries": [], "curves": []}
    hib = ind.higher_is_better
    sign = 1.0 if hib else -1.0
    pref = preferred_model(ind)
    actual = rows["actual"]
    base_sample = actual.notna() & rows["ln_gdp"].notna()
    n_base = int(base_sample.sum())
    years = rows.loc[base_sample, "year"]

    nan_col = np.full(len(rows), np.nan)
    base_note = np.where(actual.isna(), "no value in the window",
                         np.where(rows["ln_gdp"].isna(),
                                  "no GDP per capita (PPP) for the year of the value", ""))

    def country_frame(model: str) -> pd.DataFrame:
        cols: dict[str, Any] = {
            "iso3": rows.index.to_numpy(), "indicator": ind.id, "model": model,
            "preferred": model == pref, "year": rows["year"].to_numpy(),
            "gdp_pc_ppp": rows["gdp_pc_ppp"].to_numpy(), "actual": actual.to_numpy()}
        for col in ("predicted", "pi_low", "pi_high", "residual", "std_residual",
                    "perf_std_residual", "frontier", "distance_to_frontier"):
            cols[col] = nan_col.copy()
        cols["classification"] = "no_data"
        cols["note"] = base_note.astype(object)
        return pd.DataFrame(cols, index=rows.index)

    if n_base < min_n:
        # The base row stands in as "preferred" so every indicator keeps one row to read.
        note = ("no economy has a value in the window: not fitted" if n_base == 0 else
                f"only {n_base} economies with a value (fewer than {min_n}): not fitted")
        row = _empty_model_row(ind, MODEL_BASE, n_base, note)
        row["preferred"] = True
        out["models"].append(row)
        frame = country_frame(MODEL_BASE)
        frame["preferred"] = True
        frame["note"] = note
        out["countries"].append(frame)
        return out

    grid_ln = np.linspace(rows.loc[base_sample, "ln_gdp"].min(),
                          rows.loc[base_sample, "ln_gdp"].max(), CURVE_POINTS)
    grid = pd.DataFrame({"ln_gdp": grid_ln})
    frames: list[pd.DataFrame] = []

    for model in models_for(ind):
        tr = _transform(model if model != MODEL_FRONTIER else pref, ind)
        if model == MODEL_EXTENDED:
            ext_cols = ["ln_gdp", "urban_share", "ln_density", "region", "income_group"]
            sample = actual.notna() & rows[ext_cols].notna().all(axis=1)
            levels = {c: _category_levels(rows.loc[sample, c])[1]
                      for c in ("region", "income_group")}
            exog_all = _extended_exog(rows, levels)
        else:
            sample = base_sample
            exog_all = _base_exog(rows)
        has_x = exog_all.notna().all(axis=1)
        sample = sample & has_x
        n = int(sample.sum())
        k = exog_all.shape[1]
        frame = country_frame(model)
        if model == MODEL_EXTENDED and (n < min_n or n - k < EXTENDED_MIN_DF):
            note = f"n = {n} with all covariates for k = {k} terms: extended model not fitted"
            out["models"].append(_empty_model_row(ind, model, n, note))
            frame.loc[frame["note"] == "", "note"] = note
            frames.append(frame)
            continue
        if model == MODEL_EXTENDED:
            frame.loc[actual.notna() & rows["ln_gdp"].notna() & ~has_x, "note"] = (
                "missing urban share, density, region or income group")

        y = tr.forward(actual[sample])
        row: dict[str, Any] = dict.fromkeys(MODEL_COLUMNS, np.nan)
        row.update(indicator=ind.id, model=model, preferred=model == pref, fitted=True,
                   scale=tr.scale, n=n, k=k, note="", influential="",
                   year_min=int(years.min()), year_max=int(years.max()))

        if model == MODEL_FRONTIER:
            q = frontier_q if hib else 1.0 - frontier_q
            res = fit_quantile(pd.Series(y, index=exog_all.index[sample]),
                               exog_all[sample], q)
            ci = np.asarray(res.conf_int(alpha=0.05))
            row.update(cov_type="quantreg", quantile=q, r2=float(res.prsquared),
                       intercept=float(res.params.iloc[0]), slope=float(res.params.iloc[1]),
                       slope_se=float(res.bse.iloc[1]), slope_ci_low=float(ci[1, 0]),
                       slope_ci_high=float(ci[1, 1]), slope_pvalue=float(res.pvalues.iloc[1]))
            fr = pd.Series(np.nan, index=rows.index)
            fr[has_x] = tr.back(res.predict(exog_all[has_x]))
            frame["predicted"] = fr
            frame["residual"] = actual - fr
            dist = sign * (fr - actual)
            frame["classification"] = np.where(
                dist.isna(), "no_data", np.where(dist <= 0, "beyond_frontier", "behind_frontier"))
            out["coefficients"] += _coef_rows(ind.id, model, res)
            curve = tr.back(res.predict(_base_exog(grid)))
            out["curves"].append(pd.DataFrame({
                "indicator": ind.id, "model": model, "gdp_pc_ppp": np.exp(grid_ln),
                "ln_gdp": grid_ln, "fitted": curve, "pi_low": np.nan, "pi_high": np.nan}))
            out["models"].append(row)
            frames.append(frame)
            continue

        fit = fit_ols_hc3(pd.Series(y, index=exog_all.index[sample]), exog_all[sample])
        res = fit.result
        ci = np.asarray(res.conf_int(alpha=0.05))
        infl = fit.influential()
        row.update(cov_type="HC3", r2=float(res.rsquared), adj_r2=float(res.rsquared_adj),
                   intercept=float(res.params.iloc[0]), slope=float(res.params.iloc[1]),
                   slope_se=float(res.bse.iloc[1]), slope_ci_low=float(ci[1, 0]),
                   slope_ci_high=float(ci[1, 1]), slope_pvalue=float(res.pvalues.iloc[1]),
                   resid_sd=float(np.sqrt(res.scale)), bp_pvalue=fit.bp_pvalue,
                   n_influential=len(infl), influential=";".join(map(str, infl.index[:5])))
        out["coefficients"] += _coef_rows(ind.id, model, res)
        pred = predict_interval(res, exog_all[has_x], pi_level)
        for col in ("predicted", "pi_low", "pi_high"):
            frame[col] = pd.Series(tr.back(pred[col]), index=pred.index)
        frame["residual"] = actual - frame["predicted"]
        frame["std_residual"] = fit.std_resid
        frame["perf_std_residual"] = sign * frame["std_residual"]
        # Classified on the fitting scale: the same as on raw units (the transforms
        # are monotone) except at the clip, where a 100% share is read as 99.5%, as
        # the fit saw it, instead of "over" an interval that ends at 99.8%.
        fitted_actual = pd.Series(np.nan, index=rows.index)
        fitted_actual[actual.notna()] = tr.forward(actual[actual.notna()])
        frame["classification"] = classify(fitted_actual, pred["pi_low"].reindex(rows.index),
                                           pred["pi_high"].reindex(rows.index), hib)
        if tr.clipped is not None:
            frame.loc[actual.notna() & tr.clipped(actual) & (frame["note"] == ""), "note"] = (
                tr.clip_note)
        if model != MODEL_EXTENDED:
            band = predict_interval(res, _base_exog(grid), pi_level)
            out["curves"].append(pd.DataFrame({
                "indicator": ind.id, "model": model, "gdp_pc_ppp": np.exp(grid_ln),
                "ln_gdp": grid_ln, "fitted": tr.back(band["predicted"]),
                "pi_low": tr.back(band["pi_low"]), "pi_high": tr.back(band["pi_high"])}))
        out["models"].append(row)
        frames.append(frame)

    # The frontier distance is a property of economy x indicator: copy it onto every model row.
    front = next(f for f in frames if f["model"].iat[0] == MODEL_FRONTIER)["predicted"]
    for frame in frames:
        frame["frontier"] = front
        frame["distance_to_frontier"] = sign * (front - actual)
    out["countries"] += frames
    return out


# ---------------------------------------------------------------------- panel
def _panel_indicator(ind: Indicator, long: pd.DataFrame, min_n: int
                     ) -> tuple[dict[str, Any] | None, pd.DataFrame | None]:
    """Pooled year-FE panel on the preferred model's scale (logit / ln / raw).

    The preferred scale, not raw units: on raw units the heavy-tailed
    log-scaled series (secure servers, patents) give residuals of thousands
    that swing with a few rich economies and say nothing about the country.
    """
    tr = _transform(preferred_model(ind), ind)
    rows = long.loc[long["indicator"] == ind.id, ["iso3", "year", "value", "ln_gdp"]]
    rows = rows.dropna()
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
    model_row, resid = _panel_indicator(ind, long, min_n)
    if model_row is not None:
        panel_models.append(model_row)
        panel_resid.append(resid)


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
    countries_frame["classification"] = countries_frame["classification"].astype(str)
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


def _catalog_hash(catalog: Catalog) -> str:
    return hashlib.sha256(catalog.model_dump_json().encode()).hexdigest()[:16]


def _reference_hash() -> str:
    ref = countries.load_countries()[["iso3", "wb_region", "income_group"]]
    return hashlib.sha256(ref.to_csv(index=False).encode()).hexdigest()[:16]


def world_benchmark_cached(
    selection: DataSelection,
    catalog: Catalog,
    window: tuple[int, int],
    *,
    pi_level: float = 0.90,
    frontier_q: float = 0.90,
    min_n: int = DEFAULT_MIN_N,
    root: Path | None = None,
) -> BenchmarkResults:
    """:func:`world_benchmark` on the selection's panel, computed once per data vintage.

    The key holds everything that changes the result: the data vintage
    (``selection.fingerprint()``), the catalog, the country reference (regions
    and income groups), the window, the options and :data:`BENCHMARK_VERSION`.
    Like the landscape's world scores, this is the one function here that
    touches files, and only through the shared data and cache modules: a memo
    of a pure function. ``root`` overrides the cache folder (tests).
    """
    from p2c_research.cache import cache_key, cached_frames
    from p2c_research.datasets import load_panel

    window = (int(window[0]), int(window[1]))
    key = cache_key(version=BENCHMARK_VERSION, vintage=selection.fingerprint(),
                    catalog=_catalog_hash(catalog), reference=_reference_hash(),
                    window=list(window), pi_level=float(pi_level),
                    frontier_q=float(frontier_q), min_n=int(min_n))

    def compute() -> dict[str, pd.DataFrame]:
        return world_benchmark(load_panel(selection), catalog, window, pi_level=pi_level,
                               frontier_q=frontier_q, min_n=min_n).to_frames()

    return BenchmarkResults.from_frames(cached_frames("benchmark_world", key, compute,
                                                      root=root))


# ---------------------------------------------------------------------- one country
def country_benchmark(results: BenchmarkResults, iso3: str, catalog: Catalog) -> pd.DataFrame:
    """The country's rows of the world fits, with each model's n and R² (benchmark.csv).

    Indicators are in catalog order, models in :data:`MODELS` order; indicators
    without the country's value carry ``no_data`` and a note saying why.
    """
    rows = results.countries[results.countries["iso3"] == iso3]
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
            "pi_high", "residual", "std_residual", "perf_std_residual", "classification",
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
    """The base model refitted on each peer set plus the country, where the set is big enough.

    A refit needs ``n >= min_n`` economies (peers plus the country) with a
    value and GDP of the same year; below that the world fit is reported with
    the note "n < 15: peer refit skipped, world fit used". The fits are small;
    they are memoised in-process (:func:`_peer_fit`), not on disk, because
    the members of a region share them within a batch.
    """
    records: list[dict[str, Any]] = []
    world = results.countries[(results.countries["iso3"] == iso3)
                              & (results.countries["model"] == MODEL_BASE)].set_index("indicator")
    digest = _data_digest(results)
    by_indicator = _by_indicator(results)
    fitted = set(results.models.loc[results.models["fitted"].astype(bool)
                                    & (results.models["model"] == MODEL_BASE), "indicator"])
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
            rec.update(iso3=iso3, peer_set=label, indicator=ind.id, model=MODEL_BASE, n=n,
                       n_peers=len(set(members) - {iso3}), refit=False,
                       classification="no_data", note="")
            w = world.loc[ind.id] if ind.id in world.index else None
            if iso3 not in sample.index:
                rec["note"] = "no value for the country (or no GDP the same year)"
                if w is not None:
                    rec["actual"] = w["actual"]
            elif n >= min_n:
                fit = _peer_fit(digest, ind.id, sample, pi_level)
                predicted, pi_low, pi_high = fit.predictions[iso3]
                actual = float(sample.at[iso3, "value"])
                rec.update(refit=True, r2=fit.r2, slope=fit.slope, actual=actual,
                           predicted=predicted, pi_low=pi_low, pi_high=pi_high,
                           residual=actual - predicted, std_residual=fit.std_resid[iso3],
                           note=f"refit on {n} economies (peers + country)")
                rec["classification"] = classify([actual], [pi_low], [pi_high],
                                                 ind.higher_is_better)[0]
            else:
                rec["note"] = f"n < {min_n}: peer refit skipped, world fit used"
                if w is not None:
                    for col in ("actual", "predicted", "pi_low", "pi_high", "residual",
                                "std_residual", "classification"):
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
    std_resid: dict[str, float]
    predictions: dict[str, tuple[float, float, float]]  # iso3 -> predicted, pi_low, pi_high


#: Peer refits of this process. Every country of a region refits the same
#: region, so in a batch each (indicator, sample) is fitted once, with the
#: prediction for every member, not once per member. The key is a digest of the
#: fits' cross-section (one per country report) and the sample's members, which
#: fix its rows; hashing each sample's rows instead cost more than the fits.
_peer_fits: dict[tuple[str, str, frozenset[str], float], _PeerFit] = {}
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


def _peer_fit(digest: str, indicator: str, sample: pd.DataFrame, pi_level: float) -> _PeerFit:
    """:func:`fit_ols_hc3` on a peer sample and its prediction interval for each member."""
    key = (digest, indicator, frozenset(sample.index), pi_level)
    fit = _peer_fits.get(key)
    if fit is None:
        exog = _base_exog(sample)
        ols = fit_ols_hc3(sample["value"], exog)
        pred = predict_interval(ols.result, exog, pi_level)
        fit = _PeerFit(
            r2=float(ols.result.rsquared), slope=float(ols.result.params["ln_gdp"]),
            std_resid={str(k): float(v) for k, v in ols.std_resid.items()},
            predictions={str(k): (float(p), float(lo), float(hi)) for k, p, lo, hi in zip(
                pred.index, pred["predicted"], pred["pi_low"], pred["pi_high"], strict=True)})
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
    and slopes are on the panel's fitting scale (column ``scale``: logit for
    bounded shares, ln for log-scaled indicators, else raw units).
    """
    res = results.panel_residuals
    res = res[res["iso3"] == iso3]
    records = []
    for ind in catalog.scored:
        if ind.id not in set(results.panel_models["indicator"]):
            continue
        rows = res[res["indicator"] == ind.id].sort_values("year")
        sign = 1.0 if ind.higher_is_better else -1.0
        stats = residual_trend(rows["year"].to_numpy(), rows["residual"].to_numpy())
        scale = _transform(preferred_model(ind), ind).scale
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
    model's rows with a classification, the ``always`` ids that have one and
    then the largest absolute standardised residuals, up to ``k``; returned in
    table (catalog) order.
    """
    rows = table[table["preferred"].astype(bool)
                 & table["classification"].isin(["over", "on_par", "under"])]
    chosen = [i for i in always if i in set(rows["indicator"])]
    ranked = rows.assign(_abs=rows["perf_std_residual"].abs()).sort_values(
        "_abs", ascending=False)
    for ind in ranked["indicator"]:
        if len(chosen) >= k:
            break
        if ind not in chosen:
            chosen.append(ind)
    order = list(dict.fromkeys(table["indicator"]))
    return sorted(chosen, key=order.index)
