"""Plots keep every label inside the figure, and stay byte-identical."""

from __future__ import annotations

import gc
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from evalharness.plots import classification as PC
from evalharness.plots import ranking as PK
from evalharness.plots import regression as PR
from evalharness.plots import style
from evalharness.plots.slices import SliceBar, slices_plot
from evalharness.plots.stress import stress_plot

_rng = np.random.default_rng(0)
_y = _rng.integers(0, 2, 200)
_s = _rng.random(200)
_sweep = [
    PK.TradeoffPoint("hnsw efSearch", 16, False, 0.4, (0.62, 0.55, 0.7)),
    PK.TradeoffPoint("hnsw efSearch", 256, True, 2.5, (0.97, 0.95, 0.99)),
    PK.TradeoffPoint("ivf nprobe", 1, False, 0.2, (0.31, 0.25, 0.38)),
    PK.TradeoffPoint("ivf nprobe", 32, False, 3.1, (0.99, 0.98, 1.0)),
]
_bars = [
    SliceBar("query_length:q1 (shortest third)", 31, 0.18, 0.1, 0.27, True),
    SliceBar("relevant:head", 40, 0.25, 0.2, 0.31, False),
]
PLOTS: dict[str, tuple[Callable[..., bytes], tuple[Any, ...]]] = {
    "slices": (slices_plot, (_bars, "ndcg@10", 0.22)),
    "recall_latency": (PK.recall_latency_plot, (_sweep, 10, "16 queries")),
    "index_sweep": (
        PK.index_sweep_plot,
        (
            [
                PK.SweepPoint(family, parameter, p.value, p.deployed, p.recall, p.recall)
                for p in _sweep
                for family, parameter in [p.series.split(maxsplit=1)]
            ],
            "ndcg@10",
        ),
    ),
    "confusion_binary": (
        PC.confusion_matrix_plot,
        (np.array([[30, 3], [3, 31]]), ["female", "male"]),
    ),
    "confusion_long_names": (
        PC.confusion_matrix_plot,
        (np.arange(9).reshape(3, 3) * 40, ["Chinstrap", "Adelie penguin", "Gentoo (long name)"]),
    ),
    "roc": (PC.roc_plot, (_y, _s, 0.5)),
    "pr": (PC.pr_plot, (_y, _s, 0.5)),
    "calibration": (PC.calibration_plot, (_y == 1, _s)),
    "confidence_histogram": (PC.confidence_histogram, (_y == 1, _s)),
    "stress": (
        stress_plot,
        ([("label_noise", [0.0, 0.1], [0.9, 0.8], [0.8, 0.7], [0.95, 0.9])], "accuracy"),
    ),
    "residuals": (PR.residuals_plot, (_s, 2 * _s)),
    "predicted_vs_actual": (PR.predicted_vs_actual_plot, (_s, 2 * _s)),
    "error_histogram": (PR.error_histogram, (_s,)),
    "error_by_target_quantile": (
        PR.error_by_quantile_plot,
        (["target < 120.5", "120.5 <= target < 1.5e+04", "target >= 1.5e+04"], [1.0, 2.0, 3.0]),
    ),
}


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_labels_fit_inside_the_figure(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The confusion matrix's x label used to hang below the bottom edge."""
    boxes: list[tuple[Any, Any]] = []
    real: Any = FigureCanvasAgg.draw

    def spy(canvas: FigureCanvasAgg) -> None:
        real(canvas)  # the one draw whose pixels are saved, after the layout ran
        # Measured with the figure's own (Agg) renderer.
        fig: Figure = canvas.figure
        boxes.append((fig.get_tightbbox(), fig.bbox_inches))

    monkeypatch.setattr(FigureCanvasAgg, "draw", spy)
    draw, args = PLOTS[name]
    first = draw(*args, "png")
    ((drawn, page),) = boxes
    tol = 1e-6
    assert drawn.x0 >= -tol and drawn.y0 >= -tol, (name, drawn)
    assert drawn.x1 <= page.x1 + tol and drawn.y1 <= page.y1 + tol, (name, drawn)
    monkeypatch.undo()
    assert draw(*args, "png") == first  # the layout step keeps the bytes stable


def _pixels(png: bytes) -> np.ndarray[Any, Any]:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _chunks(png: bytes) -> list[bytes]:
    names, pos = [], 8
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        names.append(png[pos + 4 : pos + 8])
        pos += 12 + length
    return names


def test_png_is_the_canvas_without_metadata() -> None:
    """The PNG holds exactly the pixels savefig would write, as RGB, with no text chunk
    (no matplotlib version in the file) and the resolution in pHYs."""
    draw, args = PLOTS["roc"]
    png = draw(*args, "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _chunks(png)[0] == b"IHDR" and _chunks(png)[-1] == b"IEND"
    assert not {b"tEXt", b"zTXt", b"iTXt", b"tIME"} & set(_chunks(png))
    assert b"pHYs" in _chunks(png)
    image = Image.open(io.BytesIO(png))
    # pHYs holds whole pixels per metre: 3937 for 100 dpi.
    assert image.mode == "RGB" and image.info["dpi"] == pytest.approx((style.DPI,) * 2, abs=0.01)
    # What matplotlib's own savefig draws for the same figure: the same pixels.
    captured: list[bytes] = []
    real = style.png_bytes

    def also_savefig(canvas: FigureCanvasAgg) -> bytes:
        out = real(canvas)
        buf = io.BytesIO()
        canvas.figure.savefig(buf, format="png", dpi=style.DPI)
        captured.append(buf.getvalue())
        return out

    style.png_bytes = also_savefig
    try:
        again = draw(*args, "png")
    finally:
        style.png_bytes = real
    assert again == png
    assert np.array_equal(_pixels(captured[0]), _pixels(png))


def test_shared_renderer_keeps_bytes_independent_of_order() -> None:
    """A renderer reused across figures (its text cache warm) draws what a fresh one does:
    a plot's bytes do not depend on which plots were drawn before it in the process."""
    names = sorted(PLOTS)
    style._RENDERERS.clear()
    cold = {name: PLOTS[name][0](*PLOTS[name][1], "png") for name in names}
    for name in reversed(names):
        style._RENDERERS.clear()
        assert PLOTS[name][0](*PLOTS[name][1], "png") == cold[name], name
    warm = {name: PLOTS[name][0](*PLOTS[name][1], "png") for name in reversed(names)}
    assert warm == cold


@pytest.mark.parametrize("enabled", [True, False])
def test_render_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    """The collector is paused while a figure is drawn, then left as the caller had it."""
    seen: list[bool] = []

    def draw(fig: Figure, ax: Any) -> None:
        seen.append(gc.isenabled())
        ax.plot([0, 1], [0, 1])

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        style.render(draw, "png")
        assert seen == [False]
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
