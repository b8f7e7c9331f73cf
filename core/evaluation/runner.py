"""Evaluate retrieval on a BEIR set through the app's own code path: files on disk, Indexer, Searcher.

Each document becomes a ``.txt`` file in a private folder, indexed by :class:`core.index.indexer.Indexer` into a
private database (never the user's), so extraction, chunking, embedding, the FTS index and the fusion
measurement are exactly what the app runs. Chunk hits map back to their document: a document ranks where
its best chunk ranks (dedupe in rank order). The top 10 comes from a search the size the app makes
(``k`` = 10 documents' worth of chunks); recall@100 from a deeper one.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.evaluation.beir import BeirSet, EvaluationError
from core.evaluation.metrics import METRICS, evaluate_run, mrr_at, ndcg_at
from core.jobs import Phase, Progress, drain
from core.search.rerank import resolved_for

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from core.embedding import Embedder
    from core.index.indexer import Indexer
    from core.index.store import ProfileIndex
    from core.search.rerank import Reranker
    from core.search.searcher import Searcher
    from core.settings import Settings

#: Report keys, in display order. ``hybrid`` uses the measured dense weight, ``hybrid_rrf`` weight 1.
MODES = ("bm25", "dense", "hybrid", "hybrid_rrf", "hybrid_rerank")
DEPTH_TOP = 10
DEPTH_DEEP = 100

Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    """Default progress sink."""


class QueryCache:
    """An embedder whose query vectors are computed once: the same query is searched at every dimension
    and in every mode, and the vector does not change with either."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.name: str = embedder.name
        self.dimension: int = embedder.dimension
        self.max_length: int = embedder.max_length
        self.tokenizer: PreTrainedTokenizerBase = embedder.tokenizer
        self.device: str = embedder.device
        self._cache: dict[str, np.ndarray] = {}

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.inner.embed_queries(missing), strict=True):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def prefetch(self, texts: Sequence[str], batch: int = 64) -> None:
        """Embed many queries in batches (faster than one by one)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for start in range(0, len(todo), batch):
            self.embed_queries(todo[start : start + batch])

    def embed_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return self.inner.embed_passages(texts, batch_size)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


@dataclass
class EvalOptions:
    dims: list[int] = field(default_factory=lambda: [0])  # 0 = the model's full dimension
    modes: Sequence[str] = MODES
    work_dir: Path | None = None  # keep (and reuse) the documents and index here; default: a temporary folder
    seed: int = 0


@dataclass
class IndexedSet:
    """A BEIR set written to files and indexed, with the map from file path back to document id."""

    indexer: Indexer
    doc_of_path: dict[str, str]
    timings: dict[str, float]
    chunks: int
    tokens: int

    @property
    def index(self) -> ProfileIndex:
        return self.indexer.index


def parse_dims(text: str) -> list[int]:
    """ "64,128,full" -> [64, 128, 0]; 0 means the model's full dimension."""
    dims: list[int] = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part in ("full", "0", "all"):
            dims.append(0)
        elif part.isdigit() and int(part) > 0:
            dims.append(int(part))
        else:
            raise EvaluationError(f"Bad dimension {part!r}: use positive numbers or 'full', e.g. 64,128,256,full.")
    if not dims:
        raise EvaluationError("No dimensions given; e.g. --dims 64,128,256,full.")
    return list(dict.fromkeys(dims))


def write_documents(beir: BeirSet, folder: Path) -> dict[str, str]:
    """One .txt file per document; unchanged files are left alone so a kept index is reused, not rebuilt."""
    folder.mkdir(parents=True, exist_ok=True)
    doc_of_path: dict[str, str] = {}
    width = max(6, len(str(len(beir.corpus))))
    for number, doc_id in enumerate(sorted(beir.corpus)):
        path = folder / f"{number:0{width}d}.txt"
        content = beir.corpus[doc_id].content() + "\n"
        data = content.encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
        doc_of_path[str(path.resolve())] = doc_id
    for stale in folder.glob("*.txt"):
        if str(stale.resolve()) not in doc_of_path:
            stale.unlink()
    return doc_of_path


