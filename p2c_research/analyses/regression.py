"""Regression building blocks for benchmarking: fits, intervals, transforms, classification.

Kept apart from :mod:`p2c_research.analyses.benchmark` so each statistical
choice (HC3 errors, which standardised residual, how a country is classified,
how panel clusters are built) lives in one small function that tests can
check against an independent numpy computation.

Conventions:
    * Cross-section fits are OLS with HC3 standard errors and t-based
      inference (``use_t=True``): n is ~50-200 economies, where the normal
      approximation is optimistic.
    * The prediction interval is statsmodels' ``obs_ci`` from
      ``get_prediction(...).summary_frame(alpha)``: the variance of the fitted
      mean (from the HC3 covariance) plus the residual variance ``scale``.
    * The standardised residual is the **externally studentised** residual
      (``OLSInfluence.resid_studentized_external``): the residual divided by
      ``s_(i) * sqrt(1 - h_ii)``, where ``s_(i)`` is the residual standard
      deviation of the fit without economy ``i``. An outlying country then
      does not inflate its own yardstick, and under normal errors the value
      is t-distributed, so |value| > ~1.65 reads as "outside 90%".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit, logit
from statsmodels.stats.diagnostic import het_breuschpagan
from statsmodels.stats.outliers_influence import OLSInfluence

#: Bounded percentages are clipped to this range (percent) before the logit,
#: so 0% and 100% (common for electricity access) stay finite.
LOGIT_CLIP_PERCENT: tuple[float, float] = (0.5, 99.5)

#: The graded verdicts, worst to best, about *performance* (a price above its
#: expected range is "below"); see :func:`grade`.
VERDICTS: tuple[str, ...] = ("well below", "below", "on par", "above", "well above")
NO_VERDICT = "no verdict"
NO_DATA = "no data"
#: |z| up to this is "on par": within one predictive standard deviation.
ON_PAR_Z = 1.0


# ---------------------------------------------------------------------- transforms
def logit_percent(values: np.ndarray | pd.Series) -> np.ndarray:
    """Percent (0-100) to the logit scale, after clipping to :data:`LOGIT_CLIP_PERCENT`."""
    lo, hi = LOGIT_CLIP_PERCENT
    share = np.clip(np.asarray(values, dtype="float64"), lo, hi) / 100.0
    return logit(share)


def expit_percent(values: np.ndarray | pd.Series) -> np.ndarray:
    """Back from the logit scale to percent (0-100)."""
    return 100.0 * expit(np.asarray(values, dtype="float64"))


def cloglog_percent(values: np.ndarray | pd.Series) -> np.ndarray:
    """Percent (0-100) to the complementary log-log scale ``ln(-ln(1 - p))``, clipped like
    the logit. Asymmetric: it lets a share approach 100% (coverage, electricity) more
    slowly than it leaves 0%."""
    lo, hi = LOGIT_CLIP_PERCENT
    share = np.clip(np.asarray(values, dtype="float64"), lo, hi) / 100.0
    return np.log(-np.log1p(-share))


def inv_cloglog_percent(values: np.ndarray | pd.Series) -> np.ndarray:
    """Back from the complementary log-log scale to percent (0-100)."""
    return 100.0 * -np.expm1(-np.exp(np.asarray(values, dtype="float64")))


def sqrt_forward(values: np.ndarray | pd.Series) -> np.ndarray:
    """Square root of a non-negative value (negative inputs count as 0)."""
    return np.sqrt(np.maximum(np.asarray(values, dtype="float64"), 0.0))


def sqrt_back(values: np.ndarray | pd.Series) -> np.ndarray:
    """Back from the square-root scale: negative fitted values mean 0, so the result is >= 0."""
    return np.square(np.maximum(np.asarray(values, dtype="float64"), 0.0))


def log_floor(values: np.ndarray | pd.Series, floor: float) -> np.ndarray:
    """Natural log after flooring at ``floor`` (see :func:`zero_floor`).

    Zeros (no resident patents, no 5G) would otherwise be -inf.
    """
    return np.log(np.maximum(np.asarray(values, dtype="float64"), floor))


def zero_floor(values: np.ndarray | pd.Series, goalpost_lower: float) -> float:
    """The floor of a log model: the catalog's lower goalpost when it is positive (the value
    the catalog already treats as "nothing"), else half the smallest positive value of
    the fit sample (a common convention that keeps zeros below every observed value)."""
    if goalpost_lower > 0:
        return float(goalpost_lower)
    v = np.asarray(values, dtype="float64")
    positive = v[(v > 0) & np.isfinite(v)]
    return float(positive.min() / 2.0) if positive.size else 1e-6


# ---------------------------------------------------------------------- OLS
@dataclass
class OlsFit:
    """An OLS fit with HC3 errors and the per-economy diagnostics benchmarking reports.

    Attributes:
        result: statsmodels results (``cov_type="HC3"``, ``use_t=True``).
        std_resid: externally studentised residuals, indexed like the fit sample.
        cooks: Cook's distance per economy in the fit sample.
        bp_pvalue: Breusch-Pagan LM test p-value (H0: homoskedastic errors).
    """

    result: sm.regression.linear_model.RegressionResultsWrapper
    std_resid: pd.Series
    cooks: pd.Series
    bp_pvalue: float

    @property
    def n(self) -> int:
        return int(self.result.nobs)

    def influential(self) -> pd.Series:
        """Cook's distance of the influential economies (D > 4/n), largest first."""
        cut = 4.0 / self.n
        return self.cooks[self.cooks > cut].sort_values(ascending=False)


