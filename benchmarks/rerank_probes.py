"""Do the probes that weigh dense search also say whether reranking helps an index? Probe gain beside real gain.

    python -m benchmarks.rerank_probes --set dpkg-status /work/ew/dpkg benchmarks/results/rerank-qlm-dpkg-top5.json \\
        --set manpages /work/ew/manpages benchmarks/results/rerank-qlm-manpages-top5.json ... \\
        [--out FILE]   (default: benchmarks/results/rerank-probes.json)

Each ``--set NAME WORK REPORT`` is a folder ``sleuth eval --work-dir`` kept and that set's ``sleuth eval`` report
with the modes ``hybrid`` and ``hybrid_rerank``. The probes are the fusion measurement's
(:func:`core.search.calibration.probe_set`: a passage's heading or first sentence is the query, the rest of
it the one relevant passage among other files' passages). Each probe is fused as the search fuses, at the
index's measured dense weight; the default reranker (its default top N) rescores the head, mixed at each
weight tried as the search mixes (:func:`core.search.searcher.mixed_scores`). The report sets each weight's
probe gain in nDCG@10 (mean over probes, with its standard error) beside the gain the set's real queries got.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, cast

import numpy as np

from benchmarks.common import save

WEIGHTS = (0.3, 0.5, 0.7, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", nargs=3, action="append", metavar=("NAME", "WORK", "REPORT"), required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=None, help="the model the indexes were built with (default: setting)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from core.index.indexer import settings_embedder
    from core.search.rerank import settings_reranker, top_n_for
    from core.settings import Settings

    torch.set_num_threads(args.threads)
    settings = Settings() if args.model is None else Settings(model=args.model)
    embedder = settings_embedder(settings)
    reranker = settings_reranker(settings)
    assert reranker is not None
    rows = {}
    for name, work, report in args.set:
        rows[name] = probe_gains(Path(work), embedder, reranker, top_n_for(settings))
        rows[name]["real"] = real_gain(json.loads(Path(report).read_text(encoding="utf-8")))
        gains = ", ".join(f"w{w} {rows[name][f'w{w}']['gain']:+.3f}" for w in WEIGHTS)
        print(f"{name}: probes {gains}; real queries {rows[name]['real']:+.3f}", flush=True)
    save("rerank-probes", {"reranker": reranker.title, "top_n": top_n_for(settings), "sets": rows}, args.out)
    return 0


def probe_gains(work: Path, embedder: Any, reranker: Any, top_n: int) -> dict[str, Any]:
    """The reranker's nDCG@10 gain over fused search on the index's probes, per weight, with standard errors."""
    from core.index.store import Store
    from core.search.calibration import ndcg_at, probe_rankings, probe_set
    from core.search.fusion import fuse_scores, query_weight
    from core.search.searcher import Searcher, mixed_scores

    store = Store(work / "index.lancedb")
    profile = store.active_profile()
    if profile is None:
        raise SystemExit(f"no index in {work}")
    dense_weight = store.dense_weight(profile)
    collection = probe_set(Searcher(store.profile_index(profile), embedder), embedder)
    started = time.perf_counter()
    fused_ndcg: list[float] = []
    reranked: dict[float, list[float]] = {w: [] for w in WEIGHTS}
    for probe in probe_rankings(collection):
        # The keys are the probes' positions in the collection, as in probe.dense and probe.bm25.
        scores = cast("dict[int, float]", fuse_scores(probe.dense, probe.bm25, query_weight(dense_weight, probe.lead)))
        fused = sorted(scores, key=lambda i: scores[i], reverse=True)
        relevant = {probe.n}
        fused_ndcg.append(ndcg_at(fused, relevant))
        head = fused[:top_n]
        query = collection.queries[probe.n][0]
        verdict = reranker.score(query, [collection.texts[i] for i in head])
        for weight in WEIGHTS:
            mixed = mixed_scores(np.array([scores[i] for i in head]), verdict, weight)
            order = [head[j] for j in np.argsort(-mixed, kind="stable")] + fused[top_n:]
            reranked[weight].append(ndcg_at(order, relevant))
    base = np.array(fused_ndcg)
    out: dict[str, Any] = {
        "probes": len(base),
        "dense_weight": dense_weight,
        "fused_ndcg@10": float(base.mean()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    for weight, values in reranked.items():
        diff = np.array(values) - base
        out[f"w{weight}"] = {"gain": float(diff.mean()), "se": float(diff.std(ddof=1) / np.sqrt(len(diff)))}
    return out


def real_gain(report: dict[str, Any]) -> float:
    """hybrid_rerank − hybrid nDCG@10 of a ``sleuth eval`` report (BEIR: at the full dimension)."""
    results = report["results"]
    if "hybrid" not in results:  # BEIR: by dimension
        results = results[str(max(int(d) for d in results))]
    return float(results["hybrid_rerank"]["ndcg@10"] - results["hybrid"]["ndcg@10"])


if __name__ == "__main__":
    raise SystemExit(main())
