"""Unit tests of the benchmarking regressions on small synthetic panels.

Every number is checked against an independent computation: numpy least
squares for the coefficients and residuals, a hand-built HC3 sandwich and
statsmodels' own HC3 for the errors, a hand cluster sandwich for the panel.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit
from statsmodels.stats.outliers_influence import OLSInfluence

from p2c_research import countries
from p2c_research.analyses import benchmark as bm
from p2c_research.analyses import benchmark_country as bc
from p2c_research.analyses import benchmark_models as bmod
from p2c_research.analyses.regression import (
    LOGIT_CLIP_PERCENT,
    cloglog_percent,
    expit_percent,
    fit_ols_hc3,
    fit_panel_year_fe,
    grade,
    inv_cloglog_percent,
    logit_percent,
    predict_interval,
    studentized_external,
)
from p2c_research.catalog import load_catalog

WINDOW = (2015, 2024)
N_ECON = 60
COUNTRY = "KHM"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """60 real economies (KHM and TUV included) with their real regions and income groups."""
    ref = countries.load_countries()
    ref = ref[ref["income_group"].notna()]
    picked = ref[ref["iso3"].isin([COUNTRY, "TUV"])]
    others = ref[~ref["iso3"].isin([COUNTRY, "TUV"])].iloc[: N_ECON - 2]
    return pd.concat([picked, others], ignore_index=True)


def _synthetic_panel(reference: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """GDP for 2020-2023; internet users (bounded share) and mobile subscriptions in 2023,
    an older 2020 value for some, a lower-is-better price, and context variables.

    TUV has no indicator value at all (the data-sparse case). For KHM the 2024
    internet value has no GDP that year, so the 2023 value must be used.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for iso in reference["iso3"]:
        ln_gdp = rng.uniform(7, 11)
        for year in (2020, 2021, 2022, 2023):
            rows.append((iso, "gdp_pc_ppp", year, float(np.exp(ln_gdp + 0.01 * (year - 2023)))))
            rows.append((iso, "urban_share", year, float(rng.uniform(15, 90))))
            rows.append((iso, "population_density", year, float(rng.uniform(5, 500))))
        if iso == "TUV":
            continue
        sd = 3.0 + 1.5 * (ln_gdp - 7)  # heteroskedastic, as HC3 expects
        mobile = -60 + 17 * ln_gdp + rng.normal(0, sd)
        share = 100 * expit(-9 + 1.1 * ln_gdp + rng.normal(0, 0.5))
        price = max(0.3, 40 - 3.5 * ln_gdp + rng.normal(0, 1.5))
        receipts = float(np.exp(-8 + 1.0 * ln_gdp + rng.normal(0, 1)))  # log-scaled, floor 0.01
        rows += [(iso, "mobile_broadband_subscriptions", 2023, float(max(mobile, 0.5))),
                 (iso, "high_tech_exports", 2023, float(rng.uniform(1, 60))),  # unrelated
                 (iso, "ip_receipts", 2023, 0.001 if iso == COUNTRY else receipts),
                 (iso, "mobile_broadband_subscriptions", 2020, float(mobile - 10)),
                 (iso, "internet_users", 2023, float(share)),
                 (iso, "mobile_data_price", 2023, float(price))]
        for year in (2020, 2021, 2022):  # a panel for the year-FE fit
            rows.append((iso, "fixed_broadband_subscriptions", year,
                         float(-30 + 4 * ln_gdp + rng.normal(0, 2) + 0.5 * (year - 2020))))
    panel = pd.DataFrame(rows, columns=["iso3", "indicator", "year", "value"])
    # KHM: a 2024 internet value without 2024 GDP (must be skipped), and a
    # price far above anything its income predicts.
    extra = pd.DataFrame([(COUNTRY, "internet_users", 2024, 99.0)],
                         columns=["iso3", "indicator", "year", "value"])
    panel = pd.concat([panel, extra], ignore_index=True)
    khm_price = (panel["iso3"] == COUNTRY) & (panel["indicator"] == "mobile_data_price")
    panel.loc[khm_price, "value"] = 60.0
    panel["source"] = "synthetic"
    return panel


