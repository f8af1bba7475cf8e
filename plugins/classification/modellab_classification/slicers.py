"""Slicers of the classification task: by predicted-confidence decile and by true class
(EvalHarness' built-in rules, so ModelLab's reports and EvalHarness' agree), and for a
run with free text by its length and its words unseen in training.
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
    from modellab.tasks import TEXT_COLUMNS

    columns = [c for c in frame.attrs.get(TEXT_COLUMNS, []) if c in frame.columns]
    return columns, _joined(frame, columns) if columns else []


def _joined(frame: Any, columns: list[str]) -> list[str]:
    """Each row's ``columns`` joined by a space, a missing cell as empty."""
    parts = frame[columns].astype(object).where(frame[columns].notna(), "")
    return [" ".join(str(v) for v in row) for row in parts.itertuples(index=False)]


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
    vocabulary = {w for t in _joined(train_frame, columns) for w in words(t)}
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
