"""Deterministic figure creation and saving: fixed backend, font, dpi and metadata."""

from __future__ import annotations

import gc
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from PIL import Image

DPI = 100
STYLE: dict[str, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "svg.hashsalt": "evalharness",
    "svg.fonttype": "path",
    "path.simplify": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.5,
}
# rcParams are process-wide: two figures drawn at once under rc_context (two runs
# evaluated on two threads of one server) could restore each other's settings halfway.
_RENDER_LOCK = threading.Lock()
SVG_METADATA: dict[str, str | None] = {"Date": None, "Creator": None, "Format": None, "Type": None}
#: zlib level of the PNGs: 3 encodes in about a third less time than the default 6, and
#: an opaque figure written as RGB keeps the files about as small as RGBA at level 6.
PNG_COMPRESS_LEVEL = 3

# One Agg renderer per canvas size, used by every figure drawn under the lock (see
# _SharedRendererCanvas). Figures come in a handful of fixed sizes, so this stays small.
# (Any: matplotlib ships no type hints for its Agg backend.)
_RENDERERS: dict[tuple[float, float, float], Any] = {}


class _SharedRendererCanvas(FigureCanvasAgg):
    """An Agg canvas that draws with the renderer of its size instead of a new one.

    Matplotlib caches text extents per renderer, and a report's plots measure the same
    tick labels, titles and legend entries again and again: a renderer that outlives its
    figure keeps that cache warm. Every draw starts by clearing the renderer's pixels, and
    the cache holds only pure functions of (text, font, dpi), so the pixels are exactly
    those of a fresh renderer.
    """

    def get_renderer(self) -> Any:
        """The shared renderer of this figure's size and dpi (created on first use)."""
        w, h = self.figure.bbox.size
        key = (float(w), float(h), float(self.figure.dpi))
        renderer = _RENDERERS.get(key)
        if renderer is None:
            renderer = _RENDERERS[key] = cast(Any, RendererAgg)(w, h, self.figure.dpi)
        self.renderer = renderer
        return renderer


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(cast(Any, STYLE)):
        yield


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a figure is built and drawn.

    A figure is thousands of objects tied in reference cycles, all alive until it is
    saved. Collections during a draw free none of them but promote them to the oldest
    generation, and every few reports that promotion sets off a full collection of the
    whole process heap (about 10% of a small report's time on average). Paused, the
    figure's garbage is still young when the figure is dropped, and the next young
    collection frees it. A caller that had disabled the collector keeps it disabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def png_bytes(canvas: FigureCanvasAgg) -> bytes:
    """Draw ``canvas`` and encode its pixels as a PNG without metadata text chunks.

    What ``savefig(format="png")`` writes, minus its ``Software`` entry (that would name
    the matplotlib version), with the resolution in pHYs as before. An opaque figure is
    written as RGB: the alpha channel it would carry is 255 everywhere.
    """
    agg: Any = canvas  # matplotlib ships no type hints for its Agg backend
    agg.draw()
    rgba = np.asarray(agg.buffer_rgba())
    image = Image.fromarray(rgba)
    if rgba[..., 3].min() == 255:
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=PNG_COMPRESS_LEVEL, dpi=(DPI, DPI))
    return buf.getvalue()


def render(
    draw: Callable[[Figure, Axes], None],
    fmt: str,
    size: tuple[float, float] = (5.0, 4.0),
    *,
    fit: bool = False,
) -> bytes:
    """Draw on a fresh Agg figure (no pyplot, no global backend change) and return its bytes.

    ``fit=True`` lays the figure out around its text (``tight_layout``) for plots whose
    labels have data-dependent extents (rotated category names, a colorbar); the figure
    keeps its size, and the layout depends only on the drawn content, so bytes stay stable.
    """
    with _RENDER_LOCK, _collector_paused(), _style():
        fig = Figure(figsize=size, dpi=DPI)
        canvas = _SharedRendererCanvas(fig)
        ax = fig.add_subplot(1, 1, 1)
        # Fixed margins by default: tight_layout measures every text first, which costs
        # about half a render, and fixed margins fit plots with short horizontal labels.
        fig.subplots_adjust(left=0.15, right=0.95, bottom=0.15, top=0.9)
        draw(fig, ax)
        if fit:
            fig.tight_layout(pad=0.5)
        if fmt == "png":
            # One draw straight to pixels: savefig would lay a figure that has had a
            # tight_layout out a second time before drawing it.
            return png_bytes(canvas)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=SVG_METADATA)
    return buf.getvalue()
