"""What reranking adds to a search on a CPU: the fused answer's time beside the rerank step's, per top N.

    python -m benchmarks.rerank_latency /work/eval-work/manpages --queries /work/evalsets/manpages/queries.jsonl \\
        --top-n 10,20,30 --rerankers bundled,bundled-minilm --out benchmarks/results/rerank-latency.json

WORK is a folder ``sleuth eval --work-dir`` kept (its ``index.lancedb``). Each query is searched as the
window searches on Enter, with the default settings: ``search_documents`` with ``rerank=False`` (the fused
results the window shows at once), then ``rerank_documents`` (the reranked order that replaces them), timed
apart, for each reranker named (default: the default reranker). Every query is searched once untimed first
(model warm-up, caches); figures are medians and 95th percentiles over the queries, at 2 torch threads unless
``--threads`` says otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.search.searcher import Searcher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--queries", type=Path, required=True, help="JSON lines with a 'query' (or 'text') field")
    parser.add_argument("--top-n", default="10,20,30")
    parser.add_argument("--rerankers", default=None, help="comma-separated reranker settings (default: the default)")
    parser.add_argument("--limit", type=int, default=50, help="the first N queries")
    parser.add_argument("--precision", default="auto", help="auto, fp32 or bf16 (models and reranker)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from core.index.indexer import settings_embedder
    from core.index.store import Store
    from core.search.rerank import settings_reranker
    from core.search.searcher import searcher_for
    from core.settings import Settings

    torch.set_num_threads(args.threads)
    settings = Settings(precision=args.precision)
    store = Store(args.work / "index.lancedb")
    profile = store.active_profile()
    if profile is None:
        parser.error(f"no index in {args.work}")
    index = store.profile_index(profile)
    # The model, adapter and depth the index was built with: its vectors are theirs.
    settings = dataclasses.replace(settings, model=profile.model, adapter=profile.adapter, depth=profile.depth)
    embedder = settings_embedder(settings)
    lines = [line for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = [d.get("query") or d["text"] for d in map(json.loads, lines)][: args.limit]
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for name in (args.rerankers or settings.reranker).split(","):
        reranker = settings_reranker(dataclasses.replace(settings, reranker=name))
        searcher = searcher_for(store, settings, index, embedder, reranker)
        rows[name] = _timed(searcher, queries, [int(n) for n in args.top_n.split(",")], settings.results_per_page)
    report = {
        "index": str(args.work),
        "chunks": index.chunks.count_rows(),
        "queries": len(queries),
        "model": embedder.name,
        "threads": args.threads,
        "precision": args.precision,
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "rerankers": rows,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


def _timed(searcher: Searcher, queries: list[str], top_ns: list[int], k: int) -> dict[str, dict[str, float]]:
    """Per top N: the fused answer's and the rerank step's median and 95th percentile, in milliseconds."""
    for query in queries:  # warm-up
        searcher.rerank_documents(searcher.search_documents(query, rerank=False), rerank_top_n=max(top_ns))
    rows: dict[str, dict[str, float]] = {}
    for top_n in top_ns:
        fused_ms, rerank_ms = [], []
        for query in queries:
            started = time.perf_counter()
            response = searcher.search_documents(query, k=k, rerank=False)
            middle = time.perf_counter()
            searcher.rerank_documents(response, k, top_n)
            fused_ms.append((middle - started) * 1000)
            rerank_ms.append((time.perf_counter() - middle) * 1000)
        rows[str(top_n)] = {
            "hybrid_p50_ms": round(float(np.median(fused_ms)), 1),
            "hybrid_p95_ms": round(float(np.percentile(fused_ms, 95)), 1),
            "rerank_p50_ms": round(float(np.median(rerank_ms)), 1),
            "rerank_p95_ms": round(float(np.percentile(rerank_ms, 95)), 1),
        }
        title = searcher.reranker.title if searcher.reranker else "none"
        print(f"{title}, top {top_n:3d}: " + ", ".join(f"{n} {v}" for n, v in rows[str(top_n)].items()), flush=True)
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
