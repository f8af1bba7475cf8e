"""One paired statistic: replicates drawn in the caller's row order, paired deltas for every
metric, and the report's baseline deltas equal to ``paired_*_deltas`` number for number."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import evalharness as eh
from evalharness.bootstrap import replicate_counts
from evalharness.bootstrap import resample as RS
from evalharness.bootstrap.engine import Group, run_bootstrap
from evalharness.core.jsonio import clean_float
from evalharness.metrics import classification as MC
from modellab.compare import verdict

RUN = eh.RunInfo("run-1", "demo", "1", "abc123", "deadbeef")
TOL = 1e-9

Rows = NDArray[np.intp]


def _quick(**kw: Any) -> eh.EvalConfig:
    """A report without stress tests or slice search: the bootstrap is under test."""
    return eh.EvalConfig(run_stress=False, run_search=False, **kw)


def _split(x: Any, y: Any) -> tuple[Any, Any, Any, NDArray[Any]]:
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=0)
    return x_tr, x_te, y_tr, np.asarray(y_te)


def _fit_lr(x: Any, y: Any, **kw: Any) -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, **kw)).fit(x, y)


def _cancer() -> tuple[Any, NDArray[Any], tuple[Any, Any], tuple[Any, Any]]:
    """Test rows of breast_cancer, a good model (all features) and a two-feature one."""
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x_tr, x_te, y_tr, y_te = _split(x, y)
    good = _fit_lr(x_tr, y_tr)
    few = ["mean radius", "mean texture"]
    weak = _fit_lr(x_tr[few], y_tr)
    return (
        x_te,
        y_te,
        (good.predict(x_te), good.predict_proba(x_te)),
        (weak.predict(x_te[few]), weak.predict_proba(x_te[few])),
    )


def _shuffled(*arrays: Any, seed: int = 7) -> list[Any]:
    """The same rows in another (seeded) order: the evaluator's layout is not the caller's."""
    perm = np.random.default_rng(seed).permutation(len(arrays[0]))
    return [a.iloc[perm] if hasattr(a, "iloc") else np.asarray(a)[perm] for a in arrays]


def _percentiles(reps: list[float]) -> tuple[float, float]:
    lo, hi = np.percentile(np.asarray(reps), [2.5, 97.5])
    return float(lo), float(hi)


def _loop(
    n: int, seed: int, method: RS.Resampling, b: int, stat: Callable[[Rows], float]
) -> list[float]:
    """``stat`` of every replicate, rows drawn with ``replicate_counts`` in the caller's order."""
    out = []
    for r in range(b):
        rows = np.repeat(np.arange(n), replicate_counts(n, seed, r, method)).astype(np.intp)
        out.append(stat(rows))
    return out


def _read(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text())


# --- point 7: replicate r is replicate_counts(n, seed, r, method) on the caller's rows ------


def test_a_binary_reports_roc_auc_replicates_come_from_replicate_counts(tmp_path: Path) -> None:
    x_te, y_te, (pred, proba), _ = _cancer()
    x_te, y_te, pred, proba = _shuffled(x_te, y_te, pred, proba)
    cfg = _quick(n_bootstrap=200, seed=11)
    out = tmp_path / "eval"
    eh.evaluate_classification(
        out, x_te, y_te, pred, scores=proba, classes=[0, 1], run=RUN, config=cfg
    )
    ci = _read(out, "confidence_intervals.json")
    n, method = len(y_te), ci["resampling"]
    assert (ci["n_bootstrap"], ci["seed"], method) == (200, 11, "multinomial")

    def auc(rows: Rows) -> float:
        return float(skm.roc_auc_score(y_te[rows], proba[rows, 1]))

    # One replicate by hand: the user's rows, drawn as the documented call says.
    rows = np.repeat(np.arange(n), replicate_counts(n, 11, 0, method))
    assert auc(rows) != auc(np.arange(n))
    lo, hi = _percentiles(_loop(n, 11, method, 200, auc))
    got = ci["intervals"]["roc_auc"]
    assert abs(got["ci_low"] - lo) < TOL and abs(got["ci_high"] - hi) < TOL


