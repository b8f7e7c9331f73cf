"""What both ``sleuth eval`` commands (BEIR sets and real folders) set up the same way: modes and models."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.evaluation.beir import EvaluationError
from core.settings import Settings

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.search.rerank import Reranker


def parse_modes(text: str) -> list[str]:
    """``"bm25, hybrid"`` -> ``["bm25", "hybrid"]``; an unknown mode is an error, not silently skipped."""
    from core.evaluation.runner import MODES

    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise EvaluationError(f"Unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}.")
    return modes


def load_models(
    args: argparse.Namespace, settings: Settings, modes: list[str], log: Callable[[str], None]
) -> tuple[Settings, Embedder, Reranker | None]:
    """The settings with the command line's model choices, the embedder, and the reranker if a mode needs one."""
    from core.index.indexer import settings_embedder

    settings = dataclasses.replace(
        settings,
        model=args.model or settings.model,
        adapter=settings.adapter if args.adapter is None else args.adapter,
        precision=args.precision or settings.precision,
        depth=settings.depth if getattr(args, "depth", None) is None else args.depth,
        rerank_weight=settings.rerank_weight if getattr(args, "rerank_weight", None) is None else args.rerank_weight,
        rerank_top_n=settings.rerank_top_n if getattr(args, "rerank_top_n", None) is None else args.rerank_top_n,
    )
    embedder = settings_embedder(settings, log)
    reranker = None
    reranker_name = args.reranker if args.reranker is not None else settings.reranker
    if reranker_name and "hybrid_rerank" in modes:
        from core.search.rerank import settings_reranker

        reranker = settings_reranker(dataclasses.replace(settings, reranker=reranker_name), embedder=embedder)
    return settings, embedder, reranker
