"""Landscape charts: indicator scores against peers, trend small multiples, target progress.

These functions only draw what the analysis computed (scores, peer medians,
Theil-Sen fitted values, progress and bands); they compute no statistic.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from p2c_research.figures.theme import (
    COUNTRY_COLOR,
    PEER_COLOR,
    PILLAR_COLORS,
    add_source,
    apply_theme,
)
from p2c_research.figures.trend_scales import panel_scales
from p2c_research.labels import indicator_label
from p2c_research.render import reuse
from p2c_research.textfmt import sig

BAND_COLORS: dict[str, str] = {
    "limited": "#f4c7c3",
    "satisfactory": "#fde8b5",
    "advanced": "#d6ecc9",
    "met": "#a8d5a0",
}
BAND_EDGES: tuple[tuple[float, float, str], ...] = (
    (0, 50, "limited"), (50, 75, "satisfactory"), (75, 95, "advanced"), (95, 100, "met"),
)


def _wrap(text: str, width: int = 42) -> str:
    return "\n".join(textwrap.wrap(text, width))


def _empty_figure(message: str, title: str, source: str) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 1.6))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#555555")
    ax.set_title(title)
    add_source(fig, source)
    return fig


def indicator_strip_figure(strip: pd.DataFrame, names: dict[str, str], *, title: str,
                           source: str, peer_label: str,
                           peer_medians: pd.DataFrame | None = None,
                           indicator_order: list[str] | None = None) -> Figure:
    """Each indicator's score: peers as grey dots, the country as a red diamond.

    Indicators without a score for the country get no row (the report lists
    them once, with the reason).

    Args:
        strip: ``iso3, indicator, pillar, score, role`` (role "peer" or "country").
        names: indicator id -> display name.
        peer_label: the peer set, for the legend.
        peer_medians: ``indicator, peer_median_score`` drawn as a black tick.
        indicator_order: rows from top to bottom (default: catalog order in ``names``).
    """
    apply_theme()
    if strip.empty:
        return _empty_figure("No indicator has data for this country or its peers.",
                             title, source)
    # Only indicators the country has a score for: the report lists the others once.
    scored = set(strip.loc[(strip["role"] == "country") & strip["score"].notna(), "indicator"])
    order = [i for i in (indicator_order or list(names)) if i in scored]
    if not order:
        return _empty_figure("The country has no indicator score.", title, source)
    labels = {i: _wrap(names.get(i) or indicator_label(i)) for i in order}
    data = strip.assign(label=strip["indicator"].map(labels))
    label_order = [labels[i] for i in order]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(order) + 1.6))
    pos = {lab: k for k, lab in enumerate(label_order)}
    ax.set_yticks(range(len(label_order)), label_order)
    ax.set_ylim(len(label_order) - 0.5, -0.5)  # first indicator on top
    ax.yaxis.grid(False)
    peers = data[(data["role"] == "peer") & data["label"].isin(pos)]
    if not peers.empty:
        # A strip plot drawn directly, with seeded jitter: seaborn's stripplot draws
        # its jitter from numpy's global generator (a different picture on every
        # run) and cost more than the rest of this figure.
        rows = peers["label"].map(pos).to_numpy(dtype=float)
        crowded = peers["label"].map(peers["label"].value_counts()).to_numpy() > 1
        jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(rows))
        ax.scatter(peers["score"], rows + np.where(crowded, jitter, 0.0), s=16,
                   color=PEER_COLOR, alpha=0.35, linewidths=0)
    if peer_medians is not None and not peer_medians.empty:
        med = peer_medians[peer_medians["indicator"].isin(order)]
        ax.scatter(med["peer_median_score"], med["indicator"].map(labels).map(pos), marker="|",
                   s=260, color="black", linewidths=2, zorder=4)
    own = data[(data["role"] == "country") & data["label"].isin(pos)]
    ax.scatter(own["score"], own["label"].map(pos), marker="D", s=55, color=COUNTRY_COLOR,
               zorder=5, edgecolor="white")
    pillar_of = strip.drop_duplicates("indicator").set_index("indicator")["pillar"]
    for tick, ind in zip(ax.get_yticklabels(), order, strict=True):
        tick.set_color(PILLAR_COLORS.get(pillar_of.get(ind, ""), "#333333"))
        tick.set_fontsize(8.5)
    ax.set_xlim(-2, 112)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel("score (0-100, higher is better)")
    ax.set_ylabel("")
    handles = [
        Line2D([0], [0], marker="D", color="w", markerfacecolor=COUNTRY_COLOR, markersize=8,
               label="country"),
        Line2D([0], [0], marker="o", color="w", markerfacecolor=PEER_COLOR, alpha=0.5,
               markersize=6, label=f"peers: {peer_label}"),
        Line2D([0], [0], marker="|", color="black", linestyle="none", markersize=12,
               markeredgewidth=2, label="peer median"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.06 - 1.2 / (
        0.42 * len(order) + 1.6) * 0.5), ncol=3, frameon=False, fontsize=8.5)
    ax.set_title(title)
    add_source(fig, source)
    return fig


def trend_small_multiples(lines: pd.DataFrame, names: dict[str, str], units: dict[str, str],
                          *, title: str, source: str,
                          targets: pd.DataFrame | None = None, ncols: int = 4) -> Figure:
    """One panel per indicator with data: observed values, the Theil-Sen line, the target (dotted).

    Panels of one unit share a y-scale (:mod:`p2c_research.figures.trend_scales`),
    so a small move looks small; a panel kept on its own scale says so. A
    panel with a single observation shows a dot labelled with its value.
    Indicators without values in the window get no panel: the report lists
    them once.

    Args:
        lines: ``indicator, pillar, year, value, fitted`` (fitted NaN where no trend).
        names: indicator id -> display name (default: the catalog label).
        units: indicator id -> unit, the y-axis label and the key of shared scales.
        targets: ``indicator, target`` drawn as a dotted line (one per indicator).
    """
    apply_theme()
    with_values = set(lines.loc[lines["value"].notna(), "indicator"])
    inds = [i for i in dict.fromkeys([*names, *lines["indicator"]]) if i in with_values]
    if not inds:
        return _empty_figure("No indicator has values in the window.", title, source)
    lines = lines[lines["indicator"].isin(inds)]
    nrows = math.ceil(len(inds) / ncols)
    # In a batch the grid comes from the figure pool (figures.reuse): making twenty
    # axes and their ticks costs about 0.3 s. A pooled grid keeps every artist; a
    # report changes their data and text only, so it drops nothing that would have
    # to be garbage-collected (removing and re-adding lines did, and a batch worker
    # grew by 100 MiB).
    key = ("trend-grid", nrows, ncols)
    fig = reuse.take(key)
    if fig is None:
        fig = _trend_grid(nrows, ncols)
        reuse.lend(key, fig)
    tgt = {} if targets is None else {str(i): float(t) for i, t in
                                      zip(targets["indicator"], targets["target"], strict=False)}
    scales = panel_scales(lines, units, tgt)
    years = (lines["year"].min() - 0.5, lines["year"].max() + 0.5)
    for k, ax in enumerate(fig.axes[:nrows * ncols]):
        observed, fitted, target = ax.lines[:3]
        value_label, scale_tag = ax.texts[:2]
        if k >= len(inds):
            ax.set_axis_off()
            ax.set_title("")  # a title shows on an axes that is off
            for artist in (observed, fitted, target, value_label, scale_tag):
                artist.set_visible(False)
            continue
        ind = inds[k]
        ax.set_axis_on()
        d = lines[lines["indicator"] == ind].sort_values("year")
        d = d[d["value"].notna() | d["fitted"].notna()]
        years_of = d["year"].to_numpy()
        observed.set_data(years_of, d["value"].to_numpy())
        observed.set_color(PILLAR_COLORS.get(str(d["pillar"].iloc[0]), PEER_COLOR))
        observed.set_visible(True)
        fitted.set_data(years_of, d["fitted"].to_numpy())
        fitted.set_visible(bool(d["fitted"].notna().any()))
        has_target = ind in tgt and bool(np.isfinite(tgt[ind]))
        target.set_ydata([tgt[ind], tgt[ind]] if has_target else [0.0, 0.0])
        target.set_visible(has_target)
        points = d[d["value"].notna()]
        single = len(points) == 1
        observed.set_markersize(6.5 if single else 3.5)
        if single:  # one observation: a dot and its value, not a line
            year, value = float(points["year"].iloc[0]), float(points["value"].iloc[0])
            value_label.xy = (year, value)
            value_label.set_text(f"{sig(value)} ({int(year)})")
            # Beside the dot, inward: below it near the top of the panel, to its
            # left near the right edge, so the label stays inside the panel.
            scale = scales[ind]
            high = (value - scale.low) > 0.7 * (scale.high - scale.low)
            at_right = (year - years[0]) > 0.6 * (years[1] - years[0])
            at_left = (year - years[0]) < 0.2 * (years[1] - years[0])
            value_label.set_position((-6 if at_right else 6 if at_left else 0, -8 if high else 7))
            value_label.set_horizontalalignment("right" if at_right else "left" if at_left
                                                else "center")
            value_label.set_verticalalignment("top" if high else "bottom")
        value_label.set_visible(single)
        scale = scales[ind]
        scale_tag.set_text(scale.tag)
        scale_tag.set_visible(bool(scale.tag))
        ax.set_xlim(*years)
        ax.set_ylim(scale.low, scale.high)
        ax.set_title(_wrap(names.get(ind) or indicator_label(ind), 34), fontsize=8.5)
        ax.set_ylabel(_wrap(units.get(ind, ""), 22), fontsize=7.5)
        # Only the bottom panel of each column shows the years (all share them):
        # ticks are most of this figure's drawing (a label, a mark and a grid line each).
        if k + ncols >= len(inds):
            ax.xaxis.set_major_locator(plt.MaxNLocator(4, integer=True))
        else:
            ax.set_xticks([])
    height = 2.5 * nrows
    fig.suptitle(title, y=1 - 0.2 / height)
    fig.texts[0].set_text(source)  # the source line, made by _trend_grid
    return fig


#: How to read the y-axes, written above the source line of the trend panels.
SCALE_NOTE = ("Y-axes: panels of the same unit share one scale and start at zero; shares of "
              "people or households run 0-100. \"own scale\" marks a panel whose values are "
              "too small for its unit's common scale.")


def _trend_grid(nrows: int, ncols: int) -> Figure:
    """The grid of :func:`trend_small_multiples`: panels, each with its three lines
    (observed, trend, target; hidden until a report gives them data), its value
    label and scale tag (hidden), legend, margins and an empty source line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # Not a pyplot figure: pyplot's ``close`` would leave a pooled grid without a
    # canvas that renders, and the reports display their figures themselves.
    fig = Figure(figsize=(3.3 * ncols, 2.5 * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.plot([], [], marker="o", markersize=3.5, linewidth=1.5)
        ax.plot([], [], linestyle="--", color="black", linewidth=1)
        ax.axhline(0.0, linestyle=":", color=COUNTRY_COLOR, linewidth=1.3, visible=False)
        ax.annotate("", xy=(0.0, 0.0), xytext=(0, 7), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8, fontweight="bold", color="#262626",
                    visible=False, annotation_clip=False)
        ax.text(0.98, 0.96, "", transform=ax.transAxes, ha="right", va="top", fontsize=7,
                style="italic", color="#555555", visible=False,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#bbbbbb", "lw": 0.5})
        ax.tick_params(labelsize=7.5)
        ax.yaxis.set_major_locator(plt.MaxNLocator(4))
        ax.grid(axis="x", visible=False)
    handles = [Line2D([0], [0], color=PEER_COLOR, marker="o", label="observed (colour = pillar)"),
               Line2D([0], [0], color="black", linestyle="--", label="Theil-Sen trend"),
               Line2D([0], [0], color=COUNTRY_COLOR, linestyle=":", label="target")]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False,
               bbox_to_anchor=(0.5, -0.01), fontsize=9)
    height = 2.5 * nrows
    # Fixed margins in inches (tight_layout costs seconds on 20+ panels).
    fig.subplots_adjust(left=0.07, right=0.99, top=1 - 0.75 / height, bottom=0.65 / height,
                        hspace=0.75, wspace=0.45)
    add_source(fig, "")
    add_source(fig, SCALE_NOTE, y=-0.02 - 0.17 / height)  # under the source line
    return fig


def target_progress_figure(targets: pd.DataFrame, names: dict[str, str], *, title: str,
                           source: str) -> Figure:
    """Progress to each target (0-100) as bars over the UMC bands.

    Args:
        targets: ``indicator, target_kind, progress, band, status``; rows
            without a progress value get no bar (the report lists indicators
            without data once).
    """
    apply_theme()
    if targets.empty:
        return _empty_figure("No UMC or national target applies.", title, source)
    t = targets[targets["progress"].notna()].reset_index(drop=True)
    if t.empty:
        return _empty_figure("No target's indicator has a value for this country.", title,
                             source)
    labels = [_wrap(f"{names.get(r.indicator) or indicator_label(r.indicator)} "
                    f"({r.target_kind})", 48) for r in t.itertuples()]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(t) + 1.6))
    for lo, hi, band in BAND_EDGES:
        ax.axvspan(lo, hi, color=BAND_COLORS[band], alpha=0.8, zorder=0)
        ax.text((lo + hi) / 2, -0.75, band, ha="center", va="bottom", fontsize=8,
                color="#555555")
    y = np.arange(len(t))
    ax.barh(y, t["progress"], height=0.5, color="#4c4c4c", zorder=3)
    for k, row in zip(y, t.itertuples(), strict=True):
        status = f" ({row.status})" if isinstance(row.status, str) else ""
        ax.text(min(row.progress + 1, 80), k, f"{row.progress:.0f}%{status}", va="center",
                fontsize=8, zorder=4,
                color="white" if row.progress > 80 else "#222222")
    ax.set_yticks(y, labels, fontsize=8.5)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_ylim(len(t) - 0.5, -1)
    ax.set_xlabel("progress to target (% of the way; 100 = met)")
    ax.grid(False)
    ax.set_title(title)
    add_source(fig, source)
    return fig