def test_a_regression_reports_replicates_come_from_replicate_counts(tmp_path: Path) -> None:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x_tr, x_te, y_tr, y_te = _split(x, y)
    pred = make_pipeline(StandardScaler(), Ridge()).fit(x_tr, y_tr).predict(x_te)
    cfg = _quick(n_bootstrap=200, seed=4)
    out = tmp_path / "eval"
    eh.evaluate_regression(out, x_te, y_te, pred, run=RUN, config=cfg)
    ci = _read(out, "confidence_intervals.json")
    n, method = len(y_te), ci["resampling"]

    def mae(rows: Rows) -> float:
        return float(skm.mean_absolute_error(y_te[rows], pred[rows]))

    def rmse(rows: Rows) -> float:
        return float(skm.root_mean_squared_error(y_te[rows], pred[rows]))

    for name, stat in (("mae", mae), ("rmse", rmse)):
        lo, hi = _percentiles(_loop(n, 4, method, 200, stat))
        got = ci["intervals"][name]
        assert abs(got["ci_low"] - lo) < TOL and abs(got["ci_high"] - hi) < TOL, name


@pytest.mark.parametrize("method", ["multinomial", "poisson"])
def test_a_layout_permutes_counts_and_never_changes_them(
    method: RS.Resampling, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    n, b = 300, 40
    y = rng.integers(0, 2, n)
    s = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1).round(2)
    p = (s > 0.5).astype(int)
    order = np.lexsort((s, y))  # the classification evaluator's layout
    arrays, _, _ = MC.prepare(y[order], p[order], s[order], [0, 1], f1_average="macro")
    groups = {"overall": Group(arrays, None)}
    names = ["accuracy", "roc_auc"]
    res = run_bootstrap(n, groups, names, b, 8, method, order=order)
    for r in range(b):
        rows = np.repeat(np.arange(n), replicate_counts(n, 8, r, method))
        ref = skm.roc_auc_score(y[rows], s[rows])
        assert abs(res.replicates["overall"]["roc_auc"][r] - ref) < TOL
    # Chunking and threads change nothing: tiny chunks, two threads.
    monkeypatch.setattr(RS, "_CHUNK_ELEMENTS", 3 * n)
    again = run_bootstrap(n, groups, names, b, 8, method, n_jobs=2, order=order)
    for m in names:
        assert np.array_equal(res.replicates["overall"][m], again.replicates["overall"][m])
    # The permuted chunks are the documented counts, column j holding caller row order[j].
    chunks = np.vstack([c.copy() for c in RS.weight_chunks(n, 7, 8, method, order)])
    counts = np.vstack([replicate_counts(n, 8, r, method) for r in range(7)])
    assert np.array_equal(chunks, counts[:, order])
    with pytest.raises(ValueError, match="permutation"):
        run_bootstrap(n, groups, names, b, 8, method, order=np.zeros(n, dtype=np.intp))


# --- point 3: paired deltas for every metric, one implementation -------------------------


def _binary_stats(
    y: NDArray[Any], pred: NDArray[Any], proba: NDArray[Any], f1_average: str
) -> dict[str, Callable[[Rows], float]]:
    return {
        "accuracy": lambda r: skm.accuracy_score(y[r], pred[r]),
        "balanced_accuracy": lambda r: skm.balanced_accuracy_score(y[r], pred[r]),
        "f1": lambda r: skm.f1_score(y[r], pred[r], average=f1_average),
        "roc_auc": lambda r: skm.roc_auc_score(y[r], proba[r, 1]),
        "pr_auc": lambda r: skm.average_precision_score(y[r], proba[r, 1]),
        "log_loss": lambda r: skm.log_loss(y[r], proba[r], labels=[0, 1]),
        "brier": lambda r: skm.brier_score_loss(y[r], proba[r, 1]),
        "confident_error": lambda r: _confident_error(y[r], pred[r], proba[r]),
    }


def _confident_error(y: NDArray[Any], pred: NDArray[Any], proba: NDArray[Any]) -> float:
    """Share of rows predicted wrong with the predicted class's probability >= 0.8."""
    sure = proba[np.arange(len(pred)), pred.astype(int)] >= 0.8
    return float(((pred != y) & sure).mean())


def _check_against_loop(
    got: eh.PairedDeltas,
    stats_a: dict[str, Callable[[Rows], float]],
    stats_b: dict[str, Callable[[Rows], float]],
) -> None:
    assert set(got.deltas) == set(stats_a)
    n = got.n
    every = np.arange(n, dtype=np.intp)
    for name in stats_a:
        sa, sb = stats_a[name], stats_b[name]

        def diff(
            r: Rows, sa: Callable[[Rows], float] = sa, sb: Callable[[Rows], float] = sb
        ) -> float:
            return float(sb(r)) - float(sa(r))

        lo, hi = _percentiles(_loop(n, got.seed, got.method, got.n_bootstrap, diff))
        iv = got.deltas[name]
        point = diff(every)
        assert iv.estimate is not None and iv.ci_low is not None and iv.ci_high is not None
        assert abs(iv.estimate - point) < TOL, name
        assert abs(iv.ci_low - lo) < TOL and abs(iv.ci_high - hi) < TOL, name
        assert iv.n_valid == got.n_bootstrap


