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

from modellab.domain import DuplicateRecords, SplitInfo, SplitSide, SplitStrategy
from modellab.errors import InvalidInputError
from modellab.tasks import TaskType


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


#: Below this chance of an exact twin, a repeated record is a copy whatever its share.
COPY_CHANCE = 0.05
#: Above this share of rows with a twin, grouping would turn the split into a few blocks.
MAX_GROUPED_SHARE = 0.5


def row_hashes(frame: pl.DataFrame) -> pl.Series:
    """A 64-bit hash of each row over all of ``frame``'s columns.

    Rows are compared by it: a false match among a million rows has a chance of about 1
    in 30 million, and hashing is 6x faster than comparing the values. Rows that are
    equal as ``group_by`` compares them (missing equals missing, NaN equals NaN,
    -0.0 equals 0.0) always hash the same, so distinct hashes prove distinct rows.
    """
    return frame.select(pl.struct(pl.all()).hash(seed=0)).to_series()


def duplicate_records(
    frame: pl.DataFrame,
    columns: list[str],
    usable: np.ndarray,
    row_hash: pl.Series | None = None,
) -> tuple[np.ndarray | None, DuplicateRecords | None]:
    """Group codes of identical records among ``usable`` rows, and what to do with them.

    Returns ``(codes, info)``: ``codes[i]`` labels the record of ``usable[i]`` when the
    split must keep identical records together, else None. A repeated record is a leak
    only when it is a copy: in a table of a few categorical columns (Titanic's class,
    age and sex) most rows repeat another by chance, and grouping them would turn the
    split into a handful of blocks. So records are grouped when twins are more common
    than the columns' own value counts imply (``chance_share``) and either a twin is
    unlikely by chance at all or grouping leaves most rows free.

    ``row_hash`` is :func:`row_hashes` of ``frame``, for a caller that has it already and
    whose ``columns`` are all of ``frame``'s columns.
    """
    if not columns or usable.size < 2:
        return None, None
    every_row = usable.size == frame.height and bool(
        np.array_equal(usable, np.arange(frame.height))
    )
    # Gathering every row would copy the whole table for nothing.
    sub = frame.select(columns) if every_row else frame.select(columns)[usable]
    if row_hash is None:
        row_hash = row_hashes(sub)
    elif not every_row:
        row_hash = row_hash.gather(usable)
    # Identical records hash alike, so all-distinct hashes prove that no record repeats:
    # the answer the grouping below would give, without grouping a million rows.
    if row_hash.n_unique() == usable.size:
        return None, None
    # Codes in order of first appearance: stable across library versions, unlike hashes.
    pairs = (
        sub.with_row_index("__row")
        .group_by(columns, maintain_order=True)
        .agg(pl.col("__row"))
        .with_row_index("__code")
        .select("__code", "__row")
        .explode("__row")
    )
    inverse = np.empty(usable.size, dtype=np.int64)
    inverse[pairs["__row"].to_numpy()] = pairs["__code"].to_numpy()
    counts = np.bincount(inverse)
    repeated = counts[inverse] > 1
    n_rows = int(repeated.sum())
    if n_rows == 0:
        return None, None
    n = usable.size
    collision = 1.0
    for col in columns:
        shares = sub[col].value_counts()["count"].to_numpy() / n
        collision *= float((shares**2).sum())
    chance = float(1.0 - (1.0 - collision) ** (n - 1))
    share = n_rows / n
    grouped = share > chance and (chance < COPY_CHANCE or share <= MAX_GROUPED_SHARE)
    groups = int((counts > 1).sum())
    if grouped:
        reason = (
            f"{n_rows} rows ({share:.1%}) repeat another row exactly, more than the "
            f"{chance:.1%} that the columns' value counts give by chance: each of the "
            f"{groups} groups of identical records is kept on one side of the split"
        )
    else:
        reason = (
            f"{n_rows} rows ({share:.1%}) repeat another row exactly, as expected in this "
            f"feature space ({chance:.1%} by chance): repeats are not copies and are left "
            "spread over train and test"
        )
    info = DuplicateRecords(
        rows=n_rows,
        groups=groups,
        share=round(share, 6),
        chance_share=round(chance, 6),
        grouped=grouped,
        reason=reason,
    )
    return (inverse if grouped else None), info


