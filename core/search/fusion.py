"""Per-query fusion: BM25 and dense scores combined with the index's dense weight.

Both rankers' scores are standardised (z-scores over each list's top ``NORM_DEPTH`` candidates) and mixed
as ``(1 - w) * bm25 + w * dense``. On the project's evaluation sets this beat weighted reciprocal rank
fusion at its best weight with every model tried (docs/benchmarks.md), so RRF stays only for comparison
(``WeightedRRF``, the evaluation's ``hybrid_rrf`` mode). The weight itself is measured on the user's
documents by :mod:`core.search.calibration`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from lancedb.rerankers import Reranker

from core.index.store import FUSION_METHOD

RRF_K = 60
# A dense weight of zero still lets dense-only passages follow every keyword hit, in dense order.
TIE_BREAK = 1e-6
#: How the engine fuses; a stored measurement made for another method is measured again (core.index.store).
METHOD = FUSION_METHOD
#: Scores are standardised over this many top candidates of each list, so fusion does not depend on k.
NORM_DEPTH = 50


def rrf_scores(rankings: Sequence[tuple[float, Sequence[Any]]], k: int = RRF_K) -> dict[Any, float]:
    scores: dict[Any, float] = defaultdict(float)
    for weight, ids in rankings:
        for rank, item in enumerate(ids, 1):
            scores[item] += max(weight, TIE_BREAK) / (k + rank)
    return scores


class WeightedRRF(Reranker):
    """LanceDB hybrid reranker: reciprocal rank fusion where the dense ranking counts by its weight."""

    def __init__(self, dense_weight: float = 1.0, bm25_weight: float = 1.0, k: int = RRF_K) -> None:
        super().__init__(return_score="all")
        self.dense_weight, self.bm25_weight, self.k = dense_weight, bm25_weight, k

    def rerank_hybrid(self, query: str, vector_results: pa.Table, fts_results: pa.Table) -> pa.Table:
        scores = rrf_scores(
            [
                (self.dense_weight, vector_results["_rowid"].to_pylist()),
                (self.bm25_weight, fts_results["_rowid"].to_pylist()),
            ],
            self.k,
        )
        if not vector_results.num_rows and not fts_results.num_rows:
            return fts_results.append_column("_relevance_score", pa.array([], pa.float32()))
        combined = self._merge_and_keep_scores(vector_results, fts_results)
        fused = pa.array([scores[r] for r in combined["_rowid"].to_pylist()], pa.float32())
        return combined.append_column("_relevance_score", fused).sort_by([("_relevance_score", "descending")])


def standardise(scores: Sequence[float]) -> np.ndarray:
    """z-scores, with mean and spread taken from the first ``NORM_DEPTH`` (best) scores of a ranked list."""
    values = np.asarray(scores, dtype=np.float64)
    head = values[:NORM_DEPTH]
    spread = float(head.std()) if head.size > 1 else 0.0
    return (values - head.mean()) / spread if spread > 0 else np.zeros_like(values)


def fuse_scores(
    dense: Sequence[tuple[Hashable, float]], bm25: Sequence[tuple[Hashable, float]], weight: float
) -> dict[Hashable, float]:
    """``(1 - w) * z(bm25) + w * z(dense)`` per candidate; one missing from a list gets that list's lowest z.

    At weight 0 keyword search leads: every keyword hit, in BM25 order, comes before every dense-only
    candidate, and those follow in dense order.
    """
    keyword_led = weight <= 0
    weight = min(max(weight, TIE_BREAK), 1.0)
    fused: dict[Hashable, float] = defaultdict(float)
    for share, ranked in ((weight, dense), (1.0 - weight, bm25)):
        if not ranked:
            continue
        z = standardise([score for _item, score in ranked])
        floor = float(z.min())
        for (item, _score), value in zip(ranked, z, strict=True):
            fused[item] += share * (float(value) - floor)
    if keyword_led:
        for item, _score in bm25:
            fused[item] += 1.0  # far above what the tie-breaking dense share can add
    return fused


class ScoreFusion(Reranker):
    """LanceDB hybrid reranker: the weighted sum of standardised BM25 and dense scores (see the module doc)."""

    def __init__(self, dense_weight: float) -> None:
        super().__init__(return_score="all")
        self.dense_weight = dense_weight

    def rerank_hybrid(self, query: str, vector_results: pa.Table, fts_results: pa.Table) -> pa.Table:
        if not vector_results.num_rows and not fts_results.num_rows:
            return fts_results.append_column("_relevance_score", pa.array([], pa.float32()))
        if "_dense_score" in vector_results.column_names:
            dense_scores = vector_results["_dense_score"].to_pylist()
        else:  # plain LanceDB vector results: a smaller distance is better
            dense_scores = [-d for d in vector_results["_distance"].to_pylist()]
        scores = fuse_scores(
            list(zip(vector_results["_rowid"].to_pylist(), dense_scores, strict=True)),
            list(zip(fts_results["_rowid"].to_pylist(), fts_results["_score"].to_pylist(), strict=True)),
            self.dense_weight,
        )
        combined = self._merge_and_keep_scores(vector_results, fts_results)
        fused = pa.array([scores[r] for r in combined["_rowid"].to_pylist()], pa.float32())
        return combined.append_column("_relevance_score", fused).sort_by([("_relevance_score", "descending")])