def fit_ols_hc3(y: pd.Series, exog: pd.DataFrame) -> OlsFit:
    """OLS of ``y`` on ``exog`` (which must hold the constant) with HC3 standard errors.

    HC3 because the error variance of ICT indicators changes strongly with
    income (Breusch-Pagan rejects for most), and HC3 behaves best of the
    sandwich estimators in samples of this size.
    """
    result = ols_hc3(y, exog)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        influence = OLSInfluence(result)
        std_resid = pd.Series(
            studentized_external(np.asarray(result.resid), influence.hat_matrix_diag,
                                 int(result.df_resid)),
            index=exog.index,
        )
        cooks = pd.Series(np.asarray(influence.cooks_distance[0]), index=exog.index)
        try:
            bp_pvalue = float(het_breuschpagan(result.resid, exog)[1])
        except (ValueError, np.linalg.LinAlgError):
            bp_pvalue = float("nan")
    return OlsFit(result=result, std_resid=std_resid, cooks=cooks, bp_pvalue=bp_pvalue)


def ols_hc3(y: pd.Series | np.ndarray, exog: pd.DataFrame):
    """The statsmodels OLS result of :func:`fit_ols_hc3` alone, without its diagnostics
    (influence, Breusch-Pagan): for fits read only for their predictions."""
    y = pd.Series(np.asarray(y, dtype="float64"), index=exog.index, name="y")
    with warnings.catch_warnings():
        # A point with leverage 1 makes HC3 divide by zero; it surfaces as a
        # non-finite SE in the table rather than a wall of warnings.
        warnings.simplefilter("ignore", RuntimeWarning)
        return sm.OLS(y, exog).fit(cov_type="HC3", use_t=True)


