"""Shared fixtures: small real datasets evaluated once per session with few replicates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import evalharness as eh

FAST = eh.EvalConfig(n_bootstrap=60, stress_n_bootstrap=20, seed=3)
RUN = eh.RunInfo(
    run_id="run-1",
    dataset_name="demo",
    dataset_version="1",
    dataset_checksum="abc123",
    commit="deadbeef",
    split_checksum="split-1",
    seed=0,
)


@dataclass(frozen=True)
class Split:
    """A fitted model and its train/test data."""

    model: Pipeline
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: pd.Series[Any]
    y_test: pd.Series[Any]


def _split(x: pd.DataFrame, y: pd.Series[Any], est: Any) -> Split:
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=0)
    model = make_pipeline(StandardScaler(), est).fit(x_tr, y_tr)
    return Split(model, x_tr, x_te, y_tr, y_te)


@pytest.fixture(scope="session")
def cancer() -> Split:
    """Binary classification on the breast cancer data."""
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return _split(x, y, LogisticRegression(max_iter=2000))


@pytest.fixture(scope="session")
def wine() -> Split:
    """Multiclass classification on the wine data."""
    x, y = load_wine(return_X_y=True, as_frame=True)
    return _split(x, y, LogisticRegression(max_iter=2000))


@pytest.fixture(scope="session")
def diabetes() -> Split:
    """Regression on the diabetes data."""
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    return _split(x, y, Ridge())


def classify(s: Split, out: Path, *, baseline: bool = True, config: eh.EvalConfig = FAST) -> Any:
    """Run the classification evaluator with the full set of optional inputs."""
    model = s.model
    classes = sorted(s.y_train.unique().tolist())
    prior = s.y_train.value_counts(normalize=True).reindex(classes).to_numpy()
    top = classes[int(np.argmax(prior))]

    def predict(frame: pd.DataFrame) -> tuple[Any, Any]:
        f = frame.fillna(0.0)
        return model.predict(f), model.predict_proba(f)

    def base_predict(frame: pd.DataFrame) -> tuple[Any, Any]:
        return np.full(len(frame), top), np.tile(prior, (len(frame), 1))

    b = None
    if baseline:
        yp, sc = base_predict(s.x_test)
        b = eh.BaselineResult(
            "prior",
            y_pred=yp,
            scores=sc,
            predict=base_predict,
            dataset_version="1",
            split_checksum="split-1",
        )
    return eh.evaluate_classification(
        out,
        s.x_test,
        s.y_test.to_numpy(),
        model.predict(s.x_test),
        scores=model.predict_proba(s.x_test),
        classes=classes,
        predict=predict,
        baseline=b,
        leakage=eh.LeakageInputs(s.x_train.index, s.x_test.index, s.x_train, s.x_test, [model[0]]),
        run=RUN,
        config=config,
    )


def regress(s: Split, out: Path, *, config: eh.EvalConfig = FAST) -> Any:
    """Run the regression evaluator with predict, refit and a mean baseline."""
    model = s.model
    mean = float(s.y_train.mean())

    def refit(frame: pd.DataFrame, target: Any) -> Any:
        return make_pipeline(StandardScaler(), Ridge()).fit(frame, target).predict

    return eh.evaluate_regression(
        out,
        s.x_test,
        s.y_test.to_numpy(),
        model.predict(s.x_test),
        run=RUN,
        predict=lambda f: model.predict(f.fillna(0.0)),
        refit=refit,
        baseline=eh.BaselineResult(
            "mean", y_pred=np.full(len(s.x_test), mean), predict=lambda f: np.full(len(f), mean)
        ),
        leakage=eh.LeakageInputs(s.x_train.index, s.x_test.index, s.x_train, s.x_test, [model[0]]),
        config=config,
    )


@pytest.fixture(scope="session")
def binary_dir(cancer: Split, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An eval folder for the binary task."""
    out = tmp_path_factory.mktemp("binary") / "eval"
    classify(cancer, out)
    return out


@pytest.fixture(scope="session")
def multiclass_dir(wine: Split, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An eval folder for the multiclass task, without a baseline."""
    out = tmp_path_factory.mktemp("multi") / "eval"
    classify(wine, out, baseline=False)
    return out


@pytest.fixture(scope="session")
def regression_dir(diabetes: Split, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An eval folder for the regression task."""
    out = tmp_path_factory.mktemp("reg") / "eval"
    regress(diabetes, out)
    return out


@dataclass(frozen=True)
class Harness:
    """Helpers handed to tests (test modules cannot import conftest under importlib mode)."""

    fast: eh.EvalConfig
    run: eh.RunInfo

    def classify(self, s: Split, out: Path, **kw: Any) -> Any:
        """See :func:`classify`."""
        return classify(s, out, **kw)

    def regress(self, s: Split, out: Path, **kw: Any) -> Any:
        """See :func:`regress`."""
        return regress(s, out, **kw)


@pytest.fixture(scope="session")
def harness() -> Harness:
    """Helpers for tests."""
    return Harness(FAST, RUN)
