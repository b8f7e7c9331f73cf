"""Which fusion: weighted RRF against the weighted sum of normalised scores (min-max or z), by nDCG@10.

Indexes an evaluation set as `sleuth eval` does (a kept WORK_DIR is reused), takes each query's top 200
BM25 and dense candidates once, and ranks documents with every fusion variant and weight from them.
This is the measurement behind core.search.fusion's choice of z-score fusion (docs/benchmarks.md).

    python -m benchmarks.fusion_methods debian WORK_DIR smollm2-135m bundled > result.json
    # SET: debian (100 queries, 500 documents, seed 0), dpkg (whole), man (100 queries, 300 documents)
"""

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import eval_half, searching_with
from core.embedding import load_embedder
from core.evaluation.beir import load_beir, subsample
from core.evaluation.metrics import ndcg_at
from core.evaluation.runner import QueryCache, build_index
from core.search.fusion import WeightedRRF
from core.search.searcher import Searcher, SearchResponse
from core.settings import Settings

SETS = {
    "debian": ("/work/evalsets/debian-packages", 100, 500),
    "dpkg": ("/work/evalsets/dpkg-status", None, None),
    "man": ("/work/evalsets/manpages", 100, 300),
}
name, work, model, adapter = sys.argv[1:5]
path, lq, ld = SETS[name]
beir = subsample(load_beir(Path(path), "test"), lq, ld, 0).half(eval_half())
settings = Settings(model=model, adapter=adapter, search_dim=0)
emb = load_embedder(model, adapter=adapter or None, device="cpu", precision=settings.precision)
indexed = build_index(beir, settings, emb, Path(work))
cached = QueryCache(emb)
queries = sorted(beir.judged_queries())
cached.prefetch([beir.queries[q] for q in queries])
s = Searcher(indexed.index, searching_with(cached), None, 1.0)
doc_of = indexed.doc_of_path
POOL = 200


def docs(paths: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(doc_of.get(p, p) for p in paths))


def minmax(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return x
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi > lo else np.ones_like(x)


def zs(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return np.zeros_like(x)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


variants: dict[str, list[float]] = {}
for q in queries:
    text = beir.queries[q]
    grades = beir.qrels[q]
    fts = s.keyword_candidates(text, POOL)
    dense = s.dense_candidates(text, POOL, SearchResponse(text, "hybrid", []))
    if dense is None:
        raise SystemExit(f"dense search returned nothing for {text!r}: is the model loaded?")
    runs: dict[str, list[str]] = {}
    runs["bm25"] = docs(fts["path"].to_pylist())
    runs["dense"] = docs(dense["path"].to_pylist())
    for w in (0.0, 0.25, 0.5, 1.0, 2.0):
        fused = WeightedRRF(w).rerank_hybrid(text, dense, fts)
        runs[f"rrf{w}"] = docs(fused["path"].to_pylist())
    b_ids = fts["id"].to_pylist()
    d_ids = dense["id"].to_pylist()
    path_of = dict(zip(b_ids, fts["path"].to_pylist(), strict=True)) | dict(
        zip(d_ids, dense["path"].to_pylist(), strict=True)
    )
    for normname, norm in (("mm", minmax), ("z", zs)):
        bn = dict(zip(b_ids, norm(fts["_score"].to_numpy()), strict=True))
        dn = dict(zip(d_ids, norm(dense["_dense_score"].to_numpy()), strict=True))
        bmin = min(bn.values()) if bn else 0.0
        dmin = min(dn.values()) if dn else 0.0
        ids = list(dict.fromkeys(b_ids + d_ids))
        for a in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            sc = {i: (1 - a) * bn.get(i, bmin) + a * dn.get(i, dmin) for i in ids}
            order = sorted(ids, key=lambda i: -sc[i])
            runs[f"{normname}{a}"] = docs([path_of[i] for i in order])
    for key, ranked in runs.items():
        variants.setdefault(key, []).append(ndcg_at(ranked, grades, 10))

means = {k: round(float(np.mean(v)), 4) for k, v in variants.items()}
base = np.array(variants["bm25"])
out: dict[str, tuple[float, float, float]] = {}  # mean nDCG@10, and its gain over BM25 with the standard error
for k in means:
    d = np.array(variants[k]) - base
    out[k] = (means[k], round(float(d.mean()), 4), round(float(d.std(ddof=1) / np.sqrt(len(d))), 4))
print(json.dumps({"set": name, "adapter": adapter, "model": model, "n": len(queries), "results": out}, indent=0))
