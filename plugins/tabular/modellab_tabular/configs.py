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

    n_estimators: Annotated[
        int,
        Meta(ge=1, le=100_000, description="most trees to grow (early stopping may stop sooner)"),
    ] = 400
    learning_rate: Annotated[
        float, Meta(gt=0, le=1, description="how much each tree corrects; smaller needs more trees")
    ] = 0.1
    max_depth: Annotated[
        int, Meta(ge=1, le=32, description="deepest split chain per tree; deeper fits more detail")
    ] = 6
    min_child_weight: Annotated[
        float, Meta(ge=0, description="least weight a leaf must hold; larger is more conservative")
    ] = 1.0
    subsample: Annotated[Fraction, Meta(description="share of rows each tree sees")] = 1.0
    colsample_bytree: Annotated[Fraction, Meta(description="share of columns each tree sees")] = 1.0
    reg_lambda: Annotated[float, Meta(ge=0, description="L2 penalty on leaf weights")] = 1.0
    early_stopping_rounds: Annotated[
        int, Meta(ge=1, description="stop after this many trees without validation improvement")
    ] = 30
    validation_fraction: Annotated[
        float,
        Meta(gt=0, lt=0.5, description="share of training rows held out for early stopping"),
    ] = 0.1
    n_jobs: Annotated[
        int, Meta(ge=1, le=256, description="CPU threads; results do not depend on it")
    ] = 1