def _take_units(
    members: np.ndarray, codes: np.ndarray | None, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) of ``members`` with about ``k`` test rows; rows sharing a code stay
    together. Without codes every row is its own unit (a plain permutation)."""
    if codes is None:
        perm = rng.permutation(members)
        return perm[k:], perm[:k]
    units, inverse = np.unique(codes, return_inverse=True)
    sizes = np.bincount(inverse, minlength=units.size)
    order = rng.permutation(units.size)
    filled = np.cumsum(sizes[order])
    # Whole units until at least k rows, but never every row.
    last = min(int(np.searchsorted(filled, k)), units.size - 2)
    in_test = np.zeros(units.size, dtype=bool)
    in_test[order[: max(last, 0) + 1]] = True
    mask = in_test[inverse]
    return members[~mask], members[mask]


def _random(rows: np.ndarray, req: SplitRequest, codes: np.ndarray | None = None) -> Split:
    rng = np.random.default_rng(req.seed)
    k = _n_test(rows.size, req.test_size, "rows")
    train, test = _take_units(rows, codes, k, rng)
    return Split(np.sort(train), np.sort(test))


def _stratified(
    rows: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    req: SplitRequest,
    codes: np.ndarray | None = None,
) -> Split:
    """``labels[i]`` is the position in the sorted ``classes`` of row ``rows[i]``'s class."""
    rng = np.random.default_rng(req.seed)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for label, cls in enumerate(classes):  # sorted, so the draws happen in a fixed order
        of_class = labels == label
        members = rows[of_class]
        if members.size < 2:
            raise InvalidInputError(
                f"stratified split needs at least 2 rows of each class; class {cls!r} has "
                f"{members.size}; use --split random or drop that class"
            )
        k = _n_test(members.size, req.test_size, f"rows of class {cls!r}")
        # Records include the target, so identical records never straddle two classes.
        tr, te = _take_units(members, None if codes is None else codes[of_class], k, rng)
        test.append(te)
        train.append(tr)
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


def groups_on_both_sides(groups: pl.Series, split: Split) -> list[str]:
    """The groups (as strings, sorted) that have rows on both sides of ``split``."""
    names = groups.cast(pl.String)
    train = set(names.gather(split.train).drop_nulls().unique().to_list())
    test = names.gather(split.test).drop_nulls().unique().to_list()
    return sorted(train.intersection(test))


def _group(rows: np.ndarray, groups: pl.Series, req: SplitRequest) -> Split:
    names = groups.cast(pl.String)
    # The groups in sorted order of their names and each row's group as its position
    # among them, as np.unique gives them, without sorting a million Python strings.
    uniq = names.unique().sort()
    inverse = names.cast(pl.Enum(uniq)).to_physical().to_numpy().astype(np.intp)
    counts = np.bincount(inverse, minlength=uniq.len())
    if uniq.len() < 2:
        raise InvalidInputError(
            f"group split on {req.group_column!r}: only {uniq.len()} group; need at least 2"
        )
    rng = np.random.default_rng(req.seed)
    target = rows.size * req.test_size
    in_test = np.zeros(uniq.len(), dtype=bool)
    taken = 0
    for g in rng.permutation(uniq.len()):
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
    frame: pl.DataFrame,
    target: str,
    task: TaskType,
    req: SplitRequest,
    usable: np.ndarray,
    codes: np.ndarray | None = None,
) -> Split:
    """Materialize ``req`` over the ``usable`` row positions (those with a target).

    ``codes`` (from :func:`duplicate_records`, aligned with ``usable``) keeps identical
    records on one side of a random or stratified split.
    """
    req.validate()
    for column, flag in ((req.time_column, "--time-column"), (req.group_column, "--group-column")):
        if column is not None and column not in frame.columns:
            raise InvalidInputError(f"{flag} {column!r} is not a column of the dataset")
    if req.strategy is SplitStrategy.RANDOM:
        return _random(usable, req, codes)
    if req.strategy is SplitStrategy.STRATIFIED:
        if not task.labels:
            raise InvalidInputError(
                f"--split stratified needs a target of class labels; a {task.name} target has none"
            )
        labels = frame[target].cast(pl.String).gather(usable)
        # Classes sorted as Python sorts str (UTF-8 byte order is code point order),
        # and each row's class as its position among them: comparing a million Python
        # strings once per class took most of a second.
        classes = labels.unique().sort()
        positions = labels.cast(pl.Enum(classes)).to_physical().to_numpy()
        return _stratified(usable, positions, classes.to_list(), req, codes)
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
    frame: pl.DataFrame,
    split: Split,
    target: str,
    task: TaskType,
    req: SplitRequest,
    duplicates: DuplicateRecords | None = None,
) -> SplitInfo:
    """Summarize both sides: sizes, class ratios, time ranges or group counts."""

    def side(idx: np.ndarray) -> SplitSide:
        fractions = None
        tmin = tmax = None
        groups = None
        if task.labels:
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
        duplicates=duplicates,
    )


def save_split(split: Split, path: Path) -> None:
    """Write the indices as an ``.npz`` (no pickled objects; loads with allow_pickle off)."""
    with path.open("wb") as fh:
        np.savez(fh, train=split.train.astype("<i8"), test=split.test.astype("<i8"))


def load_split(path: Path) -> Split:
    """Read indices written by :func:`save_split`."""
    with np.load(path, allow_pickle=False) as data:
        return Split(data["train"], data["test"])
