"""Figures to PNG bytes, fast: one draw, cropped to the ink, encoded without row filters.

``savefig(bbox_inches="tight")`` draws a figure twice: a full draw with output
switched off, to place every artist, then a pass measuring them all for the
tight box, then the real draw. Here the figure is drawn
once, onto a canvas with generous margins around the figure (so tick labels,
legends and the source line placed outside it are drawn too), and the canvas is
cropped to the pixels that differ from the background, plus savefig's usual
pad. Where ink touches the canvas edge (a margin too small) or the figure has a
layout engine that acts at draw time (constrained or tight layout, which need
the first draw), the tight path is used instead. A figure laid out once by
``fig.tight_layout()`` keeps only a placeholder engine that does nothing at draw
time, so it is drawn once like the others (the three pledge charts of KEN,
KHM, MRT and BRA: 1.08 against 1.00 CPU seconds per country).
Limit by design: a mark drawn wholly beyond :data:`MARGINS` (inches outside the
figure) leaves no ink on the canvas and is left out; the report figures keep
theirs within about 2.5 inches.

Measured on KEN's landscape figures (CPU seconds, tight savefig against one
draw): indicator strips 0.61 against 0.39, target bars 0.30 against 0.20,
wheel 0.38 against 0.27, residual dot plot 0.49 against 0.42; the trend panels
gain least (1.37 against 1.33), their cost being the draw itself.

The difference from a tight box is only what carries no ink: a tight box
counts the full extent of every artist (the descent of a text line without
descenders, say), so crops can differ by a pixel or two; the drawing itself is
the same.
"""

from __future__ import annotations

import io
import math
import struct
import zlib

import numpy as np
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from p2c_research.render.text_cache import cached_text

#: zlib level for every PNG a report writes. Encoding at the default level (6)
#: was about a tenth of a report's run time; level 1 encodes the report figures
#: in half the time for files about 8% larger (measured on KEN's 19 figures:
#: 1.06 s and 2.14 MB at level 6, 0.47 s and 2.31 MB at level 1).
PNG_COMPRESS_LEVEL = 1

#: Canvas margins (inches) around the figure: left, bottom, right, top. Wrapped
#: indicator names as tick labels reach about 2.5 in left of the figure; the
#: source line and bottom legends sit below it.
MARGINS = (3.5, 1.5, 4.0, 1.0)


#: See :func:`render_rgba`.
EPSILON_PX = 1e-6


def snap_to_pixels(bbox: Bbox, dpi: int) -> Bbox:
    """``bbox`` (inches) grown to whole pixels from the figure's origin at ``dpi``.

    Two canvases snapped this way put every artist on the same pixel grid, so
    they rasterise it identically (a layered base and the figure drawn at once).
    """
    x0, y0 = math.floor(bbox.x0 * dpi), math.floor(bbox.y0 * dpi)
    x1, y1 = math.ceil(bbox.x1 * dpi), math.ceil(bbox.y1 * dpi)
    return Bbox.from_extents(x0 / dpi, y0 / dpi, x1 / dpi, y1 / dpi)


