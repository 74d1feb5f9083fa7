"""Pillar scores of every country of a batch, one panel per ITU-D region.

A dot plot rather than bars: three pillars per country stay readable for a
region of fifty countries, and a missing (insufficient) score is simply no
dot. Panels are stacked with heights in proportion to their countries, so a
row keeps the same height whether the batch has four countries or 217.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from p2c_research.catalog import SCORED_PILLARS
from p2c_research.figures.theme import PILLAR_COLORS, add_source, apply_theme
from p2c_research.labels import label

#: Inches per country row, and for each panel's title and axis.
ROW_HEIGHT = 0.24
PANEL_EXTRA = 0.75
MARKERS = {"ACCESS": "o", "ADOPTION": "s", "VALUE_CREATION": "D"}


def figure_height(n_rows: int, n_panels: int) -> float:
    """Height in inches of a figure of ``n_rows`` countries in ``n_panels`` panels."""
    return 1.0 + ROW_HEIGHT * n_rows + PANEL_EXTRA * n_panels


def pillar_scores_by_region(portfolio: pd.DataFrame, *, source: str) -> Figure:
    """Dot plot of the pillar scores (0-100), one panel per ITU-D region, countries as rows.

    ``portfolio`` is the frame of :func:`p2c_research.analyses.portfolio.portfolio_table`
    (already ordered by region, then country); ``source`` is the line under the figure.
    """
    from p2c_research.analyses.portfolio import pillar_columns, region_counts

    apply_theme()
    counts = region_counts(portfolio)
    n_rows = int(counts.sum())
    fig, axes = plt.subplots(
        len(counts), 1, figsize=(9.5, figure_height(n_rows, len(counts))), squeeze=False,
        gridspec_kw={"height_ratios": [n + 2.5 for n in counts]})
    for ax, (region, _n) in zip(axes[:, 0], counts.items(), strict=True):
        rows = portfolio[portfolio["itu_region"] == region].reset_index(drop=True)
        y = list(range(len(rows)))[::-1]  # first country at the top
        names = [f"{c} ({i})" for c, i in zip(rows["country"], rows["iso3"], strict=True)]
        for pillar in SCORED_PILLARS:
            scores = pd.to_numeric(rows[pillar_columns(pillar)[0]], errors="coerce")
            ax.scatter(scores, y, s=28, marker=MARKERS[pillar], color=PILLAR_COLORS[pillar],
                       label=label(pillar), zorder=3, alpha=0.9)
        ax.set_yticks(y, names, fontsize=8)
        ax.set_ylim(-0.8, len(rows) - 0.2)
        ax.set_xlim(-3, 103)  # a score of 0 or 100 shows whole
        ax.set_xticks(range(0, 101, 20))
        ax.set_title(f"{region} ({len(rows)} countr{'y' if len(rows) == 1 else 'ies'})",
                     loc="left", fontsize=10)
        ax.grid(axis="y", color="#eeeeee")
    axes[-1, 0].set_xlabel(label("score"))
    # The legend sits above the first panel, right of its title, clear of the figure title.
    axes[0, 0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, frameon=False,
                      fontsize=9, borderaxespad=0.2, handletextpad=0.3)
    fig.suptitle("Pillar scores by ITU-D region: where each country stands on Access, "
                 "Adoption and Value creation", x=0.01, ha="left", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    add_source(fig, source, wrap=150)
    return fig
