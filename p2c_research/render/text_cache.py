"""Text extents and glyph bitmaps kept across figures while report figures render (Agg).

matplotlib shapes every label with FreeType twice: once to measure it (for
layout) and once to rasterise it. It keeps the measurements per renderer, and
each figure a report renders gets a new renderer, so the same tick labels,
axis titles and legend entries were shaped again in every figure of every
country. While :func:`cached_text` is active, both results are kept per
process instead: a label is measured and rasterised once, and later figures
reuse the numbers and paste the same bitmap at their own position.

Exact by construction: the key holds everything FreeType's result depends on
(the string, the font properties, the font files they resolve to, the dpi,
the hinting mode and factor, the kerning factor, and for bitmaps
antialiasing). The bitmap of a string does not depend on where it is drawn,
because Agg places text at whole pixels. Mathtext and TeX strings go through
matplotlib's own code. ``tests/test_text_cache.py`` compares renders pixel for
pixel with and without the cache.

**Fenced to the versions it was checked on.** Measurements are memoised
around matplotlib's own ``get_text_width_height_descent``; drawing repeats
steps of ``RendererAgg.draw_text`` through private calls, and matplotlib 3.10
and 3.11 draw text differently:

- 3.10 rasterises a whole string into one bitmap (``set_text``,
  ``draw_glyphs_to_bitmap``), which is kept and pasted;
- 3.11 shapes the string (``FT2Font._layout``) and renders each glyph at its
  sub-pixel position, so a string's bitmap depends on where it is drawn: only
  the shaping (glyph indices and offsets, which do not) is kept, and the
  glyphs are rendered by matplotlib's own ``_draw_text_glyphs_and_boxes``.

Each path is active only on the minor versions in :data:`VERIFIED_MATPLOTLIB`
whose pixel test passed; on any other version :func:`cached_text` does
nothing and matplotlib renders as it always does.

Measured with ``benchmarks/report_cpu.py --compare text-cache`` (two
processes side by side, six countries after two of warm-up): on matplotlib
3.10, 3.74 against 4.11 s of CPU per country; on 3.11, 7.61 against 8.41 s
(1.11x). The pixel tests (``tests/test_text_cache.py``) pass on both.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from math import cos, radians, sin
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.font_manager import FontProperties, fontManager

#: matplotlib minor versions whose ``RendererAgg.draw_text`` the bitmap path repeats and
#: whose pixel test (``tests/test_text_cache.py``) passed.
VERIFIED_MATPLOTLIB: tuple[str, ...] = ("3.10", "3.11")

#: The drawing path of this matplotlib: "bitmap" (3.10), "layout" (3.11) or None.
MODE: str | None = None


def _mode() -> str | None:
    """The drawing path for this matplotlib, None where it is not verified or a private
    piece it calls is missing."""
    minor = ".".join(mpl.__version__.split(".")[:2])
    if minor not in VERIFIED_MATPLOTLIB:
        return None
    try:
        from matplotlib.backends import backend_agg
    except ImportError:  # pragma: no cover
        return None
    if not (hasattr(backend_agg, "get_hinting_flag") and hasattr(RendererAgg, "_prepare_font")):
        return None
    if minor == "3.10":
        return "bitmap"
    if hasattr(RendererAgg, "_draw_text_glyphs_and_boxes"):
        return "layout"
    return None


MODE = _mode()

#: Whether :func:`cached_text` does anything in this process (see the module docstring).
ACTIVE = MODE is not None

#: Measurements kept (a key and three floats each). Over twelve countries a
#: country's reports measured about 640 labels, about 120 of them new.
MAX_METRICS = 8192

#: Bytes of glyph bitmaps kept (one 8-bit bitmap per string, a few kB each).
MAX_BITMAP_BYTES = 16 * 2**20

#: Bytes of single-glyph bitmaps kept (matplotlib 3.11), counting each entry's
#: Python overhead as :data:`GLYPH_OVERHEAD_BYTES`.
MAX_GLYPH_BYTES = 24 * 2**20
GLYPH_OVERHEAD_BYTES = 400
#: Whether the 3.11 path keeps glyph bitmaps (False: matplotlib renders each glyph;
#: ``benchmarks/report_cpu.py --compare glyphs``).
KEEP_GLYPHS = True

_ORIGINAL_METRICS = RendererAgg.get_text_width_height_descent
_ORIGINAL_DRAW_TEXT = RendererAgg.draw_text

_metrics: OrderedDict[tuple, tuple[float, float, float]] = OrderedDict()
_bitmaps: OrderedDict[tuple, tuple[np.ndarray, float, float, float]] = OrderedDict()
#: Shaped strings (matplotlib 3.11): glyphs and their offsets, a few dozen bytes a string.
_layouts: OrderedDict[tuple, tuple[tuple[Any, int, float, float], ...]] = OrderedDict()
#: Glyph bitmaps (matplotlib 3.11) by font, size, glyph, turn and sub-pixel origin; the
#: oldest go first (insertion order: a lookup does not reorder, which keeps it cheap).
_glyphs: dict[tuple, tuple[np.ndarray, int, int]] = {}
_state = {"depth": 0, "bitmap_bytes": 0, "glyph_bytes": 0}
_lock = threading.RLock()
stats = {"metrics_hits": 0, "metrics_misses": 0, "bitmap_hits": 0, "bitmap_misses": 0,
         "layout_hits": 0, "layout_misses": 0, "glyph_hits": 0, "glyph_misses": 0}


def _key(text: str, prop: FontProperties, dpi: float) -> tuple:
    """The lookup key. It holds ``prop`` itself (hashed by value); :func:`_kept` copies
    it only when an entry is stored, so a later change to ``prop`` cannot alter a key."""
    rc = mpl.rcParams
    return (text, prop, dpi, rc["text.hinting"], rc["text.hinting_factor"],
            rc["text.kerning_factor"], tuple(fontManager._find_fonts_by_props(prop)))


def _kept(key: tuple) -> tuple:
    return (key[0], key[1].copy(), *key[2:])


def _lookup(cache: OrderedDict, key: tuple, counter: str) -> Any:
    """The entry under ``key``, marked as recently used; None when absent."""
    with _lock:
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
            stats[counter] += 1
    return found


def _text_width_height_descent(self: RendererAgg, s: str, prop: FontProperties,
                               ismath: Any) -> tuple[float, float, float]:
    if ismath:
        return _ORIGINAL_METRICS(self, s, prop, ismath)
    key = _key(s, prop, self.dpi)
    found = _lookup(_metrics, key, "metrics_hits")
    if found is not None:
        return found
    found = _ORIGINAL_METRICS(self, s, prop, ismath)
    with _lock:
        stats["metrics_misses"] += 1
        _metrics[_kept(key)] = found
        while len(_metrics) > MAX_METRICS:
            _metrics.popitem(last=False)
    return found


def _draw_text(self: RendererAgg, gc: Any, x: float, y: float, s: str, prop: FontProperties,
               angle: float, ismath: Any = False, mtext: Any = None) -> None:
    if ismath:
        return _ORIGINAL_DRAW_TEXT(self, gc, x, y, s, prop, angle, ismath, mtext)
    antialiased = gc.get_antialiased()
    key = _key(s, prop, self.dpi)
    entry = _lookup(_bitmaps, (key, antialiased), "bitmap_hits")
    if entry is None:
        # The steps of RendererAgg.draw_text up to the bitmap (matplotlib 3.10).
        from matplotlib.backends.backend_agg import get_hinting_flag

        font = self._prepare_font(prop)
        font.set_text(s, 0, flags=get_hinting_flag())
        font.draw_glyphs_to_bitmap(antialiased=antialiased)
        x_off, y_off = font.get_bitmap_offset()
        entry = (np.array(font.get_image()), font.get_descent() / 64.0,
                 x_off / 64.0, y_off / 64.0)
        with _lock:
            stats["bitmap_misses"] += 1
            _bitmaps[(_kept(key), antialiased)] = entry
            _state["bitmap_bytes"] += entry[0].nbytes
            while _state["bitmap_bytes"] > MAX_BITMAP_BYTES and len(_bitmaps) > 1:
                _, old = _bitmaps.popitem(last=False)
                _state["bitmap_bytes"] -= old[0].nbytes
    image, descent, x_off, y_off = entry
    # The rest of RendererAgg.draw_text: the descent turns with the text.
    x = round(x + x_off + descent * sin(radians(angle)))
    y = round(y + y_off + descent * cos(radians(angle)))
    self._renderer.draw_text_image(image, x, y + 1, angle, gc)


def _draw_text_layout(self: RendererAgg, gc: Any, x: float, y: float, s: str,
                      prop: FontProperties, angle: float, ismath: Any = False,
                      mtext: Any = None) -> None:
    """``RendererAgg.draw_text`` of matplotlib 3.11 with the string's shaping kept."""
    if ismath:
        return _ORIGINAL_DRAW_TEXT(self, gc, x, y, s, prop, angle, ismath, mtext)
    features = mtext.get_fontfeatures() if mtext is not None else None
    language = mtext.get_language() if mtext is not None else None
    key = (_key(s, prop, self.dpi), features, language)
    items = _lookup(_layouts, key, "layout_hits")
    if items is None:
        from matplotlib.backends.backend_agg import get_hinting_flag

        font = self._prepare_font(prop)
        items = tuple((item.ft_object, item.glyph_index, item.x, item.y)
                      for item in font._layout(s, flags=get_hinting_flag(),
                                               features=features, language=language))
        with _lock:
            stats["layout_misses"] += 1
            _layouts[(_kept(key[0]), *key[1:])] = items
            while len(_layouts) > MAX_METRICS:
                _layouts.popitem(last=False)
    size = prop.get_size_in_points()
    if KEEP_GLYPHS:
        _draw_glyphs(self, gc, x, y, angle, size, items)
    else:
        self._draw_text_glyphs_and_boxes(
            gc, x, y, angle,
            ((ft_object, size, glyph_index, 0, 1, dx, dy)
             for ft_object, glyph_index, dx, dy in items),
            [])


