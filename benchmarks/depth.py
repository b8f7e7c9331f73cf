"""Embedding cost by depth and precision: the bare forward pass of the LLaRA embedder on the same texts.

    python -m benchmarks.depth --dataset /work/evalsets/manpages --limit-docs 120 --depths 30,24,20,16,12,8

Each configuration embeds the same passage texts (the app's own extraction and chunking of real documents)
twice, interleaved round-robin with the others so that a shared machine's changing load falls on all of them
alike; the faster pass counts. Beside the time: the arithmetic (multiply-adds per token of the layers that
run, from the model's shapes) and the cosine of each configuration's vectors to the full-depth fp32 ones.
``--int8`` adds PyTorch's dynamic int8 quantisation of every Linear layer (fp32 activations) at full depth.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from benchmarks.common import eval_half, log, real_documents, save

if TYPE_CHECKING:
    from core.embedding.llara import LlaraEmbedder


def load_llara(**options: Any) -> LlaraEmbedder:
    """load_embedder's default model, the bundled SmolLM2 (a LLaRA embedder), whose layers this measures."""
    from core.embedding import load_embedder

    return cast("LlaraEmbedder", load_embedder(**options))


def chunk_texts(dataset: Path | None, limit: int, embedder: Any) -> list[str]:
    from core.ingest.chunking import chunk_text
    from core.settings import Settings

    settings = Settings()
    beir = real_documents(dataset, limit).half(eval_half())
    texts: list[str] = []
    for doc in beir.corpus.values():
        chunks = chunk_text(doc.content(), embedder.tokenizer, settings.chunk_size, settings.chunk_overlap)
        texts.extend(c.text for c in chunks)
    return texts


def layer_macs(config: Any, depth: int) -> int:
    """Multiply-adds per token of ``depth`` decoder layers (attention score terms excluded: short texts)."""
    hidden, inner = config.hidden_size, config.intermediate_size
    head = hidden // config.num_attention_heads
    kv = config.num_key_value_heads * head
    per_layer = hidden * hidden * 2 + hidden * kv * 2 + hidden * inner * 3
    return int(per_layer * depth)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=None, help="BEIR folder of real documents (default: dpkg)")
    parser.add_argument("--limit-docs", type=int, default=120)
    parser.add_argument("--depths", default="30,24,20,16,12,8")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--int8", action="store_true", help="also PyTorch dynamic int8 at full depth")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    depths = [int(d) for d in args.depths.split(",")]
    configs: dict[str, Any] = {}
    reference = load_llara(device="cpu", precision="fp32", progress=log)
    texts = chunk_texts(args.dataset, args.limit_docs, reference)
    full_depth = reference.model.config.num_hidden_layers
    log(f"{len(texts)} passages; reference: {reference!r}")
    for depth in depths:
        configs[f"{args.precision} depth {depth}"] = load_llara(
            device="cpu", precision=args.precision, depth=0 if depth == full_depth else depth
        )
    if args.int8:
        quantised = load_llara(device="cpu", precision="fp32")
        model = torch.ao.quantization.quantize_dynamic(quantised.model, {torch.nn.Linear}, dtype=torch.qint8)
        quantised.model, quantised.backbone = model, model.base_model
        configs[f"int8-dynamic depth {full_depth}"] = quantised
    tokens = sum(len(ids) for ids in reference.passage_input_ids(texts))
    seconds: dict[str, list[float]] = {name: [] for name in configs}
    vectors: dict[str, np.ndarray] = {}
    for embedder in configs.values():
        embedder.embed_passages(texts[:8])  # warm-up
    for round_ in range(2):
        for name, embedder in configs.items():
            started = time.perf_counter()
            vectors[name] = embedder.embed_passages(texts)
            seconds[name].append(time.perf_counter() - started)
            log(f"round {round_ + 1}: {name}: {seconds[name][-1]:.1f} s")
    configs.clear()
    truth = {full_depth: reference.embed_passages(texts)}
    for depth in depths:
        if depth not in truth:
            truth[depth] = load_llara(device="cpu", precision="fp32", depth=depth).embed_passages(texts)
    rows = []
    base = f"{args.precision} depth {full_depth}"
    for name in seconds:
        depth = int(name.rsplit(" ", 1)[1])
        best = min(seconds[name])
        same_depth = truth[depth]
        rows.append(
            {
                "configuration": name,
                "seconds": [round(s, 2) for s in seconds[name]],
                "tokens_per_s": round(tokens / best, 1),
                "speed_vs_full_bf16": round(min(seconds[base]) / best, 2) if base in seconds else None,
                "macs_per_token_M": round(layer_macs(reference.model.config, depth) / 1e6, 1),
                "cosine_to_fp32_same_depth": round(float((vectors[name] * same_depth).sum(axis=1).mean()), 4),
            }
        )
        log(f"{name}: {rows[-1]}")
    save(
        "depth",
        {"passages": len(texts), "model_tokens": tokens, "threads": torch.get_num_threads(), "rows": rows},
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