@pytest.fixture(scope="module")
def panel(reference) -> pd.DataFrame:
    return _synthetic_panel(reference)


@pytest.fixture(scope="module")
def results(panel, catalog, reference) -> bm.BenchmarkResults:
    return bm.world_benchmark(panel, catalog, WINDOW, min_n=20, reference=reference)


def _base_sample(panel: pd.DataFrame, indicator: str, year: int = 2023) -> pd.DataFrame:
    """The base-model sample rebuilt by hand: the year-``year`` value and GDP of that year."""
    vals = panel[(panel["indicator"] == indicator) & (panel["year"] == year)]
    gdp = panel[(panel["indicator"] == "gdp_pc_ppp") & (panel["year"] == year)]
    merged = vals.merge(gdp[["iso3", "value"]], on="iso3", suffixes=("", "_gdp"))
    merged["ln_gdp"] = np.log(merged["value_gdp"])
    return merged.sort_values("iso3").reset_index(drop=True)


# ---------------------------------------------------------------- candidate models vs numpy
def _log_floor(values: np.ndarray) -> float:
    """The log model's zero floor for a goalpost of 0: half the smallest positive value."""
    return float(values[values > 0].min() / 2)


def test_log_candidate_coefficients_and_country_prediction_match_numpy(results, panel):
    sample = _base_sample(panel, "mobile_broadband_subscriptions")
    X = np.column_stack([np.ones(len(sample)), sample["ln_gdp"]])
    raw = sample["value"].to_numpy()
    y = np.log(np.maximum(raw, _log_floor(raw)))
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)

    row = results.models.set_index(["indicator", "model"]).loc[
        ("mobile_broadband_subscriptions", "log_lngdp")]
    assert row["n"] == len(sample) and row["scale"] == "log"
    assert row["intercept"] == pytest.approx(beta[0], rel=1e-9)
    assert row["slope"] == pytest.approx(beta[1], rel=1e-9)
    r2 = 1 - np.sum((y - X @ beta) ** 2) / np.sum((y - y.mean()) ** 2)
    assert row["r2"] == pytest.approx(r2, rel=1e-9)

    khm = sample[sample["iso3"] == COUNTRY].iloc[0]
    expected_pred = np.exp(beta[0] + beta[1] * khm["ln_gdp"])
    c = results.countries
    got = c[(c["iso3"] == COUNTRY) & (c["indicator"] == "mobile_broadband_subscriptions")
            & (c["model"] == "log_lngdp")].iloc[0]
    assert got["actual"] == pytest.approx(khm["value"])  # the 2023 value, not 2020
    assert got["predicted"] == pytest.approx(expected_pred, rel=1e-9)
    assert got["residual"] == pytest.approx(khm["value"] - expected_pred, rel=1e-9)
    assert 0 < got["pi_low"] < got["predicted"] < got["pi_high"]


def test_hc3_errors_match_statsmodels_and_hand_sandwich(results, panel):
    sample = _base_sample(panel, "mobile_broadband_subscriptions")
    X = np.column_stack([np.ones(len(sample)), sample["ln_gdp"]])
    raw = sample["value"].to_numpy()
    y = np.log(np.maximum(raw, _log_floor(raw)))
    # statsmodels' own HC3, fitted independently of the package
    sm_se = sm.OLS(y, X).fit(cov_type="HC3").bse
    # numpy: (X'X)^-1 X' diag(e_i^2 / (1 - h_i)^2) X (X'X)^-1
    xtx_inv = np.linalg.inv(X.T @ X)
    e = y - X @ (xtx_inv @ X.T @ y)
    h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    meat = X.T @ (X * (e**2 / (1 - h) ** 2)[:, None])
    hand_se = np.sqrt(np.diag(xtx_inv @ meat @ xtx_inv))
    np.testing.assert_allclose(sm_se, hand_se, rtol=1e-10)

    coefs = results.coefficients
    got = coefs[(coefs["indicator"] == "mobile_broadband_subscriptions")
                & (coefs["model"] == "log_lngdp")].set_index("term")["se"]
    assert got["const"] == pytest.approx(hand_se[0], rel=1e-9)
    assert got["ln_gdp"] == pytest.approx(hand_se[1], rel=1e-9)


