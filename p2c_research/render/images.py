"""The images a report displays and saves: rendered once, with their alt text.

A report both saves each figure and shows it; rendering is most of a
notebook's run time, so the saved file and the displayed image share one
rendering (:func:`figure_png`, :func:`install_png_formatter`). Every figure
carries its title as alt text, so a reader with a screen reader hears what a
sighted reader sees first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class RenderedImage:
    """A finished PNG (e.g. a shared figure base with a country's overlay,
    :mod:`p2c_research.render.layers`): notebooks display it, :func:`save_figure`
    writes it as is. ``alt`` is what a screen reader says for it in the HTML report."""

    png: bytes
    alt: str = ""

    def _repr_png_(self) -> bytes | tuple[bytes, dict[str, str]]:
        return (self.png, {"alt": self.alt}) if self.alt else self.png


def figure_alt(fig: Figure) -> str:
    """The alt text of a report figure: its title, lines joined as sentences.

    Every report figure's title says what the reader should see ("Cambodia:
    below the range expected for its income / Fixed broadband subscriptions"),
    so it is what a reader who cannot see the image needs first. The figure's
    suptitle, else the first axes title found; empty when there is none.
    """
    suptitle = getattr(fig, "_suptitle", None)
    texts = [suptitle.get_text()] if suptitle is not None else []
    for ax in fig.axes:
        if any(t.strip() for t in texts):
            break
        texts = [ax.get_title(loc) for loc in ("left", "center", "right")]
    return alt_text("\n".join(texts))


def alt_text(title: str) -> str:
    """A figure title as alt text: each line a sentence, whitespace collapsed."""
    lines = [" ".join(line.split()).rstrip(".") for line in title.splitlines()]
    return ". ".join(line for line in lines if line)


def saved_alt(fig: Figure | RenderedImage) -> str:
    """The alt text a saved figure keeps: its own, or its title's."""
    return fig.alt if isinstance(fig, RenderedImage) else figure_alt(fig)


_PNG_CACHE_ATTR = "_p2c_png"


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes, rendered once per dpi and kept on the figure.

    A report both saves each figure and shows it; rendering is most of a
    notebook's run time, so the saved file and the displayed image share one
    rendering (see :func:`install_png_formatter`).
    """
    cached = getattr(fig, _PNG_CACHE_ATTR, None)
    if cached is not None and cached[0] == dpi:
        return cached[1]
    from p2c_research.render.raster import figure_to_png

    data = figure_to_png(fig, dpi)
    setattr(fig, _PNG_CACHE_ATTR, (dpi, data))
    return data


def forget_png(fig: Figure) -> None:
    """Drop the rendering :func:`figure_png` keeps on ``fig`` (a figure drawn again with new marks)."""
    fig.__dict__.pop(_PNG_CACHE_ATTR, None)


def install_png_formatter(dpi: int = 110) -> bool:
    """Make notebooks display figures from :func:`figure_png` (one rendering per figure).

    Returns False outside IPython. Figures look the same as the saved PNGs.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    # Load pyplot's backend first: loading the inline backend registers its own PNG
    # formatter for figures, which replaced this one when it happened later (in a
    # fresh kernel the first report's figures were then rendered a second time,
    # differently from the saved files). Switching to the current backend loads it.
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure as MplFigure

    plt.switch_backend(matplotlib.get_backend())

    def png_with_alt(fig: MplFigure) -> bytes | tuple[bytes, dict[str, str]]:
        alt = figure_alt(fig)
        return (figure_png(fig, dpi), {"alt": alt}) if alt else figure_png(fig, dpi)

    shell.display_formatter.formatters["image/png"].for_type(MplFigure, png_with_alt)
    return True
