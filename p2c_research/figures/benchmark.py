"""Benchmark figures: the income scatter with its fitted line, and the residual dot plot.

Render only: the fitted line, the interval band and every residual come from
:mod:`p2c_research.analyses.benchmark`; nothing here estimates anything.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from p2c_research.figures.theme import (
    COUNTRY_COLOR,
    MISSING_COLOR,
    PEER_COLOR,
    add_source,
    apply_theme,
    plain_log_ticks,
    title_text,
)
from p2c_research.render.images import RenderedImage, alt_text
from p2c_research.render.layers import frame_digest, render_layered

#: Colour of each verdict (performance: above = better than income predicts).
VERDICT_COLORS: dict[str, str] = {
    "well above": "#1a9850",
    "above": "#91cf60",
    "on par": "#8c8c8c",
    "below": "#fc8d59",
    "well below": "#d73027",
    "no verdict": "#d9d9d9",
    "no data": MISSING_COLOR,
}
VERDICT_LABELS: dict[str, str] = {
    "well above": "well above (outside the interval, better side)",
    "above": "above (beyond 1 sd, inside the interval)",
    "on par": "on par (within 1 sd)",
    "below": "below (beyond 1 sd, inside the interval)",
    "well below": "well below (outside the interval, worse side)",
    "no verdict": "no verdict (income explains little)",
    "no data": "no data",
}
WORLD_COLOR = "#bdbdbd"
#: Axis words for each fitting scale of :mod:`p2c_research.analyses.benchmark`.
SCALE_WORDS = {"logit": "logit scale", "cloglog": "complementary log-log scale",
               "log": "log scale", "sqrt": "square-root scale"}
_SHARE_TICKS = [0.5, 1, 2, 5, 10, 25, 50, 75, 90, 95, 98, 99, 99.5]


def _share_scale(forward):
    """A matplotlib function scale for a share in percent (clipped as the fits clip it)."""
    from scipy.optimize import brentq

    lo, hi = 0.5, 99.5

    def fwd(v):
        return forward(np.clip(np.asarray(v, dtype="float64"), lo, hi) / 100.0)

    def inv(t):
        t = np.atleast_1d(np.asarray(t, dtype="float64"))
        flo, fhi = float(fwd(lo)), float(fwd(hi))
        out = [lo if x <= flo else hi if x >= fhi else
               brentq(lambda v, x=x: float(fwd(v)) - x, lo, hi) for x in t.ravel()]
        return np.asarray(out).reshape(t.shape)

    return fwd, inv


def _value_axis(ax, y_scale: str) -> None:
    """Draw the value axis on the scale the model was fitted on, so its line is straight."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    if y_scale == "log":
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
    elif y_scale in ("logit", "cloglog"):
        forward = ((lambda p: np.log(p / (1 - p))) if y_scale == "logit"
                   else (lambda p: np.log(-np.log1p(-p))))
        ax.set_yscale("function", functions=_share_scale(forward))
        ax.yaxis.set_major_locator(FixedLocator(_SHARE_TICKS))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    elif y_scale == "sqrt":
        ax.set_yscale("function", functions=(lambda v: np.sqrt(np.maximum(v, 0)),
                                             lambda t: np.square(np.maximum(t, 0))))


