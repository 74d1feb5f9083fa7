"""The house theme: one look for every chart, and a source line on each.

Every figure names its data source and year, so a chart copied into a slide
still says where it came from.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.axis import Axis
from matplotlib.figure import Figure

PILLAR_COLORS: dict[str, str] = {
    "ACCESS": "#1f77b4",
    "ADOPTION": "#2ca02c",
    "VALUE_CREATION": "#ff7f0e",
    "CONTEXT": "#7f7f7f",
}
COUNTRY_COLOR = "#d62728"
PEER_COLOR = "#4d4d4d"
MISSING_COLOR = "#d9d9d9"


def apply_theme() -> None:
    """Set the seaborn/matplotlib defaults used by every figure."""
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.95)
    plt.rcParams.update({
        "figure.dpi": 100,
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "figure.titleweight": "bold",
        "savefig.bbox": "tight",
        # A fixed title position: with the default (None, "auto") matplotlib
        # measures every tick label of every axes to place each title, which
        # was the largest single cost of rendering a report (about 40%).
        "axes.titley": 1.0,
        "axes.titlepad": 8.0,
        # Titles and labels carry text from params and pledge files (peer labels,
        # priority titles): text between two "$" would be parsed as mathtext, and
        # a malformed one ("$\frac$") fails the whole figure. No figure uses mathtext.
        "text.parse_math": False,
    })


def add_source(fig: Figure, text: str, *, wrap: int | None = None,
               fontsize: float = 8, y: float = -0.02) -> Figure:
    """Write ``text`` (source and year) under the figure, left-aligned, small.

    ``wrap``: wrap at this many characters, for a figure narrower than its
    source line (a thumbnail would otherwise be as wide as the line).
    ``y``: the line's top in figure fractions (lower it below a legend drawn
    under the axes).
    """
    if wrap:
        import textwrap

        text = "\n".join(textwrap.wrap(text, wrap))
    fig.text(0.01, y, text, ha="left", va="top", fontsize=fontsize, color="#555555",
             transform=fig.transFigure)
    return fig


def title_text(ax, text: str, color: object = "#262626"):
    """A title as a plain text artist, placed where ``ax.set_title(text, loc="left")`` puts it.

    A separate artist (not ``ax.title``), so a layered figure
    (:mod:`p2c_research.render.layers`) can draw it as part of a country's
    overlay and remove it again; a transparent one reserves the room in a base.
    """
    from matplotlib.transforms import offset_copy

    return ax.text(0.0, 1.0, text, ha="left", va="baseline", color=color,
                   fontsize=plt.rcParams["axes.titlesize"],
                   fontweight=plt.rcParams["axes.titleweight"],
                   transform=offset_copy(ax.transAxes, fig=ax.figure,
                                         y=plt.rcParams["axes.titlepad"], units="points"))


def plain_log_ticks(axis: Axis) -> None:
    """Label a log or symlog axis with plain numbers (1,000 / 0.01) instead of powers of ten.

    Matplotlib's default log labels are mathtext (``$10^{3}$``), which an
    analyst reads less easily than "1,000" and which matplotlib parses and
    lays out glyph by glyph on every draw. Minor ticks stay unlabelled.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:,.10g}"))
    axis.set_minor_formatter(NullFormatter())
