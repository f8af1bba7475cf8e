"""Classification plots: confusion matrix, ROC, PR, calibration, confidence histogram."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray
from sklearn.metrics import precision_recall_curve, roc_curve

from evalharness.plots.style import render

MAX_CURVE_POINTS = 2000
#: each plot's title and what it shows, for captions and alt text (by file stem)
PLOTS = {
    "calibration": (
        "Calibration",
        "predicted probability against how often the class really occurred; "
        "the diagonal is perfect",
    ),
    "confidence_histogram": (
        "Confidence",
        "how sure the model was, for right and wrong predictions",
    ),
    "confusion_matrix": (
        "Confusion matrix",
        "true class (rows) against predicted class (columns)",
    ),
    "pr_curve": ("Precision–recall curve", "precision against recall over every threshold"),
    "roc_curve": (
        "ROC curve",
        "true-positive rate against false-positive rate over every threshold",
    ),
}


def _thin(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[Any], NDArray[Any]]:
    # Evenly spaced points keep the drawn curve identical to the eye at any n.
    if x.size <= MAX_CURVE_POINTS:
        return x, y
    idx = np.unique(np.linspace(0, x.size - 1, MAX_CURVE_POINTS).round().astype(int))
    return x[idx], y[idx]


#: classes up to which each cell of the confusion matrix is labelled with its count
MAX_ANNOTATED_CLASSES = 20


def confusion_matrix_plot(matrix: NDArray[np.int64], labels: list[str], fmt: str) -> bytes:
    """Heatmap of counts, truth on rows."""

    def draw(fig: Figure, ax: Axes) -> None:
        im = ax.imshow(matrix, cmap="Blues")
        fig.colorbar(im, ax=ax)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.grid(False)
        if len(labels) > MAX_ANNOTATED_CLASSES:
            # Thousands of counts would overprint each other (and take seconds to draw):
            # the colours carry the matrix, the numbers are in metrics.json.
            ax.tick_params(labelsize=max(3, 9 - len(labels) // 20))
            ax.set_title("Confusion matrix")
            return
        top = matrix.max() if matrix.size else 0
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(
                j,
                i,
                str(int(v)),
                ha="center",
                va="center",
                color="white" if v > top / 2 else "black",
            )
        ax.set_title("Confusion matrix")

    # Rotated class names and the colorbar overflow the fixed margins (the x label was cut).
    return render(draw, fmt, fit=True)


def roc_plot(y: NDArray[np.intp], score: NDArray[np.float64], auc: float | None, fmt: str) -> bytes:
    """ROC curve of the positive class."""
    fpr, tpr, _ = roc_curve(y, score)
    fpr, tpr = _thin(fpr, tpr)

    def draw(fig: Figure, ax: Axes) -> None:
        label = "ROC" if auc is None else f"ROC (AUC {auc:.3f})"
        ax.plot(fpr, tpr, label=label)
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(loc="lower right")
        ax.set_title("ROC curve")

    return render(draw, fmt)


def pr_plot(y: NDArray[np.intp], score: NDArray[np.float64], ap: float | None, fmt: str) -> bytes:
    """Precision-recall curve of the positive class."""
    precision, recall, _ = precision_recall_curve(y, score)
    recall, precision = _thin(recall, precision)

    def draw(fig: Figure, ax: Axes) -> None:
        label = "PR" if ap is None else f"PR (AP {ap:.3f})"
        ax.plot(recall, precision, label=label, drawstyle="steps-post")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_ylim(0, 1.05)
        ax.legend(loc="lower left")
        ax.set_title("Precision-recall curve")

    return render(draw, fmt)


def calibration_plot(
    correct: NDArray[np.bool_], confidence: NDArray[np.float64], fmt: str
) -> bytes:
    """Reliability of the top-class confidence in 10 equal-width bins."""
    edges = np.linspace(0, 1, 11)
    b = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, 9)
    count = np.bincount(b, minlength=10)
    acc = np.bincount(b, weights=correct.astype(float), minlength=10)
    conf = np.bincount(b, weights=confidence, minlength=10)
    keep = count > 0

    def draw(fig: Figure, ax: Axes) -> None:
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
        ax.plot(conf[keep] / count[keep], acc[keep] / count[keep], marker="o", label="model")
        ax.set_xlabel("mean confidence")
        ax.set_ylabel("accuracy")
        ax.legend(loc="upper left")
        ax.set_title("Calibration (top class)")

    return render(draw, fmt)


def confidence_histogram(
    correct: NDArray[np.bool_], confidence: NDArray[np.float64], fmt: str
) -> bytes:
    """Histogram of confidence for correct and wrong predictions."""
    edges = np.linspace(0, 1, 21)
    right = np.histogram(confidence[correct], bins=edges)[0]
    wrong = np.histogram(confidence[~correct], bins=edges)[0]

    def draw(fig: Figure, ax: Axes) -> None:
        ax.stairs(right, edges, label="correct", fill=True, alpha=0.6)
        ax.stairs(wrong, edges, label="wrong", fill=True, alpha=0.6)
        ax.set_xlabel("confidence of predicted class")
        ax.set_ylabel("rows")
        ax.legend(loc="upper left")
        ax.set_title("Confidence histogram")

    return render(draw, fmt)
