"""Y-scales of the trend small multiples: one scale per unit, so panels compare at a glance.

Independent y-axes magnify small moves: a coverage series from 99.0 to 99.7%
fills its panel as a steep climb. The trend panels therefore share a y-scale
among indicators of the same unit. Bounded shares (catalog ``bounded_share``:
population coverage, Internet users, literacy) run 0-100 whatever their unit
text. Other units share one range when their values are of the same order;
where one unit holds values of very different size (secure servers in the
hundreds per million people, patents below one per million), the panels of a
similar size share a range and the rest keep their own, marked as such, since
a common axis would flatten them into the baseline. Every axis starts at zero
for non-negative data, so the height of a line is its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from p2c_research.catalog import load_catalog

#: A panel joins a shared scale when its largest value is at least this share of the
#: scale's largest value (smaller values would fill less than a fifth of the panel).
SHARE_FLOOR = 0.2
#: Room above the data and below zero, as a share of the range.
PAD = 0.06
PERCENT_RANGE = (0.0, 100.0)


@dataclass(frozen=True)
class PanelScale:
    """The y-range of one trend panel and how it relates to its same-unit neighbours.

    ``tag`` is empty when the panel shares the range of every panel of its unit
    (or is the only one); otherwise it says plainly "own scale" or
    "scale shared by k of n".
    """

    low: float
    high: float
    tag: str = ""


def _bounded_shares(indicators: list[str]) -> set[str]:
    catalog = load_catalog()
    return {i for i in indicators if i in catalog and catalog[i].bounded_share}


def _span(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    low, high = min(0.0, float(finite.min())), max(0.0, float(finite.max()))
    if high == low:
        high = low + 1.0
    return low, high


def _padded(low: float, high: float) -> tuple[float, float]:
    """The range with room for markers at its edges (a dot at zero is not cut in half)."""
    pad = (high - low) * PAD
    return low - pad, high + pad


def panel_scales(lines: pd.DataFrame, units: dict[str, str],
                 targets: dict[str, float] | None = None) -> dict[str, PanelScale]:
    """The y-range of each indicator's panel.

    Args:
        lines: ``indicator, value, fitted`` (fitted may be NaN).
        units: indicator id -> unit text; indicators of one unit share a scale.
        targets: indicator id -> target value, kept inside the range.

    Returns:
        indicator id -> :class:`PanelScale`.
    """
    targets = targets or {}
    inds = list(dict.fromkeys(lines["indicator"]))
    spans: dict[str, tuple[float, float]] = {}
    for ind, d in lines.groupby("indicator", sort=False):
        vals = [d["value"].to_numpy(dtype=float), d["fitted"].to_numpy(dtype=float)]
        if np.isfinite(targets.get(str(ind), np.nan)):
            vals.append(np.array([targets[str(ind)]], dtype=float))
        spans[str(ind)] = _span(np.concatenate(vals))
    out: dict[str, PanelScale] = {}
    bounded = _bounded_shares(inds)
    for ind in bounded:  # 0-100, widened only if a value lies outside
        low, high = min(PERCENT_RANGE[0], spans[ind][0]), max(PERCENT_RANGE[1], spans[ind][1])
        out[ind] = PanelScale(*_padded(low, high))
    groups: dict[str, list[str]] = {}
    for ind in inds:
        if ind not in bounded:
            groups.setdefault(units.get(ind, "") or f"\0{ind}", []).append(ind)
    for members in groups.values():
        for cluster in _clusters(members, spans):
            low = min(spans[i][0] for i in cluster)
            high = max(spans[i][1] for i in cluster)
            if len(cluster) == len(members):
                tag = ""
            elif len(cluster) == 1:
                tag = "own scale"
            else:
                tag = f"scale shared by {len(cluster)} of {len(members)}"
            for ind in cluster:
                out[ind] = PanelScale(*_padded(low, high), tag=tag)
    return {ind: out[ind] for ind in inds}


def _size(span: tuple[float, float]) -> float:
    return max(abs(span[0]), abs(span[1]))


def _clusters(members: list[str], spans: dict[str, tuple[float, float]]) -> list[list[str]]:
    """Same-unit panels grouped by size: each joins the largest whose top it reaches a fifth of."""
    order = sorted(members, key=lambda i: -_size(spans[i]))
    clusters: list[list[str]] = []
    for ind in order:
        if clusters and _size(spans[ind]) >= SHARE_FLOOR * _size(spans[clusters[-1][0]]):
            clusters[-1].append(ind)
        else:
            clusters.append([ind])
    position = {ind: k for k, ind in enumerate(members)}
    return [sorted(c, key=position.__getitem__) for c in clusters]