def render_rgba(fig: Figure, bbox: Bbox, dpi: int, *, transparent: bool = False) -> np.ndarray:
    """The part of ``fig`` inside ``bbox`` (inches) as an ``H x W x 4`` uint8 array (one draw)."""
    # matplotlib's Agg canvas truncates its size to whole pixels (``int``), while
    # artists are placed from the exact top edge. A box snapped to pixels can come
    # out a hair under its size (487 / 90 * 90 = 486.99999...): the canvas then
    # loses a row and everything moves up a pixel, unlike a canvas of another
    # size. A millionth of a pixel more keeps every snapped box whole.
    bbox = Bbox.from_extents(bbox.x0, bbox.y0, bbox.x1 + EPSILON_PX / dpi,
                             bbox.y1 + EPSILON_PX / dpi)
    buffer = io.BytesIO()
    with cached_text():
        fig.savefig(buffer, format="rgba", dpi=dpi, bbox_inches=bbox, transparent=transparent)
    data = np.frombuffer(buffer.getvalue(), dtype=np.uint8)
    # Raw RGBA carries no size; matplotlib rounds the canvas size its own way, so
    # take the candidate next to the exact size that accounts for every pixel.
    pixels = data.size // 4
    exact_w, exact_h = bbox.width * dpi, bbox.height * dpi
    for width in sorted({int(exact_w), int(exact_w) + 1, round(exact_w), int(exact_w) - 1}):
        if width > 0 and pixels % width == 0 and abs(pixels // width - exact_h) < 2:
            return data.reshape(pixels // width, width, 4)
    raise RuntimeError(f"cannot infer the size of a {pixels}-pixel rendering of {bbox}")


def ink_box(pixels: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` (exclusive ends) of the pixels unlike the corner colour.

    None when the image is blank or its corners differ (ink at the edge).
    """
    flat = np.ascontiguousarray(pixels).view(np.uint32)[..., 0]
    background = flat[0, 0]
    if not (flat[0, -1] == flat[-1, 0] == flat[-1, -1] == background):
        return None
    ink = flat != background
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(ink[rows[0]:rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def crop_to_ink(pixels: np.ndarray, pad: int, *, strict: bool = True) -> np.ndarray | None:
    """``pixels`` cropped to their ink plus ``pad`` pixels.

    ``strict``: None when the ink comes within ``pad`` of the edge (the canvas
    may have cut something); otherwise the pad is trimmed at the edges.
    """
    box = ink_box(pixels)
    if box is None:
        return None if strict else pixels
    top, bottom, left, right = box
    height, width = pixels.shape[:2]
    if strict and (top < pad or left < pad or bottom > height - pad or right > width - pad):
        return None
    return pixels[max(top - pad, 0):bottom + pad, max(left - pad, 0):right + pad]


def encode_png(pixels: np.ndarray, dpi: int) -> bytes:
    """RGB or RGBA pixels as PNG bytes: no row filter, zlib at :data:`PNG_COMPRESS_LEVEL`.

    Fully opaque RGBA (every report figure: white background) is written as
    RGB, which is lossless then: a quarter less data to compress (a country's
    19 figures: 0.49 against 0.67 s, files 10% smaller).

    Why not Pillow: its PNG encoder tries all five row filters on every row and
    keeps the best, and at zlib level 1 that choice costs three times the
    compression itself. Flat-coloured figures need no filter: BRA's 19 figures
    (15 Mpx) take 0.17 s instead of 0.52 s to encode, and come out smaller
    (1.96 against 2.11 MB). The container is four chunks of the PNG standard
    (IHDR, pHYs for the dpi, one IDAT, IEND); ``tests/test_raster.py`` checks
    every chunk's CRC, decodes the result with Pillow and compares every pixel.
    """
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.shape[2] == 4 and bool((pixels[..., 3] == 255).all()):
        pixels = pixels[..., :3]
    height, width, channels = pixels.shape
    color_type = {3: 2, 4: 6}[channels]  # truecolour, truecolour with alpha
    rows = np.empty((height, 1 + width * channels), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 0 (None) for every row
    # Copied a channel at a time: a cropped (strided) image copied whole goes
    # through numpy's loop three or four bytes at a time, ten times slower
    # (20 against 2 ms for a 1.2 Mpx figure). ``copy=False`` raises rather than
    # silently writing into a temporary copy.
    target = rows[:, 1:].reshape(height, width, channels, copy=False)
    for channel in range(channels):
        target[..., channel] = pixels[..., channel]
    per_metre = round(dpi / 0.0254)
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)),
        _png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
        _png_chunk(b"IDAT", zlib.compress(rows.data, PNG_COMPRESS_LEVEL)),
        _png_chunk(b"IEND", b""),
    ))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


def pad_pixels(dpi: int) -> int:
    """savefig's ``pad_inches`` around a tight box, in pixels at ``dpi``."""
    import matplotlib as mpl

    return round(mpl.rcParams["savefig.pad_inches"] * dpi)


def _acts_at_draw(engine: object) -> bool:
    """Whether a figure's layout engine moves artists when the figure is drawn."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    return engine is not None and not isinstance(engine, PlaceHolderLayoutEngine)


def figure_to_png(fig: Figure, dpi: int) -> bytes:
    """``fig`` as PNG bytes, cropped like ``savefig(bbox_inches="tight")`` but drawn once."""
    if not _acts_at_draw(fig.get_layout_engine()):
        width, height = fig.get_size_inches()
        left, bottom, right, top = MARGINS
        canvas = snap_to_pixels(
            Bbox.from_extents(-left, -bottom, width + right, height + top), dpi)
        cropped = crop_to_ink(render_rgba(fig, canvas, dpi), pad_pixels(dpi))
        if cropped is not None:
            return encode_png(cropped, dpi)
    buffer = io.BytesIO()
    with cached_text():
        fig.savefig(buffer, dpi=dpi, bbox_inches="tight", format="png",
                    pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return buffer.getvalue()
