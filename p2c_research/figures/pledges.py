"""Charts of one country's pledges: the priority-by-pledge matrix, follow-through, need vs support.

Render only: the tables come from :mod:`p2c_research.analyses.pledge_gaps`
and :mod:`p2c_research.analyses.gaps`. Every chart names its source.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend

from p2c_research.figures.theme import COUNTRY_COLOR, PEER_COLOR, add_source, plain_log_ticks
from p2c_research.labels import label
from p2c_research.render.images import RenderedImage
from p2c_research.render.layers import frame_digest, render_layered

STATUS_COLORS: dict[str, str] = {
    "completed": "#1a9850",
    "in_progress": "#91cf60",
    "not_started": "#fc8d59",
    "not_reported": "#bdbdbd",
}


def _source(fig: Figure, text: str) -> Figure:
    """The source line, wrapped to the figure's width so it is never cut off."""
    return add_source(fig, textwrap.fill(text, int(fig.get_figwidth() * 15)))


SHORT_LABELS: dict[str, str] = {
    "international_regional_organization": "intl/regional org",
    "private_sector": "private sector",
    "civil_society": "civil society",
    "un_entity": "UN entity",
    "ict_sector_and_trade": "ICT sector & trade",
    "digital_business": "digital business",
    "policy_regulation": "policy & regulation",
}


def _short(column: str) -> str:
    name = column.split(": ", 1)[-1]
    return SHORT_LABELS.get(name) or label(name)


def _row_names(index: pd.Index, row_labels: Mapping[str, str] | None) -> list[str]:
    """Priority ids as the reader knows them (their titles), wrapped to fit a tick label."""
    names = row_labels or {}
    return [textwrap.shorten(str(names.get(i, i)), 60, placeholder="...") for i in index]


def matrix_heatmap(matrix: pd.DataFrame, *, title: str, source: str,
                   row_labels: Mapping[str, str] | None = None) -> Figure:
    """Heatmap of pledge counts: priorities (rows) by pillar and stakeholder group (columns).

    ``matrix`` is ``priority_pledge_matrix`` output. Cells are coloured on
    their own scale; the totals (last row, ``pledges`` column) are written in
    grey so they do not flatten the colours. Inner cells with no pledge are
    left blank, so the counts that exist stand out (a total of 0 is still
    written). The USD column is left out (other units; it is in the table).
    """
    counts = matrix.set_index("priority_id").drop(columns=["usd_allocated"], errors="ignore")
    counts = counts.astype(float)
    n_rows, n_cols = counts.shape
    totals = np.zeros(counts.shape, dtype=bool)
    totals[-1, :] = True
    totals[:, -1] = True
    width = max(7.0, 0.62 * n_cols + 3.0)
    height = max(2.8, 0.48 * n_rows + 2.4)
    fig, ax = plt.subplots(figsize=(width, height))
    inner = counts.to_numpy()[~totals]
    values = counts.to_numpy()
    # Plain pcolormesh rather than sns.heatmap: seaborn draws the whole figure once per
    # call to check tick-label overlap, which doubled this chart's cost in every report.
    _annotated_mesh(ax, np.ma.masked_where(totals, values), "Blues",
                    vmax=max(1.0, float(inner.max()) if inner.size else 1.0), blank_zero=True)
    _annotated_mesh(ax, np.ma.masked_where(~totals, values), "Greys",
                    vmax=float(values.max()) * 4 + 1, fontweight="bold")
    ax.set_xlim(0, n_cols)
    ax.set_ylim(n_rows, 0)
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0)
    n_pillar = sum(c.startswith("pillar: ") for c in counts.columns)
    for x in (n_pillar, n_cols - 1):
        ax.axvline(x, color="#555555", linewidth=1.2)
    ax.axhline(n_rows - 1, color="#555555", linewidth=1.2)
    ax.set_xticks(np.arange(n_cols) + 0.5, [_short(c) for c in counts.columns], rotation=50,
                  ha="right", fontsize=8)
    ax.set_yticks(np.arange(n_rows) + 0.5, _row_names(counts.index, row_labels), rotation=0,
                  fontsize=9)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.text(n_pillar / 2, -0.25, "declared pillar", ha="center", va="bottom", fontsize=9,
            style="italic")
    ax.text((n_pillar + n_cols - 1) / 2, -0.25, "stakeholder group", ha="center", va="bottom",
            fontsize=9, style="italic")
    ax.set_title(title, loc="left", pad=28)
    fig.tight_layout()
    return _source(fig, source)


def _annotated_mesh(ax, values: np.ma.MaskedArray, cmap: str, *, vmax: float,
                    fontweight: str = "normal", blank_zero: bool = False) -> None:
    """Coloured cells with their counts written in, dark or light text by cell luminance."""
    from matplotlib.colors import Normalize, to_rgb

    norm = Normalize(vmin=0, vmax=vmax)
    mesh = ax.pcolormesh(values, cmap=cmap, norm=norm, edgecolors="white", linewidth=0.5)
    colormap = mesh.get_cmap()
    for (row, col), value in np.ndenumerate(values.filled(np.nan)):
        if not np.isfinite(value) or (blank_zero and value == 0):
            continue
        r, g, b = to_rgb(colormap(norm(value)))
        luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
        ax.text(col + 0.5, row + 0.5, f"{value:.0f}", ha="center", va="center", fontsize=8,
                fontweight=fontweight, color="#262626" if luminance > 0.408 else "white")