def build_index(beir: BeirSet, settings: Settings, embedder: Embedder, work_dir: Path, log: Log = _quiet) -> IndexedSet:
    """Write the documents and index them exactly as ``sleuth index`` would, into ``work_dir``."""
    from core.index.store import Store
    from core.service.writer import WriteService

    docs = work_dir / "docs"
    doc_of_path = write_documents(beir, docs)
    with WriteService(Store(work_dir / "index.lancedb"), "sleuth eval") as writer:
        drain(writer.add_folder(docs))
        indexer = writer.indexer(settings, embedder)
        timings = _run_timed(writer.index(settings, embedder, [docs.resolve()], indexer=indexer), log)
    table = indexer.index.chunks.search().select(["n_tokens"]).limit(None).to_arrow()
    problems = indexer.report.problems
    if problems:
        log(f"  {len(problems)} documents could not be indexed, e.g. {problems[0].path}: {problems[0].reason}")
    return IndexedSet(
        indexer=indexer,
        doc_of_path=doc_of_path,
        timings={k: round(v, 2) for k, v in timings.items()},
        chunks=table.num_rows,
        tokens=int(np.asarray(table["n_tokens"].to_numpy(zero_copy_only=False), dtype=np.int64).sum()),
    )


def _run_timed(job: Iterator[Progress], log: Log) -> dict[str, float]:
    """Run an indexing job, logging now and then; seconds spent in each phase, and in all."""
    timings: dict[str, float] = {}
    started = last = time.perf_counter()
    phase = "scan"
    last_log = 0.0
    for event in job:
        now = time.perf_counter()
        if event.phase != phase:
            timings[phase] = timings.get(phase, 0.0) + now - last
            phase, last = event.phase, now
        if now - last_log > 30 or event.phase in (Phase.MEASURE, Phase.DONE):
            last_log = now
            done, total = (
                (event.files_done, event.files_total)
                if event.phase in (Phase.TEXT, Phase.OCR)
                else (event.chunks_done, event.chunks_total)
            )
            log(f"  index: {event.phase} {done}/{total} {event.message}")
    timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - last
    timings["total"] = time.perf_counter() - started
    return timings


def doc_ranking(
    searcher: Searcher,
    query: str,
    mode: str,
    depth: int,
    doc_of_path: dict[str, str],
    chunks_per_doc: float,
    total_chunks: int,
    rerank: bool = False,
    rerank_top_n: int = 20,
) -> tuple[list[str], int]:
    """Top ``depth`` documents (best chunk first) and the chunk ``k`` it took to find them."""
    k = max(depth, math.ceil(depth * chunks_per_doc))
    while True:
        response = searcher.search(query, k=k, mode=mode, rerank=rerank, rerank_top_n=rerank_top_n)
        ranked = list(dict.fromkeys(doc_of_path.get(hit.path, hit.path) for hit in response.hits))
        if len(ranked) >= depth or len(response.hits) < k or k >= total_chunks:
            return ranked[:depth], k
        k = min(total_chunks, k * 2)


