"""The ranking and retrieval evaluators: EvalHarness' ranking report on a run's test
queries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from evalharness import BaselineResult, LeakageInputs
from evalharness.core.ranking import RARE_DOCUMENT_SHARE, evaluate_ranking
from modellab.tasks import GROUP, EvalRequest
from modellab_tabular.evaluation import eval_config, run_info, slice_families
from modellab_tabular.features import prepare_features


def _leakage(req: EvalRequest) -> LeakageInputs:
    """Row-level checks on the documents' features (no test row in train, no copied
    rows, preprocessors fit on train rows); the query check is EvalHarness' own."""
    train = prepare_features(req.train_frame.drop(columns=[GROUP]))
    test = prepare_features(req.test_frame.drop(columns=[GROUP]))
    return LeakageInputs(
        train_index=req.train_frame.index,
        test_index=req.test_frame.index,
        train_frame=train,
        test_frame=test,
        preprocessors=list(req.model.preprocessors),
        split=req.split,
        measured_duplicates=req.duplicates,
    )


def evaluate(req: EvalRequest) -> None:
    """Write the EvalHarness folder of a ranking run."""
    model: Any = req.model
    rows = req.test_frame.drop(columns=[GROUP])
    scores = (
        np.asarray(req.y_pred, dtype=np.float64)
        if req.y_pred is not None
        else np.asarray(model.predict(req.test_frame), dtype=np.float64)
    )
    baseline = None
    if req.baseline is not None:
        b = req.baseline
        baseline = BaselineResult(
            name=b.name,
            y_pred=np.asarray(b.y_pred, dtype=np.float64),
            # Its model, loaded back, reranks the corrupted rows beside this one.
            predict=None if b.model is None else b.model.predict,
            run_id=b.run_key,
            dataset_version=b.dataset_version.rpartition("@")[2],
            split_checksum=b.split_checksum,
        )
    slices = slice_families(req) or None
    evaluate_ranking(
        req.out_dir,
        req.test_frame[GROUP].to_numpy(),
        req.test_frame.index.to_numpy(),
        np.asarray(req.y_true),
        scores,
        run=run_info(req),
        predict=lambda frame: model.predict(frame),
        stress_rows=rows,
        baseline=baseline,
        leakage=_leakage(req),
        config=eval_config(req),
        latency=req.latency_file,
        slices=slices,
        train_units=req.train_frame[GROUP].to_numpy(),
        features=_query_features(req.test_frame),
    )


def _query_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-query means of the numeric features (``mean_<feature>``), for the weak-slice
    search; a query length column of constant value per query is kept as
    ``query_length``."""
    numeric = frame.drop(columns=[GROUP]).select_dtypes("number")
    grouped = numeric.groupby(frame[GROUP].astype(str), sort=True)
    out = grouped.mean().add_prefix("mean_")
    if "query_length" in numeric.columns:
        out["query_length"] = grouped["query_length"].first()
    return out


def evaluate_retrieval(req: EvalRequest) -> None:
    """Write the EvalHarness folder of a retrieval run: the documents each query's
    retriever returned from the whole corpus, ranked against the judged ones; the
    retriever (when the run has it) searches again for the stress tests."""
    from modellab_ranking.retrievers import CorpusRetriever, corpus, queries
    from modellab_ranking.task import retrieved_rows

    rows = retrieved_rows(req.units, req.items, req.truth, req.y_pred)
    baseline = None
    baseline_rows = None
    if req.baseline is not None:
        b = req.baseline
        baseline_rows = retrieved_rows(b.units, b.items, b.truth, b.y_pred)
        baseline = BaselineResult(
            name=b.name,
            y_pred=None,
            run_id=b.run_key,
            dataset_version=b.dataset_version.rpartition("@")[2],
            split_checksum=b.split_checksum,
        )
    documents = corpus(req.test_frame)
    asked = dict(queries(req.test_frame))
    evaluate_ranking(
        req.out_dir,
        rows.units,
        rows.items,
        rows.labels,
        rows.scores,
        run=run_info(req),
        baseline=baseline,
        baseline_rows=baseline_rows,
        config=eval_config(req),
        latency=req.latency_file,
        slices=slice_families(req) or None,
        train_units=req.train_frame[GROUP].to_numpy(),
        features=query_vocabulary(asked, documents),
        documents=documents,
        query_text=asked,
        # An outside run file has no model here to search again: its stress tests say so.
        retriever=req.model.under_stress() if isinstance(req.model, CorpusRetriever) else None,
    )


def query_vocabulary(asked: dict[str, str], documents: Mapping[str, str]) -> pd.DataFrame:
    """Per query: ``query_length`` (terms), ``oov_share``, the share of its terms that
    no document of the corpus holds (a query that speaks another vocabulary than the
    corpus is one no term-matching retriever can serve), and ``rare_share``, the share
    held by fewer than ``RARE_DOCUMENT_SHARE`` of the documents."""
    from modellab_ranking.bm25 import tokens

    held: Counter[str] = Counter()
    for text in documents.values():
        held.update(set(tokens(text)))
    rare_below = RARE_DOCUMENT_SHARE * len(documents)
    ids = sorted(asked)
    said = [tokens(asked[q]) for q in ids]

    def share(terms: list[str], counts: Callable[[int], bool]) -> float:
        return sum(1 for w in terms if counts(held[w])) / len(terms) if terms else 0.0

    return pd.DataFrame(
        {
            "query_length": [float(len(t)) for t in said],
            "oov_share": [share(t, lambda n: n == 0) for t in said],
            "rare_share": [share(t, lambda n: 0 < n < rare_below) for t in said],
        },
        index=pd.Index(ids, name="query_id"),
    )