def _draw_glyphs(renderer: RendererAgg, gc: Any, x: float, y: float, angle: float,
                 size: float, items: tuple[tuple[Any, int, float, float], ...]) -> None:
    """The glyph loop of matplotlib 3.11's ``RendererAgg._draw_text_glyphs_and_boxes``
    (plain text: no slant, no stretch, no boxes), with each glyph's bitmap kept.

    FreeType renders a glyph moved by its 26.6 fixed-point origin; moving it by
    whole pixels moves its bitmap by the same pixels and changes nothing else,
    so the bitmap is kept under the origin's sub-pixel part (1/64 pixel) and
    placed at the whole-pixel part.
    """
    from matplotlib.backends.backend_agg import get_hinting_flag
    from matplotlib.ft2font import RenderMode

    c, s = cos(radians(angle)), sin(radians(angle))
    # the integers matplotlib computes per glyph, here for extend 1 and slant 0
    matrix = (0x10000 * np.array([[c, -s], [s, c]])).round().astype(int)
    matrix_key = tuple(int(v) for v in matrix.ravel())
    load_flags = get_hinting_flag()
    antialiased = gc.get_antialiased()
    height, dpi = renderer.height, renderer.dpi
    draw_image = renderer._renderer.draw_text_image
    for ft_object, glyph_index, dx, dy in items:  # dy is upwards
        origin_x = round(0x40 * (x + dx * c - dy * s))
        origin_y = round(0x40 * (height - y + dx * s + dy * c))
        key = (ft_object, size, dpi, glyph_index, matrix_key, origin_x & 0x3F,
               origin_y & 0x3F, load_flags, antialiased)
        with _lock:
            entry = _glyphs.get(key)
            if entry is not None:
                stats["glyph_hits"] += 1
        if entry is None:
            ft_object.set_size(size, dpi)
            ft_object._set_transform(matrix, [origin_x, origin_y])
            bitmap = ft_object._render_glyph(
                glyph_index, load_flags, RenderMode.NORMAL if antialiased else RenderMode.MONO)
            buffer = np.array(bitmap.buffer)
            if not antialiased:
                buffer *= 0xff
            entry = (buffer, bitmap.left - (origin_x >> 6), bitmap.top - (origin_y >> 6))
            with _lock:
                stats["glyph_misses"] += 1
                _glyphs[key] = entry
                _state["glyph_bytes"] += buffer.nbytes + GLYPH_OVERHEAD_BYTES
                while _state["glyph_bytes"] > MAX_GLYPH_BYTES and len(_glyphs) > 1:
                    old = _glyphs.pop(next(iter(_glyphs)))
                    _state["glyph_bytes"] -= old[0].nbytes + GLYPH_OVERHEAD_BYTES
        buffer, left, top = entry
        # draw_text_image's y is downwards and names the bitmap's bottom side
        draw_image(buffer, left + (origin_x >> 6),
                   int(height) - (top + (origin_y >> 6)) + buffer.shape[0], 0, gc)


@contextmanager
def cached_text() -> Iterator[None]:
    """Measure and rasterise text through the process-wide cache inside this block.

    Re-entrant. Outside every block, Agg renderers are matplotlib's own again,
    so figures an analyst draws in a notebook are not affected. On a matplotlib
    the cache was not verified on (:data:`ACTIVE` False) it does nothing.
    """
    if not ACTIVE:
        yield
        return
    with _lock:
        if _state["depth"] == 0:
            RendererAgg.get_text_width_height_descent = _text_width_height_descent
            RendererAgg.draw_text = _draw_text if MODE == "bitmap" else _draw_text_layout
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                RendererAgg.get_text_width_height_descent = _ORIGINAL_METRICS
                RendererAgg.draw_text = _ORIGINAL_DRAW_TEXT


def clear() -> None:
    """Forget every kept measurement and bitmap (tests)."""
    with _lock:
        _metrics.clear()
        _bitmaps.clear()
        _layouts.clear()
        _glyphs.clear()
        _state["bitmap_bytes"] = 0
        _state["glyph_bytes"] = 0
        for name in stats:
            stats[name] = 0
