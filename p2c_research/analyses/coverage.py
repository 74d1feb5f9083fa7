"""Which catalog indicators have no data for a country, and why.

Every report lists these indicators once (with the reason) and leaves them out
of its other tables; figures can drop them the same way by calling
:func:`indicators_without_data` or :func:`without_data_ids` on the cached
world scores. An indicator with only an older value (stale) has data: the
reports show that value with a note.
"""

from __future__ import annotations

import pandas as pd

from p2c_research.analyses.landscape import no_data_reasons
from p2c_research.analyses.scores import WorldScores

NO_DATA_COLUMNS = ["indicator", "name", "pillar", "sub_pillar", "reason"]


def indicators_without_data(world: WorldScores, iso3: str,
                            panel: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per catalog indicator without any value for ``iso3``, in catalog order.

    Columns :data:`NO_DATA_COLUMNS`. ``reason`` is the landscape's
    (:func:`p2c_research.analyses.landscape.no_data_reasons`): not in the
    chosen data at all, or no value for this country. Given the tidy
    ``panel`` (before scoring), an indicator the country does report gets the
    finer reason: only values after the window, or every value left out by
    the data-quality screen (outliers, imputed repeats).
    """
    meta = world.meta[["indicator", "name", "pillar", "sub_pillar"]]
    own = world.indicators.loc[world.indicators["iso3"] == iso3,
                               ["indicator", "value", "stale", "year"]]
    rows = meta.merge(own, on="indicator", how="left")
    rows["stale"] = rows["stale"].astype("boolean").fillna(False).astype(bool)
    rows["reason"] = no_data_reasons(rows, world)
    missing = rows[rows["value"].isna()].copy()
    if panel is not None and not missing.empty:
        end = world.window[1]
        own_rows = panel[(panel["iso3"] == iso3) & panel["value"].notna()
                         & panel["indicator"].isin(set(missing["indicator"]))]
        first = own_rows.groupby("indicator")["year"].min()
        for idx, ind in missing["indicator"].items():
            if ind not in first.index:
                continue
            missing.loc[idx, "reason"] = (
                f"only values after {end}" if first[ind] > end
                else "every value left out by the data-quality screen (outlier or imputed)")
    return missing[NO_DATA_COLUMNS].reset_index(drop=True)


def without_data_ids(world: WorldScores, iso3: str) -> set[str]:
    """The ids of :func:`indicators_without_data` (for figures that drop them)."""
    return set(indicators_without_data(world, iso3)["indicator"])


def from_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """The same list from a landscape scores table (``value`` and ``note`` columns)."""
    missing = scores[scores["value"].isna()]
    return pd.DataFrame({c: missing[c] for c in NO_DATA_COLUMNS[:-1]}
                        ).assign(reason=missing["note"].to_numpy()).reset_index(drop=True)
