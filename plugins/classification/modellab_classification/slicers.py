"""Slicers of the classification task: by predicted-confidence decile and by true class
(EvalHarness' built-in rules, so ModelLab's reports and EvalHarness' agree), for a run
with free text by its length and its words unseen in training, and where the classes
include an out-of-scope label, its queries apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modellab.tasks import SliceDefinition
from modellab_tabular.slicers import as_definitions, numeric_target


def by_confidence_decile(scores: Any = None, **_: Any) -> list[SliceDefinition]:
    """Ten slices by the decile of the predicted class's probability (none without scores)."""
    from evalharness.slicing.families import confidence_deciles

    return as_definitions(confidence_deciles(None if scores is None else np.asarray(scores)))


def by_class(y_true: Any, score_labels: Any = None, **_: Any) -> list[SliceDefinition]:
    """One slice per true class; the 3 most frequent when there are more than 5."""
    from evalharness.slicing.families import classes

    labels = sorted({*(str(v) for v in score_labels or ()), *(str(v) for v in y_true)})
    return as_definitions(classes(numeric_target(y_true, score_labels), labels))


def _texts(frame: Any) -> tuple[list[str], list[str]]:
    """The run's text columns (``TEXT_COLUMNS``) and each row's text, its columns joined;
    no columns for a run without free text."""
    from evalharness.failures.texts import joined_texts
    from modellab.tasks import TEXT_COLUMNS

    columns = [c for c in frame.attrs.get(TEXT_COLUMNS, []) if c in frame.columns]
    return columns, joined_texts(frame, columns) if columns else []


def by_text_length(frame: Any, **_: Any) -> list[SliceDefinition]:
    """Terciles of each row's number of words in its text columns (none without text)."""
    from evalharness.slicing.fixed import quantile_slices
    from modellab_classification.text import words

    columns, texts = _texts(frame)
    if not columns:
        return []
    lengths = np.array([len(words(t)) for t in texts], dtype=np.float64)
    described = f"terciles of the number of words in {', '.join(columns)}"
    return [
        SliceDefinition(d.id, d.definition, d.mask, "text_length", described)
        for d in quantile_slices(lengths, 3, "text_length", "words")
    ]


#: a text whose share of words unseen in training is above this is mostly new words
OOV_HIGH = 0.2


def by_out_of_vocabulary(frame: Any, train_frame: Any = None, **_: Any) -> list[SliceDefinition]:
    """Rows by the share of their words that no training text holds: none, at most
    :data:`OOV_HIGH`, more (none without text or without the train rows)."""
    from modellab_classification.text import words

    columns, texts = _texts(frame)
    if not columns or train_frame is None:
        return []
    from evalharness.failures.texts import joined_texts

    vocabulary = {w for t in joined_texts(train_frame, columns) for w in words(t)}
    share = np.array(
        [np.mean([w not in vocabulary for w in ws]) if (ws := words(t)) else 0.0 for t in texts]
    )
    family = "text_out_of_vocabulary"
    described = "rows by the share of their words that appear in no training text"
    rules = (
        ("text_oov:none", "every word appears in a training text", share == 0),
        (
            "text_oov:low",
            f"up to {OOV_HIGH:.0%} of the words unseen",
            (share > 0) & (share <= OOV_HIGH),
        ),
        ("text_oov:high", f"more than {OOV_HIGH:.0%} of the words unseen", share > OOV_HIGH),
    )
    return [SliceDefinition(i, d, m, family, described) for i, d, m in rules if m.any()]


#: the family of the out-of-scope slices
OUT_OF_SCOPE = "out_of_scope"
#: class labels that name queries no intent covers (compared lower-cased, "-" as "_")
OUT_OF_SCOPE_LABELS = ("oos", "out_of_scope", "outofscope")


def out_of_scope_label(labels: Any) -> str | None:
    """The label among ``labels`` that names out-of-scope queries, if one does."""
    for label in sorted({str(v) for v in labels}):
        if label.strip().lower().replace("-", "_") in OUT_OF_SCOPE_LABELS:
            return label
    return None


def by_out_of_scope(y_true: Any, score_labels: Any = None, **_: Any) -> list[SliceDefinition]:
    """Queries whose true class is the out-of-scope label, and the in-scope rest (none
    when no class is out of scope)."""
    truth = np.asarray(y_true).astype(str)
    label = out_of_scope_label([*(score_labels or ()), *truth])
    if label is None:
        return []
    described = (
        f"queries labelled {label!r}, which no intent covers, and the rest; the confident "
        "error of the first is how often the model answers them with an intent it is sure of"
    )
    rules = (
        (f"{OUT_OF_SCOPE}:queries", f"true class {label!r} (out of scope)", truth == label),
        (f"{OUT_OF_SCOPE}:in_scope", f"true class other than {label!r}", truth != label),
    )
    # Out-of-scope queries answered with a confident intent are the failure that matters
    # there: the slices report the confident error beside accuracy.
    return [
        SliceDefinition(i, d, m, OUT_OF_SCOPE, described, ("confident_error",))
        for i, d, m in rules
        if m.any()
    ]
