"""Schema inference: a logical type per column, the task from the target, and diffs.

Which task a target suits is the installed task types' call (``target_affinity``).

The rules, in order, for a column that is not the target:

* polars Boolean -> ``boolean``; Date/Datetime -> ``datetime``; Float -> ``numeric``.
* Integer -> ``identifier`` when its values are all present and distinct and either
  its name looks like an id (``id``, ``*_id``, ``index``, ``Unnamed: 0``, a generated
  name) or the values are sorted or a permutation of a range (row numbers); otherwise
  ``integer``.
* String -> ``text`` when values are mostly several words and too many to be
  categories (a sentence per row is free text even when no two rows repeat);
  ``identifier`` when all values are present and distinct (20+ rows); ``categorical``
  when it has at most ``max(20, min(1000, 5% of rows))`` distinct values;
  ``identifier`` when 90%+ are distinct; else ``categorical`` (with a high-cardinality
  warning from the profile).

Identifier-like columns are left out of the default feature set: a row index of a
sorted file predicts whatever the file is sorted by. Constant and free-text columns
are left out too, each with its reason in the schema; free text is what a text
template (``Template.input_roles``) trains on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from modellab.domain import ColumnRole, ColumnSchema, ColumnType, SchemaChange, SchemaDiff
from modellab.errors import InvalidInputError
from modellab.tasks import TaskType

_ID_NAME = re.compile(
    r"^(id|idx|index|key|uuid|guid|row|rownum|row_?number|row_?id|unnamed(_\d+)?|unnamed: ?\d+)$"
    r"|(^|[_\s-])(id|uuid|guid)$",
    re.IGNORECASE,
)
MIN_ROWS_FOR_ID = 20


def categorical_limit(rows: int) -> int:
    """Most distinct values a string column may have and still count as categorical."""
    return max(20, min(1000, int(0.05 * rows)))


@dataclass(frozen=True)
class ColumnFacts:
    """Cheap per-column statistics the type rules need."""

    name: str
    dtype: pl.DataType
    nulls: int
    n_unique: int  # distinct present values (estimated for float columns)
    sorted_or_range: bool
    mean_spaces: float


def column_facts(frame: pl.DataFrame) -> dict[str, ColumnFacts]:
    """Compute null counts, distinct counts and shape hints for every column at once."""
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        exprs.append(col.null_count().alias(f"{name}\x00nulls"))
        # Exact distinct counts drive the identifier and categorical rules; float
        # columns take neither, so a HyperLogLog estimate (exact for few values) will do.
        # Both count a missing value as one more distinct value; subtracting it avoids
        # materializing a null-free copy of every column at once.
        distinct = col.approx_n_unique() if dtype.is_float() else col.n_unique()
        has_null = (col.null_count() > 0).cast(pl.Int64)
        exprs.append((distinct - has_null).alias(f"{name}\x00unique"))
        if dtype.is_float():
            # ...but a constant float column must read exactly 1 (or 0 when empty)
            exprs.append((col.min() == col.max()).alias(f"{name}\x00const"))
        if dtype.is_integer():
            exprs.append(
                (col.drop_nulls().is_sorted() | ((col.max() - col.min() + 1) == col.count())).alias(
                    f"{name}\x00sorted"
                )
            )
        if dtype == pl.String:
            exprs.append(
                col.drop_nulls()
                .head(1000)
                .str.count_matches(r"\s+")
                .mean()
                .alias(f"{name}\x00spaces")
            )
    row = frame.select(exprs).row(0, named=True)
    facts: dict[str, ColumnFacts] = {}
    for name, dtype in frame.schema.items():
        n_unique = int(row[f"{name}\x00unique"])
        if dtype.is_float():
            const = row[f"{name}\x00const"]
            n_unique = 0 if const is None else 1 if const else max(2, n_unique)
        facts[name] = ColumnFacts(
            name=name,
            dtype=dtype,
            nulls=int(row[f"{name}\x00nulls"]),
            n_unique=n_unique,
            sorted_or_range=bool(row.get(f"{name}\x00sorted") or False),
            mean_spaces=float(row.get(f"{name}\x00spaces") or 0.0),
        )
    return facts


def logical_type(f: ColumnFacts, rows: int, generated: bool = False) -> ColumnType:
    """The logical type of a column from its facts (rules in the module docstring)."""
    dtype = f.dtype
    all_distinct = f.nulls == 0 and f.n_unique == rows and rows >= MIN_ROWS_FOR_ID
    if dtype == pl.Boolean:
        return ColumnType.BOOLEAN
    if dtype.is_temporal():
        return ColumnType.DATETIME
    if dtype.is_float():
        return ColumnType.NUMERIC
    if dtype.is_integer():
        if all_distinct and (generated or _ID_NAME.search(f.name) or f.sorted_or_range):
            return ColumnType.IDENTIFIER
        return ColumnType.INTEGER
    if dtype == pl.String or dtype == pl.Categorical:
        many = f.n_unique > categorical_limit(rows)
        if many and f.mean_spaces >= 1.0:
            return ColumnType.TEXT
        if all_distinct:
            return ColumnType.IDENTIFIER
        if not many:
            return ColumnType.CATEGORICAL
        present = rows - f.nulls
        if present and f.n_unique / present >= 0.9:
            return ColumnType.IDENTIFIER
        return ColumnType.CATEGORICAL
    return ColumnType.TEXT


def infer_task(target: str, f: ColumnFacts, task_types: Mapping[str, TaskType]) -> str:
    """The installed task type whose ``target_affinity`` rates the target highest.

    Ties go to the first name in sorted order, so the guess does not depend on which
    plugin loaded first.
    """
    ranked = sorted((-t.target_affinity(f), name) for name, t in task_types.items())
    if not ranked or ranked[0][0] >= 0:
        known = ", ".join(sorted(task_types)) or "none"
        raise InvalidInputError(
            f"no installed task type takes target column {target!r} (type {f.dtype}) by "
            f"itself; name one with --task (installed: {known})"
        )
    return ranked[0][1]


def check_task(target: str, task: TaskType, f: ColumnFacts, others: Mapping[str, TaskType]) -> None:
    """Refuse a requested task the target's values cannot support, naming the tasks
    among ``others`` that could take it."""
    reason = task.check_target(target, f)
    if reason is None:
        return
    could = [
        n for n, t in sorted(others.items()) if n != task.name and t.check_target(target, f) is None
    ]
    hint = f"; use --task {' or '.join(could)}" if could else ""
    raise InvalidInputError(reason + hint)


#: why a column with a non-feature role is not a feature, by role
ROLE_REASONS = {
    ColumnRole.IDENTIFIER: "an identifier (a row key), which a model can memorize",
    ColumnRole.TIME: "the time of the row",
    ColumnRole.GROUP: "the group a row belongs to",
    ColumnRole.ITEM: "the item a row is about",
    ColumnRole.WEIGHT: "the row's weight",
    ColumnRole.TEXT: "free text",
}


def build_schema(
    frame: pl.DataFrame,
    facts: dict[str, ColumnFacts],
    target: str,
    generated: set[str],
    excluded_extra: dict[str, str] | None = None,
    roles: Mapping[str, ColumnRole] | None = None,
    group_column: str | None = None,
) -> list[ColumnSchema]:
    """One :class:`ColumnSchema` per column, with its role and why it is not a feature.

    ``roles`` are the user's choices (and the split's ``group_column``) and win. Otherwise
    identifier-like columns get the role ``identifier``, free text ``text``, constant
    columns and ``excluded_extra`` (``--exclude``, ``--features``, with the reason) are
    ``excluded``, and the rest are features.
    """
    rows = frame.height
    out: list[ColumnSchema] = []
    extra = excluded_extra or {}
    chosen = roles or {}
    for name, dtype in frame.schema.items():
        f = facts[name]
        ltype = logical_type(f, rows, name in generated)
        reason: str | None = None
        if name == target:
            role = ColumnRole.TARGET
        elif name == group_column:
            role, reason = ColumnRole.GROUP, "the group column of the split"
        elif name in chosen:
            role = chosen[name]
            if role is ColumnRole.EXCLUDED:
                reason = "left out (--role excluded)"
            elif role is not ColumnRole.FEATURE:
                reason = f"{ROLE_REASONS[role]} (--role)"
        elif ltype is ColumnType.IDENTIFIER:
            role = ColumnRole.IDENTIFIER
            reason = (
                "identifier-like: every value distinct (a row id or key), "
                "which a model can memorize"
            )
        elif f.n_unique <= 1:
            role, reason = ColumnRole.EXCLUDED, "constant: a single value (or none) in every row"
        elif ltype is ColumnType.TEXT:
            role, reason = ColumnRole.TEXT, "free text: tabular templates do not use it"
        elif name in extra:
            role, reason = ColumnRole.EXCLUDED, extra[name]
        else:
            role = ColumnRole.FEATURE
        out.append(
            ColumnSchema(
                name=name,
                dtype=str(dtype),
                logical_type=ltype,
                nullable=f.nulls > 0,
                cardinality=f.n_unique,
                role=role,
                excluded_reason=reason,
            )
        )
    return out


def no_feature_reason(schema: list[ColumnSchema]) -> str:
    """Why a schema without a feature column is refused: each column and its role."""
    target = next((c.name for c in schema if c.role == "target"), None)
    others = [c for c in schema if c.role != "target"]
    left_out = "; ".join(f"{c.name!r} ({c.excluded_reason or c.role})" for c in others[:20])
    if len(others) > 20:
        left_out += f"; and {len(others) - 20} more"
    return (
        f"no usable feature column: besides the target {target!r}, every column is left "
        f"out of the default feature set: {left_out}; a model needs at least one feature "
        "column (add one, or check the delimiter and the header row)"
    )


def diff_schemas(before: list[ColumnSchema], after: list[ColumnSchema], version: int) -> SchemaDiff:
    """Columns added, removed, and changed (dtype, logical type or role) since ``before``."""
    old = {c.name: c for c in before}
    new = {c.name: c for c in after}
    changed: list[SchemaChange] = []
    for name in sorted(old.keys() & new.keys()):
        a, b = old[name], new[name]
        before_desc = f"{a.dtype}/{a.logical_type.value}/{a.role}"
        after_desc = f"{b.dtype}/{b.logical_type.value}/{b.role}"
        if before_desc != after_desc:
            changed.append(SchemaChange(name, before_desc, after_desc))
    return SchemaDiff(
        against_version=version,
        added=sorted(new.keys() - old.keys()),
        removed=sorted(old.keys() - new.keys()),
        changed=changed,
    )
