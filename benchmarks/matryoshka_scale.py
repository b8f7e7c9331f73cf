"""Matryoshka search dimensions at scale: how much of the full-dimension exact top 10 the truncated first stage
still finds, and what a query costs, at N passages of real text with their real vectors.

    python -m benchmarks.matryoshka_scale embed --work-dir /work/mscale --n 100000     # resumable; once
    python -m benchmarks.matryoshka_scale measure --work-dir /work/mscale --dims 64,128,192,256,full \
        --engines numpy,lancedb --out benchmarks/results/matryoshka-scale-minilm.json

``embed`` cuts real text into passages of at most ``MAX_WORDS`` words (every Debian package's long description
from the apt lists, the text files under /usr/share/doc, the manual-page evaluation set's pages), shuffles them
(seeded), embeds the first N with the model (the CPU default, all-MiniLM-L6-v2, unless ``--model``) and the
evaluation sets' real queries, and caches the vectors on disk as .npy shards: an interrupted run goes on where
it stopped, and ``measure`` reads whatever is there.

``measure`` takes each query's exact top 10 over the full vectors (numpy) as the truth, then runs Sleuth's
dense first stage at each search dimension d (``core.search.searcher.Searcher.dense_candidates``): the query
truncated to d and re-normalised (``core.embedding.matryoshka.truncate``), the ``POOL`` nearest search vectors
by dot product, rescored with the full vectors, top 10. ``numpy`` does the first stage exactly (what Sleuth
does below ``core.index.vector_index.MIN_ROWS`` chunks); ``lancedb`` stores the vectors through Sleuth's own
``Store``/``ProfileIndex`` at that search dimension, builds its IVF_PQ index where Sleuth would
(``build_vector_index``) and searches with its ``NPROBES`` and ``REFINE_FACTOR``. Reported per dimension:
recall@10 against the exact full-dimension top 10 (mean over queries), the share of queries whose top 1 is
kept, and the first stage's latency per query (p50/p95, one query at a time, query vector precomputed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import DEFAULT_SETS, Timer, log, percentiles, save

MAX_WORDS = 180  # about a 256-token chunk
MIN_WORDS = 12
SHARD = 2048
K = 10
#: Candidates dense search fetches for a page of 10 documents: max(NORM_DEPTH, k * PASSAGES_PER_DOCUMENT + 20).
POOL = 100
QUERY_SETS = ("debian-packages", "manpages", "dpkg-status")
DOC_SUFFIXES = {"", ".txt", ".md", ".rst", ".gz"}
#: Package descriptions (short: 54 words on average), the manual-page set's pages and /usr/share/doc's text files
#: (both cut at ``MAX_WORDS``).
SOURCES = ("packages", "manpages", "doc")


# --- real passages -------------------------------------------------------------------------------


def _pieces(text: str, max_words: int = MAX_WORDS) -> Iterator[str]:
    words = text.split()
    for start in range(0, len(words), max_words - max_words // 6):
        piece = words[start : start + max_words]
        if len(piece) >= MIN_WORDS:
            yield " ".join(piece)
        if start + max_words >= len(words):
            break


def _doc_files(root: Path = Path("/usr/share/doc")) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        name = path.name.lower()
        if not path.is_file() or path.is_symlink() or "copyright" in name or name.startswith("changelog.debian"):
            continue
        if path.suffix.lower() in DOC_SUFFIXES and path.stat().st_size < 2_000_000:
            yield path


def _doc_text(path: Path) -> str:
    from core.evaluation.sources import read_compressed

    try:
        text = read_compressed(path) if path.suffix == ".gz" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
    return text if "\x00" not in text else ""


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def real_passages(
    limit: int,
    seed: int,
    sources: tuple[str, ...] = SOURCES,
    max_words: int = MAX_WORDS,
    exclude: frozenset[str] = frozenset(),
) -> list[str]:
    """Distinct passages of real text from ``sources`` (in that order, until there are twice ``limit``), shuffled by
    ``seed``; the first ``limit``. ``exclude``: keys (``_key``) of passages already taken."""
    from core.evaluation.sources import debian_entries, dpkg_entries

    texts: list[str] = []
    if "packages" in sources:
        try:
            for entry in debian_entries():
                texts.extend(_pieces(entry.text, max_words))
        except Exception as exc:  # no apt lists on this machine: the installed packages' descriptions
            log(f"  (Debian lists unavailable: {exc}; using dpkg status)")
            texts.extend(p for e in dpkg_entries() for p in _pieces(e.text, max_words))
    log(f"  {len(texts)} passages from package descriptions")
    corpus = DEFAULT_SETS / "manpages" / "corpus.jsonl"
    if "manpages" in sources and corpus.is_file() and len(texts) < 2 * limit:
        for line in corpus.read_text(encoding="utf-8").splitlines():
            texts.extend(_pieces(json.loads(line)["text"], max_words))
    log(f"  {len(texts)} with manual pages")
    if "doc" in sources and len(texts) < 2 * limit:
        for path in _doc_files():
            texts.extend(_pieces(_doc_text(path), max_words))
            if len(texts) >= 2 * limit:
                break
    log(f"  {len(texts)} with /usr/share/doc")
    seen = set(exclude)
    unique = []
    for text in texts:
        key = _key(text)
        if key not in seen:
            seen.add(key)
            unique.append(text)
    random.Random(seed).shuffle(unique)
    return unique[:limit]


def real_queries(limit: int, seed: int) -> list[str]:
    """The evaluation sets' queries (one-line summaries of packages and manual pages), shuffled."""
    queries: list[str] = []
    for name in QUERY_SETS:
        path = DEFAULT_SETS / name / "queries.jsonl"
        if path.is_file():
            queries.extend(json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip())
    if not queries:
        from core.evaluation.sources import dpkg_entries

        queries = [e.query for e in dpkg_entries()]
    queries = sorted(set(queries))
    random.Random(seed).shuffle(queries)
    return queries[:limit]