def test_preferred_model_has_the_smaller_leave_one_out_error_on_the_raw_scale(results, panel):
    """Refit each candidate n times without one economy (plain numpy) and compare on raw units."""
    sample = _base_sample(panel, "mobile_broadband_subscriptions")
    X = np.column_stack([np.ones(len(sample)), sample["ln_gdp"]])
    raw = sample["value"].to_numpy()
    floor = _log_floor(raw)
    transforms = {
        "log_lngdp": (lambda v: np.log(np.maximum(v, floor)), np.exp),
        "sqrt_lngdp": (np.sqrt, lambda t: np.maximum(t, 0) ** 2),
    }
    mae = {}
    for model, (fwd, back) in transforms.items():
        y = fwd(raw)
        errors = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            beta, *_ = np.linalg.lstsq(X[keep], y[keep], rcond=None)
            errors.append(abs(raw[i] - back(X[i] @ beta)))
        mae[model] = float(np.mean(errors))
    m = results.models.set_index(["indicator", "model"])
    for model, value in mae.items():
        assert m.loc[("mobile_broadband_subscriptions", model), "loo_mae"] == pytest.approx(
            value, rel=1e-8)
    best = min(mae, key=mae.get)
    assert bool(m.loc[("mobile_broadband_subscriptions", best), "preferred"])
    assert bmod.choose_preferred({"a": 2.0, "b": 1.0}) == "b"
    assert bmod.choose_preferred({"a": 1.0, "b": 1.0}) == "a"  # ties go to the first candidate
    assert bmod.choose_preferred({"a": float("nan"), "b": 3.0}) == "b"


def test_externally_studentised_residual_matches_statsmodels_leave_one_out():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = 1 + 2 * x + rng.normal(size=40)
    res = sm.OLS(y, sm.add_constant(x)).fit()
    infl = OLSInfluence(res)
    ours = studentized_external(res.resid, infl.hat_matrix_diag, int(res.df_resid))
    np.testing.assert_allclose(ours, infl.resid_studentized_external, rtol=1e-9)


# ---------------------------------------------------------------- logit scale
def test_logit_round_trip_and_clipping():
    p = np.array([0.5, 1.0, 25.0, 50.0, 75.0, 99.0, 99.5])
    np.testing.assert_allclose(expit_percent(logit_percent(p)), p, rtol=1e-12)
    lo, hi = LOGIT_CLIP_PERCENT
    assert (lo, hi) == (0.5, 99.5)
    clipped = logit_percent(np.array([0.0, 0.1, 99.9, 100.0]))
    np.testing.assert_allclose(clipped, logit(np.array([0.005, 0.005, 0.995, 0.995])))
    np.testing.assert_allclose(expit_percent(clipped), [0.5, 0.5, 99.5, 99.5])


def test_cloglog_round_trip_stays_inside_the_clip():
    p = np.array([0.5, 3.0, 50.0, 97.0, 99.5])
    np.testing.assert_allclose(inv_cloglog_percent(cloglog_percent(p)), p, rtol=1e-12)
    np.testing.assert_allclose(inv_cloglog_percent(cloglog_percent(np.array([0.0, 100.0]))),
                               [0.5, 99.5])


