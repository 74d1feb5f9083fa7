"""Which source wins where publishers disagree: one value per economy, indicator and year.

* ICT series (indicators with an ITU code in the catalog):
  ITU DataHub API > ITU DataHub CSV export > UN SDG database > World Bank API > WDI files.
  ITU is the custodian of these statistics; the SDG database and WDI
  republish ITU's figures, sometimes a release later.
* Every other series: World Bank API > WDI files > UN SDG database (> ITU).

Used by the processed build (:mod:`p2c_research.build`) and by the sample's
loader, which merges the WDI panel with the ITU pack the same way
(:func:`p2c_research.datasets.load_panel`).
"""

from __future__ import annotations

import pandas as pd

from p2c_research.catalog import Catalog, load_catalog
from p2c_research.sources import itu, sdg, wdi_csv, worldbank
from p2c_research.store import PANEL_COLUMNS

PRECEDENCE_ICT: tuple[str, ...] = (
    itu.API_LABEL, itu.EXPORT_LABEL, sdg.SOURCE_LABEL, worldbank.SOURCE_LABEL,
    wdi_csv.SOURCE_LABEL,
)
PRECEDENCE_OTHER: tuple[str, ...] = (
    worldbank.SOURCE_LABEL, wdi_csv.SOURCE_LABEL, sdg.SOURCE_LABEL, itu.API_LABEL,
    itu.EXPORT_LABEL,
)
CONFLICT_RTOL = 0.01
CONFLICT_COLUMNS = ["iso3", "indicator", "year", "kept_source", "kept_value",
                    "other_source", "other_value", "rel_diff"]


def precedence(indicator_id: str, catalog: Catalog | None = None) -> tuple[str, ...]:
    """Source labels in the order they win for ``indicator_id`` (see the module docstring)."""
    catalog = catalog or load_catalog()
    is_ict = indicator_id in catalog and bool(catalog[indicator_id].sources.itu)
    return PRECEDENCE_ICT if is_ict else PRECEDENCE_OTHER


def merge_sources(
    rows: pd.DataFrame,
    catalog: Catalog | None = None,
    conflict_rtol: float = CONFLICT_RTOL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pick one value per ``iso3, indicator, year`` by precedence (pure).

    Args:
        rows: tidy rows from several sources; ``source`` is ``<label>:<code>``.

    Returns:
        (merged panel, conflicts): conflicts lists each losing value that
        differs from the kept one by more than ``conflict_rtol`` (relative).
    """
    catalog = catalog or load_catalog()
    if rows.empty:
        return rows[PANEL_COLUMNS].copy(), pd.DataFrame(columns=CONFLICT_COLUMNS)
    rows = rows[PANEL_COLUMNS].copy()
    label = rows["source"].astype(str).str.split(":", n=1).str[0]
    order = {ind: precedence(ind, catalog) for ind in rows["indicator"].unique()}
    rank = [order[ind].index(lab) if lab in order[ind] else len(order[ind])
            for ind, lab in zip(rows["indicator"], label, strict=True)]
    rows["_rank"] = rank
    rows = rows.sort_values(["iso3", "indicator", "year", "_rank"], kind="stable")
    keys = ["iso3", "indicator", "year"]
    first = ~rows.duplicated(keys, keep="first")
    kept = rows[first]
    losers = rows[~first]
    conflicts = pd.DataFrame(columns=CONFLICT_COLUMNS)
    if not losers.empty:
        pair = losers.merge(kept[[*keys, "source", "value"]], on=keys,
                            suffixes=("_other", "_kept"))
        denom = pair["value_kept"].abs().where(pair["value_kept"].abs() > 0, 1.0)
        pair["rel_diff"] = (pair["value_other"] - pair["value_kept"]).abs() / denom
        pair = pair[pair["rel_diff"] > conflict_rtol]
        conflicts = pair.rename(columns={
            "source_kept": "kept_source", "value_kept": "kept_value",
            "source_other": "other_source", "value_other": "other_value",
        })[CONFLICT_COLUMNS].reset_index(drop=True)
    return kept.drop(columns="_rank").reset_index(drop=True), conflicts