# --- the vector cache ----------------------------------------------------------------------------


def shards(work: Path) -> list[Path]:
    return sorted((work / "vectors").glob("shard-*.npy"))


def cached_rows(work: Path) -> int:
    return sum(int(np.load(path, mmap_mode="r").shape[0]) for path in shards(work))


def load_vectors(work: Path, limit: int | None = None) -> np.ndarray:
    arrays = [np.load(path) for path in shards(work)]
    vectors = np.concatenate(arrays) if arrays else np.zeros((0, 0), np.float32)
    return vectors[:limit] if limit else vectors


def embed(args: argparse.Namespace) -> int:
    from core.embedding.registry import load_embedder

    work: Path = args.work_dir
    (work / "vectors").mkdir(parents=True, exist_ok=True)
    meta_path = work / "meta.json"
    passages_path = work / "passages.jsonl"
    if not passages_path.is_file():
        log("Collecting passages…")
        base: list[str] = []
        if args.extend:  # another work dir's passages first, their vectors reused
            base = [json.loads(line) for line in (args.extend / "passages.jsonl").read_text().splitlines()]
            for shard in shards(args.extend):
                shutil.copy(shard, work / "vectors" / shard.name)
            if cached_rows(work) != len(base):
                raise SystemExit(f"{args.extend} is not fully embedded; finish it first")
            shutil.copy(args.extend / "queries.npy", work / "queries.npy")
            shutil.copy(args.extend / "queries.json", work / "queries.json")
        more = real_passages(
            args.n - len(base),
            args.seed,
            tuple(args.sources.split(",")),
            args.max_words,
            frozenset(_key(text) for text in base),
        )
        passages = base + more
        passages_path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in passages), encoding="utf-8")
    passages = [json.loads(line) for line in passages_path.read_text(encoding="utf-8").splitlines()]
    log(f"{len(passages)} passages (asked for {args.n})")
    embedder = load_embedder(args.model, device=args.device, precision=args.precision, progress=log)
    meta = {
        "model": args.model,
        "embedder": embedder.name,
        "dimension": embedder.dimension,
        "passages": len(passages),
        "seed": args.seed,
        "sources": args.sources,
        "passages_sha256": hashlib.sha256(passages_path.read_bytes()).hexdigest()[:16],
    }
    old = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if old and (old.get("embedder"), old.get("passages_sha256")) != (meta["embedder"], meta["passages_sha256"]):
        raise SystemExit(f"{work} holds vectors of other passages or another model; use another --work-dir")
    timing: dict[str, float] = old.get("timing", {"seconds": 0.0, "passages": 0})
    meta["timing"] = timing
    meta_path.write_text(json.dumps(meta, indent=2))
    queries_path = work / "queries.npy"
    if not queries_path.is_file():
        queries = real_queries(args.queries, args.seed)
        (work / "queries.json").write_text(json.dumps(queries, ensure_ascii=False, indent=0), encoding="utf-8")
        np.save(queries_path, np.asarray(embedder.embed_queries(queries), np.float32))
        log(f"{len(queries)} queries embedded")
    done = cached_rows(work)
    for start in range(done, len(passages), SHARD):
        batch = passages[start : start + SHARD]
        with Timer() as t:
            vectors = np.asarray(embedder.embed_passages(batch), np.float32)
        np.save(work / "vectors" / f"shard-{len(shards(work)):05d}.npy", vectors)
        timing["seconds"] = round(timing["seconds"] + t.seconds, 1)
        timing["passages"] += len(batch)
        meta_path.write_text(json.dumps(meta, indent=2))
        log(f"  {start + len(batch)}/{len(passages)} passages, {len(batch) / t.seconds:.0f}/s")
    return 0