def test_logit_model_back_transforms_to_percent(results, panel):
    sample = _base_sample(panel, "internet_users")
    X = np.column_stack([np.ones(len(sample)), sample["ln_gdp"]])
    z = logit(np.clip(sample["value"].to_numpy(), 0.5, 99.5) / 100)
    beta, *_ = np.linalg.lstsq(X, z, rcond=None)
    khm = sample[sample["iso3"] == COUNTRY].iloc[0]
    c = results.countries
    got = c[(c["iso3"] == COUNTRY) & (c["indicator"] == "internet_users")
            & (c["model"] == "logit_lngdp")].iloc[0]
    assert got["year"] == 2023  # the 2024 value has no GDP for 2024
    assert got["actual"] == pytest.approx(khm["value"])
    assert got["predicted"] == pytest.approx(100 * expit(beta[0] + beta[1] * khm["ln_gdp"]))
    assert 0 < got["pi_low"] < got["predicted"] < got["pi_high"] < 100
    pref = c[(c["iso3"] == COUNTRY) & (c["indicator"] == "internet_users") & c["preferred"]]
    assert pref["model"].tolist() in (["logit_lngdp"], ["cloglog_lngdp"])


# ---------------------------------------------------------------- interval and classes
def test_prediction_interval_covers_about_ninety_percent_of_new_draws():
    rng = np.random.default_rng(11)
    n_fit, n_new = 400, 5000
    x_fit, x_new = rng.uniform(7, 11, n_fit), rng.uniform(7, 11, n_new)
    y_fit = 5 + 3 * x_fit + rng.normal(0, 2, n_fit)
    y_new = 5 + 3 * x_new + rng.normal(0, 2, n_new)
    fit = fit_ols_hc3(pd.Series(y_fit), pd.DataFrame({"const": 1.0, "ln_gdp": x_fit}))
    band = predict_interval(fit.result, pd.DataFrame({"const": 1.0, "ln_gdp": x_new}), 0.90)
    inside = ((y_new >= band["pi_low"]) & (y_new <= band["pi_high"])).mean()
    assert 0.87 < inside < 0.93


def test_verdicts_are_graded_by_z_and_the_interval_and_flip_for_lower_is_better():
    z = np.array([0.5, -0.9, 1.4, -1.4, 2.5, -2.5, np.nan])
    outside = np.array([False, False, False, False, True, True, False])
    assert list(grade(z, outside, True)) == [
        "on par", "on par", "above", "below", "well above", "well below", "no data"]
    assert list(grade(z, outside, False)) == [
        "on par", "on par", "below", "above", "well below", "well above", "no data"]
    assert list(grade([1.0, -1.0], [False, False], True)) == ["on par", "on par"]


def test_expensive_price_is_well_below_with_positive_raw_residual(results):
    c = results.countries
    row = c[(c["iso3"] == COUNTRY) & (c["indicator"] == "mobile_data_price")
            & c["preferred"]].iloc[0]
    assert row["actual"] == 60.0 and row["actual"] > row["pi_high"]
    assert row["verdict"] == "well below"  # dearer than income predicts: worse performance
    assert row["residual"] > 0  # raw units, not flipped
    assert row["z"] > 1 and row["perf_z"] == pytest.approx(-row["z"])


def test_z_is_the_residual_in_predictive_standard_deviations(results, panel):
    from scipy.stats import t as student_t

    c = results.countries
    row = c[(c["iso3"] == COUNTRY) & (c["indicator"] == "mobile_broadband_subscriptions")
            & (c["model"] == "log_lngdp")].iloc[0]
    n = results.models.set_index(["indicator", "model"]).loc[
        ("mobile_broadband_subscriptions", "log_lngdp"), "n"]
    tcrit = student_t.ppf(0.95, n - 2)
    sd = (np.log(row["pi_high"]) - np.log(row["pi_low"])) / (2 * tcrit)
    assert row["z"] == pytest.approx((np.log(row["actual"]) - np.log(row["predicted"])) / sd)


