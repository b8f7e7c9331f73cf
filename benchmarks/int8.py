"""int8 against bf16 for the LLaRA embedder on this CPU: speed and dense quality, side by side in one run.

    python -m benchmarks.int8 --dataset /work/evalsets/dpkg-status
    ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI python -m benchmarks.int8 ...   # as on a CPU without AMX

Variants, all of the same model and adapter:

- ``fp32`` and ``bf16``: what Sleuth runs today (``precision`` setting);
- ``int8``: PyTorch dynamic quantisation of every Linear layer (int8 weights per output channel, int8
  activations with one scale per tensor, oneDNN kernels);
- ``int8-smooth``: the same after SmoothQuant (arXiv 2211.10438): each Linear's input channels are divided
  by ``s = max|x|^a / max|w|^(1-a)`` and its weight columns multiplied by ``s``, folded into the RMSNorm
  weights and the up projection, so the model computes the same function with activations that quantise
  better. ``max|x|`` is measured on 32 of the set's own documents (activation peaks only: no query and no
  judgement is used), so the figures are for a calibration that has seen the kind of text it embeds.

Each variant embeds the set's documents (first ``--max-tokens`` tokens) and queries; the figures are tokens/s
(median over ``--rounds`` rounds, variants interleaved so the machine's load drifts over all of them), the
cosine of each document vector to fp32's, and dense nDCG@10 by exact search over the documents.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import log, real_documents, save


def _smooth(embedder: Any, calibration: Sequence[str], alpha: float) -> None:
    """SmoothQuant's scales folded into the model in place (it computes the same function)."""
    import torch

    backbone = embedder._backbone
    peak: dict[str, torch.Tensor] = {}

    def record(name: str) -> Callable[[Any, Any], None]:
        def hook(_module: Any, inputs: Any) -> None:
            seen = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(0).float()
            peak[name] = torch.maximum(peak[name], seen) if name in peak else seen

        return hook

    handles = [
        m.register_forward_pre_hook(record(n)) for n, m in backbone.named_modules() if isinstance(m, torch.nn.Linear)
    ]
    embedder.embed_passages(calibration)
    embedder.embed_queries(calibration)
    for handle in handles:
        handle.remove()

    def scales(inputs: torch.Tensor, layers: Sequence[torch.nn.Linear]) -> torch.Tensor:
        weights = torch.stack([layer.weight.abs().amax(0) for layer in layers]).amax(0)
        return (inputs.clamp(min=1e-5) ** alpha / weights.clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5)

    with torch.no_grad():
        for i, layer in enumerate(backbone.layers):
            attention, mlp = layer.self_attn, layer.mlp
            s = scales(peak[f"layers.{i}.self_attn.q_proj"], [attention.q_proj, attention.k_proj, attention.v_proj])
            layer.input_layernorm.weight /= s
            for linear in (attention.q_proj, attention.k_proj, attention.v_proj):
                linear.weight *= s
            s = scales(peak[f"layers.{i}.mlp.gate_proj"], [mlp.gate_proj, mlp.up_proj])
            layer.post_attention_layernorm.weight /= s
            for linear in (mlp.gate_proj, mlp.up_proj):
                linear.weight *= s
            s = scales(peak[f"layers.{i}.mlp.down_proj"], [mlp.down_proj])
            mlp.up_proj.weight /= s[:, None]
            mlp.down_proj.weight *= s


def _quantise(embedder: Any) -> None:
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    torch.backends.quantized.engine = "onednn"
    linears = {
        name: per_channel_dynamic_qconfig
        for name, module in embedder._backbone.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    embedder._backbone = quantize_dynamic(embedder._backbone, linears, dtype=torch.qint8)


def _ndcg10(scores: np.ndarray, doc_ids: Sequence[str], query_ids: Sequence[str], qrels: Any) -> float:
    from core.evaluation.metrics import ndcg_at

    values = []
    for row, query in enumerate(query_ids):
        ranked = [doc_ids[i] for i in np.argsort(-scores[row], kind="stable")[:10]]
        values.append(ndcg_at(ranked, qrels[query]))
    return float(np.mean(values))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=None, help="BEIR folder (default: installed packages)")
    parser.add_argument("--limit-docs", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=256, help="document tokens embedded (one chunk's worth)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--adapter", default="bundled", help="the LoRA adapter (default: the shipped one)")
    parser.add_argument("--alpha", type=float, default=0.7, help="SmoothQuant's migration strength")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from core.embedding.registry import load_embedder

    if args.threads:
        torch.set_num_threads(args.threads)
    beir = real_documents(args.dataset, args.limit_docs)
    doc_ids = sorted(beir.corpus)
    query_ids = beir.judged_queries()
    documents = [beir.corpus[d].content() for d in doc_ids]
    queries = [beir.queries[q] for q in query_ids]
    # SmoothQuant's calibration text: 32 of the documents, seeded (see the module's docstring).
    calibration = [documents[i] for i in np.random.default_rng(1).permutation(len(documents))[:32]]

    variants: dict[str, Any] = {}
    for name in ("fp32", "bf16", "int8", "int8-smooth"):
        precision = "bf16" if name == "bf16" else "fp32"
        embedder = load_embedder(adapter=args.adapter, precision=precision, max_length=args.max_tokens)
        if name == "int8-smooth":
            _smooth(embedder, calibration, args.alpha)
        if name.startswith("int8"):
            _quantise(embedder)
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
    for name, embedder in variants.items():
        query_vectors = embedder.embed_queries(queries)
        cosine = (vectors[name] * vectors["fp32"]).sum(axis=1)
        results[name] = {
            "tokens_per_s": round(statistics.median(speed[name]), 1),
            "speed_vs_bf16": round(statistics.median(speed[name]) / statistics.median(speed["bf16"]), 3),
            "cosine_to_fp32": {"mean": round(float(cosine.mean()), 4), "min": round(float(cosine.min()), 4)},
            "dense_ndcg@10": round(_ndcg10(query_vectors @ vectors[name].T, doc_ids, query_ids, beir.qrels), 4),
        }
        log(f"{name}: {results[name]}")
    save(
        "int8",
        {
            "dataset": beir.summary(),
            "documents": len(documents),
            "tokens": tokens,
            "threads": torch.get_num_threads(),
            "adapter": args.adapter,
            "alpha": args.alpha,
            "results": results,
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
