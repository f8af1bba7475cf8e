"""What a tabular target looks like: the rules the classification and regression task
types share when they accept a target or guess the task from it.

Light on imports (polars and ModelLab's domain only): plugin discovery imports it.
"""

from __future__ import annotations

from typing import Any

#: an integer target with at most this many distinct values is guessed to be classes
MAX_CLASSES_FOR_INTEGER_TARGET = 20


def few_integers(facts: Any) -> bool:
    """An integer column with few distinct values: classes more likely than a quantity."""
    return bool(facts.dtype.is_integer() and facts.n_unique <= MAX_CLASSES_FOR_INTEGER_TARGET)


def single_feature_leaks(
    kind: str, learn_x: Any, learn_y: Any, score_x: Any, score_y: Any, config: Any
) -> list[tuple[str, str]]:
    """EvalHarness' single-feature leak check for a ``kind`` of target, as (column, evidence)."""
    from evalharness import find_single_feature_leaks

    findings = find_single_feature_leaks(learn_x, learn_y, score_x, score_y, kind, config=config)
    return [(f.column, f.evidence) for f in findings]