def _paired(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Mean of b - a and its 95% confidence interval (normal approximation, paired by query)."""
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if diff.size < 2:
        return {"diff": float(diff.mean()) if diff.size else 0.0, "ci95_low": 0.0, "ci95_high": 0.0}
    half = 1.96 * float(diff.std(ddof=1)) / math.sqrt(diff.size)
    return {"diff": float(diff.mean()), "ci95_low": float(diff.mean()) - half, "ci95_high": float(diff.mean()) + half}


def _searcher(
    index: ProfileIndex,
    embedder: Any,
    reranker: Reranker | None,
    weight: float,
    rrf: bool = False,
    rerank_weight: float = 1.0,
) -> Searcher:
    from core.search.fusion import METHOD
    from core.search.searcher import Searcher

    fusion = "rrf" if rrf else METHOD
    return Searcher(index, embedder, reranker, dense_weight=weight, fusion=fusion, rerank_weight=rerank_weight)


def evaluate(
    beir: BeirSet,
    settings: Settings,
    embedder: Embedder,
    reranker: Reranker | None = None,
    options: EvalOptions | None = None,
    log: Log = _quiet,
) -> dict[str, Any]:
    """Index ``beir`` and measure every mode at every dimension; returns the report (JSON-ready)."""
    from core.search.calibration import estimate_fusion

    options = options or EvalOptions()
    unknown = [m for m in options.modes if m not in MODES]
    if unknown:
        raise EvaluationError(f"Unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}.")
    queries = sorted(beir.judged_queries())
    if not queries:
        raise EvaluationError("The data set has no judged queries.")
    settings = dataclasses.replace(settings, search_dim=0)
    # The top N and share as numbers, the reranker's own where the settings leave them (also in the report).
    settings = resolved_for(settings, reranker.name if reranker is not None else None)
    with _work_dir(options.work_dir) as work:
        log(f"Indexing {len(beir.corpus)} documents into {work} (model {embedder.name})…")
        indexed = build_index(beir, settings, embedder, work, log)
        index = indexed.index
        engine_fusion = indexed.indexer.store.fusion(indexed.indexer.profile) or {}
        log(
            f"Indexed: {indexed.chunks} chunks, {indexed.tokens} tokens in {indexed.timings['total']:.0f} s; "
            f"engine's measured dense weight {engine_fusion.get('dense_weight')}"
        )
        cached = QueryCache(embedder)
        if any(m != "bm25" for m in options.modes):
            started = time.perf_counter()
            cached.prefetch([beir.queries[q] for q in queries])
            log(f"Embedded {len(queries)} queries in {time.perf_counter() - started:.1f} s")
        chunks_per_doc = indexed.chunks / max(1, len(beir.corpus))
        qrels = {q: beir.qrels[q] for q in queries}
        full = embedder.dimension
        dims = sorted({d or full for d in options.dims}, reverse=True)
        results: dict[str, dict[str, Any]] = {}
        per_query: dict[str, dict[str, list[float]]] = {}
        fusion_by_dim: dict[str, Any] = {}
        bm25_result: dict[str, Any] | None = None
        for dim in dims:
            if dim > full:
                raise EvaluationError(f"Dimension {dim} exceeds the model's {full}.")
            started = time.perf_counter()
            index.set_search_dim(dim)
            log(f"Dimension {dim}: search vectors re-derived in {time.perf_counter() - started:.1f} s")
            measured = (
                estimate_fusion(_searcher(index, cached, None, 1.0))
                if {"hybrid", "hybrid_rerank"} & set(options.modes)
                else {}
            )
            weight = float(measured.get("dense_weight", 0.0))
            fusion_by_dim[str(dim)] = measured
            row: dict[str, Any] = {}
            per_query[str(dim)] = {}
            for mode in options.modes:
                if mode == "bm25" and bm25_result is not None:
                    row[mode] = bm25_result  # BM25 does not depend on the vectors
                    for key, values in per_query[str(dims[0])].items():
                        if key.split(":")[0] == mode:
                            per_query[str(dim)][key] = values
                    continue
                if mode == "hybrid_rerank" and reranker is None:
                    row[mode] = {"skipped": "not run: no reranker"}
                    continue
                engine_mode = mode if mode in ("bm25", "dense") else "hybrid"
                mode_weight = 1.0 if mode == "hybrid_rrf" else weight
                rerank_with = reranker if mode == "hybrid_rerank" else None
                searcher = _searcher(
                    index, cached, rerank_with, mode_weight, mode == "hybrid_rrf", settings.rerank_weight
                )
                rerank = mode == "hybrid_rerank"
                run_top: dict[str, list[str]] = {}
                run_deep: dict[str, list[str]] = {}
                ks: list[int] = []
                started = time.perf_counter()
                for query in queries:
                    text = beir.queries[query]
                    args = (indexed.doc_of_path, chunks_per_doc, indexed.chunks)
                    run_top[query], k = doc_ranking(
                        searcher, text, engine_mode, DEPTH_TOP, *args, rerank, settings.rerank_top_n
                    )
                    # Reranking reorders only the first top N passages, which the deep ranking holds either
                    # way: recall@100 is the same without it, at half the reranker's cost.
                    run_deep[query], _ = doc_ranking(searcher, text, engine_mode, DEPTH_DEEP, *args)
                    ks.append(k)
                elapsed = time.perf_counter() - started
                figures: dict[str, Any] = dict(evaluate_run(run_top, qrels, run_deep))
                figures["chunk_k_top10"] = float(np.mean(ks))
                figures["seconds"] = round(elapsed, 2)
                if mode.startswith("hybrid"):
                    figures["dense_weight"] = mode_weight
                row[mode] = figures
                per_query[str(dim)][mode] = [ndcg_at(run_top[q], qrels[q], 10) for q in queries]
                per_query[str(dim)][f"{mode}:mrr"] = [mrr_at(run_top[q], qrels[q], 10) for q in queries]
                per_query[str(dim)][f"{mode}:hit1"] = [mrr_at(run_top[q], qrels[q], 1) for q in queries]
                if mode == "bm25":
                    bm25_result = figures
                log(f"  {mode:14s} " + "  ".join(f"{m} {figures[m]:.3f}" for m in METRICS) + f"  ({elapsed:.0f} s)")
            comparisons = {}
            scores = per_query[str(dim)]
            for mode in ("dense", "hybrid", "hybrid_rrf", "hybrid_rerank"):
                if "bm25" in scores and mode in scores:
                    comparisons[f"{mode}_minus_bm25_ndcg@10"] = _paired(scores["bm25"], scores[mode])
            if "hybrid" in scores and "hybrid_rerank" in scores:  # what the reranker adds to the default
                comparisons["hybrid_rerank_minus_hybrid_ndcg@10"] = _paired(scores["hybrid"], scores["hybrid_rerank"])
                comparisons["hybrid_rerank_minus_hybrid_mrr@10"] = _paired(
                    scores["hybrid:mrr"], scores["hybrid_rerank:mrr"]
                )
            row["paired"] = comparisons
            results[str(dim)] = row
        index.set_search_dim(0)
    return {
        "dataset": beir.summary(),
        **configuration(embedder, reranker, settings),
        "index": {
            "documents": len(beir.corpus),
            "chunks": indexed.chunks,
            "tokens": indexed.tokens,
            "seconds": indexed.timings,
            "engine_fusion": engine_fusion,
        },
        "dims": dims,
        "modes": list(options.modes),
        "metrics": list(METRICS),
        "fusion": fusion_by_dim,
        "results": results,
        # nDCG@10 and MRR@10 of every query (in "queries" order) by dimension and mode: two reports of the
        # same set compare query by query (benchmarks/compare_reports.py).
        "per_query": {"queries": list(queries), **per_query},
        "machine": machine_info(),
    }


@contextmanager
def _work_dir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="sleuth-eval-") as tmp:
        yield Path(tmp)


def configuration(embedder: Embedder, reranker: Any, settings: Settings, **model: Any) -> dict[str, Any]:
    """What a report was measured with: the model (``model``: further fields of it), reranker and settings."""
    return {
        "model": {
            "name": embedder.name,
            "dimension": embedder.dimension,
            "device": embedder.device,
            "precision": str(getattr(embedder, "precision", "")),
            **model,
        },
        "reranker": getattr(reranker, "name", None),
        "settings": {
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "rerank_top_n": settings.rerank_top_n,
            "rerank_weight": settings.rerank_weight,
        },
    }


def machine_info() -> dict[str, Any]:
    """Enough to say which machine a figure came from."""
    import platform

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info
