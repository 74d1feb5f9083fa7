"""Allocating pledges to the countries they target, by a stated rule.

A pledge names target countries, target regions/groups ("africa", "ldc",
"global", ...) or both. To compare support across countries, every pledge is
split over the economies it reaches:

* **targets** are the union, deduplicated, of the listed countries and the
  members of every listed region; ``global`` means every economy in the
  country reference (:func:`p2c_research.pledges.targets.pledge_targets`; the
  synthetic generator's cap uses the same rule). Codes that are not economies are reported by
  :func:`unresolved_targets`, never silently dropped.
* **rule** ``equal`` gives each target the same share; ``population`` weights
  targets by population; ``need`` by the country's overall need score (see
  :mod:`p2c_research.analyses.gaps`). The same rule splits pledges that list
  several countries. A target without a weight gets the median weight of the
  pledge's other targets (flagged ``weight_imputed``); a pledge whose targets
  all lack a weight, or whose weights sum to zero, is split equally (flagged
  ``equal_fallback``).
* **totals**: each pledge's shares sum to 1 and its allocated USD to its
  value; the floating-point residual of the division is put on the largest
  share, so the sums hold to the last bit of the pledge value. A pledge with
  no USD value allocates counts only (``usd_allocated`` is NaN,
  ``count_allocated`` carries its share of one pledge).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import pandas as pd

from p2c_research.pledges.targets import (
    GLOBAL_REGION,
    default_region_members,
    pledge_targets,
    target_shares,
)
from p2c_research.pledges.targets import split_cell as _split

__all__ = ["ALLOCATION_RULES", "GLOBAL_REGION", "allocate_pledges", "country_totals",
           "describe_rule", "pledge_targets", "unresolved_targets"]

AllocationRule = Literal["equal", "population", "need"]
ALLOCATION_RULES: tuple[str, ...] = ("equal", "population", "need")

ALLOCATION_COLUMNS = [
    "pledge_id", "iso3", "share", "usd_allocated", "count_allocated", "weight",
    "weight_imputed", "equal_fallback", "basis", "n_targets", "rule",
]

RULE_TEXT: dict[str, str] = {
    "equal": "split equally over the economies it targets",
    "population": "split over the economies it targets in proportion to their population",
    "need": "split over the economies it targets in proportion to their overall need score",
}


def describe_rule(rule: str) -> str:
    """One sentence for a report saying how multi-country pledges were allocated."""
    if rule not in RULE_TEXT:
        raise ValueError(f"unknown allocation rule {rule!r}; use one of {ALLOCATION_RULES}")
    return (
        f"Allocation rule '{rule}': a pledge that targets several countries, a region or a "
        f"group (e.g. Africa, LDCs, global) is {RULE_TEXT[rule]}; 'global' means every "
        "economy. Country amounts add up to the pledge value; a pledge without a USD value "
        "is counted by number only."
    )


def unresolved_targets(
    pledges: pd.DataFrame,
    economies: Iterable[str],
    region_members: Callable[[str], Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Target codes that are not economies and regions with no members, per pledge.

    A pledge listed here with ``allocated`` False reaches no economy at all and
    is absent from the allocation: a report must show it rather than lose it.
    Columns: ``pledge_id, problem, value, allocated``.
    """
    members_of = region_members or default_region_members()
    valid = set(economies)
    reached = set(pledge_targets(pledges, valid, members_of)["pledge_id"])
    rows: list[tuple[str, str, str, bool]] = []
    for pid, countries_cell, regions_cell in zip(
        pledges["pledge_id"], pledges["target_countries"], pledges["target_regions"], strict=True
    ):
        pid = str(pid)
        for code in _split(countries_cell):
            if code.upper() not in valid:
                rows.append((pid, "unknown target country", code, pid in reached))
        for region in _split(regions_cell):
            if region.lower() == GLOBAL_REGION:
                continue
            try:
                members = [m for m in members_of(region.lower()) if m in valid]
            except (KeyError, ValueError):
                members = []
            if not members:
                rows.append((pid, "unknown or empty target region", region, pid in reached))
        if not _split(countries_cell) and not _split(regions_cell):
            rows.append((pid, "no target at all", "", False))
    return pd.DataFrame(rows, columns=["pledge_id", "problem", "value", "allocated"])


