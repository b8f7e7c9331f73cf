"""Hybrid query latency with the keyword search beside the query embedding (the app) against after it.

    python -m benchmarks.keyword_overlap /tmp/sleuth-latency/chunks-100000 --queries 100

Interleaved in one process (each query is searched both ways, alternating which goes first), so machine
load hits both alike; a table built by ``benchmarks.latency`` is the usual target.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from benchmarks.common import log, percentiles, save


class _Inline:
    """An executor that runs the task at once on the calling thread (the sequential variant)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args))
        return future


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import core.search.searcher as search
    from benchmarks.latency import real_queries
    from core.embedding import load_embedder
    from core.index.store import Store

    store = Store(args.db)
    profile = store.active_profile()
    assert profile is not None
    embedder = load_embedder(profile.model, device="cpu", progress=log)
    searcher = search.Searcher(store.profile_index(profile), embedder, None, dense_weight=0.0)
    overlapped = search.keyword_pool
    samples: dict[str, list[float]] = {"overlapped": [], "sequential": [], "embedding_alone": []}
    warmup = 5
    for number, query in enumerate(real_queries(args.queries + warmup, args.seed)):
        for name in ("overlapped", "sequential") if number % 2 else ("sequential", "overlapped"):
            search.keyword_pool = overlapped if name == "overlapped" else _Inline  # type: ignore[assignment]
            start = time.perf_counter()
            searcher.search(query, k=10, mode="hybrid", rerank=False)
            if number >= warmup:
                samples[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        embedder.embed_queries([query])
        if number >= warmup:
            samples["embedding_alone"].append(time.perf_counter() - start)
    search.keyword_pool = overlapped
    result = {"db": str(args.db), "model": repr(embedder), **{k: percentiles(v) for k, v in samples.items()}}
    log(str(result))
    save("keyword-overlap", result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
