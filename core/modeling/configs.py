"""Config Structs shared by task plugins (msgspec only: cheap to import)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

Fraction = Annotated[float, Meta(gt=0, le=1)]


class BoostingConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Gradient-boosted trees with native categorical support and early stopping.

    Early stopping watches ``validation_fraction`` of the training rows, never test rows.
    """

    n_estimators: Annotated[int, Meta(ge=1, le=100_000)] = 400
    learning_rate: Annotated[float, Meta(gt=0, le=1)] = 0.1
    max_depth: Annotated[int, Meta(ge=1, le=32)] = 6
    min_child_weight: Annotated[float, Meta(ge=0)] = 1.0
    subsample: Fraction = 1.0
    colsample_bytree: Fraction = 1.0
    reg_lambda: Annotated[float, Meta(ge=0)] = 1.0
    early_stopping_rounds: Annotated[int, Meta(ge=1)] = 30
    validation_fraction: Annotated[float, Meta(gt=0, lt=0.5)] = 0.1
    n_jobs: Annotated[int, Meta(ge=1, le=256)] = 1