def allocate_pledges(
    pledges: pd.DataFrame,
    countries_frame: pd.DataFrame,
    rule: AllocationRule = "equal",
    population: pd.Series | None = None,
    need: pd.Series | None = None,
    *,
    region_members: Callable[[str], Iterable[str]] | None = None,
) -> pd.DataFrame:
    """Split every pledge over the economies it targets, by ``rule``.

    Args:
        pledges: pledge table with ``pledge_id, target_countries, target_regions,
            usd_value`` (see ``docs/pledges.md``).
        countries_frame: the economies (column ``iso3``); ``global`` means all of them.
        rule: ``equal``, ``population`` or ``need``.
        population: persons by ISO3 (required for ``population``).
        need: overall need score (>= 0) by ISO3 (required for ``need``).
        region_members: region name -> ISO3 codes; defaults to the pledge schema's.

    Returns:
        One row per (pledge, economy): ``pledge_id, iso3, share, usd_allocated,
        count_allocated, weight, weight_imputed, equal_fallback, basis,
        n_targets, rule``. Per pledge, ``share`` sums to 1 and ``usd_allocated``
        to ``usd_value`` (NaN when the pledge has no value).
    """
    if rule not in ALLOCATION_RULES:
        raise ValueError(f"unknown allocation rule {rule!r}; use one of {ALLOCATION_RULES}")
    weights_by_iso: pd.Series | None = None
    if rule == "population":
        if population is None:
            raise ValueError("allocation rule 'population' needs a population series by ISO3")
        weights_by_iso = population
    elif rule == "need":
        if need is None:
            raise ValueError("allocation rule 'need' needs a need series by ISO3")
        weights_by_iso = need.clip(lower=0)

    pairs = pledge_targets(pledges, countries_frame["iso3"], region_members)
    if pairs.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ALLOCATION_COLUMNS})
    values = pd.Series(pledges["usd_value"].to_numpy(dtype=float),
                       index=pledges["pledge_id"].astype(str))
    values = values[~values.index.duplicated()]

    out = pairs.copy()
    split = target_shares(pairs, weights_by_iso)
    for col in ("weight", "share", "weight_imputed", "equal_fallback"):
        out[col] = split[col]
    out["n_targets"] = out.groupby("pledge_id")["iso3"].transform("size").astype("int64")
    # Put the rounding residual on the largest share so the totals hold exactly.
    largest = out.groupby("pledge_id")["share"].idxmax()
    residual = 1.0 - out.groupby("pledge_id")["share"].sum()
    out.loc[largest.to_numpy(), "share"] += residual.loc[largest.index].to_numpy()
    value = out["pledge_id"].map(values).astype(float)
    out["usd_allocated"] = value * out["share"]
    usd_residual = value.groupby(out["pledge_id"]).first() - out.groupby("pledge_id")[
        "usd_allocated"].sum(min_count=1)
    out.loc[largest.to_numpy(), "usd_allocated"] += usd_residual.loc[largest.index].to_numpy()
    out["count_allocated"] = out["share"]
    out["rule"] = rule
    return out[ALLOCATION_COLUMNS].reset_index(drop=True)


def country_totals(allocation: pd.DataFrame, population: pd.Series | None = None) -> pd.DataFrame:
    """Per economy: pledges reaching it, allocated USD and, with population, USD per capita.

    ``pledge_count`` counts whole pledges that reach the economy (a global pledge
    counts once everywhere); ``count_allocated`` sums the fractional counts, so it
    adds up to the number of pledges across economies.
    """
    grouped = allocation.groupby("iso3")
    out = pd.DataFrame({
        "pledge_count": grouped["pledge_id"].nunique(),
        "count_allocated": grouped["count_allocated"].sum(),
        "pledge_usd": grouped["usd_allocated"].sum(min_count=1).fillna(0.0),
    })
    if population is not None:
        out["usd_per_capita"] = out["pledge_usd"] / out.index.map(population).astype(float)
    return out.rename_axis("iso3").reset_index()
