"""Render a figure's shared base once and only the country's own marks per report.

A world map of the gap index is the same picture in every country's report
except for the outline of the country under study. Rendering it from scratch
costs about a third of a second per map, four maps per report, 217 reports
per batch. Here the base (everything but the highlight) is drawn once per
process and kept as pixels; each report then draws only its overlay on a
transparent layer of the *same* figure, cropped to the *same* box, and
composites the two. Only public matplotlib API is used (``savefig`` to raw
RGBA with an explicit ``bbox_inches``), so base and overlay line up pixel for
pixel. Legends and inset keys belong to the overlay layer, drawn last, so they
stay on top of a country's marks as in a figure drawn at once.

Caveat by design: the canvas is the base's tight box plus
:data:`OVERLAY_ROOM`, so an overlay that reaches further (a label at the very
edge of a map) is cut there; the map highlight places its label inward to
avoid that.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from p2c_research.render.images import RenderedImage, figure_alt
from p2c_research.render.raster import (
    crop_to_ink,
    encode_png,
    pad_pixels,
    render_rgba,
    snap_to_pixels,
)
from p2c_research.render.text_cache import cached_text

#: Bases kept per process: a batch uses about 40 (4 world maps, one regional
#: map per region, one scatter per indicator); each holds its figure and its
#: compressed pixels.
MAX_BASES = 64

#: Inches of canvas kept around a base's tight box for overlay marks at its edge.
OVERLAY_ROOM = 0.25


@dataclass
class _Base:
    fig: Figure
    bbox: Bbox  # inches, padded like savefig's "tight"
    packed: bytes  # the base's opaque RGB pixels, zlib-compressed (~5% of their size)
    shape: tuple[int, int]
    dpi: int

    def image(self):
        from PIL import Image

        rgb = np.frombuffer(zlib.decompress(self.packed), dtype=np.uint8).reshape(*self.shape, 3)
        return Image.fromarray(rgb, "RGB").convert("RGBA")


_bases: OrderedDict[Hashable, _Base] = OrderedDict()
_lock = threading.Lock()
stats = {"built": 0, "reused": 0}


def _build(build: Callable[[], Figure], dpi: int) -> _Base:
    fig = build()
    plt.close(fig)  # kept by the cache, not by pyplot (never shown by the inline backend)
    FigureCanvasAgg(fig)  # a closed figure may be left with a canvas that cannot render
    # The box savefig(bbox_inches="tight") would use: text is measured at the output dpi.
    screen_dpi = fig.dpi
    fig.set_dpi(dpi)
    try:
        with cached_text():
            bbox = fig.get_tightbbox(fig.canvas.get_renderer())
    finally:
        fig.set_dpi(screen_dpi)
    # Room beyond the tight box for overlay marks at the edge (a thick outline, a
    # label): the composite is cropped to its ink afterwards, like a direct render.
    bbox = snap_to_pixels(bbox.padded(plt.rcParams["savefig.pad_inches"] + OVERLAY_ROOM), dpi)
    for ax in fig.axes:  # overlays must never move the view the base was drawn with
        ax.set_autoscale_on(False)
    top = _top_artists(fig)
    for artist in top:
        artist.set_visible(False)
    try:  # legends go on the overlay layer, so a country's outline never covers them
        pixels = render_rgba(fig, bbox, dpi, transparent=False)
    finally:
        for artist in top:
            artist.set_visible(True)
    # Kept compressed: a batch holds some forty bases per worker, and raw pixels
    # (2-3 MB each) pushed a worker past its memory budget; decompressing costs ~5 ms.
    rgb = np.ascontiguousarray(pixels[..., :3])
    return _Base(fig=fig, bbox=bbox, packed=zlib.compress(rgb.tobytes(), 1),
                 shape=(rgb.shape[0], rgb.shape[1]), dpi=dpi)


def _top_artists(fig: Figure) -> list[Artist]:
    """Legends and inset axes (a map's key): drawn above everything, so with the overlay."""
    out: list[Artist] = list(fig.legends)
    for ax in fig.axes:
        if ax.get_legend() is not None:
            out.append(ax.get_legend())
        out.extend(ax.child_axes)
    return out


@contextmanager
def _only(fig: Figure, keep: list[Artist]) -> Iterator[None]:
    """Hide every artist of ``fig`` except ``keep`` (and the axes holding them)."""
    keep_ids = {id(a) for a in keep}
    holders = {id(a.axes) for a in keep if a.axes is not None}
    hidden: list[Artist] = []

    def hide(artist: Artist) -> None:
        if id(artist) in keep_ids:
            return
        if id(artist) in holders:  # an axes holding an overlay: hide its other children
            for child in artist.get_children():
                hide(child)
            return
        if artist.get_visible():
            artist.set_visible(False)
            hidden.append(artist)

    for child in fig.get_children():
        if child is fig.patch:
            continue  # made transparent by savefig(transparent=True)
        hide(child)
    try:
        yield
    finally:
        for artist in hidden:
            artist.set_visible(True)


def render_layered(key: Hashable, build: Callable[[], Figure],
                   overlay: Callable[[Figure], list[Artist]], dpi: int,
                   alt: str | None = None) -> RenderedImage:
    """The base built by ``build`` (cached under ``key``) with ``overlay``'s artists on top.

    ``overlay`` adds its artists to the base figure and returns them; they are
    removed again afterwards, so the cached base stays clean. ``alt`` is the
    image's alt text; by default the base's title (:func:`figure_alt`), for an
    overlay that draws the title itself pass it here.
    """
    from PIL import Image

    cache_key = (key, dpi)
    with _lock:
        base = _bases.get(cache_key)
        if base is not None:
            _bases.move_to_end(cache_key)
            stats["reused"] += 1
    if base is None:
        base = _build(build, dpi)
        with _lock:
            _bases[cache_key] = base
            stats["built"] += 1
            while len(_bases) > MAX_BASES:
                _bases.popitem(last=False)
    artists = overlay(base.fig)
    try:
        with _only(base.fig, [*artists, *_top_artists(base.fig)]):
            top = render_rgba(base.fig, base.bbox, dpi, transparent=True)
        image = Image.alpha_composite(base.image(), Image.fromarray(top, "RGBA"))
    finally:
        for artist in artists:
            artist.remove()
    # Cropped to the ink like a figure rendered on its own (raster.figure_to_png),
    # so a layered image and the same figure drawn at once have the same size.
    pixels = crop_to_ink(np.asarray(image), pad_pixels(dpi), strict=False)
    return RenderedImage(encode_png(pixels, dpi), alt=figure_alt(base.fig) if alt is None else alt)


def frame_digest(*parts: object) -> str:
    """A short content key for a base's inputs: frames and series are hashed, the rest repr'd."""
    import hashlib

    import pandas as pd

    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame | pd.Series):
            h.update(pd.util.hash_pandas_object(part, index=True).to_numpy().tobytes())
            if isinstance(part, pd.DataFrame):
                h.update(repr(list(part.columns)).encode())
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()[:24]


def clear_cache() -> None:
    """Forget every cached base (tests; a new data vintage in a long-lived kernel)."""
    with _lock:
        for base in _bases.values():
            plt.close(base.fig)
        _bases.clear()
