"""``sleuth eval DIR``: the command-line face of :mod:`core.evaluation.runner`.

Kept apart from ``core.cli`` so the CLI only registers the command; nothing here is imported until it runs,
except :func:`add_arguments`, which needs only argparse.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from core.evaluation.halves import Half
from core.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset",
        type=Path,
        help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv), or with --queries a folder of documents",
    )
    parser.add_argument(
        "--queries",
        type=Path,
        default=None,
        metavar="FILE",
        help="judged queries (JSON lines) for a real folder: DATASET is then indexed in place, file by file",
    )
    parser.add_argument(
        "--dims", default=None, help="Matryoshka search dimensions (default: 64,128,256,full; a real folder: full)"
    )
    parser.add_argument(
        "--modes",
        default="bm25,dense,hybrid,hybrid_rrf,hybrid_rerank",
        help="any of bm25, dense, hybrid, hybrid_rrf, hybrid_rerank (default: all)",
    )
    parser.add_argument("--limit-queries", type=int, default=None, metavar="N", help="a seeded sample of N queries")
    parser.add_argument(
        "--limit-docs", type=int, default=None, metavar="N", help="at most N documents (all relevant ones kept)"
    )
    parser.add_argument("--model", default=None, help="embedding model (default: the 'model' setting)")
    parser.add_argument("--adapter", default=None, help="LoRA adapter (default: the 'adapter' setting)")
    parser.add_argument("--precision", default=None, help="auto, fp32, bf16 or int8 (default: the 'precision' setting)")
    parser.add_argument(
        "--depth", type=int, default=None, help="decoder layers a LLaRA model runs, 0 = all (default: the setting)"
    )
    parser.add_argument("--reranker", default=None, help="cross-encoder for hybrid_rerank (default: the setting)")
    parser.add_argument(
        "--rerank-weight",
        type=float,
        default=None,
        help="the reranker's share of the order, 0-1 (default: setting)",
    )
    parser.add_argument(
        "--rerank-top-n",
        type=int,
        default=None,
        metavar="N",
        help="how many fused results are reranked (default: setting)",
    )
    parser.add_argument(
        "--half",
        type=Half,
        choices=list(Half),
        default=Half.TEST,
        help="which half of the queries (fixed by a hash of each id): dev to choose on, test to report "
        "(default: %(default)s), or all",
    )
    parser.add_argument(
        "--split", default="test", help="a BEIR set's qrels file, qrels/SPLIT.tsv (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON report (default: sleuth-eval-NAME.json); the plot goes beside it"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="keep the documents and evaluation index here and reuse them next time (default: a temporary folder)",
    )
    parser.add_argument("--no-plot", action="store_true", help="do not write the plot")


def run(args: argparse.Namespace, settings: Settings, log: Callable[[str], None]) -> int:
    from core.evaluation.beir import load_beir, subsample
    from core.evaluation.models import load_models, parse_modes
    from core.evaluation.report import plot, table, write_json
    from core.evaluation.runner import EvalOptions, evaluate, parse_dims

    if args.queries is not None:
        from core.evaluation.folder_command import run_folder

        return run_folder(args, settings, log)
    beir = load_beir(args.dataset, args.split)
    # The sample first, then its half: a half of the same sample is indexed once and shared by both halves.
    beir = subsample(beir, args.limit_queries, args.limit_docs, args.seed).half(args.half)
    dims = parse_dims(args.dims or "64,128,256,full")
    modes = parse_modes(args.modes)
    settings, embedder, reranker = load_models(args, settings, modes, log)
    report = evaluate(
        beir,
        settings,
        embedder,
        reranker,
        EvalOptions(dims=dims, modes=modes, work_dir=args.work_dir, seed=args.seed),
        log,
    )
    report["command"] = {
        "dataset": str(args.dataset),
        "limit_queries": args.limit_queries,
        "limit_docs": args.limit_docs,
        "dims": args.dims or "64,128,256,full",
        "seed": args.seed,
        "half": str(args.half),
    }
    out = args.out or Path(f"sleuth-eval-{beir.name or 'set'}.json")
    write_json(report, out)
    print(table(report))
    print(f"\nReport: {out}")
    if not args.no_plot:
        figure = plot(report, out.with_suffix(".svg"))
        print(f"Plot: {figure}" if figure else "Plot: not written (install matplotlib)")
    return 0
