"""Which fusion rule keeps hybrid search at or above keyword search: candidate rules on every evaluation set.

Each set is an index that ``sleuth eval`` built and kept (``--work-dir``), plus its judged queries. The
BM25 and dense candidates of every query are fetched once from the real index, with the engine's own
searcher; each rule then fuses the same candidates, so rules differ only in how they fuse. Figures are
per document (a file ranks where its best passage ranks): hit@1, MRR@10, nDCG@10, with the paired
bootstrap 95% interval of rule − BM25.

    python -m benchmarks.fusion_rules \\
        --folder /work/realfolder benchmarks/real-folder/queries.jsonl /work/realfolder-work \\
        --beir /work/evalsets/dpkg-status /work/eval-work/dpkg-status 0 0 --out benchmarks/results/fusion-rules.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import eval_half
from core.evaluation.halves import in_half

POOL = 100  # what the search box asks for: a page of ten files, up to eight passages each, and 20 more
DEPTH = 10


@dataclass
class Candidate:
    row: int
    path: str
    score: float


@dataclass
class Query:
    id: str
    text: str
    relevant: dict[str, int]  # path -> grade
    kind: str = ""


@dataclass
class Pools:
    query: Query
    bm25: list[Candidate]
    dense: list[Candidate]
    # The full-dimension dense score of every keyword candidate, whether or not dense search found it.
    dense_of_keyword: dict[int, float] = field(default_factory=dict)


Rule = Callable[[Pools, float], dict[int, float]]


def collect(
    index_dir: Path, queries: Sequence[Query], embedder: Any, pool: int = POOL
) -> tuple[list[Pools], dict[str, Any]]:
    """Both candidate lists of every query from the kept index, and the fusion measurement stored with it."""
    from benchmarks.common import searching_with
    from core.evaluation.runner import QueryCache
    from core.index.store import Store
    from core.search.searcher import Searcher, SearchResponse

    store = Store(index_dir / "index.lancedb")
    profile = store.active_profile()
    if profile is None:
        raise SystemExit(f"{index_dir} holds no index")
    if profile.embedder_name != embedder.name:
        raise SystemExit(f"{index_dir} was embedded by {profile.embedder_name}, not {embedder.name}: see --adapter")
    index = store.profile_index(profile)
    cached = QueryCache(embedder)
    cached.prefetch([q.text for q in queries])
    searcher = Searcher(index, searching_with(cached))
    pools = []
    for query in queries:
        response = SearchResponse(query.text, "dense", [])
        vector = searcher.query_vector(query.text, response)
        assert vector is not None
        fts = searcher.keyword_candidates(query.text, pool, vectors=True)
        dense = searcher.dense_candidates(query.text, pool, response, vector=vector)
        assert dense is not None
        # The engine's own completion gives every keyword candidate its dense score.
        completed = searcher.complete_dense(dense, fts, vector)
        scores = dict(zip(completed["_rowid"].to_pylist(), completed["_dense_score"].to_pylist(), strict=True))
        found = Pools(query, _candidates(fts, "_score"), _candidates(dense, "_dense_score"))
        found.dense_of_keyword = {c.row: scores[c.row] for c in found.bm25 if c.row in scores}
        pools.append(found)
    from core.search.calibration import estimate_fusion

    # The probes measured again with today's code (the one stored with the index may predate it).
    measured = estimate_fusion(Searcher(index, embedder))
    measured["stored"] = store.fusion(profile) or {}
    return pools, measured


def _candidates(table: Any, score: str) -> list[Candidate]:
    columns = (table[c].to_pylist() for c in ("_rowid", "path", score))
    return [Candidate(r, p, s) for r, p, s in zip(*columns, strict=True)]


# --- rules ---------------------------------------------------------------------------------------
def bm25_only(pools: Pools, _w: float) -> dict[int, float]:
    return {c.row: c.score for c in pools.bm25}


def dense_only(pools: Pools, _w: float) -> dict[int, float]:
    return {c.row: c.score for c in pools.dense}


def fixed(pools: Pools, w: float, dense_min_spread: float | None = None) -> dict[int, float]:
    """z-scores over each list's top 50 (dense divided by at least the engine's floor, or by
    ``dense_min_spread``), mixed by the measured weight for every query alike."""
    from core.search.fusion import DENSE_MIN_SPREAD, fuse_scores

    dense = [(c.row, c.score) for c in pools.dense]
    floor = DENSE_MIN_SPREAD if dense_min_spread is None else dense_min_spread
    fused = fuse_scores(dense, [(c.row, c.score) for c in pools.bm25], w, floor)
    return {int(cast(int, k)): v for k, v in fused.items()}  # the keys are the candidates' rows


def engine(pools: Pools, w: float, dense_min_spread: float | None = None) -> dict[int, float]:
    """What the engine does: every keyword candidate with its own dense score (``Searcher.complete_dense``), and
    the measured weight, less as keyword search's lead grows (core.search.fusion)."""
    return listed_only(completed_pools(pools), w, dense_min_spread)


