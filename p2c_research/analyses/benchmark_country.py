"""One country read out of the world benchmark: its rows, peer refits, gap trend, key indicators.

The world fits (:func:`p2c_research.analyses.benchmark.world_benchmark`) are
made once per data vintage; everything here is cheap and per country. Peer
refits use the preferred model of the world fit on a smaller sample and grade
the country with the same rule, so a peer column and the main table disagree
only where the peers really place the country differently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from p2c_research.analyses.benchmark import BenchmarkResults, preferred_models
from p2c_research.analyses.benchmark_models import (
    MODELS,
    R2_FLOOR,
    base_exog,
    transform_for,
)
from p2c_research.analyses.regression import (
    NO_DATA,
    NO_VERDICT,
    VERDICTS,
    grade,
    ols_hc3,
    predict_interval,
    predictive_z,
    residual_trend,
    zero_floor,
)
from p2c_research.catalog import Catalog, Indicator

PEER_COLUMNS: list[str] = [
    "iso3", "peer_set", "indicator", "model", "n", "n_peers", "refit", "r2", "slope",
    "actual", "predicted", "pi_low", "pi_high", "residual", "z", "verdict", "note",
]

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
    """:func:`ols_hc3` on a peer sample, on ``model``'s scale, graded for each member."""
    key = (digest, ind.id, model, frozenset(sample.index), pi_level)
    fit = _peer_fits.get(key)
    if fit is None:
        tr = transform_for(model, ind, floor)
        exog = base_exog(sample)
        y = pd.Series(tr.forward(sample["value"]), index=sample.index)
        result = ols_hc3(y, exog)
        pred = predict_interval(result, exog, pi_level)
        r2 = float(result.rsquared)
        z = predictive_z(y, pred["predicted"], pred["pi_low"], pred["pi_high"], pi_level,
                         float(result.df_resid))
        outside = ((y < pred["pi_low"]) | (y > pred["pi_high"])).to_numpy()
        verdicts = grade(z, outside, ind.higher_is_better)
        if r2 < R2_FLOOR:
            verdicts[:] = NO_VERDICT
        # one array per column, read by position (row lookups in the frames cost more
        # than the fit)
        predicted = np.asarray(tr.back(pred["predicted"].to_numpy()), dtype="float64")
        pi_low = np.asarray(tr.back(pred["pi_low"].to_numpy()), dtype="float64")
        pi_high = np.asarray(tr.back(pred["pi_high"].to_numpy()), dtype="float64")
        actual = sample["value"].to_numpy(dtype="float64")
        z = np.asarray(z, dtype="float64")
        country = {
            str(iso): {"actual": float(actual[k]), "predicted": float(predicted[k]),
                       "pi_low": float(pi_low[k]), "pi_high": float(pi_high[k]),
                       "residual": float(actual[k]) - float(predicted[k]), "z": float(z[k]),
                       "verdict": str(verdicts[k])}
            for k, iso in enumerate(sample.index)}
        fit = _PeerFit(r2=r2, slope=float(result.params["ln_gdp"]), country=country)
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
