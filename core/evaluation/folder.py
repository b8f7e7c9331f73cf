"""Evaluate retrieval on a real folder: the user's kind of files, read by the app's own extractors.

The folder (HTML, PDF, Markdown, plain text…) is indexed in place by :class:`core.index.indexer.Indexer` into a
private database in the work folder, which a later run reuses (unchanged files are not read or embedded
again). Each judged query is searched in every mode; the passage ranking collapses to a file ranking (a
file ranks where its first passage ranks), and the figures are file-level: hit@1, hit@5, MRR@10,
nDCG@10, and for queries judged to a PDF page, whether the top passage of the right file is on that page.

Queries file (JSON lines), paths relative to the folder::

    {"id": "q01", "kind": "question", "query": "…", "relevant": ["a/b.html", "c.pdf"], "pages": {"c.pdf": [12]}}
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.evaluation.beir import EvaluationError
from core.evaluation.metrics import mrr_at, ndcg_at
from core.evaluation.runner import (
    MODES,
    QueryCache,
    _paired,
    _run_timed,
    _searcher,
    _work_dir,
    configuration,
    machine_info,
)
from core.jobs import drain
from core.search.rerank import resolved_for

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.index.indexer import Indexer
    from core.search.rerank import Reranker
    from core.search.searcher import Searcher
    from core.settings import Settings

#: The kinds of query a set should cover; a query of another kind is refused (a typo would hide it).
KINDS = ("keywords", "question", "paraphrase", "identifier", "non-english")
#: File-level figures, in display order. ``page_hit`` counts only queries judged to a page.
FOLDER_METRICS = ("hit@1", "hit@5", "mrr@10", "ndcg@10", "page_hit")
DEPTH = 10
FIRST_K = 100  # passages asked for first; doubled until DEPTH distinct files are found
BOOTSTRAP_SAMPLES = 10_000

Log = Callable[[str], None]


def _quiet(_message: str) -> None:
    """Default progress sink."""


@dataclass(frozen=True)
class FolderQuery:
    id: str
    kind: str
    text: str
    relevant: tuple[str, ...]
    pages: dict[str, tuple[int, ...]] = field(default_factory=dict)  # PDF path -> judged pages (1-based)


def load_queries(path: Path, folder: Path | None = None) -> list[FolderQuery]:
    """Read and check a queries file; with ``folder``, every judged file must exist there."""
    if not path.is_file():
        raise EvaluationError(f"No queries file at {path}.")
    queries: list[FolderQuery] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query = FolderQuery(
                id=str(row["id"]),
                kind=str(row["kind"]),
                text=str(row["query"]),
                relevant=tuple(str(p) for p in row["relevant"]),
                pages={str(k): tuple(int(p) for p in v) for k, v in (row.get("pages") or {}).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EvaluationError(f"{path}, line {number}: not a query ({exc}).") from exc
        problem = (
            f"duplicate id {query.id!r}"
            if query.id in seen
            else f"kind {query.kind!r} is not one of {', '.join(KINDS)}"
            if query.kind not in KINDS
            else "no relevant file"
            if not query.relevant or not query.text.strip()
            else "a judged page belongs to a file that is not relevant"
            if not set(query.pages) <= set(query.relevant)
            else ""
        )
        missing = [p for p in query.relevant if folder is not None and not (folder / p).is_file()]
        if missing:
            problem = f"{missing[0]} is not in {folder}"
        if problem:
            raise EvaluationError(f"{path}, line {number} ({query.id}): {problem}.")
        seen.add(query.id)
        queries.append(query)
    if not queries:
        raise EvaluationError(f"{path} holds no queries.")
    return queries


def index_folder(folder: Path, settings: Settings, embedder: Embedder, work_dir: Path, log: Log = _quiet) -> Indexer:
    """Index ``folder`` in place, as ``sleuth index`` would, into ``work_dir/index.lancedb``."""
    from core.index.store import Store
    from core.service.writer import WriteService

    with WriteService(Store(work_dir / "index.lancedb"), "sleuth eval") as writer:
        drain(writer.add_folder(folder))
        indexer = writer.indexer(settings, embedder)
        _run_timed(writer.index(settings, embedder, [folder], indexer=indexer), log)
    for problem in indexer.report.problems:
        log(f"  not indexed: {problem.path}: {problem.reason}")
    return indexer


def file_ranking(
    searcher: Searcher, query: str, mode: str, total_chunks: int, rerank: bool = False, rerank_top_n: int = 20
) -> list[tuple[str, int | None]]:
    """The top DEPTH files for ``query``, each with the page of its first (best) passage."""
    k = FIRST_K
    while True:
        response = searcher.search(query, k=k, mode=mode, rerank=rerank, rerank_top_n=rerank_top_n)
        first: dict[str, int | None] = {}
        for hit in response.hits:
            first.setdefault(hit.path, hit.page)
        if len(first) >= DEPTH or len(response.hits) < k or k >= total_chunks:
            return list(first.items())[:DEPTH]
        k = min(total_chunks, k * 2)


def score_query(query: FolderQuery, ranking: Sequence[tuple[str, int | None]]) -> dict[str, float | None]:
    """File-level figures of one query; ``page_hit`` is None unless the query is judged to a page."""
    files = [path for path, _page in ranking]
    grades = dict.fromkeys(query.relevant, 1)
    rank = next((i for i, path in enumerate(files, 1) if path in grades), None)
    page_hit: float | None = None
    if query.pages:
        page_hit = 0.0
        for path, page in ranking:
            if path in query.pages:  # the best-ranked file judged to a page decides
                page_hit = float(page in query.pages[path])
                break
    return {
        "hit@1": float(rank == 1),
        "hit@5": float(rank is not None and rank <= 5),
        "mrr@10": mrr_at(files, grades, 10),
        "ndcg@10": ndcg_at(files, grades, 10),
        "page_hit": page_hit,
        "rank": None if rank is None else float(rank),
    }


def mean_figures(scores: Sequence[dict[str, float | None]]) -> dict[str, float | int | None]:
    """Mean of each figure; ``page_hit`` over the queries judged to a page (None when there are none)."""
    figures: dict[str, float | int | None] = {}
    for name in FOLDER_METRICS:
        values = [value for s in scores if (value := s[name]) is not None]
        figures[name] = float(np.mean(values)) if values else None
    figures["queries"] = len(scores)
    figures["page_queries"] = sum(1 for s in scores if s["page_hit"] is not None)
    return figures


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> dict[str, float]:
    """Mean of b − a over queries and its 95% percentile interval, resampling queries with replacement."""
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if diff.size == 0:
        return {"diff": 0.0, "ci95_low": 0.0, "ci95_high": 0.0, "samples": 0}
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(samples, diff.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"diff": float(diff.mean()), "ci95_low": float(low), "ci95_high": float(high), "samples": samples}


def _by_kind(queries: Sequence[FolderQuery], per_mode: dict[str, list[dict[str, float | None]]]) -> dict[str, Any]:
    """Figures per kind of query, and where hybrid ranks the answer below BM25 (the losses fusion must fix)."""
    out: dict[str, Any] = {}
    for kind in KINDS:
        idx = [i for i, q in enumerate(queries) if q.kind == kind]
        if not idx:
            continue
        entry: dict[str, Any] = {"queries": len(idx)}
        for mode, scores in per_mode.items():
            entry[mode] = mean_figures([scores[i] for i in idx])
        if "bm25" in per_mode and "hybrid" in per_mode:
            bm25, hybrid = per_mode["bm25"], per_mode["hybrid"]
            worse = [queries[i].id for i in idx if (hybrid[i]["mrr@10"] or 0) < (bm25[i]["mrr@10"] or 0)]
            better = [queries[i].id for i in idx if (hybrid[i]["mrr@10"] or 0) > (bm25[i]["mrr@10"] or 0)]
            entry["hybrid_vs_bm25"] = {"worse": worse, "better": better, "same": len(idx) - len(worse) - len(better)}
        out[kind] = entry
    return out


def evaluate_folder(
    folder: Path,
    queries: Sequence[FolderQuery],
    settings: Settings,
    embedder: Embedder,
    reranker: Reranker | None = None,
    modes: Sequence[str] = MODES,
    work_dir: Path | None = None,
    seed: int = 0,
    log: Log = _quiet,
) -> dict[str, Any]:
    """Index ``folder`` (or reuse ``work_dir``'s index) and measure every mode; returns the report."""
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise EvaluationError(f"Unknown mode(s) {', '.join(unknown)}; choose from {', '.join(MODES)}.")
    folder = folder.resolve()
    settings = dataclasses.replace(settings, search_dim=0)
    # The top N and share as numbers, the reranker's own where the settings leave them (also in the report).
    settings = resolved_for(settings, reranker.name if reranker is not None else None)
    with _work_dir(work_dir) as work:
        log(f"Indexing {folder} into {work} (model {embedder.name})…")
        started = time.perf_counter()
        indexer = index_folder(folder, settings, embedder, work, log)
        index_seconds = time.perf_counter() - started
        index = indexer.index
        store = indexer.store
        table = index.chunks.search().select(["path", "n_tokens"]).limit(None).to_arrow()
        chunks = table.num_rows
        tokens = int(np.asarray(table["n_tokens"].to_numpy(zero_copy_only=False), dtype=np.int64).sum())
        files = len(set(table["path"].to_pylist()))
        engine_fusion = store.fusion(indexer.profile) or {}
        weight = settings.dense_weight if settings.dense_weight >= 0 else store.dense_weight(indexer.profile)
        log(f"Index: {files} files, {chunks} chunks, {tokens} tokens ({index_seconds:.0f} s); dense weight {weight:g}")
        absolute = {q.id: {str(folder / p) for p in q.relevant} for q in queries}
        judged = [
            dataclasses.replace(
                q, relevant=tuple(sorted(absolute[q.id])), pages={str(folder / p): v for p, v in q.pages.items()}
            )
            for q in queries
        ]
        cached = QueryCache(embedder)
        if any(m != "bm25" for m in modes):
            cached.prefetch([q.text for q in queries])
        results: dict[str, Any] = {}
        per_mode: dict[str, list[dict[str, float | None]]] = {}
        rankings: dict[str, dict[str, list[list[Any]]]] = {}
        for mode in modes:
            if mode == "hybrid_rerank" and reranker is None:
                results[mode] = {"skipped": "not run: no reranker"}
                continue
            engine_mode = mode if mode in ("bm25", "dense") else "hybrid"
            mode_weight = 1.0 if mode == "hybrid_rrf" else weight
            searcher = _searcher(
                index,
                cached,
                reranker if mode == "hybrid_rerank" else None,
                mode_weight,
                mode == "hybrid_rrf",
                settings.rerank_weight,
            )
            started = time.perf_counter()
            scores: list[dict[str, float | None]] = []
            rankings[mode] = {}
            for query in judged:
                ranking = file_ranking(
                    searcher, query.text, engine_mode, chunks, mode == "hybrid_rerank", settings.rerank_top_n
                )
                scores.append(score_query(query, ranking))
                rankings[mode][query.id] = [[str(Path(p).relative_to(folder)), page] for p, page in ranking[:5]]
            figures: dict[str, Any] = dict(mean_figures(scores))
            figures["seconds"] = round(time.perf_counter() - started, 2)
            if mode.startswith("hybrid"):
                figures["dense_weight"] = mode_weight
            results[mode] = figures
            per_mode[mode] = scores
            log(f"  {mode:14s} " + "  ".join(_cell(name, figures[name]) for name in FOLDER_METRICS))
        paired: dict[str, Any] = {}
        for mode in ("dense", "hybrid", "hybrid_rrf", "hybrid_rerank"):
            if "bm25" not in per_mode or mode not in per_mode:
                continue
            for name in ("hit@1", "hit@5", "mrr@10", "ndcg@10"):
                a = [s[name] or 0.0 for s in per_mode["bm25"]]
                b = [s[name] or 0.0 for s in per_mode[mode]]
                paired[f"{mode}_minus_bm25_{name}"] = paired_bootstrap(a, b, seed=seed) | {"normal": _paired(a, b)}
        if "hybrid" in per_mode and "hybrid_rerank" in per_mode:  # what the reranker adds to the default
            for name in ("hit@1", "hit@5", "mrr@10", "ndcg@10"):
                a = [s[name] or 0.0 for s in per_mode["hybrid"]]
                b = [s[name] or 0.0 for s in per_mode["hybrid_rerank"]]
                paired[f"hybrid_rerank_minus_hybrid_{name}"] = paired_bootstrap(a, b, seed=seed) | {
                    "normal": _paired(a, b)
                }
        per_query = {
            q.id: {"kind": q.kind, **{mode: per_mode[mode][i] for mode in per_mode}} for i, q in enumerate(queries)
        }
    return {
        "dataset": {"name": folder.name, "folder": str(folder), "files": files, "queries": len(queries)},
        **configuration(embedder, reranker, settings, adapter=settings.adapter),
        "index": {
            "files": files,
            "chunks": chunks,
            "tokens": tokens,
            "seconds": round(index_seconds, 1),
            "engine_fusion": engine_fusion,
            "added": indexer.report.added,
            "unchanged": indexer.report.unchanged,
            "chunks_embedded": indexer.report.chunks_embedded,
            "problems": [[p.path, p.reason] for p in indexer.report.problems],
        },
        "modes": list(modes),
        "metrics": list(FOLDER_METRICS),
        "results": results,
        "paired": paired,
        "by_kind": _by_kind(queries, per_mode),
        "per_query": per_query,
        "top5": rankings,
        "machine": machine_info(),
    }


def _cell(name: str, value: float | None) -> str:
    return f"{name} {'–' if value is None else f'{value:.3f}'}"


def table(report: dict[str, Any]) -> str:
    """A Markdown table of the file-level figures, then hybrid − BM25 with its bootstrap interval."""
    metrics = report["metrics"]
    lines = ["| mode | " + " | ".join(metrics) + " | dense weight |", "|---|" + "---:|" * (len(metrics) + 1)]
    for mode in report["modes"]:
        figures = report["results"].get(mode, {})
        if "skipped" in figures:
            lines.append(f"| {mode} | {figures['skipped']} |" + " |" * len(metrics))
            continue
        cells = " | ".join("–" if figures[m] is None else f"{figures[m]:.3f}" for m in metrics)
        weight = figures.get("dense_weight")
        lines.append(f"| {mode} | {cells} | {'' if weight is None else f'{weight:g}'} |")
    for key, value in report["paired"].items():
        if key.startswith("hybrid_minus"):
            lines.append(
                f"\n{key}: {value['diff']:+.3f} (95% bootstrap {value['ci95_low']:+.3f} … {value['ci95_high']:+.3f})"
            )
    return "\n".join(lines)
