"""Metric kernels equal scikit-learn within 1e-9 on random inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from evalharness.metrics.classification import choose_f1_average, classification_metrics
from evalharness.metrics.regression import regression_metrics

TOL = 1e-9
SETTINGS = settings(max_examples=40, derandomize=True, deadline=None)


def _case(seed: int, n: int, k: int, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)  # every class present at least once
    s = rng.dirichlet(np.ones(k), n)
    if ties:
        s = np.round(s, 1) + 1e-3
        s = s / s.sum(axis=1, keepdims=True)
    p = np.where(rng.random(n) < 0.3, rng.integers(0, k, n), s.argmax(axis=1))
    return y, p, s


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 120), ties=st.booleans())
def test_binary_metrics_match_sklearn(seed: int, n: int, ties: bool) -> None:
    y, p, s = _case(seed, n, 2, ties)
    ours = classification_metrics(y, p, s, classes=[0, 1])
    avg, _ = choose_f1_average(y, 2)
    assert abs(ours["accuracy"] - skm.accuracy_score(y, p)) < TOL
    assert abs(ours["balanced_accuracy"] - skm.balanced_accuracy_score(y, p)) < TOL
    assert abs(ours["f1"] - skm.f1_score(y, p, average=avg)) < TOL
    assert abs(ours["roc_auc"] - skm.roc_auc_score(y, s[:, 1])) < TOL
    assert abs(ours["pr_auc"] - skm.average_precision_score(y, s[:, 1])) < TOL
    assert abs(ours["log_loss"] - skm.log_loss(y, s, labels=[0, 1])) < TOL
    assert abs(ours["brier"] - skm.brier_score_loss(y, s[:, 1])) < TOL
    sure_and_wrong = (p != y) & (s[np.arange(len(y)), p] >= 0.8)
    assert abs(ours["confident_error"] - sure_and_wrong.mean()) < TOL


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(8, 120), k=st.integers(3, 5), ties=st.booleans())
def test_multiclass_metrics_match_sklearn(seed: int, n: int, k: int, ties: bool) -> None:
    y, p, s = _case(seed, n, k, ties)
    labels = list(range(k))
    ours = classification_metrics(y, p, s, classes=labels)
    avg, _ = choose_f1_average(y, k)
    assert abs(ours["accuracy"] - skm.accuracy_score(y, p)) < TOL
    assert abs(ours["balanced_accuracy"] - skm.balanced_accuracy_score(y, p)) < TOL
    assert abs(ours["f1"] - skm.f1_score(y, p, average=avg)) < TOL
    auc = skm.roc_auc_score(y, s, multi_class="ovr", average="macro", labels=labels)
    assert abs(ours["roc_auc"] - auc) < TOL
    assert abs(ours["log_loss"] - skm.log_loss(y, s, labels=labels)) < TOL
    assert abs(ours["brier"] - skm.brier_score_loss(y, s, labels=labels)) < TOL
    picked = s[np.arange(len(y)), np.searchsorted(labels, p)]
    assert abs(ours["confident_error"] - ((p != y) & (picked >= 0.8)).mean()) < TOL
    assert ours["pr_auc"] is None


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(2, 150), scale=st.floats(1e-3, 1e4))
def test_regression_metrics_match_sklearn(seed: int, n: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * scale + scale
    pred = y + rng.normal(size=n) * scale * 0.5
    ours = regression_metrics(y, pred)
    assert abs(ours["mae"] - skm.mean_absolute_error(y, pred)) < TOL * scale
    assert abs(ours["rmse"] - skm.root_mean_squared_error(y, pred)) < TOL * scale
    assert abs(ours["r2"] - skm.r2_score(y, pred)) < TOL
    assert abs(ours["median_ae"] - skm.median_absolute_error(y, pred)) < TOL * scale


def test_undefined_metrics_are_none() -> None:
    y = np.array([1, 1, 1])
    ours = classification_metrics(y, y, np.array([0.9, 0.8, 0.7]), classes=[0, 1])
    assert ours["roc_auc"] is None
    assert ours["accuracy"] == 1.0


def test_f1_average_choice() -> None:
    assert choose_f1_average(np.array([0, 1, 0, 1]), 2)[0] == "macro"
    avg, reason = choose_f1_average(np.array([0, 0, 0, 1]), 2)
    assert avg == "weighted" and "imbalanced" in reason


def test_constant_target_r2_matches_sklearn() -> None:
    y = np.full(5, 2.0)
    assert regression_metrics(y, y)["r2"] == skm.r2_score(y, y)
    assert regression_metrics(y, y + 1)["r2"] == skm.r2_score(y, y + 1)
