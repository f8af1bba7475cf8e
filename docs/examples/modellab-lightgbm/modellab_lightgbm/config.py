"""The LightGBM variant's settings: a msgspec Struct with defaults and bounds.

msgspec only, so that discovering plugins stays cheap. ``modellab run --set KEY=VALUE``
overrides a field; a value outside its bounds is refused before anything trains. The
seed is not a field: it is the run's ``--seed``, which ``fit`` receives.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

Fraction = Annotated[float, Meta(gt=0, le=1)]


class LightGBMConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Gradient-boosted trees grown leaf-wise, with native categorical splits."""

    n_estimators: Annotated[int, Meta(ge=1, le=10_000, description="boosting rounds (trees)")] = 200
    learning_rate: Annotated[
        float, Meta(gt=0, le=1, description="how much each tree corrects; smaller needs more trees")
    ] = 0.05
    num_leaves: Annotated[
        int, Meta(ge=2, le=131_072, description="most leaves per tree; more fits more detail")
    ] = 15
    max_depth: Annotated[
        int, Meta(ge=-1, le=64, description="deepest split chain per tree; -1 for no limit")
    ] = -1
    min_child_samples: Annotated[
        int, Meta(ge=1, le=100_000, description="least training rows a leaf must hold")
    ] = 10
    subsample: Annotated[
        Fraction, Meta(description="share of rows each bagging round draws (with subsample_freq)")
    ] = 1.0
    subsample_freq: Annotated[
        int, Meta(ge=0, le=10_000, description="bag every this many rounds; 0 for no bagging")
    ] = 0
    colsample_bytree: Annotated[Fraction, Meta(description="share of columns each tree sees")] = 1.0
    reg_lambda: Annotated[float, Meta(ge=0, le=1e6, description="L2 penalty on leaf values")] = 0.0
    reg_alpha: Annotated[float, Meta(ge=0, le=1e6, description="L1 penalty on leaf values")] = 0.0
    deterministic: Annotated[
        bool, Meta(description="the same seed, data and settings grow the same trees")
    ] = True
    n_jobs: Annotated[
        int, Meta(ge=1, le=256, description="CPU threads; deterministic trees do not depend on it")
    ] = 1
