"""Classification metrics as weighted kernels.

Every metric is computed from a ``(b, n)`` matrix of row weights: the point estimate uses one
row of ones, a bootstrap chunk uses resampling counts. One code path for both keeps the
confidence intervals consistent with the reported numbers; a weighted row counts exactly like
that many copies of the row, so results equal scikit-learn on the expanded resample.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from evalharness.metrics.sums import weighted_sums

Array = NDArray[np.float64]

CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "confident_error",
)
#: the metrics that are weighted means of a per-row value computed from the scores
LOSS_METRICS = ("log_loss", "brier", "confident_error")
#: the confidence from which a wrong prediction counts as a confident error (and a right
#: one as sure, never a "low-confidence" failure example)
CONFIDENT = 0.8
HIGHER_IS_BETTER = {
    "accuracy": True,
    "balanced_accuracy": True,
    "f1": True,
    "roc_auc": True,
    "pr_auc": True,
    "log_loss": False,
    "brier": False,
    "confident_error": False,
}
#: what each metric measures, in a line (pages show it next to the metric's name)
DESCRIPTIONS = {
    "accuracy": "share of test rows predicted right",
    "balanced_accuracy": "accuracy averaged over classes, so rare classes count",
    "f1": "balance of precision and recall",
    "roc_auc": "how well scores rank positives above negatives (0.5 is chance)",
    "pr_auc": "area under the precision–recall curve",
    "log_loss": "penalty for confident wrong probabilities",
    "brier": "squared error of the predicted probabilities",
    "confident_error": "share of rows predicted wrong with at least 80% confidence",
}
# Classes count as balanced when the largest is at most this many times the smallest.
BALANCE_RATIO = 1.5


Index = NDArray[np.intp] | slice
_FAST_METRICS = {"accuracy", "balanced_accuracy", "f1", "roc_auc"}


@dataclass(frozen=True)
class _RankData:
    """One binary ranking problem, as negatives and positives each sorted by score.

    ``lo[i]``/``hi[i]``: how many negatives score below / at most the i-th positive, so a
    positive's rank credit is the weight of the first ``lo[i]`` negatives plus half of the
    tied ones. When the rows are laid out as (negatives by score, positives by score) the
    index sets are plain slices and no gather is needed at all.
    """

    neg: Index
    pos: Index
    lo: NDArray[np.intp]
    hi: NDArray[np.intp] | None  # None when no positive ties a negative
    pos_groups: NDArray[np.intp] | None  # starts of runs of tied positives; None if none


def _rank_data(score: NDArray[np.float64], positive: NDArray[np.bool_]) -> _RankData:
    neg_rows = np.flatnonzero(~positive)
    pos_rows = np.flatnonzero(positive)
    neg_sorted = neg_rows[np.argsort(score[neg_rows], kind="stable")]
    pos_sorted = pos_rows[np.argsort(score[pos_rows], kind="stable")]
    n_neg = neg_sorted.size
    neg: Index = neg_sorted
    pos: Index = pos_sorted
    if np.array_equal(neg_sorted, np.arange(n_neg)) and np.array_equal(
        pos_sorted, np.arange(n_neg, score.size)
    ):
        neg, pos = slice(0, n_neg), slice(n_neg, score.size)
    neg_scores, pos_scores = score[neg_sorted], score[pos_sorted]
    lo = np.searchsorted(neg_scores, pos_scores, side="left").astype(np.intp)
    hi = np.searchsorted(neg_scores, pos_scores, side="right").astype(np.intp)
    starts = np.flatnonzero(np.r_[True, pos_scores[1:] != pos_scores[:-1]]).astype(np.intp)
    return _RankData(
        neg=neg,
        pos=pos,
        lo=lo,
        hi=None if np.array_equal(lo, hi) else hi,
        pos_groups=None if starts.size == pos_scores.size else starts,
    )


_SCRATCH = threading.local()


def _buffer(shape: tuple[int, int], dtype: type[np.generic]) -> NDArray[Any]:
    # Reused per thread: a fresh multi-megabyte array costs a page fault per 4 KiB.
    cache: dict[tuple[Any, ...], NDArray[Any]] = getattr(_SCRATCH, "cache", None) or {}
    _SCRATCH.cache = cache
    key = (*shape, np.dtype(dtype).str)
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        cache[key] = np.empty(shape, dtype=dtype)
    return cache[key]


def _monotone(p: NDArray[np.intp], rank: _RankData) -> tuple[int, int] | None:
    """(negatives predicted 0, positives predicted 0) when, in the (negatives by score,
    positives by score) layout, predictions never go from 1 back to 0 within a block."""
    if not (isinstance(rank.neg, slice) and isinstance(rank.pos, slice)):
        return None
    pn, pp = p[rank.neg], p[rank.pos]
    if np.any(pn[1:] < pn[:-1]) or np.any(pp[1:] < pp[:-1]):
        return None
    return int((pn == 0).sum()), int((pp == 0).sum())


def _cum_neg(w: Array, rank: _RankData) -> Array:
    """Cumulative negative weight, with a leading zero column: ``c[:, k]`` = first k.

    The result lives in a per-thread scratch buffer, valid until the next call.
    """
    wn = w[:, rank.neg]
    # Integer counts accumulate exactly, and four times faster, in int32.
    dtype = np.int32 if w.dtype == np.uint8 and w.shape[1] < 2**26 else np.float64
    c = _buffer((w.shape[0], wn.shape[1] + 1), dtype)
    c[:, 0] = 0
    np.cumsum(wn, axis=1, out=c[:, 1:])
    return c


def _rowdot(a: NDArray[Any], b: NDArray[Any]) -> Array:
    # einsum casts in small buffers, so no full-size temporaries; integer inputs stay exact
    # in int64 (255 * 2**31 * 2**26 < 2**63).
    integer = a.dtype.kind in "ui" and b.dtype.kind in "ui"
    dtype = np.int64 if integer else np.float64
    out = np.einsum("bi,bi->b", a, b, dtype=dtype, casting="unsafe")
    return np.asarray(out, dtype=np.float64)


def _roc_auc(w: Array, rank: _RankData) -> Array:
    return _roc_auc_from(w[:, rank.pos], _cum_neg(w, rank), rank)


def _roc_auc_from(wp: NDArray[Any], c: NDArray[Any], rank: _RankData) -> Array:
    if wp.shape[1] == 0 or c.shape[1] == 1:
        return np.full(wp.shape[0], np.nan)  # one class only: undefined, skip the work
    below = np.take(c, rank.lo, axis=1)
    if rank.hi is not None:
        # Ties count half: average the credit below and at-or-below.
        below = (below + np.take(c, rank.hi, axis=1)).astype(np.float64) * 0.5
    num = _rowdot(wp, below)
    n_pos = wp.sum(axis=1, dtype=np.float64)
    n_neg = c[:, -1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Array = num / (n_pos * n_neg)
    out[(n_pos == 0) | (n_neg == 0)] = np.nan
    return out


def _average_precision(w: Array, rank: _RankData) -> Array:
    wp = w[:, rank.pos].astype(np.float64)
    c = _cum_neg(w, rank).astype(np.float64)
    n_pos = wp.sum(axis=1)
    n_neg = c[:, -1].copy()
    lo = rank.lo
    if rank.pos_groups is not None:
        wp = np.add.reduceat(wp, rank.pos_groups, axis=1)
        lo = lo[rank.pos_groups]
    # Each distinct positive score is a threshold: everything scoring at least that counts.
    before = np.cumsum(wp, axis=1) - wp
    tp = n_pos[:, None] - before
    fp = n_neg[:, None] - c[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(wp > 0, tp / np.maximum(tp + fp, 1e-300), 0.0)
        out: Array = (wp * precision).sum(axis=1) / n_pos
    out[n_pos == 0] = np.nan
    return out


@dataclass(frozen=True)
class ClassificationArrays:
    """Encoded predictions ready for weighted metric kernels.

    ``y`` and ``p`` are class codes ``0..K-1`` into ``classes``; ``scores`` is ``(n, K)``
    probabilities in the same class order, or None.
    """

    y: NDArray[np.intp]
    p: NDArray[np.intp]
    scores: Array | None
    n_classes: int
    f1_average: str
    #: (n, K*K), sparse: 1 in each row's (true, predicted) cell; integer sums are exact in
    #: any order, and a dense one would be n x K^2 (146 MB for 77 classes on 3,080 rows)
    cell_matrix: sparse.csr_matrix
    #: (len(loss_names), n): per-row log loss, Brier score and confident error, when there
    #: are scores
    loss_matrix: Array
    correct: NDArray[np.uint8]
    monotone: tuple[int, int] | None
    loss_names: tuple[str, ...]
    ranks: tuple[_RankData, ...]

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.y.size)

    def subset(
        self, positions: NDArray[np.intp], names: Sequence[str] | None = None
    ) -> ClassificationArrays:
        """The same problem restricted to ``positions`` (row order kept).

        With ``names == ["accuracy"]`` (slices ranked by accuracy) the subset leaves the
        scores out: accuracy needs only the hits, and a slice then costs no ranking data
        or loss columns (at 1M rows the slices' copies of those were about 200 MB).
        """
        accuracy_only = names is not None and list(names) == ["accuracy"]
        return build_arrays(
            self.y[positions],
            self.p[positions],
            None if self.scores is None or accuracy_only else self.scores[positions],
            self.n_classes,
            self.f1_average,
        )

    def row_values(self, names: Sequence[str]) -> Array | None:
        """Accuracy is the weighted mean of per-row hits; other metrics are not means."""
        if list(names) == ["accuracy"]:
            return self.correct.astype(np.float64)
        return None

    def compute(self, w: NDArray[Any], names: Sequence[str]) -> dict[str, Array]:
        """Every metric in ``names`` for each weight row of ``w`` (shape ``(b, n)``)."""
        k = self.n_classes
        if list(names) == ["accuracy"]:
            # Slices ranked by accuracy need only one exact integer dot per replicate.
            hits = np.einsum("bi,i->b", w, self.correct, dtype=np.int64, casting="unsafe")
            total = w.sum(axis=1, dtype=np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                return {"accuracy": np.asarray(hits, dtype=np.float64) / total}
        fast = self._binary_fast(w, names)
        if fast is not None:
            return fast
        # Loss columns only when asked for: the product is the main pass over the weights.
        needs_loss = any(m in LOSS_METRICS for m in names)
        conf = np.asarray((self.cell_matrix.T @ np.asarray(w, dtype=np.float64).T).T)
        conf = conf.reshape(-1, k, k)
        losses = weighted_sums(w, self.loss_matrix) if needs_loss else None
        return self._finish(w, names, conf, losses)

    def _binary_fast(self, w: Array, names: Sequence[str]) -> dict[str, Array] | None:
        """Binary rows laid out as (negatives, positives) by score, with predictions monotone
        in score: the confusion matrix falls out of the ROC cumulative sums for free."""
        if self.monotone is None or not self.ranks or set(names) - _FAST_METRICS:
            return None
        rank = self.ranks[0]
        k0, k1 = self.monotone
        c = _cum_neg(w, rank)
        wp = w[:, rank.pos]
        tn = c[:, k0].astype(np.float64)
        fp = c[:, -1].astype(np.float64) - tn
        fn = wp[:, :k1].sum(axis=1, dtype=np.float64)
        tp = wp[:, k1:].sum(axis=1, dtype=np.float64)
        conf = np.stack([np.stack([tn, fp], axis=1), np.stack([fn, tp], axis=1)], axis=1)
        out = self._finish(w, [m for m in names if m != "roc_auc"], conf, None)
        if "roc_auc" in names:
            out["roc_auc"] = _roc_auc_from(wp, c, rank)
        return {m: out[m] for m in names}

    def _finish(
        self, w: Array, names: Sequence[str], conf: Array, losses: Array | None
    ) -> dict[str, Array]:
        k = self.n_classes
        total = conf.sum(axis=(1, 2))
        tp = np.diagonal(conf, axis1=1, axis2=2)
        true_count = conf.sum(axis=2)
        pred_count = conf.sum(axis=1)
        out: dict[str, Array] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for name in names:
                if name == "accuracy":
                    out[name] = tp.sum(axis=1) / total
                elif name == "balanced_accuracy":
                    recall = np.where(true_count > 0, tp / np.maximum(true_count, 1e-300), np.nan)
                    out[name] = _nanmean(recall)
                elif name == "f1":
                    present = (true_count + pred_count) > 0
                    denom = true_count + pred_count
                    f1 = np.where(present, 2 * tp / np.maximum(denom, 1e-300), 0.0)
                    if self.f1_average == "macro":
                        out[name] = f1.sum(axis=1) / present.sum(axis=1)
                    else:
                        out[name] = (f1 * true_count).sum(axis=1) / true_count.sum(axis=1)
                elif name == "roc_auc":
                    out[name] = self._roc_auc(w, true_count)
                elif name == "pr_auc":
                    out[name] = (
                        _average_precision(w, self.ranks[0])
                        if self.ranks and k == 2
                        else np.full(w.shape[0], np.nan)
                    )
                elif name in LOSS_METRICS:
                    if losses is not None and name in self.loss_names:
                        out[name] = losses[:, self.loss_names.index(name)] / total
                    else:
                        out[name] = np.full(w.shape[0], np.nan)
                else:
                    raise ValueError(f"unknown classification metric {name!r}")
        return out

    def _roc_auc(self, w: Array, true_count: Array) -> Array:
        if not self.ranks:
            return np.full(w.shape[0], np.nan)
        if self.n_classes == 2:
            return _roc_auc(w, self.ranks[0])
        per_class = np.stack([_roc_auc(w, r) for r in self.ranks], axis=1)
        # One-vs-rest macro is defined only when every class has both outcomes.
        return np.where(np.isnan(per_class).any(axis=1), np.nan, per_class.mean(axis=1))

    def confusion(self) -> NDArray[np.int64]:
        """Unweighted confusion matrix, rows = truth, columns = prediction."""
        cells = np.bincount(self.y * self.n_classes + self.p, minlength=self.n_classes**2)
        return cells.reshape(self.n_classes, self.n_classes).astype(np.int64)


def _nanmean(x: Array) -> Array:
    valid = ~np.isnan(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Array = np.where(valid, x, 0.0).sum(axis=1) / valid.sum(axis=1)
    return out


def choose_f1_average(y: NDArray[np.intp], n_classes: int) -> tuple[str, str]:
    """Macro F1 when classes are balanced, weighted otherwise; returns (average, reason)."""
    counts = np.bincount(y, minlength=n_classes)
    present = counts[counts > 0]
    ratio = float(present.max() / present.min()) if present.size else 1.0
    if ratio <= BALANCE_RATIO:
        return "macro", (
            f"classes are balanced (largest/smallest class = {ratio:.3g} <= {BALANCE_RATIO}), "
            "so every class counts equally"
        )
    return "weighted", (
        f"classes are imbalanced (largest/smallest class = {ratio:.3g} > {BALANCE_RATIO}), "
        "so each class's F1 is weighted by its support"
    )


def build_arrays(
    y: NDArray[np.intp],
    p: NDArray[np.intp],
    scores: Array | None,
    n_classes: int,
    f1_average: str,
) -> ClassificationArrays:
    """Precompute the cell and loss matrices and ranking data of a coded problem."""
    k = n_classes
    n = y.size
    cells = sparse.csr_matrix(
        (np.ones(n, dtype=np.float64), (np.arange(n), y * k + p)), shape=(n, k * k)
    )
    losses: list[Array] = []
    ranks: list[_RankData] = []
    if scores is not None:
        eps = np.finfo(np.float64).eps
        true_prob = scores[np.arange(n), y]
        losses.append(-np.log(np.clip(true_prob, eps, 1 - eps)))
        onehot = np.zeros((n, k), dtype=np.float64)
        onehot[np.arange(n), y] = 1.0
        losses.append(((onehot - scores) ** 2).sum(axis=1) * (0.5 if k < 3 else 1.0))
        # Wrong although the predicted class's probability is at least CONFIDENT: a mean
        # over rows like the losses, so it resamples and slices the same way.
        sure = scores[np.arange(n), p] >= CONFIDENT
        losses.append(((y != p) & sure).astype(np.float64))
        if k == 2:
            ranks.append(_rank_data(scores[:, 1], y == 1))
        else:
            ranks.extend(_rank_data(scores[:, c], y == c) for c in range(k))
    return ClassificationArrays(
        y=y,
        p=p,
        scores=scores,
        n_classes=k,
        f1_average=f1_average,
        cell_matrix=cells,
        loss_matrix=np.vstack(losses) if losses else np.zeros((0, n)),
        correct=(y == p).astype(np.uint8),
        monotone=_monotone(p, ranks[0]) if k == 2 and ranks else None,
        loss_names=LOSS_METRICS if losses else (),
        ranks=tuple(ranks),
    )


def encode(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    scores: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.intp], Array | None, list[Any]]:
    """Map labels to codes ``0..K-1`` in ``classes`` order (sorted labels when not given)."""
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    if yt.shape != yp.shape or yt.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D of equal length, got {yt.shape} {yp.shape}"
        )
    labels = list(classes) if classes is not None else sorted(set(yt.tolist()) | set(yp.tolist()))
    lookup = {label: i for i, label in enumerate(labels)}
    try:
        y = np.fromiter((lookup[v] for v in yt.tolist()), dtype=np.intp, count=yt.size)
        p = np.fromiter((lookup[v] for v in yp.tolist()), dtype=np.intp, count=yp.size)
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not in classes {labels!r}") from None
    sc: Array | None = None
    if scores is not None:
        sc = np.asarray(scores, dtype=np.float64)
        if sc.ndim == 1:
            sc = np.column_stack([1.0 - sc, sc])
        if sc.shape != (yt.size, len(labels)):
            raise ValueError(
                f"scores must have shape (n, {len(labels)}) in classes order, got {sc.shape}"
            )
        if np.any(sc < 0) or np.any(sc > 1) or not np.all(np.isfinite(sc)):
            raise ValueError("scores must be probabilities in [0, 1]")
    return y, p, sc, labels


def prepare(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    scores: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    f1_average: str | None = None,
) -> tuple[ClassificationArrays, list[Any], str]:
    """Encode and precompute; returns (arrays, class labels, reason for the F1 average)."""
    y, p, sc, labels = encode(y_true, y_pred, scores, classes)
    avg, reason = choose_f1_average(y, len(labels))
    if f1_average is not None:
        avg, reason = f1_average, "set by the caller"
    return build_arrays(y, p, sc, len(labels), avg), labels, reason


def classification_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    scores: ArrayLike | None = None,
    classes: Sequence[Any] | None = None,
    f1_average: str | None = None,
) -> dict[str, float | None]:
    """Point estimates of every classification metric (None where undefined)."""
    arrays, _, _ = prepare(y_true, y_pred, scores, classes, f1_average)
    values = arrays.compute(np.ones((1, arrays.n)), CLASSIFICATION_METRICS)
    return {k: (None if np.isnan(v[0]) else float(v[0])) for k, v in values.items()}
