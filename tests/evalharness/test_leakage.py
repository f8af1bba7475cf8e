"""Each planted leak is caught with the right check name; nothing is written on failure."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import evalharness as eh
from evalharness.core import leakage as L


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 200
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n) * 3,
            "color": rng.choice(["red", "blue", "green"], n),
            "t": np.arange(n),
        }
    )
    return df.iloc[:150], df.iloc[150:]


def test_clean_inputs_pass() -> None:
    train, test = _frames()
    scaler = StandardScaler().fit(train[["x", "z"]])
    enc = OneHotEncoder().fit(train[["color"]])
    inputs = eh.LeakageInputs(
        train.index, test.index, train, test, [scaler, enc], time_column="t", split="time"
    )
    assert eh.check_leakage(inputs) == []


def test_test_index_in_train() -> None:
    train, test = _frames()
    inputs = eh.LeakageInputs([*list(train.index), 160], test.index)
    with pytest.raises(eh.LeakageError) as e:
        eh.check_leakage(inputs)
    assert e.value.check == L.CHECK_TEST_IN_TRAIN


def test_duplicates_warn_below_and_fail_above_the_chance_rate() -> None:
    train, test = _frames()
    one_dup = test.copy()
    one_dup.iloc[0] = train.iloc[3].to_numpy()
    warnings = eh.check_leakage(
        eh.LeakageInputs(train.index, test.index, train, one_dup),
        eh.EvalConfig(duplicate_excess_error=0.05),
    )
    assert len(warnings) == 1 and "1 of 50" in warnings[0]
    assert "test row 150 = train row 3" in warnings[0]
    many = test.copy()
    many.iloc[:10] = train.iloc[:10].to_numpy()
    with pytest.raises(eh.LeakageError) as e:
        eh.check_leakage(eh.LeakageInputs(train.index, test.index, train, many))
    assert e.value.check == L.CHECK_DUPLICATE_ROWS
    assert "10 of 50" in str(e.value) and "0.00% of train rows repeat" in str(e.value)
    # The threshold is a setting: a lenient one lets the same rows through with a warning.
    lenient = eh.check_leakage(
        eh.LeakageInputs(train.index, test.index, train, many),
        eh.EvalConfig(duplicate_excess_error=0.5),
    )
    assert lenient and lenient[0].startswith(L.CHECK_DUPLICATE_ROWS)


def test_a_duplicate_measure_taken_already_is_reused_not_taken_again() -> None:
    train, test = _frames()
    many = test.copy()
    many.iloc[:10] = train.iloc[:10].to_numpy()
    inputs = eh.LeakageInputs(train.index, test.index, train, many)
    measured = L.duplicate_check(inputs)
    assert measured is not None and measured.test_repeats == 10
    with pytest.raises(eh.LeakageError):
        eh.check_leakage(dataclasses.replace(inputs, measured_duplicates=measured))
    # Given a measure of other rows (here: clean ones), the check trusts it.
    clean = L.duplicate_check(eh.LeakageInputs(train.index, test.index, train, test))
    assert eh.check_duplicates(dataclasses.replace(inputs, measured_duplicates=clean)) == []


def test_scaler_fit_on_all_rows() -> None:
    train, test = _frames()
    leaky = StandardScaler().fit(pd.concat([train, test])[["x", "z"]])
    with pytest.raises(eh.LeakageError) as e:
        eh.check_leakage(eh.LeakageInputs(train.index, test.index, train, test, [leaky]))
    assert e.value.check == L.CHECK_PREPROCESSOR_REFIT
    assert "mean_" in str(e.value)


def test_time_split_out_of_order() -> None:
    train, test = _frames()
    shuffled_test = test.copy()
    shuffled_test.loc[shuffled_test.index[0], "t"] = 5
    with pytest.raises(eh.LeakageError) as e:
        eh.check_leakage(
            eh.LeakageInputs(
                train.index, test.index, train, shuffled_test, time_column="t", split="time"
            )
        )
    assert e.value.check == L.CHECK_TIME_ORDER


def test_encoder_knows_test_only_category() -> None:
    train, test = _frames()
    test = test.copy()
    test.loc[test.index[:3], "color"] = "purple"
    enc = OneHotEncoder(handle_unknown="ignore").fit(pd.concat([train, test])[["color"]])
    with pytest.raises(eh.LeakageError) as e:
        eh.check_leakage(eh.LeakageInputs(train.index, test.index, train, test, [enc]))
    assert e.value.check == L.CHECK_ENCODER_TEST_ONLY
    assert "purple" in str(e.value)


def test_encoder_inside_column_transformer() -> None:
    train, test = _frames()
    test = test.copy()
    test.loc[test.index[:3], "color"] = "purple"
    ct = ColumnTransformer(
        [
            ("num", StandardScaler(), ["x"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
        ]
    )
    ct.fit(pd.concat([train, test]))
    with pytest.raises(eh.LeakageError) as e:
        eh.check_leakage(eh.LeakageInputs(train.index, test.index, train, test, [ct]))
    assert e.value.check == L.CHECK_ENCODER_TEST_ONLY


def test_nothing_written_on_leakage(cancer: Any, tmp_path: Path, harness: Any) -> None:
    s = cancer
    out = tmp_path / "eval"
    leaky = StandardScaler().fit(pd.concat([s.x_train, s.x_test]))
    with pytest.raises(eh.LeakageError):
        eh.evaluate_classification(
            out,
            s.x_test,
            s.y_test.to_numpy(),
            s.model.predict(s.x_test),
            run=harness.run,
            leakage=eh.LeakageInputs(s.x_train.index, s.x_test.index, s.x_train, s.x_test, [leaky]),
            config=harness.fast,
        )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_baseline_on_other_dataset_version_fails(cancer: Any, tmp_path: Path, harness: Any) -> None:
    s = cancer
    b = eh.BaselineResult("prior", metrics={"accuracy": 0.6}, dataset_version="2")
    with pytest.raises(eh.BaselineMismatchError):
        eh.evaluate_classification(
            tmp_path / "eval",
            s.x_test,
            s.y_test.to_numpy(),
            s.model.predict(s.x_test),
            run=harness.run,
            baseline=b,
            config=harness.fast,
        )
    assert not (tmp_path / "eval").exists()
