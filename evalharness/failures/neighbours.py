"""The nearest training example of a failed text: which training row reads most alike, and
its label.

A text classifier that is confidently wrong often learned the wrong class from a training
text worded almost the same (two intents that overlap, or a mislabelled row); showing that
text and its label beside the failure says which. Nearness is the cosine similarity of
TF-IDF word vectors fit on the training texts, a reference independent of the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from evalharness.failures.texts import cut_text, joined_texts
from evalharness.schemas import files as S

#: words as the TF-IDF baseline counts them: runs of letters and digits, one letter too
WORD_PATTERN = r"(?u)\b\w+\b"


@dataclass(frozen=True)
class TrainingTexts:
    """The training rows' free text (their text columns joined) with their ids and labels."""

    ids: Sequence[Any]
    texts: Sequence[str]
    labels: Sequence[Any]

    @classmethod
    def of(cls, frame: pd.DataFrame, columns: Sequence[str], labels: Any) -> TrainingTexts:
        """The training texts of ``frame``'s ``columns`` (one text per row, the columns
        joined by a space, a missing cell as empty) labelled by ``labels`` in row order."""
        return cls(
            [str(i) for i in frame.index.tolist()],
            joined_texts(frame, columns),
            list(np.asarray(labels)),
        )


class NearestTraining:
    """Finds the training text nearest to any text: the vectorizer is fit once."""

    def __init__(self, train: TrainingTexts) -> None:
        self.train = train
        self.vectorizer = TfidfVectorizer(token_pattern=WORD_PATTERN, sublinear_tf=True)
        try:
            self.matrix = self.vectorizer.fit_transform(train.texts)
        except ValueError:  # no training text holds a word: nothing is near anything
            self.matrix = None

    def find(self, texts: Sequence[str]) -> list[S.NearestTrainingExample | None]:
        """For each text, its nearest training example (ties: the first training row);
        None for a text that shares no word with any training text."""
        if self.matrix is None or not texts:
            return [None] * len(texts)
        # Rows are L2-normalised, so the dot product is the cosine similarity.
        sims = (self.vectorizer.transform(texts) @ self.matrix.T).toarray()
        out: list[S.NearestTrainingExample | None] = []
        for row in sims:
            best = int(np.argmax(row))
            if row[best] <= 0:
                out.append(None)
                continue
            label = self.train.labels[best]
            out.append(
                S.NearestTrainingExample(
                    example_id=str(self.train.ids[best]),
                    label=label.item() if isinstance(label, np.generic) else label,
                    similarity=float(f"{row[best]:.6g}"),
                    text=cut_text(self.train.texts[best]),
                )
            )
        return out
