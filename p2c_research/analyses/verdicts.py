"""The one verdict engine: how each indicator of an economy compares with what its income predicts.

Every page that says "below what its income predicts" reads it from here: the
benchmark table, the peer-set columns (which repeat the world verdict unless
the peers were refitted), the key findings of the landscape report, the
index flags and the need measure of the pledge analysis. The verdict is the
preferred model's graded residual (:func:`p2c_research.analyses.regression.grade`):
well below, below, on par, above, well above; "no verdict" where income
explains too little of the indicator (R² under the floor); "no data" without
a value or a prediction.
"""

from __future__ import annotations

import pandas as pd

from p2c_research.analyses.benchmark import BenchmarkResults
from p2c_research.analyses.regression import NO_DATA, NO_VERDICT, VERDICTS
from p2c_research.catalog import Catalog

#: Verdicts that count as an under-performance flag (index, need measure, findings).
FLAGGED: tuple[str, ...] = ("well below", "below")
ALL_VERDICTS: tuple[str, ...] = (*VERDICTS, NO_VERDICT, NO_DATA)
VERDICT_COLUMNS = [
    "iso3", "indicator", "name", "pillar", "sub_pillar", "key", "model", "scale", "r2",
    "year", "actual", "predicted", "pi_low", "pi_high", "z", "perf_z", "verdict", "quality",
    "note",
]
MODEL_WORDS = {
    "logit_lngdp": "logit share on ln GDP pc",
    "cloglog_lngdp": "complementary log-log share on ln GDP pc",
    "log_lngdp": "log value on ln GDP pc",
    "sqrt_lngdp": "square-root value on ln GDP pc",
    "extended": "extended (region, income group, urban share, density)",
    "quantile_frontier": "frontier (q = 0.9)",
    "panel_year_fe": "panel, year effects",
}


def world_verdicts(results: BenchmarkResults) -> pd.DataFrame:
    """The preferred model's verdict for every economy and indicator: ``iso3, indicator,
    model, verdict``."""
    c = results.countries
    rows = c[c["preferred"].astype(bool)]
    return rows[["iso3", "indicator", "model", "verdict"]].reset_index(drop=True)


def country_verdicts(results: BenchmarkResults, iso3: str, catalog: Catalog,
                     screened: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per scored indicator of ``iso3``: its verdict and what it rests on.

    Columns :data:`VERDICT_COLUMNS`; ``key`` marks the catalog's core and
    headline indicators (:meth:`p2c_research.catalog.Catalog.key_indicators`: a
    verdict on those can become a key finding); ``quality`` carries the screen's flags on the value judged
    (from ``screened``, the quality-screened panel). Catalog order.
    """
    c = results.countries
    rows = c[(c["iso3"] == iso3) & c["preferred"].astype(bool)]
    r2 = results.models[results.models["preferred"].astype(bool)][["indicator", "r2"]]
    meta = pd.DataFrame([{"indicator": i.id, "name": i.name, "pillar": i.pillar,
                          "sub_pillar": i.sub_pillar} for i in catalog.scored])
    key_ids = catalog.key_indicators()
    out = meta.merge(rows.drop(columns=["iso3"]), on="indicator", how="left").merge(
        r2, on="indicator", how="left")
    out.insert(0, "iso3", iso3)
    out["key"] = out["indicator"].isin(key_ids)
    out["quality"] = ""
    if screened is not None and "quality" in screened.columns:
        own = screened[screened["iso3"] == iso3][["indicator", "year", "quality"]]
        flags = own.set_index(["indicator", "year"])["quality"]
        keys = pd.MultiIndex.from_arrays([out["indicator"], out["year"].astype("float64")])
        flags.index = pd.MultiIndex.from_arrays([flags.index.get_level_values(0),
                                                 flags.index.get_level_values(1).astype("float64")])
        out["quality"] = flags.reindex(keys).fillna("").to_numpy()
    out["verdict"] = out["verdict"].fillna(NO_DATA)
    out["year"] = out["year"].where(out["actual"].notna())  # a GDP year is not the value's
    out["note"] = out["note"].fillna("not benchmarked")
    return out[VERDICT_COLUMNS].reset_index(drop=True)


def verdict_counts(verdicts: pd.DataFrame) -> dict[str, int]:
    """How many indicators carry each verdict (every verdict present as a key)."""
    vc = verdicts["verdict"].value_counts()
    return {v: int(vc.get(v, 0)) for v in ALL_VERDICTS}


def n_flagged(verdicts: pd.DataFrame) -> int:
    """Indicators below or well below what income predicts (the index flag count)."""
    return int(verdicts["verdict"].isin(FLAGGED).sum())
