"""int8 against bf16 for the LLaRA embedder on this CPU: speed and dense quality, side by side in one run.

    python -m benchmarks.int8 --dataset /work/evalsets/dpkg-status
    ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI python -m benchmarks.int8 ...   # as on a CPU without AMX

Variants, all of the same model and adapter:

- ``fp32`` and ``bf16``: what Sleuth runs today (``precision`` setting);
- ``int8``: PyTorch dynamic quantisation of every Linear layer (int8 weights per output channel, int8
  activations with one scale per tensor, oneDNN kernels), without smoothing;
- ``int8-smooth``: Sleuth's ``int8`` precision (``core.embedding.quantise``): SmoothQuant (arXiv 2211.10438),
  its activation peaks measured on the text Sleuth ships for it (``resources/int8-calibration.json``, none of
  the set's own), then every Linear layer but the MLP's down projection in int8.

Each variant embeds the set's documents (first ``--max-tokens`` tokens) and queries; the figures are tokens/s
(median over ``--rounds`` rounds, variants interleaved so the machine's load drifts over all of them), the
cosine of each document vector to fp32's, and dense nDCG@10 by exact search over the documents.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from benchmarks.common import eval_half, log, real_documents, save


def _per_query_ndcg10(scores: np.ndarray, doc_ids: Sequence[str], query_ids: Sequence[str], qrels: Any) -> list[float]:
    from core.evaluation.metrics import ndcg_at

    values: list[float] = []
    for row, query in enumerate(query_ids):
        ranked = [doc_ids[i] for i in np.argsort(-scores[row], kind="stable")[:10]]
        values.append(ndcg_at(ranked, qrels[query]))
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=None, help="BEIR folder (default: installed packages)")
    parser.add_argument("--limit-docs", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=256, help="document tokens embedded (one chunk's worth)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--adapter", default="bundled", help="the LoRA adapter (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--engine", default="onednn", help="plain int8's quantised engine: onednn, x86 or fbgemm")
    parser.add_argument("--variants", default="fp32,bf16,int8,int8-smooth", help="comma-separated; fp32 always runs")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from core.embedding.quantise import ALPHA, quantise_linears
    from core.embedding.registry import load_embedder
    from core.evaluation.folder import paired_bootstrap

    if args.threads:
        torch.set_num_threads(args.threads)
    beir = real_documents(args.dataset, args.limit_docs).half(eval_half())
    doc_ids = sorted(beir.corpus)
    query_ids = beir.judged_queries()
    documents = [beir.corpus[d].content() for d in doc_ids]
    queries = [beir.queries[q] for q in query_ids]
    cache = Path(tempfile.mkdtemp(prefix="sleuth-int8-"))  # int8 scales measured afresh, as on first use

    names = ["fp32"] + [name for name in args.variants.split(",") if name and name != "fp32"]
    variants: dict[str, Any] = {}
    for name in names:
        if name == "int8-smooth":  # what Sleuth's int8 precision runs (core.embedding.quantise)
            variants[name] = load_embedder(
                adapter=args.adapter, device="cpu", precision="int8", max_length=args.max_tokens, cache_dir=cache
            )
            continue
        precision = "bf16" if name == "bf16" else "fp32"
        embedder = load_embedder(adapter=args.adapter, precision=precision, max_length=args.max_tokens)
        if name == "int8":
            torch.backends.quantized.engine = args.engine
            quantise_linears(cast(Any, embedder).backbone, keep=())
        variants[name] = embedder
    tokens = sum(len(ids) for ids in variants["fp32"].passage_input_ids(documents))

    speed: dict[str, list[float]] = {name: [] for name in variants}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(args.rounds):
        for name, embedder in variants.items():
            start = time.perf_counter()
            vectors[name] = embedder.embed_passages(documents)
            speed[name].append(tokens / (time.perf_counter() - start))
            log(f"round {round_ + 1}: {name} {speed[name][-1]:.0f} tokens/s")
    results: dict[str, Any] = {}
    per_query: dict[str, list[float]] = {}
    for name, embedder in variants.items():
        query_vectors = embedder.embed_queries(queries)
        cosine = (vectors[name] * vectors["fp32"]).sum(axis=1)
        per_query[name] = _per_query_ndcg10(query_vectors @ vectors[name].T, doc_ids, query_ids, beir.qrels)
        results[name] = {
            "tokens_per_s": round(statistics.median(speed[name]), 1),
            "speed_vs_fp32": round(statistics.median(speed[name]) / statistics.median(speed["fp32"]), 3),
            "cosine_to_fp32": {"mean": round(float(cosine.mean()), 4), "min": round(float(cosine.min()), 4)},
            "dense_ndcg@10": round(float(np.mean(per_query[name])), 4),
        }
        reference = "bf16" if "bf16" in per_query else "fp32"
        if name != reference:  # the change in dense nDCG@10 against bf16 (fp32 where bf16 did not run)
            paired = paired_bootstrap(per_query[reference], per_query[name])
            results[name][f"dense_ndcg@10_vs_{reference}"] = [
                round(paired[key], 4) for key in ("diff", "ci95_low", "ci95_high")
            ]
        log(f"{name}: {results[name]}")
    save(
        "int8",
        {
            "dataset": beir.summary(),
            "documents": len(documents),
            "tokens": tokens,
            "threads": torch.get_num_threads(),
            "adapter": args.adapter,
            "alpha": ALPHA,
            "engine": args.engine,
            "isa_cap": os.environ.get("ONEDNN_MAX_CPU_ISA"),
            "results": results,
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
