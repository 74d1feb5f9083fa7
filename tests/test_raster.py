"""One-draw PNG rendering: same picture as savefig(bbox_inches="tight"), nothing cut off."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from p2c_research.figures.theme import add_source
from p2c_research.render import raster

matplotlib.use("Agg")
DPI = 100


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _tight(fig) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, bbox_inches="tight", format="png")
    return _pixels(buffer.getvalue())


def _figure_with_outside_marks():
    """Long tick labels left of the figure and a source line below it, as in the reports."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.barh([0, 1, 2], [3, 5, 2], color="#1f77b4")
    ax.set_yticks([0, 1, 2], ["A rather long indicator name, wrapped\nover two lines", "short",
                              "Another long label that reaches far left"])
    ax.set_title("Scores")
    add_source(fig, "Source: test data, 2024; a line wider than the figure itself, to check it")
    return fig


def test_one_draw_render_matches_the_tight_savefig() -> None:
    fig = _figure_with_outside_marks()
    fast = _pixels(raster.figure_to_png(fig, DPI))
    tight = _tight(fig)
    plt.close(fig)
    # Same picture: sizes within a few pixels (a tight box counts ink-less extents) ...
    assert abs(fast.shape[0] - tight.shape[0]) <= 4
    assert abs(fast.shape[1] - tight.shape[1]) <= 4
    # ... and the same amount of ink (labels, bars, title and source line all there).
    ink_fast = (fast.min(axis=2) < 200).sum()
    ink_tight = (tight.min(axis=2) < 200).sum()
    assert ink_fast == pytest.approx(ink_tight, rel=0.03)
    # savefig's pad is kept on every side, and no ink is cut at the edges
    pad = raster.pad_pixels(DPI)
    ink = fast.min(axis=2) < 255
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    assert rows[0] == pad and cols[0] == pad
    assert fast.shape[0] - 1 - rows[-1] == pad and fast.shape[1] - 1 - cols[-1] == pad


def test_marks_across_the_margins_fall_back_to_the_tight_render() -> None:
    fig = _figure_with_outside_marks()
    far = raster.MARGINS[2] - 0.5  # inches right of the figure: across the canvas edge
    fig.text(1 + far / 5, 0.5, "far away", transform=fig.transFigure, fontsize=20)
    fast = _pixels(raster.figure_to_png(fig, DPI))
    tight = _tight(fig)
    plt.close(fig)
    assert fast.shape == tight.shape  # the tight path itself, so the far text is kept
    assert fast.shape[1] > (5 + far) * DPI


def test_figures_with_a_layout_engine_use_the_tight_render() -> None:
    fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    ax.plot([0, 1], [0, 1])
    assert raster.figure_to_png(fig, DPI) is not None
    assert _pixels(raster.figure_to_png(fig, DPI)).shape == _tight(fig).shape
    plt.close(fig)


def test_a_figure_laid_out_once_by_tight_layout_is_drawn_once(monkeypatch) -> None:
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("a label tight_layout makes room for")
    fig.tight_layout()  # leaves a placeholder engine that does nothing at draw time
    assert fig.get_layout_engine() is not None
    formats: list[str] = []
    real_savefig = fig.savefig

    def spy(*args, **kwargs):
        formats.append(kwargs.get("format"))
        return real_savefig(*args, **kwargs)

    monkeypatch.setattr(fig, "savefig", spy)
    fast = _pixels(raster.figure_to_png(fig, DPI))
    assert formats == ["rgba"]  # one raw draw, no tight-box savefig
    monkeypatch.undo()
    tight = _tight(fig)
    plt.close(fig)
    assert abs(fast.shape[0] - tight.shape[0]) <= 4 and abs(fast.shape[1] - tight.shape[1]) <= 4


def test_crop_to_ink() -> None:
    pixels = np.full((50, 60, 4), 255, dtype=np.uint8)
    pixels[20:25, 10:40] = (0, 0, 0, 255)
    cropped = raster.crop_to_ink(pixels, 3)
    assert cropped.shape == (5 + 6, 30 + 6, 4)
    assert (cropped[3:8, 3:33, 0] == 0).all() and (cropped[:3] == 255).all()
    # ink within the pad of an edge: strict refuses, non-strict trims the pad
    pixels[1, 30] = (0, 0, 0, 255)
    assert raster.crop_to_ink(pixels, 3) is None
    assert raster.crop_to_ink(pixels, 3, strict=False).shape == (24 + 3 + 1, 36, 4)
    # ink in a corner: the background is unknown, so no crop at all
    pixels[0, 0] = (0, 0, 0, 255)
    assert raster.ink_box(pixels) is None
    blank = np.full((5, 5, 4), 255, dtype=np.uint8)
    assert raster.ink_box(blank) is None


def test_snapped_boxes_sit_on_whole_pixels() -> None:
    from matplotlib.transforms import Bbox

    box = raster.snap_to_pixels(Bbox.from_extents(-0.123, 0.456, 3.141, 2.718), 110)
    for value in (box.x0, box.y0, box.x1, box.y1):
        assert abs(value * 110 - round(value * 110)) < 1e-9
    assert box.x0 <= -0.123 and box.y0 <= 0.456 and box.x1 >= 3.141 and box.y1 >= 2.718


def test_png_encoding_is_lossless_and_drops_only_an_opaque_alpha() -> None:
    rng = np.random.default_rng(1)
    opaque = rng.integers(0, 256, (40, 60, 4), dtype=np.uint8)
    opaque[..., 3] = 255
    image = Image.open(io.BytesIO(raster.encode_png(opaque, 110)))
    assert image.mode == "RGB"
    assert np.array_equal(np.asarray(image), opaque[..., :3])
    assert image.info["dpi"] == pytest.approx((110, 110), abs=0.01)
    translucent = opaque.copy()
    translucent[5, 7, 3] = 128
    image = Image.open(io.BytesIO(raster.encode_png(translucent, 110)))
    assert image.mode == "RGBA"
    assert np.array_equal(np.asarray(image), translucent)


def test_png_chunks_follow_the_standard_and_odd_sizes_round_trip() -> None:
    """Every chunk's CRC is right (checked here, not trusted to the decoder) and
    widths that are not a multiple of anything decode to the same pixels."""
    import struct
    import zlib

    rng = np.random.default_rng(7)
    for shape in ((1, 1, 3), (3, 517, 3), (211, 13, 4)):
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        if shape[2] == 4:
            pixels[0, 0, 3] = 7  # translucent: stays RGBA
        data = raster.encode_png(pixels, 96)
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        kinds, at = [], 8
        while at < len(data):
            (length,) = struct.unpack(">I", data[at:at + 4])
            kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
            (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
            assert crc == zlib.crc32(kind + body), kind
            kinds.append(kind)
            at += 12 + length
        assert kinds == [b"IHDR", b"pHYs", b"IDAT", b"IEND"]
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.size == (shape[1], shape[0])
        assert np.array_equal(np.asarray(image), pixels)
        # PNG stores whole pixels per metre: within half a unit (0.0127 dpi)
        assert image.info["dpi"] == pytest.approx((96, 96), abs=0.0128)
