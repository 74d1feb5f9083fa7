"""Peer statistics: where a country stands within its peer groups.

For each peer set (income group, region, LDC/LLDC/SIDS, explicit lists) and
each indicator, sub-pillar and pillar: the peer median, the interquartile
range and the country's percentile. The functions take a long membership
table (``iso3, peer_set, peer``), so one call handles one country or every
economy at once, without a Python loop per country.

Definitions (stated in the reports):

* Peers exclude the country itself and count only peers with an in-window
  value (pillars and sub-pillars: only peers whose score is sufficient).
* Median and quartiles use linear interpolation between order statistics
  (numpy's default); the IQR is ``peer_q25`` to ``peer_q75``.
* **Percentile** = 100 x (share of peers strictly worse + half the share tied),
  i.e. ``scipy.stats.percentileofscore(peers, x, kind="mean")`` on values
  oriented so that higher is better. 100 means better than every peer.
* A percentile over fewer than ``min_n`` peers (params ``analysis.peer_min_n``,
  15) is not given: :func:`mask_thin_percentiles` sets it to NaN and keeps
  ``peer_n``, and reports write "too few peers (n)". Over 9 peers one rank
  moves the percentile by 11 points, too coarse to quote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from p2c_research.analyses.scores import WorldScores

#: Fewest peers with a value for a percentile (the default of params ``analysis.peer_min_n``).
PEER_MIN_N = 15

INDICATOR_PEER_COLUMNS = [
    "iso3", "peer_set", "indicator", "value", "score", "peer_n", "peer_median", "peer_q25",
    "peer_q75", "peer_median_score", "peer_percentile",
]
LEVEL_PEER_COLUMNS = ["peer_n", "peer_median", "peer_q25", "peer_q75", "peer_percentile"]


def peer_membership(peer_sets: Mapping[str, Sequence[str]], iso3: str) -> pd.DataFrame:
    """Long table ``iso3, peer_set, peer`` of one country's peer sets (itself excluded)."""
    rows = [(iso3, label, peer) for label, members in peer_sets.items()
            for peer in members if peer != iso3]
    return pd.DataFrame(rows, columns=["iso3", "peer_set", "peer"])


def percentile_among(value: float, peers: Sequence[float]) -> float:
    """Percentile of ``value`` among ``peers``: share strictly below plus half the ties, x 100.

    NaN peers are ignored; NaN when ``value`` is NaN or no peer has a value.
    """
    arr = np.asarray(peers, dtype="float64")
    arr = arr[~np.isnan(arr)]
    if np.isnan(value) or arr.size == 0:
        return float("nan")
    return float(100.0 * ((arr < value).sum() + 0.5 * (arr == value).sum()) / arr.size)


def _peer_stats(own: pd.DataFrame, values: pd.DataFrame, membership: pd.DataFrame,
                keys: list[str], value_col: str, oriented_col: str,
                extra: dict[str, tuple[str, str]] | None = None) -> pd.DataFrame:
    """Median, quartiles, n and percentile of ``value_col`` among peers, per iso3/peer_set/keys.

    ``own`` holds the countries' values (``iso3`` + keys + columns);
    ``values`` every economy's values (``iso3`` renamed to ``peer`` here).
    Percentiles compare ``oriented_col`` (higher is better).
    """
    peer_vals = values.rename(columns={"iso3": "peer"})
    peer_vals = peer_vals[peer_vals[value_col].notna()]
    joined = membership.merge(peer_vals, on="peer", how="inner")
    group = ["iso3", "peer_set", *keys]
    grouped = joined.groupby(group)
    values_by = grouped[value_col]
    # Built-in (cythonised) reductions; a lambda per group cost ~0.1 s per country.
    columns = {"peer_n": values_by.size(), "peer_median": values_by.median(),
               "peer_q25": values_by.quantile(0.25), "peer_q75": values_by.quantile(0.75)}
    for name, (col, how) in (extra or {}).items():
        columns[name] = grouped[col].agg(how)
    stats = pd.DataFrame(columns).reset_index()

    own_oriented = own[["iso3", *keys, oriented_col]].rename(columns={oriented_col: "_own"})
    cmp = joined.merge(own_oriented, on=["iso3", *keys], how="inner")
    cmp = cmp[cmp["_own"].notna()]
    cmp["_below"] = (cmp[oriented_col] < cmp["_own"]).astype("float64")
    cmp["_tied"] = (cmp[oriented_col] == cmp["_own"]).astype("float64")
    ranks = cmp.groupby(group, as_index=False).agg(
        _below=("_below", "sum"), _tied=("_tied", "sum"), _n=("_below", "size"))
    ranks["peer_percentile"] = 100.0 * (ranks["_below"] + 0.5 * ranks["_tied"]) / ranks["_n"]

    sets = membership[["iso3", "peer_set"]].drop_duplicates()
    base = own.merge(sets, on="iso3", how="inner")
    out = base.merge(stats, on=group, how="left").merge(
        ranks[[*group, "peer_percentile"]], on=group, how="left")
    out["peer_n"] = out["peer_n"].fillna(0).astype("int64")
    return out


