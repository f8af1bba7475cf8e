"""The single-feature leak check (issue 12): planted separators on real data are found
and named by kind, the real columns are never flagged, and the evaluators carry every
suspect into eval_summary.json, warnings, the takeaway and the improvement reason."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import evalharness as eh
from evalharness.core.separators import suspect_clause
from evalharness.core.takeaway import takeaway_text
from evalharness.schemas import files as S
from evalharness.schemas.validate import count_sentences, validate_folder
from tests.evalharness.conftest import Split

DEMO = Path(__file__).resolve().parents[2] / "core" / "demo_data"


def _penguins() -> tuple[pd.DataFrame, pd.Series[Any]]:
    data = pd.read_csv(DEMO / "penguins.csv").dropna(subset=["sex"]).reset_index(drop=True)
    return data.drop(columns="sex"), data["sex"]


def _cars() -> tuple[pd.DataFrame, pd.Series[Any]]:
    data = pd.read_csv(DEMO / "cars.csv", parse_dates=["year"])
    data = data.dropna(subset=["miles_per_gallon"]).reset_index(drop=True)
    return data.drop(columns="miles_per_gallon"), data["miles_per_gallon"]


def _sklearn(loader: Any) -> Any:
    return lambda: loader(return_X_y=True, as_frame=True)


DATASETS = {
    "breast_cancer": (_sklearn(load_breast_cancer), "classification"),
    "wine": (_sklearn(load_wine), "classification"),
    "penguins": (_penguins, "classification"),
    "diabetes": (_sklearn(load_diabetes), "regression"),
    "cars": (_cars, "regression"),
}

#: What each planted column must be reported as.
PLANTED = {
    "classification": {
        "leak_code": "value",
        "leak_gap": "missingness",
        "hours": "zero_nonzero",
    },
    "regression": {"leak_log": "value"},
}


def plant(x: pd.DataFrame, y: pd.Series[Any], task: str, seed: int = 1) -> pd.DataFrame:
    """The real columns plus the planted leaks of ``task``.

    Classification: ``leak_code`` is the target as a category ("code-<class>"),
    ``leak_gap`` a real numeric column blanked exactly for the first class, ``hours`` 0
    exactly for the first class and a positive random number otherwise. Regression:
    ``leak_log`` is log(target) plus noise of 5% of its standard deviation.
    """
    rng = np.random.default_rng(seed)
    out = x.copy()
    target = y.to_numpy()
    if task == "classification":
        first = target == sorted(pd.unique(target))[0]
        real = x.select_dtypes("number").iloc[:, 0].to_numpy(dtype=float)
        out["leak_code"] = ["code-" + str(v) for v in target]
        out["leak_gap"] = np.where(first, np.nan, real)
        out["hours"] = np.where(first, 0.0, rng.uniform(1.0, 60.0, len(target)).round(1))
    else:
        logged = np.log(target.astype(float))
        out["leak_log"] = logged + rng.normal(scale=0.05 * logged.std(), size=len(target))
    return out


def split(x: pd.DataFrame, y: pd.Series[Any]) -> Any:
    return train_test_split(x, y, test_size=0.3, random_state=0)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_real_data_gives_no_finding(name: str) -> None:
    load, task = DATASETS[name]
    x_tr, x_te, y_tr, y_te = split(*load())
    assert eh.find_single_feature_leaks(x_tr, y_tr, x_te, y_te, task) == []


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_planted_separators_are_found_by_kind(name: str) -> None:
    load, task = DATASETS[name]
    x, y = load()
    x_tr, x_te, y_tr, y_te = split(plant(x, y, task), y)
    found = eh.find_single_feature_leaks(x_tr, y_tr, x_te, y_te, task)
    assert {f.column: f.kind for f in found} == PLANTED[task]
    assert [f.column for f in found] == sorted(PLANTED[task])
    for f in found:
        assert f.metric == ("accuracy" if task == "classification" else "r2")
        assert f.score >= 0.99
        assert "\n" not in f.evidence
    if task == "classification":
        evidence = {f.column: f.evidence for f in found}
        first = str(sorted(pd.unique(y.to_numpy()))[0])
        assert evidence["hours"].startswith(f"is zero exactly when the target is {first!r}")
        assert evidence["leak_gap"].startswith(f"is missing exactly when the target is {first!r}")
        assert evidence["leak_code"].startswith("predicts the target from its value alone")


def test_multiclass_indicators_tell_one_class_from_the_rest() -> None:
    x, y = load_wine(return_X_y=True, as_frame=True)
    x_tr, x_te, y_tr, y_te = split(plant(x, y, "classification"), y)
    found = {
        f.column: f for f in eh.find_single_feature_leaks(x_tr, y_tr, x_te, y_te, "classification")
    }
    assert "at telling '0' from the other classes" in found["hours"].evidence


def test_thresholds_are_config_fields() -> None:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x_tr, x_te, y_tr, y_te = split(plant(x, y, "regression"), y)
    score = eh.find_single_feature_leaks(x_tr, y_tr, x_te, y_te, "regression")[0].score
    strict = eh.EvalConfig(leak_min_r2=min(score + 1e-6, 1.0))
    assert eh.find_single_feature_leaks(x_tr, y_tr, x_te, y_te, "regression", config=strict) == []
    # A real column is a "leak" only when the bar is dropped far below near-perfect.
    loose = eh.EvalConfig(leak_min_r2=0.1)
    found = eh.find_single_feature_leaks(x_tr, y_tr, x_te, y_te, "regression", config=loose)
    assert "bmi" in {f.column for f in found}
    few = eh.EvalConfig(leak_min_test_rows=len(x_te) + 1)
    assert eh.find_single_feature_leaks(x_tr, y_tr, x_te, y_te, "regression", config=few) == []


def test_balanced_accuracy_keeps_the_majority_class_from_counting() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    y = np.where(rng.random(n) < 0.995, "stay", "leave")
    # 0 for every "stay" row and for half the "leave" rows: accuracy 0.9975, not a separator
    hours = np.where((y == "leave") & (rng.random(n) < 0.5), rng.uniform(1, 9, n), 0.0)
    frame = pd.DataFrame({"hours": hours, "other": rng.uniform(1, 9, n)})
    tr, te = frame.iloc[: n // 2], frame.iloc[n // 2 :]
    found = eh.find_single_feature_leaks(tr, y[: n // 2], te, y[n // 2 :], "classification")
    assert found == []


def test_seeded_sample_is_deterministic_and_still_finds_the_leak() -> None:
    rng = np.random.default_rng(5)
    n = 30_000
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "hours": np.where(y == 0, 0.0, rng.uniform(1, 60, n)),
            "noise": rng.normal(size=n) + 0.5 * y,
            "flag": rng.random(n) < 0.5,
            "city": rng.choice(np.array(["a", "b", "c"], dtype=object), n),
        }
    )
    tr, te = frame.iloc[:20_000], frame.iloc[20_000:]
    cfg = eh.EvalConfig(leak_max_rows=2_000, seed=4)
    first = eh.find_single_feature_leaks(
        tr, y[:20_000], te, y[20_000:], "classification", config=cfg
    )
    again = eh.find_single_feature_leaks(
        tr, y[:20_000], te, y[20_000:], "classification", config=cfg
    )
    assert first == again
    assert [(f.column, f.kind) for f in first] == [("hours", "zero_nonzero")]


def test_rows_without_a_target_are_left_out() -> None:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x_tr, x_te, y_tr, y_te = split(plant(x, y, "regression"), y)
    y_tr = y_tr.astype(float).copy()
    y_tr.iloc[:5] = np.nan
    found = eh.find_single_feature_leaks(x_tr, y_tr, x_te, y_te, "regression")
    assert [f.column for f in found] == ["leak_log"]


# --- the evaluators ------------------------------------------------------------------------


def planted_cancer() -> Split:
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x = plant(x, y, "classification").drop(columns=["leak_code", "leak_gap"])
    x_tr, x_te, y_tr, y_te = split(x, y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_tr, y_tr)
    return Split(model, x_tr, x_te, y_tr, y_te)


def planted_diabetes() -> Split:
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    x_tr, x_te, y_tr, y_te = split(plant(x, y, "regression"), y)
    return Split(make_pipeline(StandardScaler(), Ridge()).fit(x_tr, y_tr), x_tr, x_te, y_tr, y_te)


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _read(folder: Path) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    summary = json.loads((folder / "eval_summary.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    takeaway = (folder / "takeaway.txt").read_text().splitlines()
    return summary, metrics, takeaway


def test_classification_report_names_the_zero_nonzero_column(tmp_path: Path, harness: Any) -> None:
    s = planted_cancer()
    cfg = replace(harness.fast, leak_suspects=(("hours", "flagged at ingest"), ("gone", "x")))
    out = tmp_path / "a" / "eval"
    run_classification(s, out, harness, cfg)
    summary, metrics, takeaway = _read(out)
    suspects = summary["leak_suspects"]
    # One suspect per column: the evaluation's finding, keeping the upstream evidence.
    assert [(x["column"], x["source"], x["kind"]) for x in suspects] == [
        ("hours", "evaluation", "zero_nonzero")
    ]
    assert suspects[0]["metric"] == "accuracy" and suspects[0]["score"] == 1.0
    assert suspects[0]["evidence"].startswith("is zero exactly when the target is '0'")
    assert suspects[0]["evidence"].endswith("; the dataset flagged it too")
    leak_warnings = [w for w in summary["warnings"] if w.startswith("leak_suspect:")]
    assert leak_warnings == [
        "leak_suspect: column 'hours' may leak the target: it " + suspects[0]["evidence"]
    ]
    assert not any("'gone'" in w for w in summary["warnings"])  # not an evaluated column
    # Sentence 2: the model beats the prior baseline, and the warning stands beside it.
    assert summary["improvement_is_meaningful"] is True
    assert len(takeaway) == 5 and count_sentences("\n".join(takeaway)) == 5
    assert takeaway[1].startswith("Against baseline prior")
    assert "a meaningful improvement, but column 'hours' alone predicts the target" in takeaway[1]
    assert "(held-out accuracy 1.000 by its zero/non-zero pattern)" in takeaway[1]
    assert takeaway[1].endswith("check it is not a leak.")
    assert "column 'hours' alone predicts the target" in metrics["improvement_reason"]
    assert validate_folder(out) == []
    again = tmp_path / "b" / "eval"
    run_classification(s, again, harness, cfg)
    assert _hashes(out) == _hashes(again)


def test_regression_report_names_the_monotone_column(tmp_path: Path, harness: Any) -> None:
    s = planted_diabetes()
    out = tmp_path / "eval"
    run_regression(s, out, harness, harness.fast)
    summary, metrics, takeaway = _read(out)
    assert [(x["column"], x["kind"], x["metric"]) for x in summary["leak_suspects"]] == [
        ("leak_log", "value", "r2")
    ]
    assert any(w.startswith("leak_suspect: column 'leak_log'") for w in summary["warnings"])
    assert "column 'leak_log' alone predicts the target (held-out R^2" in takeaway[1]
    assert count_sentences("\n".join(takeaway)) == 5
    assert summary["improvement_is_meaningful"] is True
    assert "column 'leak_log' alone predicts the target" in metrics["improvement_reason"]
    assert validate_folder(out) == []


def test_clean_run_has_no_suspects(cancer: Any, tmp_path: Path, harness: Any) -> None:
    out = tmp_path / "eval"
    run_classification(cancer, out, harness, harness.fast)
    summary, metrics, takeaway = _read(out)
    assert summary["leak_suspects"] == []
    assert not any(w.startswith("leak_suspect") for w in summary["warnings"])
    assert "leak" not in takeaway[1] and "leak" not in metrics["improvement_reason"]


def test_check_can_be_switched_off_and_upstream_suspects_still_travel(
    tmp_path: Path, harness: Any
) -> None:
    s = planted_cancer()
    cfg = replace(harness.fast, run_leak_check=False, leak_suspects=(("hours", "ingest"),))
    out = tmp_path / "eval"
    run_classification(s, out, harness, cfg)
    summary, _, takeaway = _read(out)
    assert summary["leak_suspects"] == [
        {
            "column": "hours",
            "source": "upstream",
            "kind": None,
            "metric": None,
            "score": None,
            "evidence": "ingest",
        }
    ]
    assert "column 'hours' was flagged as a possible leak before evaluation" in takeaway[1]


def test_old_folder_without_leak_suspects_still_validates(binary_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(binary_dir, old)
    summary = json.loads((old / "eval_summary.json").read_text())
    summary.pop("leak_suspects")
    (old / "eval_summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    assert validate_folder(old) == []


def test_takeaway_keeps_five_sentences_with_many_suspects() -> None:
    def suspect(column: str, source: str, score: float | None) -> S.LeakSuspect:
        return S.LeakSuspect(
            column=column,
            source=source,  # type: ignore[arg-type]
            kind=None if score is None else "value",
            metric=None if score is None else "accuracy",
            score=score,
            evidence="e. g. a sentence. Another one!",
        )

    suspects = [suspect("a. b", "evaluation", 0.995), suspect("z", "upstream", None)]
    suspects.append(suspect("m", "evaluation", 1.0))
    clause = suspect_clause(suspects)
    assert clause is not None and clause.startswith("column 'm' alone predicts the target")
    assert "2 more column(s) are leak suspects" in clause
    headline = S.Estimate(value=0.9, ci_low=0.8, ci_high=1.0)
    for baseline in (None, S.BaselineMetrics(name="b", run_id=None, source="reported", metrics={})):
        text = takeaway_text(
            "accuracy",
            headline,
            50,
            baseline,
            None,
            False,
            [],
            [],
            [],
            True,
            [],
            leak_suspects=suspects,
        )
        assert count_sentences(text) == 5 and len(text.splitlines()) == 5
        assert "check they are not leaks." in text.splitlines()[1]


# --- how the tests call the evaluators -------------------------------------------------------


def _leakage(s: Any) -> eh.LeakageInputs:
    return eh.LeakageInputs(
        s.x_train.index,
        s.x_test.index,
        s.x_train,
        s.x_test,
        [s.model[0]],
        train_target=s.y_train.to_numpy(),
    )


def run_classification(s: Any, out: Path, harness: Any, cfg: eh.EvalConfig) -> Any:
    """The shared harness' classification call, with the train target in LeakageInputs."""
    classes = sorted(s.y_train.unique().tolist())
    prior = s.y_train.value_counts(normalize=True).reindex(classes).to_numpy()
    top = classes[int(np.argmax(prior))]

    def predict(frame: pd.DataFrame) -> tuple[Any, Any]:
        f = frame.fillna(0.0)
        return s.model.predict(f), s.model.predict_proba(f)

    def base_predict(frame: pd.DataFrame) -> tuple[Any, Any]:
        return np.full(len(frame), top), np.tile(prior, (len(frame), 1))

    yp, sc = base_predict(s.x_test)
    return eh.evaluate_classification(
        out,
        s.x_test,
        s.y_test.to_numpy(),
        s.model.predict(s.x_test),
        scores=s.model.predict_proba(s.x_test),
        classes=classes,
        predict=predict,
        baseline=eh.BaselineResult(
            "prior",
            y_pred=yp,
            scores=sc,
            predict=base_predict,
            dataset_version="1",
            split_checksum="split-1",
        ),
        leakage=_leakage(s),
        run=harness.run,
        config=cfg,
    )