def listed_only(pools: Pools, w: float, dense_min_spread: float | None = None) -> dict[int, float]:
    """The engine before 2026-12-07: a keyword candidate that dense search did not fetch got its list's lowest
    score."""
    from core.search.fusion import query_weight

    return fixed(pools, query_weight(w, keyword_confidence(pools)), dense_min_spread)


def engine_z(pools: Pools, w: float) -> dict[int, float]:
    """The engine without the floor under the dense spread: dense scores divided by their own spread alone."""
    return engine(pools, w, dense_min_spread=0.0)


def rrf(pools: Pools, w: float) -> dict[int, float]:
    from core.search.fusion import rrf_scores

    return rrf_scores([(w, [c.row for c in pools.dense]), (1.0 - w, [c.row for c in pools.bm25])])


def keyword_confidence(pools: Pools) -> float:
    from core.search.fusion import keyword_lead

    return keyword_lead([(c.row, c.score) for c in pools.bm25], {c.row: c.path for c in pools.bm25})


def adaptive(gap0: float) -> Rule:
    """The dense weight shrinks as BM25's lead grows: w * max(0, 1 - gap / gap0)."""

    def rule(pools: Pools, w: float) -> dict[int, float]:
        return fixed(pools, w * max(0.0, 1.0 - keyword_confidence(pools) / gap0))

    rule.__name__ = f"adaptive_gap{gap0:g}"
    return rule


def protect_top(gap0: float) -> Rule:
    """Fuse as the engine does, but a BM25 first file whose lead is at least ``gap0`` stays first."""

    def rule(pools: Pools, w: float) -> dict[int, float]:
        scores = fixed(pools, w)
        if pools.bm25 and keyword_confidence(pools) >= gap0:
            top = pools.bm25[0].row
            scores[top] = max(scores.values()) + 1.0
        return scores

    rule.__name__ = f"protect_gap{gap0:g}"
    return rule


def completed_pools(pools: Pools) -> Pools:
    """The pools with every keyword candidate in dense search's list, at its own full-dimension score."""
    listed = {c.row for c in pools.dense}
    extra = [
        Candidate(c.row, c.path, pools.dense_of_keyword[c.row])
        for c in pools.bm25
        if c.row not in listed and c.row in pools.dense_of_keyword
    ]
    dense = sorted([*pools.dense, *extra], key=lambda c: c.score, reverse=True)
    return Pools(pools.query, pools.bm25, dense, pools.dense_of_keyword)


def _file_best(ranked: Sequence[Candidate], floor_spread: float) -> tuple[dict[str, float], dict[str, int]]:
    """Each file's best standardised score in one list (above the list's lowest), and the row that holds it."""
    from core.search.fusion import standardise

    z = standardise([c.score for c in ranked], floor_spread)
    low = float(z.min()) if z.size else 0.0
    best: dict[str, float] = {}
    row_of: dict[str, int] = {}
    for c, value in zip(ranked, z, strict=True):
        if c.path not in best:
            best[c.path], row_of[c.path] = float(value) - low, c.row
    return best, row_of


def by_file(complete: bool) -> Rule:
    """Fusion per file: each list's best passage of a file, fused; the file ranks by that, shown by its best
    passage."""

    def rule(pools: Pools, w: float) -> dict[int, float]:
        from core.search.fusion import DENSE_MIN_SPREAD, query_weight

        dense = completed_pools(pools).dense if complete else pools.dense
        weight = min(max(query_weight(w, keyword_confidence(pools)), 1e-6), 1.0)
        d_best, d_row = _file_best(dense, DENSE_MIN_SPREAD)
        k_best, k_row = _file_best(pools.bm25, 0.0)
        scores: dict[int, float] = {}
        for path in {*d_best, *k_best}:
            row = k_row.get(path, d_row.get(path))
            assert row is not None
            scores[row] = weight * d_best.get(path, 0.0) + (1.0 - weight) * k_best.get(path, 0.0)
        return scores

    rule.__name__ = "by_file_completed" if complete else "by_file"
    return rule