def test_binary_paired_deltas_equal_an_independent_loop() -> None:
    _, y, (good_p, good_s), (weak_p, weak_s) = _cancer()
    cfg = eh.EvalConfig(n_bootstrap=150, seed=2)
    got = eh.paired_classification_deltas(
        y, good_p, weak_p, a_scores=good_s, b_scores=weak_s, classes=[0, 1], config=cfg
    )
    assert (got.n_bootstrap, got.seed, got.method, got.n) == (150, 2, "multinomial", len(y))
    avg, _ = MC.choose_f1_average(y, 2)
    _check_against_loop(
        got, _binary_stats(y, good_p, good_s, avg), _binary_stats(y, weak_p, weak_s, avg)
    )


def test_multiclass_paired_deltas_equal_an_independent_loop() -> None:
    x, y = load_wine(return_X_y=True, as_frame=True)
    x_tr, x_te, y_tr, y_te = _split(x, y)
    a, b = _fit_lr(x_tr, y_tr), _fit_lr(x_tr.iloc[:, :4], y_tr, C=0.05)
    pa, sa = a.predict(x_te), a.predict_proba(x_te)
    pb, sb = b.predict(x_te.iloc[:, :4]), b.predict_proba(x_te.iloc[:, :4])
    got = eh.paired_classification_deltas(
        y_te,
        pa,
        pb,
        a_scores=sa,
        b_scores=sb,
        classes=[0, 1, 2],
        config=eh.EvalConfig(n_bootstrap=100, seed=5),
    )
    avg, _ = MC.choose_f1_average(y_te, 3)

    def stats(pred: NDArray[Any], proba: NDArray[Any]) -> dict[str, Callable[[Rows], float]]:
        def brier(r: Rows) -> float:
            onehot = np.eye(3)[y_te[r]]
            return float(((onehot - proba[r]) ** 2).sum(axis=1).mean())

        return {
            "accuracy": lambda r: skm.accuracy_score(y_te[r], pred[r]),
            "balanced_accuracy": lambda r: skm.balanced_accuracy_score(y_te[r], pred[r]),
            "f1": lambda r: skm.f1_score(y_te[r], pred[r], average=avg),
            "roc_auc": lambda r: skm.roc_auc_score(
                y_te[r], proba[r], multi_class="ovr", labels=[0, 1, 2]
            ),
            "log_loss": lambda r: skm.log_loss(y_te[r], proba[r], labels=[0, 1, 2]),
            "brier": brier,
            "confident_error": lambda r: _confident_error(y_te[r], pred[r], proba[r]),
        }

    # PR-AUC is binary only: defined for neither model, so it has no delta.
    assert got.a["pr_auc"] is None and "pr_auc" not in got.deltas
    _check_against_loop(got, stats(pa, sa), stats(pb, sb))


def test_regression_paired_deltas_equal_an_independent_loop() -> None:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x_tr, x_te, y_tr, y_te = _split(x, y)
    pa = LinearRegression().fit(x_tr.iloc[:, :2], y_tr).predict(x_te.iloc[:, :2])
    pb = make_pipeline(StandardScaler(), Ridge()).fit(x_tr, y_tr).predict(x_te)
    got = eh.paired_regression_deltas(y_te, pa, pb, config=eh.EvalConfig(n_bootstrap=120, seed=9))

    def stats(pred: NDArray[Any]) -> dict[str, Callable[[Rows], float]]:
        return {
            "mae": lambda r: skm.mean_absolute_error(y_te[r], pred[r]),
            "rmse": lambda r: skm.root_mean_squared_error(y_te[r], pred[r]),
            "r2": lambda r: skm.r2_score(y_te[r], pred[r]),
            "median_ae": lambda r: skm.median_absolute_error(y_te[r], pred[r]),
        }

    _check_against_loop(got, stats(pa), stats(pb))


def _as_file(iv: Any) -> dict[str, float | None]:
    return {
        "value": clean_float(iv.estimate),
        "ci_low": clean_float(iv.ci_low),
        "ci_high": clean_float(iv.ci_high),
    }


