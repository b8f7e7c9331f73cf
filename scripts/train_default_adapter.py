#!/usr/bin/env python3
"""Train a LLaRA adapter from scratch on a folder of text files or a BEIR corpus, reproducibly.

    # on a folder of documents (every readable file Sleuth can extract)
    python scripts/train_default_adapter.py --folder ~/Documents --out adapters/docs

    # on a BEIR corpus, holding out exactly the documents `sleuth eval` will score
    python scripts/train_default_adapter.py --beir /work/evalsets/debian-packages \\
        --holdout-queries 100 --holdout-docs 500 --seed 0 --max-docs 2000 \\
        --steps 300 --batch-size 16 --max-tokens 128 --device cuda --out adapters/debian
    sleuth eval /work/evalsets/debian-packages --limit-queries 100 --limit-docs 500 --seed 0 \\
        --adapter adapters/debian --modes dense,hybrid

Sleuth's bundled adapter (``resources/adapters/smollm2-135m``, the ``bundled`` adapter setting) is made
from Python's own documentation, which Debian installs offline, and the docstrings of Python's standard
library, which come with Python; Sleuth never evaluates on either::

    apt-get install python3.11-doc
    DOCS=/usr/share/doc/python3.11/html/_sources
    # 1. EBAE/EBAR, then contrastive with the Matryoshka loss, on a sample of 300 pages
    python scripts/train_default_adapter.py --folder $DOCS --max-docs 300 --seed 0 --steps 96 \\
        --batch-size 8 --max-tokens 64 --lr 3e-4 --rank 16 --device cpu --threads 1 --out /tmp/pydocs-a
    # 2. more contrastive steps with larger batches on another sample of 400 pages, continuing run 1
    python scripts/train_default_adapter.py --folder $DOCS --max-docs 400 --seed 1 --stage contrastive \\
        --start-adapter /tmp/pydocs-a --steps 64 --batch-size 16 --max-tokens 64 --lr 2e-4 --rank 16 \\
        --device cpu --threads 1 --out /tmp/pydocs-b
    # 3. contrastive on all 497 pages with query-like pairs only (heading or first sentence -> the rest)
    python scripts/train_default_adapter.py --folder $DOCS --seed 2 --stage contrastive --no-next-chunk-pairs \\
        --start-adapter /tmp/pydocs-b --steps 120 --batch-size 16 --max-tokens 64 --lr 1e-4 --rank 16 \\
        --device cpu --threads 1 --checkpoint-every 20 --out /tmp/pydocs-c
    # (runs 1-3 mined their pairs before core.search.query_mining existed: `git checkout ea6b7d9` repeats them exactly)
    # 4. contrastive with prose-like queries (core.search.query_mining), larger batches and longer passages, on the
    #    top 15 of the 30 layers (about twice as fast a step on a CPU); it started from run 3 as shipped
    #    (bf16; resources/adapters/smollm2-135m at ea6b7d9, copied to /tmp/pydocs-c-shipped)
    python scripts/train_default_adapter.py --folder $DOCS --seed 3 --stage contrastive --no-next-chunk-pairs \\
        --start-adapter /tmp/pydocs-c-shipped --steps 160 --batch-size 32 --max-tokens 192 --lr 1e-4 --rank 16 \\
        --train-layers 15 --device cpu --threads 2 --checkpoint-every 20 --out /tmp/pydocs-d \\
        --bundle resources/adapters/smollm2-135m
    # 5. contrastive on the standard library's docstrings (summary line -> signature and the rest), one
    #    file per documented object, written by scripts/docstring_corpus.py with Python 3.11.7; it started
    #    from run 4 as shipped (resources/adapters/smollm2-135m at 333e3c3, copied to /tmp/pydocs-d-shipped)
    python scripts/docstring_corpus.py /tmp/stdlib-docstrings
    python scripts/train_default_adapter.py --folder /tmp/stdlib-docstrings --seed 5 --stage contrastive \
        --no-next-chunk-pairs --start-adapter /tmp/pydocs-d-shipped --steps 150 --batch-size 32 --max-tokens 192 \
        --lr 1e-4 --rank 16 --train-layers 15 --device cpu --threads 2 --checkpoint-every 10 --out /tmp/stdlib-e \
        --bundle resources/adapters/smollm2-135m

The documents are chunked exactly as the indexer chunks them (``--chunk-size``/``--chunk-overlap``,
the settings' defaults), then trained on with :class:`core.training.Adaptation` (EBAE/EBAR, then
contrastive with the Matryoshka loss). ``--run-dir`` keeps checkpoints: rerunning continues. The
adapter after stage 1 alone is kept in ``RUN_DIR/after-ebae``. A JSON summary (which documents were
seen, losses, timings) is written beside the adapter as ``training.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.settings import Settings


def _folder_documents(folder: Path) -> list[tuple[str, str]]:
    from core.errors import ExtractionError
    from core.ingest.documents import extract

    docs = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            text = extract(path).text
        except ExtractionError:
            continue
        if text.strip():
            docs.append((str(path), text))
    return docs


def _beir_documents(args: argparse.Namespace) -> tuple[list[tuple[str, str]], list[str]]:
    """Training documents and the held-out ids (the corpus `sleuth eval` would score with the same limits)."""
    from core.evaluation.beir import load_beir, subsample

    beir = load_beir(args.beir, args.split)
    held_out: set[str] = set()
    if args.holdout_queries or args.holdout_docs:
        held_out = set(subsample(beir, args.holdout_queries, args.holdout_docs, args.seed).corpus)
    ids = sorted(d for d in beir.corpus if d not in held_out)
    return [(d, beir.corpus[d].content()) for d in ids], sorted(held_out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--folder", type=Path, action="append", help="train on the documents in this folder (repeatable)"
    )
    source.add_argument("--beir", type=Path, help="train on this BEIR set's corpus.jsonl")
    parser.add_argument("--split", default="test", help="qrels split that defines the held-out part")
    parser.add_argument("--holdout-queries", type=int, default=None, help="as `sleuth eval --limit-queries`")
    parser.add_argument("--holdout-docs", type=int, default=None, help="as `sleuth eval --limit-docs`")
    parser.add_argument("--max-docs", type=int, default=None, help="a seeded sample of at most N training documents")
    parser.add_argument("--model", default=Settings.model, help="base model (default: %(default)s)")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--chunk-overlap", type=int, default=32)
    parser.add_argument("--stage", choices=("ebae", "contrastive", "both", "distill"), default="both")
    parser.add_argument(
        "--teacher-adapter",
        type=Path,
        default=None,
        help="distill stage: the adapter of the teacher, which runs every layer of --model",
    )
    parser.add_argument("--start-adapter", type=Path, default=None, help="continue training this adapter")
    parser.add_argument("--steps", type=int, default=None, help="steps per stage (default: one epoch)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument(
        "--no-next-chunk-pairs", action="store_true", help="contrastive pairs from headings and first sentences only"
    )
    parser.add_argument(
        "--train-layers", type=int, default=None, help="train only the top N layers' LoRA weights (default: all)"
    )
    parser.add_argument(
        "--exits", default="", help="also train early exits at these layers, e.g. 8,12,16,20 (Matryoshka over depth)"
    )
    parser.add_argument(
        "--depth",
        type=int,
        default=0,
        help="train an adapter for the embedder that exits after this many layers (0: all); only those layers run",
    )
    parser.add_argument(
        "--projection", action="store_true", help="train a linear map on the read-out (for a distilled student)"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--estimate-steps", type=int, default=2, help="timed probe steps per stage for the ETA")
    parser.add_argument("--run-dir", type=Path, default=None, help="checkpoints (default: OUT.run)")
    parser.add_argument("--out", type=Path, required=True, help="adapter folder to write")
    parser.add_argument(
        "--bundle", type=Path, default=None, help="also write the adapter as Sleuth ships it (weights in bf16) here"
    )
    args = parser.parse_args(argv)

    import torch

    from core.embedding import load_embedder
    from core.embedding.llara import LlaraEmbedder
    from core.training import Adaptation, AdaptOptions, passages_from_texts

    if args.threads:
        torch.set_num_threads(args.threads)
    held_out: list[str] = []
    if args.folder:
        documents = [doc for folder in args.folder for doc in _folder_documents(folder)]
    else:
        documents, held_out = _beir_documents(args)
    if args.max_docs is not None and args.max_docs < len(documents):
        documents = sorted(random.Random(args.seed).sample(documents, args.max_docs))
    embedder = load_embedder(
        args.model, device=args.device, precision="fp32", max_length=args.max_tokens, depth=args.depth, progress=print
    )
    if not isinstance(embedder, LlaraEmbedder):
        parser.error("the model must be a LLaRA (causal LM) model")
    teacher = None
    if args.stage == "distill":
        if args.teacher_adapter is None:
            parser.error("--stage distill needs --teacher-adapter")
        teacher = load_embedder(
            args.model, adapter=str(args.teacher_adapter), device=args.device, max_length=args.max_tokens
        )
        if not isinstance(teacher, LlaraEmbedder):
            parser.error("the teacher must be a LLaRA (causal LM) model")
        print(f"Teacher: {teacher.name}, {teacher.precision}", flush=True)
    passages = passages_from_texts(documents, embedder.tokenizer, args.chunk_size, args.chunk_overlap)
    print(f"{len(documents)} documents, {len(passages)} passages; {len(held_out)} held out", flush=True)
    options = AdaptOptions(
        stage=args.stage,
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        rank=args.rank,
        alpha=2 * args.rank,
        max_tokens=args.max_tokens,
        next_chunk_pairs=not args.no_next_chunk_pairs,
        train_layers=args.train_layers,
        exits=tuple(sorted({int(k) for k in args.exits.split(",") if k.strip()})),
        projection=args.projection,
        device=args.device,
        precision=args.precision,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        estimate_steps=args.estimate_steps,
    )
    run_dir = args.run_dir or args.out.with_name(args.out.name + ".run")
    start = str(args.start_adapter.resolve()) if args.start_adapter else None
    adaptation = Adaptation(
        embedder, passages, options, run_dir=run_dir, adapter_dir=args.out, start_adapter=start, teacher=teacher
    )
    started = time.monotonic()
    losses: dict[str, list[float]] = {}
    for event in adaptation.run():
        if event.loss is not None:
            losses.setdefault(event.phase, []).append(round(event.loss, 4))
            if event.step % 10 == 0 or event.step == event.total:
                print(f"{event.phase} {event.step}/{event.total} loss {event.loss:.4f} {event.details}", flush=True)
        elif event.message and (event.phase != "prepare" or event.step % 640 == 0 or event.step == event.total):
            print(event.message, f"{event.step}/{event.total}" if event.total else "", flush=True)
    summary = {
        "source": ", ".join(str(f) for f in args.folder) if args.folder else str(args.beir),
        "start_adapter": start,
        "documents_seen": seen_record(documents),
        "held_out": held_out,
        "passages": len(passages),
        "options": vars(options)
        | {"target_modules": list(options.target_modules), "dims": list(options.dims), "exits": list(options.exits)},
        "model": embedder.name,
        "teacher": teacher.name if teacher is not None else None,
        "depth": embedder.early_exit,
        "device": embedder.device,
        "seconds": round(time.monotonic() - started, 1),
        "hardware": hardware(embedder.device, torch.get_num_threads()),
        "losses": losses,
    }
    if args.start_adapter and (args.start_adapter / "training.json").is_file():
        # The record of how the start adapter was made, so a chain of runs is described in full.
        summary["continued_from"] = json.loads((args.start_adapter / "training.json").read_text(encoding="utf-8"))
    (args.out / "training.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(f"Adapter: {args.out} ({summary['seconds']} s)")
    if args.bundle:
        bundle_adapter(args.out, args.bundle)
        print(f"Bundled copy: {args.bundle}")
    return 0


def seen_record(documents: list[tuple[str, str]], listed: int = 1000) -> list[str] | dict[str, object]:
    """The training documents by name; beyond ``listed`` of them, their count and a digest of names and text."""
    if len(documents) <= listed:
        return [doc for doc, _text in documents]
    digest = hashlib.sha256()
    for doc, text in documents:
        digest.update(f"{doc}\0{text}\0".encode())
    return {"count": len(documents), "first": documents[0][0], "last": documents[-1][0], "sha256": digest.hexdigest()}


def hardware(device: str, threads: int) -> dict[str, object]:
    import platform

    import torch

    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        lines = cpuinfo.read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
    return {"device": device, "cpu": cpu, "cpu_threads": threads, "gpu": gpu, "torch": torch.__version__}


def bundle_adapter(source: Path, target: Path) -> None:
    """The adapter as shipped: LoRA and <sN>-row weights in bf16, its config and training record; no tokenizer
    (the bundled backbone's converted cache already holds the LLaRA tokens) and no local paths."""
    import shutil

    from safetensors.torch import load_file, save_file

    target.mkdir(parents=True, exist_ok=True)
    weights = load_file(source / "adapter_model.safetensors")
    save_file({k: v.bfloat16().contiguous() for k, v in weights.items()}, target / "adapter_model.safetensors")
    config = json.loads((source / "adapter_config.json").read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = Settings.model
    (target / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(source / "training.json", target / "training.json")
    for extra in ("sleuth-adapter.json", "adapter_projection.safetensors"):
        if (source / extra).is_file():
            shutil.copyfile(source / extra, target / extra)


if __name__ == "__main__":
    sys.exit(main())
