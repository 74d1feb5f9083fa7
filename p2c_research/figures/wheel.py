"""The Digital Transformation Wheel: a country's sub-pillar scores as a polar bar chart.

Pillars are sectors, sub-pillars the segments inside them, the score (0-100)
the radius, and the peer median an outline drawn as a step line around the
wheel. Segments without a sufficient score are drawn grey and hatched and
labelled "insufficient data", never as a number. The small version (no
labels or values) is the thumbnail of the batch's index page.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from p2c_research.catalog import PILLAR_LABELS, SCORED_PILLARS
from p2c_research.figures.theme import (
    MISSING_COLOR,
    PEER_COLOR,
    PILLAR_COLORS,
    add_source,
    apply_theme,
)

GAP_UNITS = 0.35  # empty space between pillar sectors, in segment widths
INSUFFICIENT_LABEL = "insufficient data"


def _segments(subs: pd.DataFrame) -> pd.DataFrame:
    """Segment geometry: one row per sub-pillar, pillars in wheel order, with angles."""
    order = {p: k for k, p in enumerate(SCORED_PILLARS)}
    subs = subs.assign(_p=subs["pillar"].map(order).fillna(len(order)),
                       _k=np.arange(len(subs)))
    subs = subs.sort_values(["_p", "_k"]).reset_index(drop=True)
    n_pillars = subs["pillar"].nunique()
    unit = 2 * np.pi / (len(subs) + GAP_UNITS * n_pillars)
    left, lefts, pillar_prev = 0.0, [], None
    for pillar in subs["pillar"]:
        if pillar != pillar_prev:
            left += GAP_UNITS * unit / 2 if pillar_prev is None else GAP_UNITS * unit
            pillar_prev = pillar
        lefts.append(left)
        left += unit
    subs["theta0"] = lefts
    subs["theta1"] = subs["theta0"] + unit
    subs["theta"] = subs["theta0"] + unit / 2
    return subs


def _label(sub_pillar: str, width: int = 13) -> str:
    text = sub_pillar.replace("_", " ").replace("ict ", "ICT ")
    return "\n".join(textwrap.wrap(text, width, break_long_words=False))


def wheel_figure(sub_pillar_scores_country: pd.DataFrame, peer_medians: pd.DataFrame | None,
                 *, title: str, source: str, small: bool = False) -> Figure:
    """Draw the wheel of one country.

    Args:
        sub_pillar_scores_country: one row per sub-pillar with ``pillar,
            sub_pillar, score`` and optionally ``sufficient`` (a NaN score is
            drawn as insufficient data too).
        peer_medians: ``sub_pillar, peer_median`` (peer median of the
            sub-pillar scores), or None for no outline.
        title: what the reader should see.
        source: "Source: ..., year" line written under the figure.
        small: thumbnail version (no segment labels, values or legend).
    """
    apply_theme()
    subs = sub_pillar_scores_country.copy()
    if "sufficient" not in subs.columns:
        subs["sufficient"] = subs["score"].notna()
    subs["shown"] = subs["sufficient"].fillna(False).astype(bool) & subs["score"].notna()
    seg = _segments(subs.drop(columns=["peer_median"], errors="ignore"))
    if peer_medians is not None and not peer_medians.empty:
        seg = seg.merge(peer_medians[["sub_pillar", "peer_median"]], on="sub_pillar", how="left")
    else:
        seg["peer_median"] = np.nan

    size = (3.2, 3.4) if small else (8.0, 8.4)
    fig, ax = plt.subplots(figsize=size, subplot_kw={"projection": "polar"})
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    ax.set_ylim(0, 100)
    width = (seg["theta1"] - seg["theta0"]).to_numpy() * 0.94

    for row, w in zip(seg.itertuples(), width, strict=True):
        color = PILLAR_COLORS.get(row.pillar, PEER_COLOR)
        if row.shown:
            ax.bar(row.theta, row.score, width=w, bottom=0, color=color, alpha=0.85,
                   edgecolor="white", linewidth=1)
            if not small:
                inside = row.score >= 18  # short bars get their value just outside the bar
                ax.text(row.theta, row.score - 9 if inside else row.score + 7,
                        f"{row.score:.0f}", ha="center", va="center", fontsize=10,
                        fontweight="bold", color="white" if inside else color)
        else:
            ax.bar(row.theta, 100, width=w, bottom=0, color=MISSING_COLOR, alpha=0.55,
                   hatch="///", edgecolor="#9a9a9a", linewidth=0.5)
            if not small:
                cover = ""
                if "n_present" in seg.columns and pd.notna(row.n_present):
                    cover = f"\n({int(row.n_present)}/{int(row.n_total)})"
                ax.text(row.theta, 55, f"insufficient\ndata{cover}", ha="center",
                        va="center", fontsize=7.5, color="#555555")

    # Peer median outline: an arc over each segment, joined by radial steps inside a pillar.
    for _, grp in seg.groupby("pillar", sort=False):
        thetas: list[float] = []
        radii: list[float] = []
        for row in grp.itertuples():
            if np.isnan(row.peer_median):
                thetas.append(np.nan)
                radii.append(np.nan)
                continue
            arc = np.linspace(row.theta0, row.theta1, 12)
            thetas.extend(arc)
            radii.extend([row.peer_median] * len(arc))
        if not np.isfinite(radii).any():
            continue
        ax.plot(thetas, radii, color=PEER_COLOR, linewidth=1.4 if small else 2.2,
                solid_joinstyle="miter", zorder=5)

    ax.set_xticks([])
    ax.set_yticks([25, 50, 75, 100])
    ax.set_yticklabels([] if small else ["25", "50", "75", "100"], fontsize=7, color="#777777")
    ax.set_rlabel_position(0)
    ax.grid(True, axis="y", color="#dddddd", linewidth=0.6)
    ax.spines["polar"].set_visible(False)

    if not small:
        for row in seg.itertuples():
            ax.text(row.theta, 112, _label(row.sub_pillar), ha="center", va="center",
                    fontsize=8.5, color="#333333")
    for pillar, grp in seg.groupby("pillar", sort=False):
        theta = (grp["theta0"].min() + grp["theta1"].max()) / 2
        label = PILLAR_LABELS.get(pillar, pillar)
        r = 108 if small else 132
        ax.text(theta, r, label.upper() if not small else label, ha="center", va="center",
                fontsize=7 if small else 11, fontweight="bold",
                color=PILLAR_COLORS.get(pillar, PEER_COLOR))

    ax.set_title(title, pad=8 if small else 46, fontsize=8.5 if small else 13)
    if not small:
        handles = [Patch(color=PILLAR_COLORS[p], label=f"{PILLAR_LABELS[p]} score")
                   for p in SCORED_PILLARS if p in set(seg["pillar"])]
        handles.append(Line2D([0], [0], color=PEER_COLOR, linewidth=2.2, label="peer median"))
        if (~seg["shown"]).any():
            handles.append(Patch(facecolor=MISSING_COLOR, edgecolor="#9a9a9a", hatch="///",
                                 label=INSUFFICIENT_LABEL))
        fig.subplots_adjust(left=0.12, right=0.88, top=0.84, bottom=0.2)
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=3,
                   frameon=False, fontsize=9)
    # The thumbnail's source line is wrapped to its width, or the image would be
    # as wide as the line and the wheel tiny on the index page.
    add_source(fig, source, wrap=62 if small else None, fontsize=6 if small else 8)
    return fig