def benchmark_scatter(
    data: pd.DataFrame,
    curve: pd.DataFrame,
    *,
    iso3: str,
    country_label: str,
    peers: Sequence[str] = (),
    peer_label: str = "peers",
    frontier: pd.DataFrame | None = None,
    title: str,
    ylabel: str,
    source: str,
    y_scale: str = "",
) -> Figure:
    """Every economy against GDP per capita, with the fitted line and the interval band.

    Args:
        data: one row per economy: ``iso3, gdp_pc_ppp, value`` (the fit's cross-section).
        curve: the fitted line on a grid: ``gdp_pc_ppp, fitted, pi_low, pi_high``.
        iso3: the country to label; ``country_label`` is the text shown.
        peers: economies drawn darker (the peer set named by ``peer_label``).
        frontier: optional frontier line on a grid: ``gdp_pc_ppp, fitted``.
        title: says what the reader should see.
        ylabel: the indicator and its unit.
        source: the "Source: ..., year" line.
        y_scale: the fitting scale of the model (log, logit, cloglog, sqrt): the value
            axis uses it, so the fitted line and band are drawn as fitted.
    """
    apply_theme()
    fig, ax = plt.subplots(figsize=(8, 5.2))
    curve = curve.sort_values("gdp_pc_ppp")
    pts = data.dropna(subset=["gdp_pc_ppp", "value"])
    peer_mask = pts["iso3"].isin(list(peers)) & (pts["iso3"] != iso3)
    rest = pts[~peer_mask & (pts["iso3"] != iso3)]
    ax.scatter(rest["gdp_pc_ppp"], rest["value"], s=14, color=WORLD_COLOR, alpha=0.8,
               linewidths=0, label=f"other economies (n = {len(rest)})", zorder=2)
    ax.scatter(pts.loc[peer_mask, "gdp_pc_ppp"], pts.loc[peer_mask, "value"], s=26,
               color=PEER_COLOR, alpha=0.9, linewidths=0,
               label=f"{peer_label} (n = {int(peer_mask.sum())})", zorder=3)
    ax.fill_between(curve["gdp_pc_ppp"], curve["pi_low"], curve["pi_high"], color="#6baed6",
                    alpha=0.18, linewidth=0, label="90% prediction interval", zorder=1)
    ax.plot(curve["gdp_pc_ppp"], curve["fitted"], color="#2171b5", linewidth=2,
            label="expected for income (fit)", zorder=4)
    if frontier is not None and not frontier.empty:
        fr = frontier.sort_values("gdp_pc_ppp")
        ax.plot(fr["gdp_pc_ppp"], fr["fitted"], color="#2171b5", linewidth=1.2,
                linestyle="--", label="best-practice frontier", zorder=4)
    own = pts[pts["iso3"] == iso3]
    if not own.empty:
        x, y = float(own["gdp_pc_ppp"].iloc[0]), float(own["value"].iloc[0])
        ax.scatter([x], [y], s=90, color=COUNTRY_COLOR, edgecolor="white", linewidth=1.2,
                   zorder=6, label=country_label)
        ax.annotate(country_label, (x, y), xytext=(8, 8), textcoords="offset points",
                    fontsize=10, fontweight="bold", color=COUNTRY_COLOR, zorder=7)
    else:
        ax.text(0.02, 0.96, f"{country_label}: no value in the window", transform=ax.transAxes,
                ha="left", va="top", fontsize=9, color=COUNTRY_COLOR)
    _log_axes(ax, y_scale)
    ax.set_xlabel("GDP per capita, PPP (current international $, log scale)")
    ax.set_ylabel(textwrap.fill(_scaled_label(ylabel, y_scale), 45))
    ax.set_title(title, loc="left")
    ax.legend(loc="best", fontsize=8, frameon=True)
    add_source(fig, source)
    plt.close(fig)  # returned for display/saving; keeps pyplot from showing it twice
    return fig


def _log_axes(ax, y_scale: str) -> None:
    """Income on a log axis, the value on the model's fitting scale, plainly labelled."""
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    _value_axis(ax, y_scale)


def _scaled_label(ylabel: str, y_scale: str) -> str:
    words = SCALE_WORDS.get(y_scale)
    return f"{ylabel}, {words}" if words else ylabel


