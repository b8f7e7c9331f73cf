"""Quality-aware fusion: weighted reciprocal rank fusion, with the dense weight measured on the user's corpus.

An embedder that was never trained for retrieval makes fusion worse than keyword search alone, so the
weight is not assumed: probe queries drawn from the index itself (the first sentence of a passage, its
relevant set being the other passages of the same file) are run through BM25 and dense search, and the
weight that ranks those best is kept. Passages containing the probe text verbatim are kept out of the
ranking, so BM25 cannot win by string matching alone.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from lancedb.rerankers import Reranker

if TYPE_CHECKING:
    from core.search import Searcher

RRF_K = 60
# A dense weight of zero still lets dense-only passages follow every keyword hit, in dense order.
TIE_BREAK = 1e-6
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
MIN_PROBES = 20
MIN_GAIN = 0.005
# A weight is kept only if its gain over keyword-led fusion is this many standard errors above zero.
CONFIDENCE_Z = 2.0
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)", re.DOTALL)


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


def ndcg_at(ranked: Sequence[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def probe_queries(rows: Sequence[Mapping[str, Any]], limit: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(query, probe chunk id, path) from passages of files that have at least two passages."""
    per_file: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        per_file[row["path"]].append(row)
    candidates = [row for chunks in per_file.values() if len(chunks) >= 2 for row in chunks]
    random.Random(seed).shuffle(candidates)
    probes: list[tuple[str, str, str]] = []
    for row in candidates:
        match = _SENTENCE.match(row["text"].strip())
        sentence = " ".join((match.group(1) if match else row["text"]).split()[:30])
        if len(sentence.split()) >= 4:
            probes.append((sentence, row["id"], row["path"]))
        if len(probes) >= limit:
            break
    return probes


def estimate_fusion(searcher: Searcher, probes: int = 100, pool: int = 50, seed: int = 0) -> dict[str, Any]:
    """Measure BM25, dense and fused nDCG@10 on probe queries and choose the dense weight."""
    table = searcher.index.chunks
    rows = table.search().where("vector IS NOT NULL").select(["id", "path", "text"]).limit(None).to_list()
    queries = probe_queries(rows, probes, seed)
    result: dict[str, Any] = {"probes": len(queries), "measured_at": time.time()}
    if len(queries) < MIN_PROBES:
        result.update(dense_weight=0.0, gain=None, reason="too little text to measure dense search")
        return result
    by_path: dict[str, set[str]] = defaultdict(set)
    text_of = {}
    for row in rows:
        by_path[row["path"]].add(row["id"])
        text_of[row["id"]] = row["text"]
    per_probe: dict[str, list[float]] = defaultdict(list)
    for query, _probe_id, path in queries:

        def keep(ids: list[str], q: str = query) -> list[str]:
            return [i for i in ids if q not in " ".join(text_of.get(i, "").split())]

        relevant = set(keep(sorted(by_path[path])))
        if not relevant:
            continue
        bm25 = keep(searcher.bm25_ids(query, pool))
        dense = keep(searcher.dense_ids(query, pool))
        per_probe["bm25"].append(ndcg_at(bm25, relevant))
        per_probe["dense"].append(ndcg_at(dense, relevant))
        for weight in WEIGHTS:
            scores = rrf_scores([(weight, dense), (1.0, bm25)])
            fused = sorted(scores, key=lambda i: scores[i], reverse=True)
            per_probe[f"w{weight}"].append(ndcg_at(fused, relevant))
    n = len(per_probe["bm25"])
    if n < MIN_PROBES:
        result.update(dense_weight=0.0, gain=None, reason="too few usable probe queries")
        return result
    means = {key: float(np.mean(values)) for key, values in per_probe.items()}
    baseline = np.array(per_probe["w0.0"])
    best, gain = 0.0, 0.0
    for weight in WEIGHTS[1:]:
        diff = np.array(per_probe[f"w{weight}"]) - baseline
        lower = diff.mean() - CONFIDENCE_Z * diff.std(ddof=1) / math.sqrt(n)
        if diff.mean() > max(gain, MIN_GAIN) and lower > 0:
            best, gain = weight, float(diff.mean())
    result.update(
        dense_weight=best,
        gain=gain,
        ndcg_bm25=means["bm25"],
        ndcg_dense=means["dense"],
        ndcg_fused={str(w): means[f"w{w}"] for w in WEIGHTS},
        probes=n,
    )
    return result
