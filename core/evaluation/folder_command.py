"""``sleuth eval FOLDER --queries FILE``: the real-folder evaluation (:mod:`core.evaluation.folder`) from the CLI."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from core.evaluation.beir import EvaluationError
from core.evaluation.halves import keep_half
from core.settings import Settings


def run_folder(args: argparse.Namespace, settings: Settings, log: Callable[[str], None]) -> int:
    from core.evaluation.folder import evaluate_folder, load_queries, table
    from core.evaluation.models import load_models, parse_modes
    from core.evaluation.report import write_json

    folder: Path = args.dataset
    if not folder.is_dir():
        raise EvaluationError(f"{folder} is not a folder; --queries judges the files of a folder.")
    if args.dims not in (None, "full", "0"):
        raise EvaluationError("A real folder is measured at the full dimension; leave out --dims.")
    if args.limit_docs is not None or args.limit_queries is not None:
        raise EvaluationError("--limit-docs and --limit-queries apply to BEIR sets, not to a real folder.")
    queries = keep_half(load_queries(args.queries, folder), args.half, lambda q: q.id)
    if not queries:
        raise EvaluationError(f"No query of {args.queries} is in the {args.half} half; try --half all.")
    modes = parse_modes(args.modes)
    settings, embedder, reranker = load_models(args, settings, modes, log)
    report = evaluate_folder(
        folder, queries, settings, embedder, reranker, modes=modes, work_dir=args.work_dir, seed=args.seed, log=log
    )
    report["command"] = {
        "folder": str(folder),
        "queries": str(args.queries),
        "modes": modes,
        "seed": args.seed,
        "half": str(args.half),
    }
    out = args.out or Path(f"sleuth-eval-{folder.resolve().name or 'folder'}.json")
    write_json(report, out)
    print(table(report))
    print(f"\nReport: {out}")
    return 0