def benchmark_scatter_layered(
    data: pd.DataFrame,
    curve: pd.DataFrame,
    *,
    iso3: str,
    country_label: str,
    peers: Sequence[str] = (),
    peer_label: str = "peers",
    frontier: pd.DataFrame | None = None,
    title: str,
    ylabel: str,
    source: str,
    y_scale: str = "",
    dpi: int = 110,
) -> RenderedImage:
    """:func:`benchmark_scatter` drawn as a shared base plus the country's overlay.

    The base (every economy in light grey, the fitted line, the band, the
    frontier, axes and source) is the same for every country of a batch and is
    rendered once per process (:mod:`p2c_research.render.layers`); the
    overlay holds what is the country's own: its peers drawn darker, its point
    and label, the legend and the title.
    """
    apply_theme()
    curve = curve.sort_values("gdp_pc_ppp")
    pts = data.dropna(subset=["gdp_pc_ppp", "value"])
    fr = None if frontier is None or frontier.empty else frontier.sort_values("gdp_pc_ppp")
    n_lines = title.count("\n") + 1

    def build() -> Figure:
        fig, ax = plt.subplots(figsize=(8, 5.2))
        ax.scatter(pts["gdp_pc_ppp"], pts["value"], s=14, color=WORLD_COLOR, alpha=0.8,
                   linewidths=0, zorder=2)
        ax.fill_between(curve["gdp_pc_ppp"], curve["pi_low"], curve["pi_high"],
                        color="#6baed6", alpha=0.18, linewidth=0, zorder=1)
        ax.plot(curve["gdp_pc_ppp"], curve["fitted"], color="#2171b5", linewidth=2, zorder=4)
        if fr is not None:
            ax.plot(fr["gdp_pc_ppp"], fr["fitted"], color="#2171b5", linewidth=1.2,
                    linestyle="--", zorder=4)
        _log_axes(ax, y_scale)
        ax.set_xlabel("GDP per capita, PPP (current international $, log scale)")
        ax.set_ylabel(textwrap.fill(_scaled_label(ylabel, y_scale), 45))
        title_text(ax, "\n".join(["Mg"] * n_lines), color=(0, 0, 0, 0))  # room for the title
        add_source(fig, source)
        return fig

    def overlay(fig: Figure) -> list:
        ax = fig.axes[0]
        peer_mask = pts["iso3"].isin(list(peers)) & (pts["iso3"] != iso3)
        n_rest = int((~peer_mask & (pts["iso3"] != iso3)).sum())
        added: list = [ax.scatter(pts.loc[peer_mask, "gdp_pc_ppp"], pts.loc[peer_mask, "value"],
                                  s=26, color=PEER_COLOR, alpha=0.9, linewidths=0, zorder=3)]
        handles: list = [
            Line2D([], [], marker="o", linestyle="", color=WORLD_COLOR, markersize=4,
                   label=f"other economies (n = {n_rest})"),
            Line2D([], [], marker="o", linestyle="", color=PEER_COLOR, markersize=5,
                   label=f"{peer_label} (n = {int(peer_mask.sum())})"),
            Patch(color="#6baed6", alpha=0.18, label="90% prediction interval"),
            Line2D([], [], color="#2171b5", linewidth=2, label="expected for income (fit)"),
        ]
        if fr is not None:
            handles.append(Line2D([], [], color="#2171b5", linewidth=1.2, linestyle="--",
                                  label="best-practice frontier"))
        own = pts[pts["iso3"] == iso3]
        if not own.empty:
            x, y = float(own["gdp_pc_ppp"].iloc[0]), float(own["value"].iloc[0])
            added.append(ax.scatter([x], [y], s=90, color=COUNTRY_COLOR, edgecolor="white",
                                    linewidth=1.2, zorder=6))
            added.append(ax.annotate(country_label, (x, y), xytext=(8, 8),
                                     textcoords="offset points", fontsize=10,
                                     fontweight="bold", color=COUNTRY_COLOR, zorder=7))
            handles.append(Line2D([], [], marker="o", linestyle="", color=COUNTRY_COLOR,
                                  markeredgecolor="white", markersize=9, label=country_label))
        else:
            added.append(ax.text(0.02, 0.96, f"{country_label}: no value in the window",
                                 transform=ax.transAxes, ha="left", va="top", fontsize=9,
                                 color=COUNTRY_COLOR))
        added.append(title_text(ax, title))
        added.append(ax.legend(handles=handles, loc="best", fontsize=8, frameon=True))
        return added

    key = ("benchmark-scatter", frame_digest(pts[["iso3", "gdp_pc_ppp", "value"]], curve,
                                             fr if fr is not None else pd.DataFrame(),
                                             ylabel, source, y_scale, n_lines))
    return render_layered(key, build, overlay, dpi, alt=alt_text(title))


