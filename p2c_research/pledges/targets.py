"""Which economies a pledge reaches, and each one's share of it: the rule the allocation uses.

It lives with the pledge data, below the analyses, because two parts of the
workbench need exactly the same rule: the allocation of pledges to countries
(:mod:`p2c_research.analyses.allocation`, which documents the rule) and the
synthetic generator's single-pledge cap (:mod:`p2c_research.pledges.synthetic`),
which the sample builder runs without the analyses.

* **Targets** are the union, deduplicated, of the listed countries and the
  members of every listed region; ``global`` means every economy.
* **Shares**: each target's weight over the pledge's total weight; a target
  without a weight gets the median weight of the pledge's other targets
  (``weight_imputed``); a pledge whose targets all lack a weight, or whose
  weights sum to zero, is split equally (``equal_fallback``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

GLOBAL_REGION = "global"


def split_cell(cell: object) -> list[str]:
    """Split a ';'-joined cell into clean tokens (empty, NaN or None gives [])."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
        return []
    return [t.strip() for t in str(cell).split(";") if t.strip()]


def default_region_members() -> Callable[[str], Iterable[str]]:
    """The region tokens of the pledge schema (:func:`p2c_research.pledges.schema.region_members`)."""
    from p2c_research.pledges.schema import region_members

    return region_members


def pledge_targets(
    pledges: pd.DataFrame,
    economies: Iterable[str],
    region_members: Callable[[str], Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Every (pledge, economy) pair a pledge reaches, with the basis of the link.

    Returns columns ``pledge_id, iso3, basis`` where ``basis`` is ``countries``,
    ``regions``, ``countries+regions`` or ``global`` for the pledge as a whole.
    Pairs are unique; pledges with no valid target have no row.
    """
    members_of = region_members or default_region_members()
    universe = sorted(set(economies))
    valid = set(universe)
    cache: dict[str, list[str]] = {}
    rows: list[tuple[str, str, str]] = []
    for pid, countries_cell, regions_cell in zip(
        pledges["pledge_id"], pledges["target_countries"], pledges["target_regions"], strict=True
    ):
        listed = [c.upper() for c in split_cell(countries_cell) if c.upper() in valid]
        regions = [r.lower() for r in split_cell(regions_cell)]
        targets: list[str] = list(listed)
        if GLOBAL_REGION in regions:
            targets = universe
            basis = GLOBAL_REGION
        else:
            for region in regions:
                if region not in cache:
                    try:
                        cache[region] = [m for m in members_of(region) if m in valid]
                    except (KeyError, ValueError):
                        cache[region] = []
                targets += cache[region]
            has_regions = any(cache.get(r) for r in regions)
            basis = ("countries+regions" if listed and has_regions
                     else "regions" if has_regions else "countries")
        for iso3 in dict.fromkeys(targets):  # dedupe, keep order
            rows.append((str(pid), iso3, basis))
    return pd.DataFrame(rows, columns=["pledge_id", "iso3", "basis"])


def target_shares(pairs: pd.DataFrame, weights_by_iso: pd.Series | None = None
                  ) -> pd.DataFrame:
    """Each pair's share of its pledge (module docstring), with how its weight was found.

    Args:
        pairs: :func:`pledge_targets` output.
        weights_by_iso: a weight (>= 0) per ISO3; None splits every pledge equally.

    Returns ``weight, share, weight_imputed, equal_fallback`` aligned with
    ``pairs``; per pledge the shares sum to 1 (to floating-point precision).
    """
    if weights_by_iso is None:
        weight = pd.Series(1.0, index=pairs.index)
    else:
        w = pd.Series(weights_by_iso.to_numpy(dtype=float), index=weights_by_iso.index.astype(str))
        w = w[~w.index.duplicated()]
        weight = pairs["iso3"].map(w).astype(float)
    weight = weight.where(weight >= 0)  # a negative weight is no weight
    imputed = weight.isna()
    median = weight.groupby(pairs["pledge_id"]).transform("median")
    weight = weight.fillna(median)
    total = weight.groupby(pairs["pledge_id"]).transform("sum")
    fallback = ~(total > 0)  # all missing (sum of NaN is 0) or all zero
    weight = weight.mask(fallback, 1.0)
    imputed &= ~fallback
    total = weight.groupby(pairs["pledge_id"]).transform("sum")
    return pd.DataFrame({"weight": weight, "share": weight / total,
                         "weight_imputed": imputed, "equal_fallback": fallback},
                        index=pairs.index)