# --- measuring -----------------------------------------------------------------------------------


def exact_top(queries: np.ndarray, vectors: np.ndarray, k: int, block: int = 64) -> np.ndarray:
    """Each query's k best rows by dot product, best first (exact; in blocks of queries to bound memory)."""
    out = np.empty((len(queries), k), np.int64)
    for start in range(0, len(queries), block):
        scores = queries[start : start + block] @ vectors.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
        out[start : start + block] = np.take_along_axis(part, order, axis=1)
    return out


def _rescore(full_query: np.ndarray, candidates: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Sleuth's second stage: the candidates rescored with the full vectors, top K."""
    scores = vectors[candidates] @ full_query
    return candidates[np.argsort(-scores, kind="stable")[:K]]


def _numpy_stage(search: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Exact first stage: the ``POOL`` best rows of the search vectors by dot product."""
    return np.argpartition(-(search @ query), POOL - 1)[:POOL]


def _lancedb_index(
    db: Path, vectors: np.ndarray, dim: int, embedder_name: str, rotate: bool = False
) -> tuple[Any, dict[str, Any]]:
    """A chunks table of these vectors at search dimension ``dim``, through Sleuth's Store and ProfileIndex,
    with the IVF_PQ index Sleuth builds at this size. ``rotate``: written at the full dimension, then set to
    ``dim`` as the settings panel does, which turns the search vectors by the index's own principal axes."""
    import pyarrow as pa

    from core.embedding.matryoshka import truncate
    from core.index.store import IndexProfile, ProfileIndex, Store, chunks_schema
    from core.index.vector_index import build_vector_index, needs_vector_index

    shutil.rmtree(db, ignore_errors=True)
    store = Store(db)
    full_dim = vectors.shape[1]
    profile = IndexProfile(
        model="bench", adapter="", embedder_name=embedder_name, dimension=full_dim, chunk_size=256, chunk_overlap=0
    )
    store.set_active_profile(profile)
    index = ProfileIndex(store, profile, search_dim=full_dim if rotate else dim)
    written = index.search_dim
    schema = chunks_schema(full_dim, index.search_dim)
    info: dict[str, Any] = {}
    with Timer() as write:
        for start in range(0, len(vectors), 50_000):
            part = vectors[start : start + 50_000]
            search = truncate(part, written) if written < full_dim else part
            n = len(part)
            index.chunks.add(
                pa.table(
                    {
                        "id": pa.array([f"p{start + i:08d}" for i in range(n)], pa.string()),
                        "path": pa.array([f"/bench/{start + i:08d}.txt" for i in range(n)], pa.string()),
                        "ordinal": pa.array([0] * n, pa.int32()),
                        "vector": pa.FixedSizeListArray.from_arrays(pa.array(part.reshape(-1)), full_dim),
                        "vector_search": pa.FixedSizeListArray.from_arrays(pa.array(search.reshape(-1)), written),
                    }
                ).cast(pa.schema([schema.field(n) for n in ("id", "path", "ordinal", "vector", "vector_search")])),
            )
    info["write_s"] = round(write.seconds, 1)
    if written != dim:
        with Timer() as turn:
            index.set_search_dim(dim)
        info["rotated"] = index.search_space()[1] is not None
        info["set_search_dim_s"] = round(turn.seconds, 1)
    info["vector_index"] = needs_vector_index(index)
    if info["vector_index"]:
        with Timer() as build:
            build_vector_index(index)
        info["index_build_s"] = round(build.seconds, 1)
    return index, info


def _lancedb_stage(index: Any, query: np.ndarray) -> np.ndarray:
    from core.index.vector_index import NPROBES, REFINE_FACTOR

    table = (
        index.chunks.search(query, vector_column_name="vector_search")
        .distance_type("dot")
        .nprobes(NPROBES)
        .refine_factor(REFINE_FACTOR)
        .select(["id", "vector", "_distance"])  # the full vectors come along for rescoring, as in Sleuth
        .limit(POOL)
        .to_arrow()
    )
    return np.array([int(i[1:]) for i in table["id"].to_pylist()], np.int64)


#: Passages a rotation is fitted on: a sample of the index's own vectors (never the queries).
ROTATION_SAMPLE = 4096


def pca_rotation(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """The principal axes of a random sample of the passages (``core.embedding.matryoshka.principal_axes``).
    Rotating passages and queries alike keeps every full-dimension dot product, so the second stage's rescoring
    is unchanged; only the truncated first stage sees the reordered dimensions."""
    from core.embedding.matryoshka import principal_axes

    rng = np.random.default_rng(seed)
    return principal_axes(vectors[rng.choice(len(vectors), size=min(ROTATION_SAMPLE, len(vectors)), replace=False)])


def measure(args: argparse.Namespace) -> int:
    from core.embedding.matryoshka import project

    work: Path = args.work_dir
    meta = json.loads((work / "meta.json").read_text())
    vectors = load_vectors(work, args.n)
    queries = np.load(work / "queries.npy")[: args.queries]
    n, full_dim = vectors.shape
    log(f"{n} passages of {full_dim} dimensions, {len(queries)} queries")
    dims = [full_dim if d in ("full", "0") else int(d) for d in args.dims.split(",")]
    with Timer() as t:
        truth = exact_top(queries, vectors, K)
    log(f"exact full-dimension top {K}: {t.seconds:.1f} s")
    rows: list[dict[str, Any]] = []
    rotation = pca_rotation(vectors) if args.rotate == "pca" and "numpy" in args.engines else None
    for engine in args.engines.split(","):
        for dim in dims:
            info: dict[str, Any] = {}
            if engine == "numpy":
                q_search = project(queries, dim, rotation)
                search = np.ascontiguousarray(project(vectors, dim, rotation))
                stage: Callable[[np.ndarray], np.ndarray] = partial(_numpy_stage, search)
            elif engine == "lancedb":
                db = args.db_dir or work / "lancedb"
                index, info = _lancedb_index(db, vectors, dim, meta["embedder"], args.rotate == "pca")
                q_search = project(queries, dim, index.search_space()[1])
                stage = partial(_lancedb_stage, index)
            else:
                raise SystemExit(f"unknown engine {engine!r}: numpy or lancedb")
            for q in q_search[:3]:  # warm up
                stage(q)
            recalls, top1, seconds = [], [], []
            for q, full_q, want in zip(q_search, queries, truth, strict=True):
                start = time.perf_counter()
                candidates = stage(q)
                seconds.append(time.perf_counter() - start)
                got = _rescore(full_q, candidates, vectors)
                recalls.append(len(set(got.tolist()) & set(want.tolist())) / K)
                top1.append(float(len(got) > 0 and got[0] == want[0]))
            row = {
                "engine": engine,
                "dim": dim,
                "recall_at_10": round(float(np.mean(recalls)), 4),
                "queries_all_10": int(sum(r == 1.0 for r in recalls)),
                "top1_kept": round(float(np.mean(top1)), 4),
                "first_stage_ms": percentiles(seconds),
                **info,
            }
            rows.append(row)
            log(
                f"  {engine} d={dim}: recall@10 {row['recall_at_10']}, top 1 {row['top1_kept']}, "
                f"{row['first_stage_ms']}"
            )
    result = {
        "passages": n,
        "queries": len(queries),
        "pool": POOL,
        "k": K,
        "rotation": args.rotate,
        "embedder": meta["embedder"],
        "embedding": meta.get("timing", {}),
        "rows": rows,
    }
    save("matryoshka-scale", result, args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed", help="collect real passages and cache their vectors (resumable)")
    e.add_argument("--work-dir", type=Path, required=True)
    e.add_argument("--n", type=int, default=100_000)
    e.add_argument("--queries", type=int, default=500)
    e.add_argument("--model", default="minilm-l6-v2")
    e.add_argument("--device", default="cpu")
    e.add_argument("--precision", default="auto")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--sources", default=",".join(SOURCES), help="where passages come from, in order")
    e.add_argument("--max-words", type=int, default=MAX_WORDS, help="words per passage at most")
    e.add_argument("--extend", type=Path, default=None, help="a finished work dir: its passages and vectors first")
    m = sub.add_parser("measure", help="recall@10 and latency of the first stage at each search dimension")
    m.add_argument("--work-dir", type=Path, required=True)
    m.add_argument("--n", type=int, default=None, help="use the first N cached vectors (default: all)")
    m.add_argument("--queries", type=int, default=500)
    m.add_argument("--dims", default="64,128,192,256,full")
    m.add_argument("--engines", default="numpy,lancedb")
    m.add_argument("--db-dir", type=Path, default=None)
    m.add_argument("--rotate", choices=("none", "pca"), default="none", help="rotate by the passages' principal axes")
    m.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    return embed(args) if args.command == "embed" else measure(args)


if __name__ == "__main__":
    sys.exit(main())
