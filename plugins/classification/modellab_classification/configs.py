"""Configs of the classification model variants: msgspec Structs with defaults and bounds.

They import nothing heavy, so listing plugins stays fast; the models import
scikit-learn and XGBoost only when a run fits one.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from modellab_tabular.configs import BoostingConfig

Positive = Annotated[float, Meta(gt=0)]
Fraction = Annotated[float, Meta(gt=0, le=1)]


class MostFrequentConfig(msgspec.Struct, forbid_unknown_fields=True):
    """The majority-class baseline has nothing to tune."""


class LogisticRegressionConfig(msgspec.Struct, forbid_unknown_fields=True):
    """L2-regularized logistic regression on imputed, scaled, one-hot features."""

    C: Annotated[Positive, Meta(description="inverse regularization; smaller is simpler")] = 1.0
    max_iter: Annotated[
        int, Meta(ge=10, le=100_000, description="most solver iterations before giving up")
    ] = 1000
    class_weight: Annotated[
        Literal["balanced"] | None,
        Meta(description="'balanced' weighs rare classes up; none treats rows equally"),
    ] = None


class XGBoostClassifierConfig(BoostingConfig, forbid_unknown_fields=True):
    """XGBoost classification settings (see :class:`~modellab_tabular.configs.BoostingConfig`)."""


class TfidfLogisticConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Word n-gram TF-IDF, then logistic regression."""

    C: Annotated[Positive, Meta(description="inverse regularization; smaller is simpler")] = 10.0
    max_iter: Annotated[
        int, Meta(ge=10, le=100_000, description="most solver iterations before giving up")
    ] = 1000
    word_ngrams: Annotated[int, Meta(ge=1, le=3, description="longest word n-gram")] = 2
    min_df: Annotated[
        int, Meta(ge=1, le=1000, description="train texts a term must occur in to be kept")
    ] = 1


class CharWordSvmConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Character and word n-gram TF-IDF, a linear SVM, sigmoid-calibrated probabilities."""

    C: Annotated[Positive, Meta(description="inverse regularization of the SVM")] = 0.5
    char_min: Annotated[int, Meta(ge=1, le=10, description="shortest character n-gram")] = 2
    char_max: Annotated[int, Meta(ge=1, le=10, description="longest character n-gram")] = 5
    min_df: Annotated[
        int, Meta(ge=1, le=1000, description="train texts a term must occur in to be kept")
    ] = 1
    calibration_folds: Annotated[
        int, Meta(ge=2, le=10, description="cross-validation folds of the calibration")
    ] = 3


class TfidfSvdMlpConfig(msgspec.Struct, forbid_unknown_fields=True):
    """TF-IDF into TruncatedSVD embeddings, then a one-hidden-layer network."""

    dimensions: Annotated[int, Meta(ge=2, le=2048, description="SVD dimensions")] = 300
    hidden: Annotated[int, Meta(ge=1, le=4096, description="hidden units")] = 256
    alpha: Annotated[float, Meta(ge=0, le=10, description="L2 penalty of the network")] = 1e-4
    max_epochs: Annotated[int, Meta(ge=1, le=1000, description="most training epochs")] = 200
    min_df: Annotated[
        int, Meta(ge=1, le=1000, description="train texts a term must occur in to be kept")
    ] = 1