def test_no_verdict_where_income_explains_little(results):
    m = results.models.set_index(["indicator", "model"])
    pref = results.models[results.models["preferred"] & (results.models["indicator"]
                                                          == "high_tech_exports")].iloc[0]
    assert pref["r2"] < bmod.R2_FLOOR
    c = results.countries
    rows = c[(c["indicator"] == "high_tech_exports") & c["preferred"] & c["actual"].notna()]
    assert (rows["verdict"] == "no verdict").all()
    assert rows["note"].str.startswith("no verdict: income explains little").all()
    assert m.loc[("internet_users", "logit_lngdp"), "r2"] > bmod.R2_FLOOR


def test_no_model_predicts_below_zero_or_above_100_for_a_share(results, catalog):
    shares = {i.id for i in catalog.scored if i.bounded_share}
    for frame, cols in ((results.countries, ["predicted", "pi_low", "pi_high", "frontier"]),
                        (results.curves, ["fitted", "pi_low", "pi_high"])):
        values = frame[cols]
        assert not (values < 0).any().any()
        in_share = frame["indicator"].isin(shares)
        assert not (values[in_share] > 100).any().any()


def test_frontier_is_low_quantile_for_prices_and_distance_is_direction_aware(results):
    m = results.models.set_index(["indicator", "model"])
    assert m.loc[("mobile_data_price", "quantile_frontier"), "quantile"] == pytest.approx(0.1)
    assert m.loc[("mobile_broadband_subscriptions", "quantile_frontier"), "quantile"] == pytest.approx(0.9)
    c = results.countries
    price = c[(c["iso3"] == COUNTRY) & (c["indicator"] == "mobile_data_price")].iloc[0]
    assert price["distance_to_frontier"] == pytest.approx(price["actual"] - price["frontier"])
    assert price["distance_to_frontier"] > 0  # dearer than best practice = behind
    mob = c[(c["iso3"] == COUNTRY) & (c["indicator"] == "mobile_broadband_subscriptions")].iloc[0]
    assert mob["distance_to_frontier"] == pytest.approx(mob["frontier"] - mob["actual"])
    # on the frontier's own rows the verdict says which side the country is on
    front = c[(c["indicator"] == "mobile_broadband_subscriptions") & (c["model"] == "quantile_frontier")
              & c["actual"].notna()]
    beyond = (front["verdict"] == "beyond frontier").mean()
    assert 0.03 < beyond < 0.25  # about 10% of economies lie above a q=0.9 line


def test_log_model_compares_values_below_the_floor_at_the_floor(results, catalog):
    floor = catalog["ip_receipts"].goalposts.lower
    c = results.countries
    row = c[(c["iso3"] == COUNTRY) & (c["indicator"] == "ip_receipts")
            & (c["model"] == "log_lngdp")].iloc[0]
    assert row["actual"] == pytest.approx(0.001)  # reported raw ...
    assert "log floor" in row["note"]
    lo, hi = np.log(row["pi_low"]), np.log(row["pi_high"])
    outside = not (lo <= np.log(floor) <= hi)
    assert row["verdict"] == grade([row["z"]], [outside], True)[0]  # ... graded at the floor
    assert np.log(floor) < lo  # far below: the fit saw 0.01, not 0.001


# ---------------------------------------------------------------- peers
def _peers_with_data(results, indicator: str, k: int) -> list[str]:
    d = results.data
    have = d[(d["indicator"] == indicator) & d["ln_gdp"].notna() & (d["iso3"] != COUNTRY)]
    return sorted(have["iso3"])[:k]