@pytest.mark.parametrize("scored", [True, False], ids=["with-scores", "labels-only"])
def test_report_deltas_are_the_paired_function_number_for_number(
    tmp_path: Path, scored: bool
) -> None:
    x_te, y_te, (good_p, good_s), (weak_p, weak_s) = _cancer()
    # The evaluator lays binary rows out by score: the caller's order must not matter.
    x_te, y_te, good_p, good_s, weak_p, weak_s = _shuffled(
        x_te, y_te, good_p, good_s, weak_p, weak_s
    )
    cfg = _quick(n_bootstrap=120, seed=6)
    out = tmp_path / "eval"
    eh.evaluate_classification(
        out,
        x_te,
        y_te,
        good_p,
        scores=good_s if scored else None,
        classes=[0, 1],
        run=RUN,
        baseline=eh.BaselineResult("weak", y_pred=weak_p, scores=weak_s if scored else None),
        config=cfg,
    )
    deltas = _read(out, "metrics.json")["deltas"]
    got = eh.paired_classification_deltas(
        y_te,
        weak_p,
        good_p,
        a_scores=weak_s if scored else None,
        b_scores=good_s if scored else None,
        classes=[0, 1],
        config=cfg,
    )
    expected = {"accuracy", "balanced_accuracy", "f1"}
    if scored:
        expected |= {"roc_auc", "pr_auc", "log_loss", "brier", "confident_error"}
    assert set(deltas) == set(got.deltas) == expected
    for name, iv in got.deltas.items():
        assert deltas[name] == _as_file(iv), name
    summary = _read(out, "eval_summary.json")["baseline"]["deltas"]
    assert all(summary[m] == deltas[m] for m in summary)


def test_regression_report_deltas_are_the_paired_function_number_for_number(
    tmp_path: Path,
) -> None:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x_tr, x_te, y_tr, y_te = _split(x, y)
    pb = make_pipeline(StandardScaler(), Ridge()).fit(x_tr, y_tr).predict(x_te)
    pa = np.full(len(y_te), float(y_tr.mean()))
    cfg = _quick(n_bootstrap=120, seed=1)
    out = tmp_path / "eval"
    eh.evaluate_regression(
        out, x_te, y_te, pb, run=RUN, baseline=eh.BaselineResult("mean", y_pred=pa), config=cfg
    )
    deltas = _read(out, "metrics.json")["deltas"]
    got = eh.paired_regression_deltas(y_te, pa, pb, config=cfg)
    assert set(deltas) == set(got.deltas) == {"mae", "rmse", "r2", "median_ae"}
    for name, iv in got.deltas.items():
        assert deltas[name] == _as_file(iv), name
    assert eh.validate_folder(out) == []


def test_an_auc_drop_the_overlap_heuristic_called_noise_is_judged_paired(tmp_path: Path) -> None:
    """A good model (A) against a two-feature one (B) on breast_cancer: their ROC-AUC CIs
    overlap, so the old heuristic said "within noise"; the paired CI says B is worse."""
    x_te, y_te, (good_p, good_s), (weak_p, weak_s) = _cancer()
    cfg = _quick()
    runs = {}
    for name, (pred, proba), base in (
        ("a", (good_p, good_s), None),
        ("b", (weak_p, weak_s), eh.BaselineResult("good", y_pred=good_p, scores=good_s)),
    ):
        out = tmp_path / name
        eh.evaluate_classification(
            out, x_te, y_te, pred, scores=proba, classes=[0, 1], run=RUN, baseline=base, config=cfg
        )
        runs[name] = _read(out, "confidence_intervals.json")["intervals"]["roc_auc"]
    a, b = runs["a"], runs["b"]
    overlap = a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"]
    delta = b["estimate"] - a["estimate"]
    assert overlap and delta < 0
    assert verdict(delta, True, None, overlap) == "within noise"  # what compare used to say

    got = eh.paired_classification_deltas(
        y_te, good_p, weak_p, a_scores=good_s, b_scores=weak_s, classes=[0, 1], config=cfg
    )
    iv = got.deltas["roc_auc"]
    assert iv.estimate is not None and iv.ci_low is not None and iv.ci_high is not None
    assert iv.ci_high < 0
    paired = {"delta": iv.estimate, "ci_low": iv.ci_low, "ci_high": iv.ci_high}
    assert verdict(delta, True, paired, overlap) == "worse"
    # B's own report says the same about its baseline.
    report = _read(tmp_path / "b", "metrics.json")["deltas"]["roc_auc"]
    assert report == _as_file(iv)
