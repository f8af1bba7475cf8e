"""Configs of the learning-to-rank model variants (msgspec only: cheap to import)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from modellab_tabular.configs import BoostingConfig


class SingleFeatureConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Rank by one feature: the named one, else the one that ranks the training queries
    best by NDCG@10 (either direction)."""

    feature: Annotated[
        str | None,
        Meta(description="the feature to rank by; None picks the best on train queries"),
    ] = None


class LinearRankerConfig(msgspec.Struct, forbid_unknown_fields=True):
    """Pointwise ridge regression of the label on imputed, scaled features."""

    alpha: Annotated[float, Meta(ge=0, description="ridge penalty")] = 1.0


class XGBRankerConfig(BoostingConfig, forbid_unknown_fields=True):
    """XGBoost ``rank:ndcg`` settings; early stopping holds out whole training queries
    (see :class:`~modellab_tabular.configs.BoostingConfig`). Shallower, slower trees than
    the tabular default: a ranking table has few queries, and deep trees overfit them."""

    learning_rate: Annotated[
        float, Meta(gt=0, le=1, description="how much each tree corrects; smaller needs more trees")
    ] = 0.05
    max_depth: Annotated[
        int, Meta(ge=1, le=32, description="deepest split chain per tree; deeper fits more detail")
    ] = 3


class BM25Config(msgspec.Struct, forbid_unknown_fields=True):
    """BM25 over the collection's documents (Anserini's default parameters)."""

    k1: Annotated[float, Meta(ge=0, description="term-frequency saturation")] = 0.9
    b: Annotated[float, Meta(ge=0, le=1, description="document-length normalization")] = 0.4
    depth: Annotated[int, Meta(ge=1, le=10_000, description="documents retrieved per query")] = 100


class DenseConfig(msgspec.Struct, forbid_unknown_fields=True):
    """TF-IDF -> TruncatedSVD embeddings searched in a faiss HNSW index."""

    dimensions: Annotated[int, Meta(ge=2, le=2048, description="SVD dimensions")] = 256
    hnsw_m: Annotated[int, Meta(ge=2, le=256, description="HNSW neighbours per node (M)")] = 32
    ef_construction: Annotated[
        int, Meta(ge=1, le=4096, description="HNSW candidate list while building")
    ] = 200
    ef_search: Annotated[
        int, Meta(ge=1, le=4096, description="HNSW candidate list while searching (efSearch)")
    ] = 256
    depth: Annotated[int, Meta(ge=1, le=10_000, description="documents retrieved per query")] = 100


class RerankConfig(msgspec.Struct, forbid_unknown_fields=True):
    """BM25's top documents reranked by XGBoost ``rank:ndcg`` over text features."""

    depth: Annotated[int, Meta(ge=1, le=1000, description="BM25 candidates reranked per query")] = (
        100
    )
    ranker: XGBRankerConfig = msgspec.field(default_factory=XGBRankerConfig)
