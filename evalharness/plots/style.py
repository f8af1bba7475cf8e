"""Deterministic figure creation and saving: fixed backend, font, dpi and metadata."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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
PNG_METADATA: dict[str, str | None] = {"Software": None}
SVG_METADATA: dict[str, str | None] = {"Date": None, "Creator": None, "Format": None, "Type": None}


@contextmanager
def _style() -> Iterator[None]:
    with matplotlib.rc_context(cast(Any, STYLE)):
        yield


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
    with _RENDER_LOCK, _style():
        fig = Figure(figsize=size, dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        # Fixed margins by default: tight_layout measures every text first, which costs
        # about half a render, and fixed margins fit plots with short horizontal labels.
        fig.subplots_adjust(left=0.15, right=0.95, bottom=0.15, top=0.9)
        draw(fig, ax)
        if fit:
            fig.tight_layout(pad=0.5)
        buf = io.BytesIO()
        metadata = PNG_METADATA if fmt == "png" else SVG_METADATA
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=metadata)
    return buf.getvalue()