def studentized_external(resid: np.ndarray, hat: np.ndarray, df_resid: int) -> np.ndarray:
    """Externally studentised residuals in closed form.

    ``t_i = e_i / (s_(i) sqrt(1 - h_ii))`` with the leave-one-out variance
    ``s_(i)^2 = (SSE - e_i^2 / (1 - h_ii)) / (df_resid - 1)``. Identical to
    statsmodels' ``resid_studentized_external``, which refits the model n
    times (about 0.1 s per indicator; this is microseconds).
    """
    e = np.asarray(resid, dtype="float64")
    h = np.asarray(hat, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        s2_i = (np.sum(e**2) - e**2 / (1.0 - h)) / (df_resid - 1)
        return e / np.sqrt(s2_i * (1.0 - h))


def predict_interval(
    result: sm.regression.linear_model.RegressionResultsWrapper,
    exog: pd.DataFrame,
    level: float,
) -> pd.DataFrame:
    """Fitted mean and the ``level`` prediction interval for new or in-sample rows.

    Returns a frame indexed like ``exog`` with ``predicted, pi_low, pi_high``
    (on the scale the model was fitted on).
    """
    if exog.empty:
        return pd.DataFrame(columns=["predicted", "pi_low", "pi_high"], index=exog.index,
                            dtype="float64")
    frame = result.get_prediction(exog).summary_frame(alpha=1.0 - level)
    return pd.DataFrame(
        {
            "predicted": np.asarray(frame["mean"]),
            "pi_low": np.asarray(frame["obs_ci_lower"]),
            "pi_high": np.asarray(frame["obs_ci_upper"]),
        },
        index=exog.index,
    )


def coefficient_table(result, level: float = 0.95) -> pd.DataFrame:
    """One row per term: coef, se, ci_low, ci_high, pvalue (``level`` confidence interval)."""
    ci = np.asarray(result.conf_int(alpha=1.0 - level))
    names = list(result.model.exog_names)
    return pd.DataFrame(
        {
            "term": names,
            "coef": np.asarray(result.params, dtype="float64"),
            "se": np.asarray(result.bse, dtype="float64"),
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
            "pvalue": np.asarray(result.pvalues, dtype="float64"),
        }
    )


# ---------------------------------------------------------------------- verdicts
def predictive_z(actual: np.ndarray, predicted: np.ndarray, pi_low: np.ndarray,
                 pi_high: np.ndarray, level: float, df_resid: float) -> np.ndarray:
    """The residual in predictive standard deviations, on the fitting scale.

    The prediction interval is ``predicted +- t(df) * sd_pred``, so
    ``sd_pred = (pi_high - pi_low) / (2 t)`` and ``z = (actual - predicted) / sd_pred``:
    the same yardstick as the interval, so |z| > t means outside it.
    """
    from scipy.stats import t as student_t

    tcrit = float(student_t.ppf(0.5 + level / 2.0, df_resid)) if df_resid > 0 else np.nan
    a = np.asarray(actual, dtype="float64")
    sd = (np.asarray(pi_high, dtype="float64") - np.asarray(pi_low, dtype="float64")) / (2 * tcrit)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a - np.asarray(predicted, dtype="float64")) / sd


def grade(z: np.ndarray | pd.Series, outside: np.ndarray | pd.Series,
          higher_is_better: bool) -> np.ndarray:
    """Five verdicts from the residual's place in the predictive distribution.

    *on par* when |z| <= 1; *above* / *below* when |z| > 1 but the value lies
    inside the prediction interval; *well above* / *well below* when it lies
    outside it. The words are about performance: for a lower-is-better
    indicator (a price) a value above its expected range is *below*.
    Missing z gives "no data".
    """
    z = np.asarray(z, dtype="float64")
    out_iv = np.asarray(outside, dtype=bool)
    perf = z if higher_is_better else -z
    verdict = np.select(
        [np.abs(perf) <= ON_PAR_Z, (perf > 0) & out_iv, perf > 0, out_iv],
        ["on par", "well above", "above", "well below"], default="below").astype(object)
    verdict[np.isnan(z)] = NO_DATA
    return verdict


