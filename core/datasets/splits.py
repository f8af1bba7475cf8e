"""Split strategies, materialized as sorted train/test row indices with a checksum.

Indices are positions in the dataset version's Parquet copy. Rows whose target is
missing belong to neither side. Every strategy is a pure function of the data, the
parameters and the seed, so the same request gives the same checksum.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from modellab.domain import SplitInfo, SplitSide, SplitStrategy
from modellab.errors import InvalidInputError


@dataclass(frozen=True)
class SplitRequest:
    """What the user asked for; validated against the data by :func:`make_split`."""

    strategy: SplitStrategy = SplitStrategy.RANDOM
    test_size: float = 0.2
    seed: int = 0
    time_column: str | None = None
    group_column: str | None = None

    def validate(self) -> None:
        """Refuse parameters that cannot describe a split."""
        if not 0 < self.test_size < 1:
            raise InvalidInputError(f"--test-size must be between 0 and 1, got {self.test_size}")
        if self.strategy is SplitStrategy.TIME and not self.time_column:
            raise InvalidInputError("--split time needs --time-column COLUMN")
        if self.strategy is SplitStrategy.GROUP and not self.group_column:
            raise InvalidInputError("--split group needs --group-column COLUMN")
        if self.seed < 0:
            raise InvalidInputError(f"--seed must be a non-negative integer, got {self.seed}")


@dataclass(frozen=True)
class Split:
    """Sorted train and test row positions."""

    train: np.ndarray
    test: np.ndarray

    @property
    def checksum(self) -> str:
        """sha256 over the little-endian int64 train then test positions."""
        digest = hashlib.sha256()
        digest.update(b"train\x00")
        digest.update(self.train.astype("<i8").tobytes())
        digest.update(b"test\x00")
        digest.update(self.test.astype("<i8").tobytes())
        return digest.hexdigest()


def _n_test(n: int, test_size: float, what: str) -> int:
    if n < 2:
        raise InvalidInputError(f"cannot split {n} {what} into train and test; need at least 2")
    return min(n - 1, max(1, round(n * test_size)))


def _random(rows: np.ndarray, req: SplitRequest) -> Split:
    rng = np.random.default_rng(req.seed)
    perm = rng.permutation(rows)
    k = _n_test(rows.size, req.test_size, "rows")
    return Split(np.sort(perm[k:]), np.sort(perm[:k]))


def _stratified(rows: np.ndarray, labels: np.ndarray, req: SplitRequest) -> Split:
    rng = np.random.default_rng(req.seed)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    classes = np.unique(labels)
    for cls in classes:  # sorted, so the draws happen in a fixed order
        members = rows[labels == cls]
        if members.size < 2:
            raise InvalidInputError(
                f"stratified split needs at least 2 rows of each class; class {cls!r} has "
                f"{members.size}; use --split random or drop that class"
            )
        perm = rng.permutation(members)
        k = _n_test(members.size, req.test_size, f"rows of class {cls!r}")
        test.append(perm[:k])
        train.append(perm[k:])
    return Split(np.sort(np.concatenate(train)), np.sort(np.concatenate(test)))


def _time(rows: np.ndarray, times: pl.Series, req: SplitRequest) -> Split:
    order = np.lexsort((rows, times.to_physical().to_numpy()))
    ordered = rows[order]
    ordered_times = times.to_physical().to_numpy()[order]
    k = _n_test(rows.size, req.test_size, "rows")
    cut = rows.size - k
    # Rows sharing the boundary timestamp all go to test, so that no test row is
    # earlier than the last train row, and equal times are never split apart.
    boundary = ordered_times[cut]
    cut = int(np.searchsorted(ordered_times, boundary, side="left"))
    if cut == 0:
        raise InvalidInputError(
            f"time split on {req.time_column!r}: every row shares the first test timestamp; "
            "nothing is left to train on"
        )
    return Split(np.sort(ordered[:cut]), np.sort(ordered[cut:]))


def _group(rows: np.ndarray, groups: pl.Series, req: SplitRequest) -> Split:
    codes = groups.cast(pl.String).to_numpy()
    uniq, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    if uniq.size < 2:
        raise InvalidInputError(
            f"group split on {req.group_column!r}: only {uniq.size} group; need at least 2"
        )
    rng = np.random.default_rng(req.seed)
    target = rows.size * req.test_size
    in_test = np.zeros(uniq.size, dtype=bool)
    taken = 0
    for g in rng.permutation(uniq.size):
        if taken >= target:
            break
        if taken + counts[g] > rows.size - 1:
            continue
        in_test[g] = True
        taken += int(counts[g])
    if not in_test.any():
        in_test[int(np.argmin(counts))] = True
    mask = in_test[inverse]
    return Split(np.sort(rows[~mask]), np.sort(rows[mask]))


def make_split(
    frame: pl.DataFrame, target: str, task: str, req: SplitRequest, usable: np.ndarray
) -> Split:
    """Materialize ``req`` over the ``usable`` row positions (those with a target)."""
    req.validate()
    for column, flag in ((req.time_column, "--time-column"), (req.group_column, "--group-column")):
        if column is not None and column not in frame.columns:
            raise InvalidInputError(f"{flag} {column!r} is not a column of the dataset")
    if req.strategy is SplitStrategy.RANDOM:
        return _random(usable, req)
    if req.strategy is SplitStrategy.STRATIFIED:
        if task != "classification":
            raise InvalidInputError("--split stratified needs a classification target")
        labels = frame[target].cast(pl.String).to_numpy()[usable]
        return _stratified(usable, labels, req)
    if req.strategy is SplitStrategy.TIME:
        assert req.time_column is not None
        times = frame[req.time_column]
        if not (times.dtype.is_temporal() or times.dtype.is_numeric()):
            raise InvalidInputError(
                f"--time-column {req.time_column!r} holds {times.dtype} values, not dates, "
                "times or numbers"
            )
        sub = times.gather(usable)
        if sub.null_count():
            raise InvalidInputError(
                f"--time-column {req.time_column!r} is missing in {sub.null_count()} rows; "
                "a time split needs a time for every row"
            )
        return _time(usable, sub, req)
    if req.strategy is SplitStrategy.GROUP:
        assert req.group_column is not None
        sub = frame[req.group_column].gather(usable)
        if sub.null_count():
            raise InvalidInputError(
                f"--group-column {req.group_column!r} is missing in {sub.null_count()} rows; "
                "a group split needs a group for every row"
            )
        return _group(usable, sub, req)
    raise InvalidInputError(
        "--split predefined comes from a folder holding train.* and test.* files"
    )


def describe_split(
    frame: pl.DataFrame, split: Split, target: str, task: str, req: SplitRequest
) -> SplitInfo:
    """Summarize both sides: sizes, class ratios, time ranges or group counts."""

    def side(idx: np.ndarray) -> SplitSide:
        fractions = None
        tmin = tmax = None
        groups = None
        if task == "classification":
            labels = frame[target].gather(idx).cast(pl.String)
            vc = labels.value_counts(name="n").sort(labels.name)
            fractions = {str(v): round(int(n) / idx.size, 6) for v, n in vc.iter_rows()}
        if req.time_column:
            t = frame[req.time_column].gather(idx)
            tmin, tmax = str(t.min()), str(t.max())
        if req.group_column:
            groups = int(frame[req.group_column].gather(idx).n_unique())
        return SplitSide(int(idx.size), fractions, tmin, tmax, groups)

    return SplitInfo(
        strategy=req.strategy,
        test_size=None if req.strategy is SplitStrategy.PREDEFINED else req.test_size,
        seed=req.seed,
        checksum=split.checksum,
        train=side(split.train),
        test=side(split.test),
        time_column=req.time_column,
        group_column=req.group_column,
    )


def save_split(split: Split, path: Path) -> None:
    """Write the indices as an ``.npz`` (no pickled objects; loads with allow_pickle off)."""
    with path.open("wb") as fh:
        np.savez(fh, train=split.train.astype("<i8"), test=split.test.astype("<i8"))


def load_split(path: Path) -> Split:
    """Read indices written by :func:`save_split`."""
    with np.load(path, allow_pickle=False) as data:
        return Split(data["train"], data["test"])