def test_peer_set_of_fourteen_is_skipped_and_fifteen_is_refitted(results, catalog):
    small = _peers_with_data(results, "mobile_broadband_subscriptions", 13)   # + KHM = 14
    big = _peers_with_data(results, "mobile_broadband_subscriptions", 14)     # + KHM = 15
    out = bc.peer_refits(results, COUNTRY, {"small": small, "big": big}, catalog, min_n=15)
    out = out[out["indicator"] == "mobile_broadband_subscriptions"].set_index("peer_set")

    assert out.at["small", "n"] == 14
    assert not out.at["small", "refit"]
    assert out.at["small", "note"] == "n < 15: world fit used"
    c = results.countries
    world = c[(c["iso3"] == COUNTRY) & (c["indicator"] == "mobile_broadband_subscriptions")
              & c["preferred"]].iloc[0]
    assert out.at["small", "predicted"] == pytest.approx(world["predicted"])
    assert out.at["small", "verdict"] == world["verdict"]  # the same verdict, never another

    assert out.at["big", "n"] == 15
    assert out.at["big", "refit"]
    assert out.at["big", "model"] == world["model"]  # refitted on the preferred scale
    d = results.data
    sample = d[(d["indicator"] == "mobile_broadband_subscriptions") & d["iso3"].isin([*big, COUNTRY])]
    X = np.column_stack([np.ones(len(sample)), sample["ln_gdp"]])
    all_values = d.loc[(d["indicator"] == "mobile_broadband_subscriptions") & d["ln_gdp"].notna(),
                       "value"].to_numpy()
    fwd, back = ((lambda v: np.log(np.maximum(v, _log_floor(all_values))), np.exp)
                 if world["model"] == "log_lngdp" else (np.sqrt, np.square))
    beta, *_ = np.linalg.lstsq(X, fwd(sample["value"].to_numpy()), rcond=None)
    khm = sample[sample["iso3"] == COUNTRY].iloc[0]
    assert out.at["big", "slope"] == pytest.approx(beta[1], rel=1e-9)
    assert out.at["big", "predicted"] == pytest.approx(back(beta[0] + beta[1] * khm["ln_gdp"]),
                                                       rel=1e-9)


# ---------------------------------------------------------------- panel
def test_cluster_panel_with_nans_builds_groups_after_dropping_rows():
    rng = np.random.default_rng(5)
    iso = np.repeat([f"C{i:02d}" for i in range(30)], 6)
    year = np.tile(np.arange(2018, 2024), 30)
    ln_gdp = rng.uniform(7, 11, len(iso))
    y = 2 + 3 * ln_gdp + 0.2 * (year - 2018) + rng.normal(0, 1, len(iso))
    frame = pd.DataFrame({"iso3": iso, "year": year, "y": y, "ln_gdp": ln_gdp})
    frame.loc[[0, 7, 8, 50], "y"] = np.nan
    frame.loc[[3, 100], "ln_gdp"] = np.nan
    frame.loc[frame["iso3"] == "C29", "y"] = np.nan  # a country with nothing left

    fit = fit_panel_year_fe(frame)
    complete = frame.dropna()
    assert int(fit.result.nobs) == len(complete) == len(fit.groups)
    assert fit.n_clusters == complete["iso3"].nunique() == 29
    # groups line up with the fitted rows: one code per country, in row order
    codes = pd.Series(fit.groups).groupby(fit.rows["iso3"].to_numpy()).nunique()
    assert (codes == 1).all()

    # cluster-robust SE against a hand sandwich with statsmodels' small-sample factor
    X = np.asarray(fit.result.model.exog)
    u = np.asarray(fit.result.resid)
    bread = np.linalg.inv(X.T @ X)
    meat = sum(np.outer(X[fit.groups == g].T @ u[fit.groups == g],
                        X[fit.groups == g].T @ u[fit.groups == g])
               for g in np.unique(fit.groups))
    n, k, g = X.shape[0], X.shape[1], fit.n_clusters
    factor = g / (g - 1) * (n - 1) / (n - k)
    hand = np.sqrt(np.diag(factor * bread @ meat @ bread))
    np.testing.assert_allclose(np.asarray(fit.result.bse), hand, rtol=1e-8)


