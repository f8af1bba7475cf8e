"""Leakage checks that run before anything is written; each failure names its check."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import binom
from sklearn.base import clone

from evalharness.core.config import EvalConfig, LeakageInputs
from evalharness.core.errors import LeakageError

CHECK_TEST_IN_TRAIN = "test_index_in_train"
CHECK_GROUP_IN_TRAIN = "test_group_in_train"
CHECK_DUPLICATE_ROWS = "duplicate_rows"
CHECK_ENCODER_TEST_ONLY = "encoder_test_only_categories"
CHECK_PREPROCESSOR_REFIT = "preprocessor_refit_mismatch"
CHECK_TIME_ORDER = "time_order"
#: a note, never a failure: test rows repeat train rows as often as train rows repeat
CHECK_LOW_CARDINALITY = "low_cardinality"

ALL_CHECKS = (
    CHECK_TEST_IN_TRAIN,
    CHECK_DUPLICATE_ROWS,
    CHECK_TIME_ORDER,
    CHECK_ENCODER_TEST_ONLY,
    CHECK_PREPROCESSOR_REFIT,
)


def check_leakage(inputs: LeakageInputs, config: EvalConfig | None = None) -> list[str]:
    """Run every leakage check; raise LeakageError on the first failure, return warnings.

    Order matters: the specific checks (index overlap, duplicates, time order, test-only
    categories) run before the generic refit comparison so a planted leak gets the most
    precise name.
    """
    cfg = config or EvalConfig()
    warnings: list[str] = []
    _check_index_overlap(inputs)
    warnings.extend(check_duplicates(inputs, cfg))
    _check_time_order(inputs)
    _check_encoders(inputs)
    _check_refit(inputs)
    return warnings


def _check_index_overlap(inputs: LeakageInputs) -> None:
    train = pd.Index(inputs.train_index)
    test = pd.Index(inputs.test_index)
    overlap = test.intersection(train)
    if len(overlap):
        shown = ", ".join(repr(v) for v in sorted(overlap.tolist(), key=str)[:5])
        raise LeakageError(
            CHECK_TEST_IN_TRAIN,
            f"{len(overlap)} test row index(es) also appear in train (e.g. {shown})",
        )


@dataclass(frozen=True)
class DuplicateCheck:
    """How often test rows repeat a train row, against how often train rows repeat each other.

    ``by`` is ``"records"`` (features and target) when both targets were given, else
    ``"features"``. The within-train rate is the chance rate: the share of rows that the
    feature space alone makes repeat (a table of three categorical columns repeats
    itself; a table with a continuous column almost never does). A test set repeats
    train more often than that only when records were copied across the split.
    """

    by: str
    test_rows: int
    test_repeats: int
    train_rows: int
    train_repeats: int
    distinct: int
    #: (test row id, train row id) of the first repeated record, for the message
    example: tuple[Any, Any] | None
    p_value: float

    @property
    def test_share(self) -> float:
        """Share of test rows whose record occurs in train."""
        return self.test_repeats / self.test_rows if self.test_rows else 0.0

    @property
    def chance_share(self) -> float:
        """Share of train rows whose record occurs elsewhere in train."""
        return self.train_repeats / self.train_rows if self.train_rows else 0.0

    @property
    def excess(self) -> float:
        """How far the test share exceeds the chance share."""
        return self.test_share - self.chance_share


def _hashes(frame: pd.DataFrame, cols: list[str], target: Any) -> NDArray[np.uint64]:
    part = frame[cols].reset_index(drop=True)
    if target is not None:
        part = part.assign(**{"\x00target": np.asarray(target).astype(str)})
    return np.asarray(pd.util.hash_pandas_object(part, index=False), dtype=np.uint64)


def duplicate_check(inputs: LeakageInputs) -> DuplicateCheck | None:
    """Measure repeats of train records among test rows (None without both frames)."""
    train, test = inputs.train_frame, inputs.test_frame
    if train is None or test is None or len(test) == 0 or len(train) == 0:
        return None
    cols = sorted(set(train.columns) & set(test.columns), key=str)
    if not cols:
        return None
    both = inputs.train_target is not None and inputs.test_target is not None
    train_h = _hashes(train, cols, inputs.train_target if both else None)
    test_h = _hashes(test, cols, inputs.test_target if both else None)
    in_train = np.isin(test_h, train_h)
    train_repeats = int(pd.Series(train_h).duplicated(keep=False).sum())
    example = None
    if in_train.any():
        first = int(np.flatnonzero(in_train)[0])
        match = int(np.flatnonzero(train_h == test_h[first])[0])
        example = (test.index[first], train.index[match])
    k, n = int(in_train.sum()), len(test)
    chance = train_repeats / len(train)
    if 0 < chance < 1:
        p_value = float(binom.sf(k - 1, n, chance))  # P(at least k repeats by chance)
    else:
        # Chance 0: no repeat happens by chance; chance 1: every row repeats anyway.
        p_value = 1.0 if k == 0 or chance == 1 else 0.0
    return DuplicateCheck(
        by="records" if both else "features",
        test_rows=n,
        test_repeats=k,
        train_rows=len(train),
        train_repeats=train_repeats,
        distinct=int(np.unique(np.concatenate([train_h, test_h])).size),
        example=example,
        p_value=p_value,
    )


def check_duplicates(inputs: LeakageInputs, config: EvalConfig | None = None) -> list[str]:
    """The duplicate-records rule alone: raise LeakageError when test rows repeat train
    records beyond chance; return its warnings (repeats within chance, low cardinality)."""
    cfg = config or EvalConfig()
    found = inputs.measured_duplicates or duplicate_check(inputs)
    if found is None or found.test_repeats == 0:
        return []
    what = "record (features and target)" if found.by == "records" else "feature row"
    msg = (
        f"{found.test_repeats} of {found.test_rows} test rows ({found.test_share:.2%}) "
        f"exactly repeat a train {what}"
    )
    if found.example is not None:
        msg += f" (e.g. test row {found.example[0]!r} = train row {found.example[1]!r})"
    chance = (
        f"{found.chance_share:.2%} of train rows repeat another train row, the rate this "
        f"feature space gives by chance ({found.distinct} distinct {what}s)"
    )
    if found.excess > cfg.duplicate_excess_error and found.p_value < cfg.duplicate_p_value:
        raise LeakageError(
            CHECK_DUPLICATE_ROWS,
            f"{msg}; only {chance}: the excess of {found.excess:.2%} is above the "
            f"{cfg.duplicate_excess_error:.2%} limit (duplicate_excess_error), so records "
            "were copied across the split",
        )
    if found.test_share > 0.5:
        return [
            f"{CHECK_LOW_CARDINALITY}: {msg}; {chance}: expected by chance, not a leak, but "
            "the test rows are mostly combinations the model saw in training"
        ]
    return [f"{CHECK_DUPLICATE_ROWS}: {msg}; {chance}"]


def _check_time_order(inputs: LeakageInputs) -> None:
    if inputs.split != "time":
        return
    col = inputs.time_column
    if col is None or inputs.train_frame is None or inputs.test_frame is None:
        raise LeakageError(
            CHECK_TIME_ORDER, "a time split needs time_column, train_frame and test_frame"
        )
    last_train = inputs.train_frame[col].max()
    first_test = inputs.test_frame[col].min()
    if first_test < last_train:
        n_before = int((inputs.test_frame[col] < last_train).sum())
        raise LeakageError(
            CHECK_TIME_ORDER,
            f"{n_before} test row(s) have {col} before the last train timestamp "
            f"({first_test} < {last_train})",
        )


def _fitted_parts(obj: Any, columns: Sequence[str] | None) -> Iterator[tuple[Any, list[str]]]:
    """Yield (estimator, input columns) for an estimator and its fitted sub-estimators."""
    transformers = getattr(obj, "transformers_", None)
    if transformers is not None:
        for _, est, cols in transformers:
            if isinstance(est, str):
                continue
            names = [c for c in np.atleast_1d(cols).tolist() if isinstance(c, str)]
            yield from _fitted_parts(est, names or None)
        return
    steps = getattr(obj, "steps", None)
    if steps is not None:
        # Only the first step sees raw columns; later steps see transformed arrays.
        first = steps[0][1]
        if not isinstance(first, str):
            yield from _fitted_parts(first, columns)
        return
    fitted_names = getattr(obj, "feature_names_in_", None)
    cols = [str(c) for c in fitted_names] if fitted_names is not None else list(columns or [])
    yield obj, cols


def _check_encoders(inputs: LeakageInputs) -> None:
    train, test = inputs.train_frame, inputs.test_frame
    if train is None or test is None:
        return
    for pre in inputs.preprocessors:
        for est, cols in _fitted_parts(pre, None):
            cats = getattr(est, "categories_", None)
            if cats is None or len(cats) != len(cols):
                continue
            for col, known in zip(cols, cats, strict=True):
                if col not in train or col not in test:
                    continue
                train_vals = set(train[col].dropna().tolist())
                test_vals = set(test[col].dropna().tolist())
                leaked = sorted(
                    (
                        v
                        for v in np.asarray(known).tolist()
                        if v in test_vals and v not in train_vals
                    ),
                    key=str,
                )
                if leaked:
                    raise LeakageError(
                        CHECK_ENCODER_TEST_ONLY,
                        f"{type(est).__name__} on column {col!r} knows {len(leaked)} "
                        f"categor(ies) that appear only in test: {leaked[:5]!r}",
                    )


def _state(obj: Any, depth: int = 0) -> dict[str, Any]:
    """Learned attributes (sklearn convention: trailing underscore), recursively."""
    out: dict[str, Any] = {}
    if depth > 4:
        return out
    for name, value in sorted(vars(obj).items()):
        if not name.endswith("_") or name.startswith("_"):
            continue
        if hasattr(value, "get_params") and hasattr(value, "fit"):
            out.update({f"{name}.{k}": v for k, v in _state(value, depth + 1).items()})
        elif isinstance(value, list | tuple) and value and hasattr(value[0], "__len__"):
            for i, item in enumerate(value):
                if isinstance(item, tuple) and len(item) == 3 and hasattr(item[1], "fit"):
                    sub = _state(item[1], depth + 1)
                    out.update({f"{name}[{i}].{k}": v for k, v in sub.items()})
                else:
                    out[f"{name}[{i}]"] = item
        else:
            out[name] = value
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        aa, bb = np.asarray(a), np.asarray(b)
    except Exception:
        return bool(a == b)
    if aa.shape != bb.shape:
        return False
    if aa.dtype.kind in "fc" or bb.dtype.kind in "fc":
        return bool(np.allclose(aa, bb, rtol=1e-9, atol=1e-12, equal_nan=True))
    if aa.dtype == object:
        if aa.ndim == 0:
            return bool(a == b)
        return all(_same(x, y) for x, y in zip(aa.ravel(), bb.ravel(), strict=True))
    return bool(np.array_equal(aa, bb))


def _check_refit(inputs: LeakageInputs) -> None:
    train = inputs.train_frame
    if train is None or not inputs.preprocessors:
        return
    target = None if inputs.train_target is None else np.asarray(inputs.train_target)
    for pre in inputs.preprocessors:
        names = getattr(pre, "feature_names_in_", None)
        data = train[[str(c) for c in names]] if names is not None else train
        refit = clone(pre)
        refit.fit(data, target) if target is not None else refit.fit(data)
        fitted, fresh = _state(pre), _state(refit)
        differing = sorted(
            k for k in fitted.keys() | fresh.keys() if not _same(fitted.get(k), fresh.get(k))
        )
        if differing:
            raise LeakageError(
                CHECK_PREPROCESSOR_REFIT,
                f"{type(pre).__name__}'s learned state differs from a refit on the train rows "
                f"only ({', '.join(differing[:5])}): it saw rows outside train",
            )
