"""Shared pieces of the benchmarks: real documents, timing, percentiles, where results go."""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from core.evaluation.beir import BeirSet, load_beir, subsample
from core.evaluation.halves import Half
from core.evaluation.runner import machine_info, write_documents
from core.evaluation.sources import dpkg_entries, make_set

if TYPE_CHECKING:
    from core.embedding.base import Embedder
    from core.evaluation.runner import QueryCache

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_SETS = Path(os.environ.get("SLEUTH_EVAL_SETS", "/work/evalsets"))


def searching_with(cache: QueryCache) -> Embedder:
    """``cache`` where a ``Searcher`` takes its embedder: search asks only for query vectors, so the cache
    stands in for the model without ``early_exit``, which only building an index reads."""
    return cast("Embedder", cache)


def eval_half() -> Half:
    """The half of an evaluation set's queries a quality benchmark measures: ``SLEUTH_EVAL_HALF`` (dev, test or
    all), the test half by default, as ``sleuth eval`` (core.evaluation.halves); choose on dev, report test."""
    return Half(os.environ.get("SLEUTH_EVAL_HALF", Half.TEST))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def real_documents(dataset: Path | None, limit: int | None, seed: int = 0) -> BeirSet:
    """Real documents from a BEIR folder (see scripts/build_eval_sets.py), else the installed packages'
    descriptions (always present, offline)."""
    if dataset is not None:
        beir = load_beir(dataset)
    else:
        beir = make_set(dpkg_entries(), name="dpkg-status", docs=None, queries=100, seed=seed, min_doc_words=15)
    if limit is not None and limit < len(beir.corpus):
        beir = subsample(
            beir, limit_queries=min(len(beir.judged_queries()), limit // 4 or 1), limit_docs=limit, seed=seed
        )
    return beir


def write_folder(beir: BeirSet, folder: Path) -> dict[str, str]:
    """The set's documents as .txt files, one per document (what a user's folder holds)."""
    return write_documents(beir, folder)


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds, from samples in seconds."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan"), "n": 0}

    def at(q: float) -> float:
        # nearest-rank percentile
        rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
        return ordered[rank - 1] * 1000

    return {
        "p50_ms": round(at(0.50), 2),
        "p95_ms": round(at(0.95), 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
        "n": len(ordered),
    }


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def save(name: str, result: dict[str, Any], out: Path | None = None) -> Path:
    """Write a benchmark's result (with the machine it ran on) as JSON; returns the path."""
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "command": " ".join([Path(sys.executable).name, *sys.argv]), **result}
    result.setdefault("machine", machine_info())
    result.setdefault("code", code_version())
    result.setdefault("env", {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ})
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"Result: {path}")
    return path


def code_version() -> str:
    """The commit the figures came from, marked "+changes" when the working tree differed from it."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "core"], cwd=root, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def seeded(seed: int) -> random.Random:
    return random.Random(seed)