def run_regression(s: Any, out: Path, harness: Any, cfg: eh.EvalConfig) -> Any:
    """The shared harness' regression call, with the train target in LeakageInputs."""
    mean = float(s.y_train.mean())
    return eh.evaluate_regression(
        out,
        s.x_test,
        s.y_test.to_numpy(),
        s.model.predict(s.x_test),
        run=harness.run,
        predict=lambda f: s.model.predict(f.fillna(0.0)),
        baseline=eh.BaselineResult(
            "mean", y_pred=np.full(len(s.x_test), mean), predict=lambda f: np.full(len(f), mean)
        ),
        leakage=_leakage(s),
        config=cfg,
    )


def test_the_counted_majority_matches_the_sorted_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting per (group, class) gives the sort's majority classes, ties to the lower."""
    from evalharness.core import separators

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, k, n_groups = (
            int(rng.integers(1, 300)),
            int(rng.integers(2, 6)),
            int(rng.integers(1, 50)),
        )
        groups = rng.integers(0, n_groups, n).astype(np.intp)
        y = rng.integers(0, k, n).astype(np.intp)
        counted = separators._majority(groups, y, k)
        with monkeypatch.context() as m:
            m.setattr(separators, "_MAX_COUNT_CELLS", 0)
            sorted_ = separators._majority(groups, y, k)
        assert np.array_equal(counted[0], sorted_[0]) and np.array_equal(counted[1], sorted_[1])
