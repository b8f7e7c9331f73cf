"""What padding each batch to whole widths of ``PAD_MULTIPLE`` tokens does to the embed phase's memory and time.

Passages of a kept index are embedded as the indexer embeds them (fetches of 256 sorted by length, batches of 32),
once padded to the batch's longest text and once to whole widths, each run in a fresh process, alternating; the
process's growth in resident memory over the loaded model and the seconds spent embedding, medians of the runs.
``--queries N`` embeds N queries one at a time instead, as the search box does: the first 1 to 40 words of
passages (seeded), so that their lengths vary as people's queries do.

    python -m benchmarks.embed_widths --index W/real2 --passages 2400 --runs 3 --precision auto,int8
    python -m benchmarks.embed_widths --index W/real2 --queries 1000 --runs 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import log, save

FETCH = 256  # core.index.indexer.EMBED_FETCH
BATCH = 32  # core.index.indexer.EMBED_BATCH


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def one_run(
    index: Path, passages: int, multiple: int, model: str, precision: str, queries: int = 0
) -> dict[str, float]:
    """In this process: the passages embedded with widths in steps of ``multiple`` (1: the batch's longest)."""
    from core.embedding import EncoderEmbedder, load_embedder
    from core.embedding.llara import LlaraEmbedder
    from core.index.store import Store

    store = Store(index / "index.lancedb")
    profile = store.active_profile()
    assert profile is not None, f"{index} holds no index"
    table = store.profile_index(profile).chunks.search().select(["text", "n_tokens"]).limit(passages).to_arrow()
    texts, tokens = table["text"].to_pylist(), table["n_tokens"].to_pylist()
    embedder = load_embedder(model, adapter=None, device="cpu", precision=precision)
    assert isinstance(embedder, (EncoderEmbedder, LlaraEmbedder))
    embedder.pad_multiple = multiple
    embedder.embed_passages(texts[:2])  # the model's first call allocates what every later one reuses
    loaded = rss_mb()
    started = time.perf_counter()
    if queries:
        import random

        rng = random.Random(0)
        for i in range(queries):
            words = texts[i % len(texts)].split()
            embedder.embed_queries([" ".join(words[: rng.randint(1, 40)])])
        return {"seconds": time.perf_counter() - started, "grew_mb": rss_mb() - loaded, "queries": queries}
    for start in range(0, len(texts), FETCH):
        fetch = sorted(range(start, min(start + FETCH, len(texts))), key=lambda i: tokens[i])
        for first in range(0, len(fetch), BATCH):
            embedder.embed_passages([texts[i] for i in fetch[first : first + BATCH]])
    return {"seconds": time.perf_counter() - started, "grew_mb": rss_mb() - loaded, "passages": len(texts)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="a folder `sleuth eval --work-dir` kept")
    parser.add_argument("--passages", type=int, default=2400)
    parser.add_argument("--queries", type=int, default=0, help="embed this many queries one at a time instead")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default="minilm-l6-v2")
    parser.add_argument(
        "--precision", default="auto", help="comma list: auto, fp32, bf16 (an encoder runs int8 as fp32)"
    )
    parser.add_argument("--multiple", type=int, default=0, help="(internal) one run in this process")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.multiple:
        result = one_run(args.index, args.passages, args.multiple, args.model, args.precision, args.queries)
        print(json.dumps(result))
        return 0
    from core.embedding.device import PAD_MULTIPLE

    runs: dict[str, list[dict[str, float]]] = {}
    report: dict[str, Any] = {"index": str(args.index), "model": args.model, "runs": runs, "medians": {}}
    for _ in range(args.runs):
        for precision in args.precision.split(","):
            for multiple in (1, PAD_MULTIPLE):
                command = [sys.executable, "-m", "benchmarks.embed_widths", "--index", str(args.index)]
                command += ["--passages", str(args.passages), "--model", args.model, "--precision", precision]
                command += ["--multiple", str(multiple), "--queries", str(args.queries)]
                done = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ))
                result = json.loads(done.stdout.strip().splitlines()[-1])
                runs.setdefault(f"{precision} x{multiple}", []).append(result)
                log(f"{precision}, widths in steps of {multiple}: {result}")
                for name, results in runs.items():  # saved after every run: a long one can be stopped
                    medians = {k: statistics.median(r[k] for r in results) for k in ("seconds", "grew_mb")}
                    report["medians"][name] = medians
                save("embed-widths-queries" if args.queries else "embed-widths", report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