def follow_through_bars(follow: pd.DataFrame, *, title: str, source: str,
                        row_labels: Mapping[str, str] | None = None) -> Figure:
    """Stacked bars of pledge status per priority, with the stale count written beside."""
    frame = follow.set_index("priority_id")
    statuses = [s for s in STATUS_COLORS if s in frame.columns]
    fig, ax = plt.subplots(figsize=(9.0, max(2.5, 0.5 * len(frame) + 1.5)))
    left = np.zeros(len(frame))
    y = np.arange(len(frame))
    for status in statuses:
        vals = frame[status].to_numpy(dtype=float)
        ax.barh(y, vals, left=left, color=STATUS_COLORS[status],
                label=status.replace("_", " "), edgecolor="white")
        left += vals
    for k, (total, stale) in enumerate(zip(left, frame["stale"], strict=True)):
        if stale:
            ax.text(total + 0.2, k, f"{int(stale)} stale", va="center", fontsize=8,
                    color=COUNTRY_COLOR)
    ax.set_yticks(y, _row_names(frame.index, {"ALL": "all pledges", **(row_labels or {})}))
    ax.invert_yaxis()
    ax.set_xlim(0, max(1.0, float(left.max())) * 1.15)  # room for the stale counts
    ax.set_xlabel("pledges reaching the country")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="status",
              title_fontsize=8)
    ax.set_title(title, loc="left")
    fig.tight_layout()
    return _source(fig, source)


def need_support_scatter(rows: pd.DataFrame, *, highlight: str, title: str, source: str,
                         need_label: str = "need") -> Figure:
    """Need (y) against pledge USD per capita (x, symlog) for every economy, the country marked.

    ``rows`` are the ``gap_index`` rows of one group (``iso3, need,
    usd_per_capita, flag``).
    """
    data = rows.dropna(subset=["need", "usd_per_capita"])
    fig = _need_support_base(data, title=title, source=source, need_label=need_label)
    _need_support_marks(fig, data, highlight)
    return fig


def need_support_scatter_layered(rows: pd.DataFrame, *, highlight: str, title: str,
                                 source: str, need_label: str = "need",
                                 dpi: int = 110) -> RenderedImage:
    """:func:`need_support_scatter` as a shared base plus the country's marks.

    Every economy's point is the same in every report of a batch; only the
    country's point, its label and the legend (which names it) are its own, so
    the rest is rendered once per process (:mod:`p2c_research.render.layers`).
    """
    data = rows.dropna(subset=["need", "usd_per_capita"])
    key = ("need-vs-support", frame_digest(data[["iso3", "need", "usd_per_capita", "flag"]],
                                           title, source, need_label))
    return render_layered(
        key, lambda: _need_support_base(data, title=title, source=source, need_label=need_label),
        lambda fig: _need_support_marks(fig, data, highlight), dpi)


def _need_support_base(data: pd.DataFrame, *, title: str, source: str, need_label: str) -> Figure:
    """Every economy's point, the axes, the title and the source (the same for every country)."""
    fig, ax = plt.subplots(figsize=(8.0, 5.0))
    thin = data["flag"] == "high need, thin support"
    ax.scatter(data.loc[~thin, "usd_per_capita"], data.loc[~thin, "need"], s=14,
               color=PEER_COLOR, alpha=0.45, label="economies")
    ax.scatter(data.loc[thin, "usd_per_capita"], data.loc[thin, "need"], s=16,
               color="#c85a5a", alpha=0.8, label="high need, thin support")
    ax.set_xscale("symlog", linthresh=0.01)
    plain_log_ticks(ax.xaxis)
    ax.set_xlabel("pledge USD allocated per capita (symmetric log scale)")
    ax.set_ylabel(need_label)
    # Laid out with the legend of the shared points: a country's entry adds a row
    # below them, never width ("high need, thin support" is the widest label).
    _legend(ax)
    ax.set_title(title, loc="left")
    fig.tight_layout()
    return _source(fig, source)


def _need_support_marks(fig: Figure, data: pd.DataFrame, highlight: str) -> list:
    """The country's point and label, and the legend naming it; returns the artists added."""
    ax = fig.axes[0]
    added: list = []
    own = data[data["iso3"] == highlight]
    if not own.empty:
        added.append(ax.scatter(own["usd_per_capita"], own["need"], s=90, color=COUNTRY_COLOR,
                                edgecolor="black", zorder=5, label=highlight))
        added.append(ax.annotate(highlight, (own["usd_per_capita"].iloc[0], own["need"].iloc[0]),
                                 xytext=(6, 6), textcoords="offset points", fontweight="bold",
                                 color=COUNTRY_COLOR))
    added.append(_legend(ax))
    return added


def _legend(ax: Axes) -> Legend:
    return ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
