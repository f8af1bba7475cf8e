"""Model variants of the text classification template: TF-IDF features of the run's text
columns (``modellab.tasks.TEXT_COLUMNS``) beside its tabular features, then a linear model
or a small network.

Every model is a scikit-learn pipeline saved with skops (no pickle); text cells that are
missing become empty strings before the vectorizers see them, at fit and at predict.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline

from modellab.errors import ModelLabError
from modellab.tasks import TEXT_COLUMNS
from modellab_classification.configs import (
    CharWordSvmConfig,
    TfidfLogisticConfig,
    TfidfSvdMlpConfig,
)
from modellab_tabular.features import column_kinds, linear_preprocessor, prepare_features
from modellab_tabular.fitted import FittedPipeline, pipeline_fields, signature_of, split_xy

log = logging.getLogger("modellab.train")

#: words as the vectorizers see them: runs of letters and digits, lower-cased
TOKEN_PATTERN = r"(?u)\b\w+\b"
_WORDS = re.compile(TOKEN_PATTERN)


def words(text: str) -> list[str]:
    """``text``'s words as the vectorizers count them (lower-cased :data:`TOKEN_PATTERN`)."""
    return _WORDS.findall(text.lower())


def text_columns(train: pd.DataFrame) -> list[str]:
    """The run's text columns, as its frames name them.

    :raises ModelLabError: the run has none (the dataset's free text is role ``text``).
    """
    found = list(train.attrs.get(TEXT_COLUMNS, []))
    if not found:
        raise ModelLabError(
            "the text-classification template needs a column of role 'text'; add the "
            "dataset with --role COLUMN=text (free-text columns get it by default)"
        )
    return found


@dataclass
class FittedTextPipeline(FittedPipeline):
    """A :class:`~modellab_tabular.fitted.FittedPipeline` whose ``text_columns`` go to
    the vectorizers as strings (missing as empty) and the rest through the tabular
    preparation."""

    text_columns: list[str] | None = None

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        texts = self.text_columns or []
        other = [c for c in self.feature_columns if c not in texts]
        out = prepare_features(frame[other])
        for c in texts:
            out[c] = frame[c].astype(object).where(frame[c].notna(), "").astype(str)
        return out[self.feature_columns]

    def meta(self) -> dict[str, Any]:
        """The pipeline's ``meta.json``, with the text columns."""
        return {**super().meta(), "text_columns": self.text_columns}


def load_text_pipeline(folder: Path) -> FittedTextPipeline:
    """Read back what :meth:`FittedTextPipeline.save` wrote (skops' trusted types only)."""
    fields, meta = pipeline_fields(folder)
    return FittedTextPipeline(**fields, text_columns=list(meta["text_columns"]))


def _word_vectorizer(ngrams: int, min_df: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        ngram_range=(1, ngrams),
        min_df=min_df,
        sublinear_tf=True,
        dtype=np.float64,
    )


def _char_vectorizer(low: int, high: int, min_df: int) -> TfidfVectorizer:
    # char_wb: n-grams inside word boundaries, padded with spaces, so that a typo
    # changes a few n-grams of one word rather than every word n-gram it is part of.
    return TfidfVectorizer(
        lowercase=True,
        analyzer="char_wb",
        ngram_range=(low, high),
        min_df=min_df,
        sublinear_tf=True,
        dtype=np.float64,
    )


def _features(x: pd.DataFrame, texts: list[str], vectorizers: dict[str, Any]) -> ColumnTransformer:
    """Each vectorizer on each text column, and the linear tabular preprocessing on the
    other columns (none for a text-only dataset)."""
    parts: list[tuple[str, Any, Any]] = [
        (f"{kind}:{c}", clone(v), c) for c in texts for kind, v in vectorizers.items()
    ]
    other = [c for c in x.columns if c not in texts]
    if other:
        parts.append(
            ("tabular", linear_preprocessor(column_kinds(prepare_features(x[other]))), other)
        )
    return ColumnTransformer(parts, sparse_threshold=1.0)


def _fit(
    train: pd.DataFrame, model: Any, vectorizers: dict[str, Any], name: str, post: Any = None
) -> FittedTextPipeline:
    x, y = split_xy(train)
    texts = text_columns(train)
    steps: list[tuple[str, Any]] = [("preprocess", _features(x, texts, vectorizers))]
    if post is not None:
        steps.append(("embed", post))
    steps.append(("model", model))
    classes = sorted(set(y.astype(str)))
    fitted = FittedTextPipeline(
        Pipeline(steps),
        list(x.columns),
        signature_of(train, {"kind": "class", "classes": classes, "scores": "predict_proba"}),
        classes,
        text_columns=texts,
    )
    fitted.pipeline.fit(fitted._x(x), y.astype(str))
    width = sum(
        len(t.vocabulary_)
        for _, t, _ in fitted.pipeline.named_steps["preprocess"].transformers_
        if isinstance(t, TfidfVectorizer)
    )
    log.info("%s: %d text features from %s", name, width, ", ".join(texts))
    return fitted


def fit_tfidf_logistic(
    train: pd.DataFrame, spec: TfidfLogisticConfig, seed: int
) -> FittedTextPipeline:
    """TF-IDF of word 1- and 2-grams, then multinomial logistic regression: the text
    baseline every candidate must beat."""
    from sklearn.linear_model import LogisticRegression

    return _fit(
        train,
        LogisticRegression(C=spec.C, max_iter=spec.max_iter, random_state=seed),
        {"words": _word_vectorizer(spec.word_ngrams, spec.min_df)},
        "tfidf_logistic",
    )


def fit_char_word_svm(
    train: pd.DataFrame, spec: CharWordSvmConfig, seed: int
) -> FittedTextPipeline:
    """Character 2-5-grams within words beside word 1-2-grams, a linear SVM, and its
    scores calibrated into probabilities (sigmoid, cross-validated on the train rows)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    svm = LinearSVC(C=spec.C, random_state=seed)
    return _fit(
        train,
        CalibratedClassifierCV(svm, method="sigmoid", cv=spec.calibration_folds),
        {
            "words": _word_vectorizer(2, spec.min_df),
            "chars": _char_vectorizer(spec.char_min, spec.char_max, spec.min_df),
        },
        "char_word_tfidf_calibrated_svm",
    )


def fit_tfidf_svd_mlp(
    train: pd.DataFrame, spec: TfidfSvdMlpConfig, seed: int
) -> FittedTextPipeline:
    """Word TF-IDF reduced by a TruncatedSVD learned on the train texts (dense latent
    semantic embeddings), then a one-hidden-layer network that learns its own
    representation of them, stopped early on a held-out share of the train rows."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.neural_network import MLPClassifier

    svd = TruncatedSVD(n_components=spec.dimensions, algorithm="randomized", random_state=seed)
    mlp = MLPClassifier(
        hidden_layer_sizes=(spec.hidden,),
        alpha=spec.alpha,
        early_stopping=True,
        max_iter=spec.max_epochs,
        random_state=seed,
    )
    return _fit(
        train,
        mlp,
        {"words": _word_vectorizer(2, spec.min_df)},
        "tfidf_svd_mlp",
        post=svd,
    )