def residual_dotplot(
    table: pd.DataFrame,
    *,
    title: str,
    source: str,
    guide: float | None = None,
    pillar_colors: dict[str, str] | None = None,
) -> Figure:
    """Residuals in predictive standard deviations across indicators, coloured by verdict.

    Args:
        table: one row per indicator: ``label, pillar, perf_z, verdict``, in display
            order (top to bottom); rows without a residual (verdict "no data") are
            left out. ``perf_z`` is signed so that right of zero is better
            than income predicts, whatever the indicator's direction.
        title: says what the reader should see.
        source: the "Source: ..., year" line.
        guide: draw a light band at +/- this value (the approximate interval edge).
        pillar_colors: colour of the pillar name shown beside each label.
    """
    apply_theme()
    # Indicators without a residual get no row: the report lists them once.
    values_all = table["perf_z"].to_numpy(dtype="float64")
    table = table[(table["verdict"].astype(str) != "no data") & ~np.isnan(values_all)]
    n = max(len(table), 1)
    fig, ax = plt.subplots(figsize=(8, 0.32 * n + 1.6))
    ypos = np.arange(len(table))[::-1]
    if guide is not None:
        ax.axvspan(-guide, guide, color="#f0f0f0", zorder=0)
    ax.axvline(0, color="#636363", linewidth=1, zorder=1)
    classes = table["verdict"].astype(str).to_numpy()
    values = table["perf_z"].to_numpy(dtype="float64")
    if table.empty:
        ax.text(0, 0, "No indicator has a residual for this country.", ha="center",
                va="center", fontsize=9, color="#555555")
    else:  # one collection each for the stems and the dots (not one per row)
        colors = [VERDICT_COLORS.get(c, "#8c8c8c") for c in classes]
        ax.hlines(ypos, 0, values, colors=colors, linewidth=1.5, zorder=2)
        ax.scatter(values, ypos, s=60, c=colors, zorder=3, edgecolor="white", linewidth=0.8)
    ax.set_yticks(ypos)
    ax.set_yticklabels(table["label"].tolist(), fontsize=9)
    if pillar_colors:
        for tick, pillar in zip(ax.get_yticklabels(), table["pillar"], strict=True):
            tick.set_color(pillar_colors.get(str(pillar), "#333333"))
    ax.set_ylim(-0.8, len(table) - 0.2)
    lim = np.nanmax(np.abs(values), initial=2.0)
    ax.set_xlim(-lim * 1.15 - 0.3, lim * 1.15 + 0.3)
    ax.set_xlabel("z: distance from the expected value in predictive standard deviations "
                  "(right = better than income predicts)")
    ax.set_title(title, loc="left")
    present = [c for c in VERDICT_COLORS if c in set(classes)]
    handles: list = [Line2D([], [], marker="o", linestyle="", color=VERDICT_COLORS[c],
                            label=VERDICT_LABELS[c]) for c in present if c != "no data"]
    if guide is not None:
        handles.append(Patch(color="#f0f0f0", label=f"within ±{guide:.2f} (the interval)"))
    height = fig.get_figheight()
    rows = -(-len(handles) // 2)
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.5 / n - 0.08),
                  ncol=2, fontsize=8, frameon=False)
    # the source goes under the legend: x label (~0.55 in), legend rows (~0.2 in each)
    add_source(fig, source, y=-(0.55 + 0.2 * rows + 0.1) / height)
    plt.close(fig)
    return fig
