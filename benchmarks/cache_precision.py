"""How much the converted model's storage precision moves Sleuth's vectors: two cache folders, same texts.

    python -m benchmarks.cache_precision --old ~/.cache/sleuth-fp32 --new ~/.cache/sleuth \\
        --dataset /work/evalsets/manpages [--out FILE]

Each folder is a Sleuth cache root (``SLEUTH_CACHE_DIR``) holding a converted bundled model. The default
embedder (bundled adapter) embeds the dataset's first 96 passages and 64 queries from each, at bf16 and at
fp32; the report gives the cosine between the two caches' vectors (minimum and mean), and, for scale, the
cosine between today's bf16 and fp32 vectors from the old cache.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from benchmarks.common import save


def _cosines(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    return {"min": round(float(cos.min()), 6), "mean": round(float(cos.mean()), 6)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True, help="a BEIR folder (corpus.jsonl, queries.jsonl)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from core.embedding.bundled import ALIAS as BUNDLED_LLARA
    from core.index.indexer import settings_embedder
    from core.settings import Settings

    def texts(name: str, n: int) -> list[str]:
        with (args.dataset / name).open(encoding="utf-8") as lines:
            return [json.loads(line)["text"] for _i, line in zip(range(n), lines, strict=False)]

    passages, queries = texts("corpus.jsonl", 96), texts("queries.jsonl", 64)
    vectors: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for precision in ("bf16", "fp32"):
        for which, root in (("old", args.old), ("new", args.new)):
            os.environ["SLEUTH_CACHE_DIR"] = str(root)
            embedder = settings_embedder(Settings(model=BUNDLED_LLARA, precision=precision))
            vectors[precision, which] = (embedder.embed_passages(passages), embedder.embed_queries(queries))
            del embedder
    result: dict[str, object] = {"passages": len(passages), "queries": len(queries)}
    for precision in ("bf16", "fp32"):
        (old_p, old_q), (new_p, new_q) = vectors[precision, "old"], vectors[precision, "new"]
        result[precision] = {"passages": _cosines(old_p, new_p), "queries": _cosines(old_q, new_q)}
        print(precision, result[precision], flush=True)
    result["bf16_vs_fp32_old"] = _cosines(vectors["bf16", "old"][0], vectors["fp32", "old"][0])
    save("cache-precision", result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