def indicator_peer_stats(world: WorldScores, membership: pd.DataFrame) -> pd.DataFrame:
    """Per country, peer set and indicator: the country's value and score, and peer statistics.

    Medians and quartiles are of the indicator *values* (in the indicator's
    unit); ``peer_median_score`` is the median peer score. Every scored
    catalog indicator gets a row, with NaN where the country has no value.
    """
    cols = ["iso3", "indicator", "value", "score"]
    ind = world.indicators
    current = ind.loc[~ind["stale"] & ind["score"].notna(), cols]
    sign = world.meta.set_index("indicator")["higher_is_better"].map({True: 1.0, False: -1.0})
    current = current.assign(oriented=current["value"] * current["indicator"].map(sign)
                             .astype("float64"))
    countries = pd.DataFrame({"iso3": membership["iso3"].unique()})
    grid = countries.merge(world.meta[["indicator"]], how="cross")
    own = grid.merge(current, on=["iso3", "indicator"], how="left")
    out = _peer_stats(own, current, membership, ["indicator"], "value", "oriented",
                      extra={"peer_median_score": ("score", "median")})
    return out[INDICATOR_PEER_COLUMNS].sort_values(["iso3", "peer_set", "indicator"]) \
        .reset_index(drop=True)


def level_peer_stats(world: WorldScores, membership: pd.DataFrame,
                     level: str = "pillar") -> pd.DataFrame:
    """Per country, peer set and pillar (or sub-pillar): score, coverage and peer statistics.

    Only sufficient scores count, for the country and for its peers.

    Args:
        level: ``"pillar"`` or ``"sub_pillar"``.
    """
    if level == "pillar":
        frame, keys = world.pillars, ["pillar"]
    elif level == "sub_pillar":
        frame, keys = world.sub_pillars, ["pillar", "sub_pillar"]
    else:
        raise ValueError(f"level must be 'pillar' or 'sub_pillar', not {level!r}")
    values = frame[["iso3", *keys, "score"]]
    own = frame[frame["iso3"].isin(membership["iso3"].unique())][
        ["iso3", *keys, "score", "coverage", "sufficient"]]
    out = _peer_stats(own, values, membership, keys, "score", "score")
    cols = ["iso3", "peer_set", *keys, "score", "coverage", "sufficient", *LEVEL_PEER_COLUMNS]
    return out[cols].sort_values(["iso3", "peer_set", *keys]).reset_index(drop=True)


def mask_thin_percentiles(stats: pd.DataFrame, min_n: int = PEER_MIN_N) -> pd.DataFrame:
    """``stats`` with ``peer_percentile`` NaN where fewer than ``min_n`` peers have a value.

    ``peer_n`` stays, so a reader (and the report) can tell "too few peers
    (n)" from "no value"; the column stays numeric for the CSV tables.
    """
    out = stats.copy()
    out["peer_percentile"] = out["peer_percentile"].where(out["peer_n"] >= min_n)
    return out


def peer_scores_long(world: WorldScores, members: Sequence[str]) -> pd.DataFrame:
    """In-window indicator scores of a peer set's members (for strip plots): ``iso3, indicator, score``."""
    ind = world.indicators
    mask = ind["iso3"].isin(list(members)) & ~ind["stale"] & ind["score"].notna()
    return ind.loc[mask, ["iso3", "indicator", "pillar", "score"]].reset_index(drop=True)