def loo_fitted(result) -> np.ndarray:
    """Leave-one-out fitted values of an OLS fit on its own scale, in closed form.

    ``y_i - e_i / (1 - h_ii)``: what the model predicts for economy ``i`` when
    fitted without it. Used to compare candidate transforms on the raw scale.
    """
    infl = OLSInfluence(result)
    e = np.asarray(result.resid, dtype="float64")
    h = np.asarray(infl.hat_matrix_diag, dtype="float64")
    y = np.asarray(result.model.endog, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return y - e / (1.0 - h)


# ---------------------------------------------------------------------- quantile frontier
def fit_quantile(y: pd.Series, exog: pd.DataFrame, q: float):
    """Linear quantile regression of ``y`` on ``exog`` at quantile ``q`` (the frontier)."""
    y = pd.Series(np.asarray(y, dtype="float64"), index=exog.index, name="y")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IterationLimitWarning / ConvergenceWarning
        return sm.QuantReg(y, exog).fit(q=q, max_iter=5000)


# ---------------------------------------------------------------------- pooled panel
@dataclass
class PanelFit:
    """Pooled OLS with year fixed effects and country-clustered errors.

    Attributes:
        result: statsmodels results (``cov_type="cluster"``).
        rows: the rows actually fitted (NaNs dropped), with ``iso3, year, y, ln_gdp``.
        groups: integer cluster code per fitted row (same order as ``rows``).
    """

    result: sm.regression.linear_model.RegressionResultsWrapper
    rows: pd.DataFrame
    groups: np.ndarray

    @property
    def n_clusters(self) -> int:
        return len(np.unique(self.groups))


def fit_panel_year_fe(frame: pd.DataFrame) -> PanelFit:
    """Fit ``y ~ ln_gdp + year dummies`` on a long frame, errors clustered by ``iso3``.

    Rows with a missing ``y`` or ``ln_gdp`` are dropped **before** the cluster
    codes are built, so groups and fitted rows always line up (statsmodels
    would otherwise fail or, worse, mis-assign clusters).

    Args:
        frame: columns ``iso3, year, y, ln_gdp`` (one row per country-year).
    """
    rows = frame[["iso3", "year", "y", "ln_gdp"]].dropna().sort_values(["iso3", "year"])
    rows = rows.reset_index(drop=True)
    years = sorted(rows["year"].unique())
    exog = pd.DataFrame({"const": 1.0, "ln_gdp": rows["ln_gdp"].astype("float64")})
    for year in years[1:]:  # the first year is the reference
        exog[f"year_{year}"] = (rows["year"] == year).astype("float64")
    groups = pd.factorize(rows["iso3"])[0]
    # QR, not statsmodels' default pinv: the SVD of a ~2,000 x 12 design is ten
    # times slower here, and the design has full rank by construction.
    result = sm.OLS(rows["y"].astype("float64"), exog).fit(
        method="qr", cov_type="cluster", cov_kwds={"groups": groups}, use_t=True
    )
    return PanelFit(result=result, rows=rows, groups=np.asarray(groups))


def residual_trend(years: np.ndarray, residuals: np.ndarray) -> dict[str, float]:
    """Slope (per year) of a country's residuals over time, with its p-value.

    Used instead of a country x year interaction term: the slope comes out of
    the one cached world fit, so no refit per country is needed, and it reads
    directly as "the gap changes by this much a year".
    """
    x = np.asarray(years, dtype="float64")
    y = np.asarray(residuals, dtype="float64")
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    nan = float("nan")
    if len(x) < 3 or np.ptp(x) == 0:
        return {"n_years": float(len(x)), "slope": nan, "slope_se": nan, "slope_pvalue": nan}
    res = sm.OLS(y, sm.add_constant(x - x.mean())).fit()
    return {
        "n_years": float(len(x)),
        "slope": float(res.params[1]),
        "slope_se": float(res.bse[1]),
        "slope_pvalue": float(res.pvalues[1]),
    }


def std_residual_guide(level: float) -> float:
    """The standard-normal quantile matching a two-sided ``level`` interval (1.645 at 90%).

    Drawn as a guide band in the residual dot plot; the classification itself
    always uses the model's prediction interval.
    """
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2.0))
