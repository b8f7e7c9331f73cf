"""Measuring Sleuth: retrieval quality on BEIR-format sets, and the sources those sets are built from.

Nothing here imports Qt or torch at import time; the runner loads the embedder only when it indexes.
"""

from __future__ import annotations

from core.evaluation.beir import BeirSet, load_beir, subsample, write_beir
from core.evaluation.metrics import METRICS, evaluate_run, mrr_at, ndcg_at, recall_at

__all__ = [
    "METRICS",
    "BeirSet",
    "evaluate_run",
    "load_beir",
    "mrr_at",
    "ndcg_at",
    "recall_at",
    "subsample",
    "write_beir",
]
