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

The models (bounded transforms, candidates, the preferred fit, the
extended model, the frontier and the panel) are in
:mod:`p2c_research.analyses.benchmark_models`; a country's rows, peer refits
and gap trend are read out of the world results by
:mod:`p2c_research.analyses.benchmark_country`.

Panel (``panel_models``, ``panel_residuals``): pooled OLS over the window of value ~ ln GDP pc
+ year dummies, errors clustered by economy, on the preferred model's scale. A country's gap
trend is the slope of its yearly residuals (see
:func:`p2c_research.analyses.benchmark_country.panel_trend`), chosen over a country x
year interaction because it comes out of the one cached world fit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from p2c_research import countries
from p2c_research.analyses.benchmark_models import (
    COEF_COLUMNS,
    COUNTRY_COLUMNS,
    CURVE_COLUMNS,
    MODEL_COLUMNS,
    PANEL_MODEL_COLUMNS,
    PANEL_RESID_COLUMNS,
    fit_indicator,
    panel_indicator,
)
from p2c_research.catalog import Catalog, Indicator

REGRESSOR = "gdp_pc_ppp"
URBAN = "urban_share"
DENSITY = "population_density"

#: Fewest economies with data for a world fit of an indicator.
DEFAULT_MIN_N = 30

DATA_COLUMNS: list[str] = ["iso3", "indicator", "year", "value", "gdp_pc_ppp", "ln_gdp",
                           "urban_share", "ln_density", "region", "income_group"]
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
    part = fit_indicator(ind, rows, pi_level=pi_level, frontier_q=frontier_q, min_n=min_n)
    for key, values in part.items():
        parts[key] += values
    preferred = next(r["model"] for r in part["models"] if r["preferred"])
    if not any(r["fitted"] for r in part["models"]):
        return
    model_row, resid = panel_indicator(ind, long, min_n, preferred)
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
