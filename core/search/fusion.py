"""Per-query fusion: BM25 and dense scores combined with the index's dense weight.

Both rankers' scores are standardised (z-scores over each list's top ``NORM_DEPTH`` candidates) and mixed
as ``(1 - w) * bm25 + w * dense``. On the project's evaluation sets this beat weighted reciprocal rank
fusion at its best weight with every model tried (docs/benchmarks.md), so RRF stays only for comparison
(``WeightedRRF``, the evaluation's ``hybrid_rrf`` mode). The weight itself is measured on the user's
documents by :mod:`core.search.calibration`.

The measured weight is the corpus's; a query gets less of it when keyword search is sure of its answer.
Where BM25's best passage stands far above the best passage of any other file (``keyword_lead``, in
standard deviations of BM25's scores), an exact-term match is what the user typed for, and dense
search's tightly clustered scores would only push a look-alike document above it: the dense weight
shrinks in proportion to that lead and is zero from ``KEYWORD_LEAD`` on (``query_weight``). On the real
folder set this kept hybrid search's first answers where keyword search was right and dense search was
not (docs/benchmarks.md, "Fusion that protects a confident keyword answer").

Dense scores are divided by their own spread or by ``DENSE_MIN_SPREAD``, whichever is larger. A query on
which dense search cannot tell its candidates apart (cosine scores packed within a few hundredths) would
otherwise have those small differences stretched to the same size as a keyword score's clear lead; with
the floor they count for what they are (docs/benchmarks.md, "A floor under the dense spread").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
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
#: BM25's lead (in standard deviations) at which a query's dense weight reaches zero (benchmarks/fusion_rules.py).
KEYWORD_LEAD = 3.0
#: The least spread (cosine units) dense scores are divided by (benchmarks/fusion_rules.py, ``engine_z`` against
#: ``engine``): the bundled adapter's top 50 candidates usually spread 0.02-0.04.
DENSE_MIN_SPREAD = 0.04


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


def standardise(scores: Sequence[float], min_spread: float = 0.0) -> np.ndarray:
    """z-scores, with mean and spread taken from the first ``NORM_DEPTH`` (best) scores of a ranked list; the
    spread is at least ``min_spread``."""
    values = np.asarray(scores, dtype=np.float64)
    head = values[:NORM_DEPTH]
    spread = max(float(head.std()) if head.size > 1 else 0.0, min_spread)
    return (values - head.mean()) / spread if spread > 0 else np.zeros_like(values)


def fuse_scores(
    dense: Sequence[tuple[Hashable, float]],
    bm25: Sequence[tuple[Hashable, float]],
    weight: float,
    dense_min_spread: float = DENSE_MIN_SPREAD,
) -> dict[Hashable, float]:
    """``(1 - w) * z(bm25) + w * z(dense)`` per candidate; one missing from a list gets that list's lowest z.
    Dense scores are divided by at least ``dense_min_spread``.

    At weight 0 keyword search leads: every keyword hit, in BM25 order, comes before every dense-only
    candidate, and those follow in dense order.
    """
    keyword_led = weight <= 0
    weight = min(max(weight, TIE_BREAK), 1.0)
    fused: dict[Hashable, float] = defaultdict(float)
    for share, ranked, floor_spread in ((weight, dense, dense_min_spread), (1.0 - weight, bm25, 0.0)):
        if not ranked:
            continue
        z = standardise([score for _item, score in ranked], floor_spread)
        floor = float(z.min())
        for (item, _score), value in zip(ranked, z, strict=True):
            fused[item] += share * (float(value) - floor)
    if keyword_led:
        for item, _score in bm25:
            fused[item] += 1.0  # far above what the tie-breaking dense share can add
    return fused


def keyword_lead(bm25: Sequence[tuple[Hashable, float]], group_of: Mapping[Hashable, str] | None = None) -> float:
    """How far BM25's best passage stands above the best passage of another file, in z-score units.

    ``bm25`` is BM25's ranking, best first; ``group_of`` maps a candidate to its file (default: each
    candidate is its own). Zero when BM25 found nothing; infinite when it found one file only (an
    identifier that occurs in one document is as decisive as keyword search gets).
    """
    if not bm25:
        return 0.0
    z = standardise([score for _item, score in bm25])
    group = group_of.get if group_of is not None else None
    first = group(bm25[0][0]) if group else bm25[0][0]
    for (item, _score), value in zip(bm25[1:], z[1:], strict=True):
        if (group(item) if group else item) != first:
            return float(z[0] - value)
    return math.inf


def query_weight(weight: float, lead: float) -> float:
    """The dense weight for one query: the measured ``weight``, less in proportion to keyword search's lead."""
    return weight * max(0.0, 1.0 - lead / KEYWORD_LEAD)


class ScoreFusion(Reranker):
    """LanceDB hybrid reranker: the weighted sum of standardised BM25 and dense scores (see the module doc)."""

    def __init__(self, dense_weight: float, adaptive: bool = True) -> None:
        """``adaptive``: shrink the weight per query by keyword search's lead (``query_weight``)."""
        super().__init__(return_score="all")
        self.dense_weight = dense_weight
        self.adaptive = adaptive

    def rerank_hybrid(self, query: str, vector_results: pa.Table, fts_results: pa.Table) -> pa.Table:
        if not vector_results.num_rows and not fts_results.num_rows:
            return fts_results.append_column("_relevance_score", pa.array([], pa.float32()))
        if "_dense_score" in vector_results.column_names:
            dense_scores = vector_results["_dense_score"].to_pylist()
        else:  # plain LanceDB vector results: a smaller distance is better
            dense_scores = [-d for d in vector_results["_distance"].to_pylist()]
        bm25 = list(zip(fts_results["_rowid"].to_pylist(), fts_results["_score"].to_pylist(), strict=True))
        weight = self.dense_weight
        if self.adaptive and "path" in fts_results.column_names:
            paths = dict(zip(fts_results["_rowid"].to_pylist(), fts_results["path"].to_pylist(), strict=True))
            weight = query_weight(weight, keyword_lead(bm25, paths))
        scores = fuse_scores(list(zip(vector_results["_rowid"].to_pylist(), dense_scores, strict=True)), bm25, weight)
        combined = self._merge_and_keep_scores(vector_results, fts_results)
        fused = pa.array([scores[r] for r in combined["_rowid"].to_pylist()], pa.float32())
        return combined.append_column("_relevance_score", fused).sort_by([("_relevance_score", "descending")])
