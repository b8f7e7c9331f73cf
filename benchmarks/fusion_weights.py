"""Which dense weight: the probe measurement's gain at every weight beside the evaluation's nDCG@10 there.

Indexes an evaluation set as `sleuth eval` does (a kept WORK_DIR is reused), runs the engine's probe
measurement (core.search.calibration.estimate_fusion, which reports each weight's gain and standard error), and
searches the evaluation queries with the engine's hybrid search at every weight the measurement tries.
This is the measurement behind core.search.calibration.choose_weight's one-standard-error rule
(docs/benchmarks-history.md, "The first probe measurement and the weight rule").

    python -m benchmarks.fusion_weights man WORK_DIR bundled > result.json
    # SET: debian (100 queries, 500 documents, seed 0), dpkg (whole), man (100 queries, 300 documents)
"""

import json
import sys
from pathlib import Path

import numpy as np

import core.search.calibration as fusion
from benchmarks.common import eval_half, searching_with
from core.embedding import load_embedder
from core.evaluation.beir import load_beir, subsample
from core.evaluation.metrics import ndcg_at
from core.evaluation.runner import QueryCache, build_index, doc_ranking
from core.search.searcher import Searcher
from core.settings import Settings

SETS = {
    "debian": ("/work/evalsets/debian-packages", 100, 500),
    "dpkg": ("/work/evalsets/dpkg-status", None, None),
    "man": ("/work/evalsets/manpages", 100, 300),
}
name, work, adapter = sys.argv[1:4]
path, limit_queries, limit_docs = SETS[name]
beir = subsample(load_beir(Path(path), "test"), limit_queries, limit_docs, 0).half(eval_half())
settings = Settings(adapter=adapter, search_dim=0)
embedder = load_embedder(settings.model, adapter=adapter or None, device="cpu", precision=settings.precision)
indexed = build_index(beir, settings, embedder, Path(work))
cached = QueryCache(embedder)

estimate = fusion.estimate_fusion(Searcher(indexed.index, searching_with(cached), None, 1.0))

queries = sorted(beir.judged_queries())
cached.prefetch([beir.queries[q] for q in queries])
chunks_per_doc = indexed.chunks / len(beir.corpus)
evaluation = {}
for weight in fusion.WEIGHTS:
    searcher = Searcher(indexed.index, searching_with(cached), None, weight)
    scores = []
    for q in queries:
        ranked, _k = doc_ranking(
            searcher, beir.queries[q], "hybrid", 10, indexed.doc_of_path, chunks_per_doc, indexed.chunks
        )
        scores.append(ndcg_at(ranked, beir.qrels[q], 10))
    evaluation[str(weight)] = float(np.mean(scores))
report = {
    "set": name,
    "adapter": adapter,
    "model": embedder.name,
    "probes": estimate["probes"],
    "chosen_weight": estimate["dense_weight"],
    "probe_gain_over_keyword_led": estimate["gains"],
    "eval_ndcg@10_hybrid_by_weight": evaluation,
}
print(json.dumps(report, indent=1))