# --- figures -------------------------------------------------------------------------------------
def file_ranking(pools: Pools, scores: Mapping[int, float]) -> list[str]:
    path_of = {c.row: c.path for c in (*pools.bm25, *pools.dense)}
    files: dict[str, None] = {}
    for row in sorted(scores, key=lambda r: scores[r], reverse=True):
        files.setdefault(path_of[row], None)
        if len(files) >= DEPTH:
            break
    return list(files)


def figures(query: Query, ranking: Sequence[str]) -> dict[str, float]:
    rank = next((i for i, p in enumerate(ranking, 1) if query.relevant.get(p, 0) > 0), None)
    dcg = sum((2 ** query.relevant.get(p, 0) - 1) / math.log2(i + 2) for i, p in enumerate(ranking[:10]))
    ideal_grades = sorted(query.relevant.values(), reverse=True)[:10]
    ideal = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal_grades))
    return {
        "hit@1": float(rank == 1),
        "mrr@10": 1.0 / rank if rank is not None and rank <= 10 else 0.0,
        "ndcg@10": dcg / ideal if ideal else 0.0,
    }


def bootstrap(a: Sequence[float], b: Sequence[float], samples: int = 10_000) -> tuple[float, float, float]:
    diff = np.asarray(b) - np.asarray(a)
    rng = np.random.default_rng(0)
    means = diff[rng.integers(0, diff.size, size=(samples, diff.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def evaluate(pools: Sequence[Pools], rules: Mapping[str, Rule], weight: float) -> dict[str, Any]:
    per_rule = {
        name: [figures(p.query, file_ranking(p, rule(p, weight))) for p in pools] for name, rule in rules.items()
    }
    out: dict[str, Any] = {}
    for name, rows in per_rule.items():
        entry: dict[str, Any] = {m: float(np.mean([r[m] for r in rows])) for m in ("hit@1", "mrr@10", "ndcg@10")}
        if name != "bm25":
            for m in ("hit@1", "mrr@10", "ndcg@10"):
                entry[f"{m}_vs_bm25"] = bootstrap([r[m] for r in per_rule["bm25"]], [r[m] for r in rows])
        entry["per_query"] = {
            p.query.id: [r["hit@1"], r["mrr@10"], r["ndcg@10"]] for p, r in zip(pools, rows, strict=True)
        }
        entry["kinds"] = {p.query.id: p.query.kind for p in pools if p.query.kind}
        out[name] = entry
    return out


# --- sets ----------------------------------------------------------------------------------------
def folder_queries(folder: Path, queries_file: Path) -> list[Query]:
    out = []
    for line in queries_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if not in_half(str(row["id"]), eval_half()):
                continue
            relevant = {str((folder / p).resolve()): 1 for p in row["relevant"]}
            out.append(Query(row["id"], row["query"], relevant, row.get("kind", "")))
    return out


def beir_queries(dataset: Path, work_dir: Path, limit_queries: int | None, limit_docs: int | None) -> list[Query]:
    from core.evaluation.beir import load_beir, subsample
    from core.evaluation.runner import write_documents

    beir = subsample(load_beir(dataset), limit_queries, limit_docs, 0).half(eval_half())
    doc_of_path = write_documents(beir, work_dir / "docs")
    path_of_doc = {doc: path for path, doc in doc_of_path.items()}
    return [
        Query(q, beir.queries[q], {path_of_doc[d]: g for d, g in beir.qrels[q].items() if g > 0 and d in path_of_doc})
        for q in sorted(beir.judged_queries())
    ]


def rules_to_compare() -> dict[str, Rule]:
    rules: dict[str, Rule] = {"bm25": bm25_only, "dense": dense_only, "fixed": fixed, "engine": engine, "rrf": rrf}
    for gap in (1.0, 2.0, 3.0):
        rules[f"adaptive_gap{gap:g}"] = adaptive(gap)
        rules[f"protect_gap{gap:g}"] = protect_top(gap)
    rules["engine_z"] = engine_z
    rules["listed_only"] = listed_only
    rules["by_file"] = by_file(False)
    rules["by_file_completed"] = by_file(True)
    return rules


def probe_against_evaluation(report: Mapping[str, Any]) -> dict[str, Any]:
    """The probes' gain at each weight beside the engine's evaluation gain there, and the factor between them
    (least squares through the origin, fitted on all sets and again leaving each set out)."""
    from core.search.calibration import PROBE_BIAS

    points = []
    for name, entry in report.items():
        gains = entry["measured"].get("gains") or {}
        by_weight = entry["by_weight"]
        if "0.0" not in by_weight:
            continue
        base = by_weight["0.0"]["fixed"]["ndcg@10"]
        for weight, results in by_weight.items():
            if weight in gains:
                points.append(
                    {
                        "set": name,
                        "weight": float(weight),
                        "measured_weight": float(weight) == float(entry["measured"].get("dense_weight", -1)),
                        "probe": float(gains[weight]["gain"]),
                        "predicted": float(gains[weight]["gain"]) * PROBE_BIAS,
                        "se": float(gains[weight]["se"]),
                        "evaluation": results["engine"]["ndcg@10"] - base,
                    }
                )

    def factor(rows: Sequence[Mapping[str, Any]]) -> float:
        den = sum(r["probe"] ** 2 for r in rows)
        return sum(r["probe"] * r["evaluation"] for r in rows) / den if den else 0.0

    fit: dict[str, float] = {"all": factor(points)} if points else {}
    for name in {p["set"] for p in points}:
        fit[f"without {name}"] = factor([p for p in points if p["set"] != name])
    return {"points": points, "fit": fit}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", nargs=3, action="append", default=[], metavar=("FOLDER", "QUERIES", "WORK_DIR"))
    parser.add_argument(
        "--beir",
        nargs=4,
        action="append",
        default=[],
        metavar=("DATASET", "WORK_DIR", "QUERIES", "DOCS"),
        help="a BEIR set as `sleuth eval --work-dir` indexed it; QUERIES and DOCS as its --limit-* (0: all)",
    )
    parser.add_argument(
        "--weights", default="measured", help="comma list of dense weights; 'measured' is the one stored with the index"
    )
    parser.add_argument(
        "--with-report",
        type=Path,
        action="append",
        default=[],
        help="an earlier report of this script: its sets join the probes' calibration without being measured again",
    )
    parser.add_argument("--model", default=None, help="the model the indexes were built with (default: setting)")
    parser.add_argument("--adapter", default=None, help="the adapter the indexes were built with (default: setting)")
    parser.add_argument("--depth", type=int, default=0, help="the embedding depth they were built with (0: default)")
    parser.add_argument("--pool", type=int, default=POOL, help="candidates fetched from each list per query")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from core.embedding import load_embedder
    from core.settings import Settings

    settings = Settings()
    adapter = args.adapter if args.adapter is not None else settings.adapter or None
    model = args.model or settings.model
    embedder = load_embedder(model, adapter=adapter, device="cpu", precision="auto", depth=args.depth)
    sets: list[tuple[str, Path, list[Query]]] = []
    for folder, queries_file, work in args.folder:
        sets.append((Path(folder).name, Path(work), folder_queries(Path(folder), Path(queries_file))))
    for dataset, work, limit_queries, limit_docs in args.beir:
        queries = beir_queries(Path(dataset), Path(work), int(limit_queries) or None, int(limit_docs) or None)
        sets.append((Path(dataset).name, Path(work), queries))
    report: dict[str, Any] = {}
    for name, work, queries in sets:
        pools, measured = collect(work, queries, embedder, args.pool)
        weights = [
            float(measured.get("dense_weight", 0.0)) if token == "measured" else float(token)
            for token in args.weights.split(",")
            if token
        ]
        report[name] = {"queries": len(queries), "measured": measured, "by_weight": {}}
        for weight in weights:
            results = evaluate(pools, rules_to_compare(), weight)
            report[name]["by_weight"][str(weight)] = results
            print(f"\n{name} ({len(queries)} queries), dense weight {weight:g}")
            for rule, entry in results.items():
                delta = entry.get("mrr@10_vs_bm25")
                extra = f"  mrr-bm25 {delta[0]:+.3f} ({delta[1]:+.3f} … {delta[2]:+.3f})" if delta else ""
                print(
                    f"  {rule:18s} hit@1 {entry['hit@1']:.3f}  mrr@10 {entry['mrr@10']:.3f}  "
                    f"ndcg@10 {entry['ndcg@10']:.3f}{extra}"
                )
    earlier: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path in args.with_report:
        stored = json.loads(path.read_text(encoding="utf-8"))
        for name, entry in stored.items():
            if name != "calibration" and name not in report and name not in earlier:
                earlier[name], sources[name] = entry, str(path)
    calibration = probe_against_evaluation(report | earlier)
    calibration["from_earlier_reports"] = sources
    if calibration["points"]:
        print(f"\nprobe gain against evaluation gain (nDCG@10 over keyword-led fusion): {calibration['fit']}")
        for point in calibration["points"]:
            mark = "  <- the weight the probes chose" if point["measured_weight"] else ""
            print(
                "  {set:16s} w {weight:g}: probe {probe:+.3f}, corrected {predicted:+.3f}, "
                "evaluation {evaluation:+.3f}".format(**point)
                + mark
            )
    report["calibration"] = calibration
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