def test_panel_trend_reports_slope_of_country_residuals(results, catalog):
    trend = bc.panel_trend(results, COUNTRY, catalog).set_index("indicator")
    assert "fixed_broadband_subscriptions" in trend.index
    r = results.panel_residuals
    own = r[(r["iso3"] == COUNTRY) & (r["indicator"] == "fixed_broadband_subscriptions")]
    slope = np.polyfit(own["year"], own["residual"], 1)[0]
    assert trend.at["fixed_broadband_subscriptions", "slope"] == pytest.approx(slope)
    assert trend.at["fixed_broadband_subscriptions", "n_years"] == 3


# ---------------------------------------------------------------- data-sparse country
def test_data_sparse_country_gets_no_data_rows_not_a_crash(results, catalog):
    table = bc.country_benchmark(results, "TUV", catalog)
    scored = {i.id for i in catalog.scored}
    assert set(table["indicator"]) == scored
    assert (table["verdict"] == "no data").all()
    assert table.loc[table["indicator"] == "mobile_broadband_subscriptions", "note"].str.contains(
        "no value").all()
    # it still gets an expected value from its GDP (useful for the pledge-gap need)
    base = table[(table["indicator"] == "mobile_broadband_subscriptions") & table["preferred"]]
    assert base["predicted"].notna().all()
    peers = bc.peer_refits(results, "TUV", {"all": list(results.data["iso3"].unique())},
                           catalog)
    assert (peers["verdict"] == "no data").all()
    assert bc.key_indicators(table) == []


def test_every_scored_indicator_has_one_preferred_row_per_country(results, catalog):
    table = bc.country_benchmark(results, COUNTRY, catalog)
    pref = table[table["preferred"].astype(bool)]
    assert sorted(pref["indicator"]) == sorted(i.id for i in catalog.scored)
    assert pref.set_index("indicator").at["internet_users", "model"] in ("logit_lngdp",
                                                                        "cloglog_lngdp")
    unfitted = pref.set_index("indicator").loc["coverage_4g"]
    assert unfitted["verdict"] == "no data"
    assert "not fitted" in unfitted["note"]


# ---------------------------------------------------------------- cache
def test_peer_refit_memo_gives_the_same_rows_and_fits_once(results, catalog, monkeypatch):
    peers = _peers_with_data(results, "mobile_broadband_subscriptions", 20)
    bc._peer_fits.clear()
    calls = []
    real = bc.ols_hc3

    def counting(y, exog):
        calls.append(len(y))
        return real(y, exog)

    monkeypatch.setattr(bc, "ols_hc3", counting)
    first = bc.peer_refits(results, COUNTRY, {"region": peers}, catalog)
    n_first = len(calls)
    assert n_first == int(first["refit"].sum()) > 0
    # A second member of the same set refits the same sample: served by the memo,
    # and its rows are those of a fresh fit.
    other = peers[0]
    again = bc.peer_refits(results, other, {"region": [*peers, COUNTRY]}, catalog)
    assert len(calls) == n_first
    bc._peer_fits.clear()
    fresh = bc.peer_refits(results, other, {"region": [*peers, COUNTRY]}, catalog)
    pd.testing.assert_frame_equal(again, fresh)
    # Other data (another vintage) with the same members is fitted anew, not served.
    n_before = len(calls)
    doubled = dataclasses.replace(results, data=results.data.assign(value=results.data["value"] * 2))
    changed = bc.peer_refits(doubled, other, {"region": [*peers, COUNTRY]}, catalog)
    assert len(calls) == n_before + int(changed["refit"].sum())
    refit = changed["refit"].astype(bool)
    # with a data-driven floor, log and square-root fits scale with the data: twice the
    # values, twice the prediction
    scaling = refit & (changed["indicator"] == "mobile_broadband_subscriptions")
    assert scaling.any()
    assert np.allclose(changed.loc[scaling, "predicted"], 2 * fresh.loc[scaling, "predicted"])
