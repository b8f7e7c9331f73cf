"""Which reranker, and which rule for mixing it into the fused order, adds to hybrid search: every pair on every set.

Each set is an index that ``sleuth eval`` built and kept (``--work-dir``), plus its judged queries. Every query
is searched once as the search box searches (``Searcher.search_documents`` without reranking); the first
``--top-n`` passages are scored once by each reranker, and each rule then orders the same candidates from the
same scores, so rules differ only in how they mix. Figures are per file, as ``sleuth eval`` counts them: hit@1,
MRR@10 and nDCG@10 of each rule, with the paired bootstrap 95% interval of rule − hybrid search, per set, per
query kind and pooled (each set resampled within itself).

    SLEUTH_EVAL_HALF=dev python -m benchmarks.rerank_rules --model minilm-l6-v2 \\
        --folder /work/realfolder benchmarks/real-folder/queries.jsonl W/real \\
        --beir /work/evalsets/manpages W/manpages 100 300 … --rerankers bundled,bundled-minilm,sentences,ql-head \\
        --out benchmarks/results/halves/rerank-rules-dev.json

``--scores FILE`` keeps every query's candidates and scores; ``--from-scores FILE`` measures the rules on them again
without a model (several files: their rerankers' scores join).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import eval_half, log
from benchmarks.fusion_rules import Query, beir_queries, figures, folder_queries
from core.search.searcher import _standardised as _z  # the z-scores the engine mixes with

METRICS = ("hit@1", "mrr@10", "ndcg@10")
DEPTH = 10


@dataclasses.dataclass
class Candidates:
    """One query's fused passages, best first (path and fused score), and each reranker's scores of the head."""

    query: Query
    paths: list[str]
    fused: list[float]
    bm25_files: list[str]
    rerank: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    texts: list[str] = dataclasses.field(default_factory=list)  # the head's passages, while rerankers score them


#: A rule: (fused scores of the head, reranker scores of the head) -> the head's new scores (higher first).
Rule = Callable[[np.ndarray, Mapping[str, np.ndarray]], np.ndarray]


def _above_tail(head: np.ndarray, fused: np.ndarray) -> np.ndarray:
    """The fused scores with the head's replaced by ``head``, shifted so that the head stays above the tail."""
    out = fused.copy()
    n = head.size
    out[:n] = head - head.min() + (fused[n:].max() if fused.size > n else 0.0) + 1.0
    return out


def mixed(name: str, top_n: int, share: float) -> Rule:
    """What the engine does (``core.search.searcher.mixed_scores``) over the first ``top_n``."""
    from core.search.searcher import mixed_scores

    def rule(fused: np.ndarray, rerank: Mapping[str, np.ndarray]) -> np.ndarray:
        n = min(top_n, fused.size)
        return _above_tail(mixed_scores(fused[:n], rerank[name][:n], share), fused)

    return rule


def by_rank(name: str, top_n: int, shares: Sequence[tuple[int, float]]) -> Rule:
    """A position-aware mix: a candidate fused at rank r keeps the retrieval share of the first ``(upto, share)``
    with r <= upto (ranks counted from 1); the reranker's share is the rest."""

    def rule(fused: np.ndarray, rerank: Mapping[str, np.ndarray]) -> np.ndarray:
        n = min(top_n, fused.size)
        zr, zf = _z(rerank[name][:n]), _z(fused[:n])
        keep = np.array([next(s for upto, s in shares if r + 1 <= upto) for r in range(n)])
        return _above_tail(keep * zf + (1 - keep) * zr, fused)

    return rule


def confident(name: str, top_n: int, margin: float) -> Rule:
    """The fused order stands unless the reranker prefers a candidate over the fused first by ``margin``
    standard deviations; then the reranker's order, over the head."""

    def rule(fused: np.ndarray, rerank: Mapping[str, np.ndarray]) -> np.ndarray:
        n = min(top_n, fused.size)
        zr = _z(rerank[name][:n])
        if n < 2 or zr.max() - zr[0] < margin:
            return fused
        return _above_tail(zr, fused)

    return rule


def promote(name: str, top_n: int, margin: float) -> Rule:
    """The fused order stands, except that the reranker's favourite of the head moves to the first place when it
    leads the fused first by ``margin`` standard deviations of the reranker's scores."""

    def rule(fused: np.ndarray, rerank: Mapping[str, np.ndarray]) -> np.ndarray:
        n = min(top_n, fused.size)
        zr = _z(rerank[name][:n])
        if n < 2 or zr.max() - zr[0] < margin:
            return fused
        out = fused.copy()
        out[int(zr.argmax())] = fused.max() + 1.0
        return out

    return rule


def uncertain_only(name: str, top_n: int, share: float, gap: float) -> Rule:
    """The engine's mix, only where the fused first passage leads the second by less than ``gap`` standard
    deviations of the head's fused scores."""
    inner = mixed(name, top_n, share)

    def rule(fused: np.ndarray, rerank: Mapping[str, np.ndarray]) -> np.ndarray:
        n = min(top_n, fused.size)
        if n < 2:
            return fused
        zf = _z(fused[:n])
        return inner(fused, rerank) if zf[0] - zf[1] < gap else fused

    return rule


def summed(names: Sequence[str], top_n: int, share: float) -> Rule:
    """The engine's mix with the mean of several rerankers' standardised scores as the reranker."""

    def rule(fused: np.ndarray, rerank: Mapping[str, np.ndarray]) -> np.ndarray:
        n = min(top_n, fused.size)
        joined = np.mean([_z(rerank[name][:n]) for name in names], axis=0)
        return mixed("joined", n, share)(fused, {"joined": joined})

    return rule


def rules_for(rerankers: Sequence[str], top_n: int) -> dict[str, Rule]:
    rules: dict[str, Rule] = {"hybrid": lambda fused, _r: fused}
    for name in rerankers:
        for n in (5, 10, 20):
            if n > top_n:
                continue
            for share in (0.2, 0.3, 0.5):
                rules[f"{name} mix top{n} {share:g}"] = mixed(name, n, share)
            rules[f"{name} by-rank top{n}"] = by_rank(name, n, [(3, 0.75), (10, 0.6), (10**9, 0.4)])
            rules[f"{name} by-rank-strong top{n}"] = by_rank(name, n, [(1, 0.9), (3, 0.75), (10**9, 0.5)])
            for margin in (1.0, 1.5, 2.0):
                rules[f"{name} confident top{n} {margin:g}"] = confident(name, n, margin)
                rules[f"{name} promote top{n} {margin:g}"] = promote(name, n, margin)
            for gap in (0.5, 1.0):
                rules[f"{name} uncertain top{n} 0.5 gap{gap:g}"] = uncertain_only(name, n, 0.5, gap)
    if len(rerankers) > 1:
        for n in (5, 10, 20):
            if n <= top_n:
                for share in (0.3, 0.5):
                    rules[f"{'+'.join(rerankers)} mix top{n} {share:g}"] = summed(rerankers, n, share)
    return rules


def file_ranking(paths: Sequence[str], scores: np.ndarray) -> list[str]:
    files: dict[str, None] = {}
    for i in np.argsort(-scores, kind="stable"):
        files.setdefault(paths[int(i)], None)
        if len(files) >= DEPTH:
            break
    return list(files)


# --- collecting ----------------------------------------------------------------------------------
def collect(index_dir: Path, queries: Sequence[Query], embedder: Any, pool: int) -> list[Candidates]:
    from benchmarks.common import searching_with
    from core.evaluation.runner import QueryCache
    from core.index.store import Store
    from core.search.searcher import Searcher

    store = Store(index_dir / "index.lancedb")
    profile = store.active_profile()
    if profile is None:
        raise SystemExit(f"{index_dir} holds no index")
    index = store.profile_index(profile)
    cached = QueryCache(embedder)
    cached.prefetch([q.text for q in queries])
    searcher = Searcher(index, searching_with(cached), dense_weight=store.dense_weight(profile))
    out = []
    for query in queries:
        hybrid = searcher.search_documents(query.text, k=DEPTH, mode="hybrid", rerank=False, rerank_top_n=pool)
        bm25 = searcher.search_documents(query.text, k=DEPTH, mode="bm25", rerank=False)
        hits = hybrid.candidates
        out.append(
            Candidates(
                query,
                [h.path for h in hits],
                [float(h.scores.get("fused", h.score)) for h in hits],
                [d.path for d in bm25.documents],
                texts=[h.text for h in hits[:pool]],
            )
        )
    return out


class Judge:
    """The bundled SmolLM2-135M-Instruct asked whether a passage answers the query: logit(yes) − logit(no)."""

    def __init__(self, window_words: int | None = 80, max_tokens: int = 192) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from core.embedding.bundled import bundled_model_dir
        from core.embedding.device import select_dtype

        folder = bundled_model_dir(None, None)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=select_dtype("cpu", "auto")).eval()
        self.window_words = window_words
        self.max_tokens = max_tokens
        self._torch = torch
        ids = [self.tokenizer(w, add_special_tokens=False)["input_ids"] for w in ("yes", "Yes", "no", "No")]
        self._yes = [i[0] for i in ids[:2]]
        self._no = [i[0] for i in ids[2:]]
        self.tokenizer.padding_side = "left"

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        from core.search.window import passage_window

        torch = self._torch
        prompts = []
        for text in passages:
            window = passage_window(query, text, self.window_words) if self.window_words else text
            window = str(
                self.tokenizer.decode(self.tokenizer(window, add_special_tokens=False)["input_ids"][: self.max_tokens])
            )
            message = (
                f"Search query: {query.strip()}\n\nDocument: {window}\n\n"
                "Is this document relevant to the search query? Answer yes or no."
            )
            prompts.append(
                self.tokenizer.apply_chat_template(
                    [{"role": "user", "content": message}], tokenize=False, add_generation_prompt=True
                )
            )
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            logits = self.model(**encoded).logits[:, -1, :].float().log_softmax(-1)
        yes = torch.logsumexp(logits[:, self._yes], -1)
        no = torch.logsumexp(logits[:, self._no], -1)
        return (yes - no).numpy()


def load_reranker(name: str, embedder: Any) -> Any:
    from core.search.rerank import settings_reranker
    from core.settings import Settings

    if name == "judge":
        return Judge()
    if name == "judge-head":
        return Judge(window_words=None)
    if name == "ql-head":
        from core.search.query_likelihood import QueryLikelihoodReranker

        # A window wider than any passage: the model reads the passage's opening (its first 128 tokens).
        return QueryLikelihoodReranker("bundled", window_words=10**9)
    reranker = settings_reranker(dataclasses.replace(Settings(), reranker=name), embedder=embedder)
    assert reranker is not None
    return reranker


# --- figures -------------------------------------------------------------------------------------
def _bootstrap_pooled(
    groups: Sequence[tuple[Sequence[float], Sequence[float]]], samples: int = 10_000
) -> tuple[float, float, float]:
    """Mean of b − a over every query, and its 95% interval with each group resampled within itself."""
    rng = np.random.default_rng(0)
    diffs = [np.asarray(b) - np.asarray(a) for a, b in groups if len(a)]
    total = sum(d.size for d in diffs)
    means = np.zeros(samples)
    for d in diffs:
        means += d[rng.integers(0, d.size, size=(samples, d.size))].sum(axis=1)
    means /= total
    low, high = np.percentile(means, [2.5, 97.5])
    return float(np.concatenate(diffs).mean()), float(low), float(high)


def measure(sets: Mapping[str, Sequence[Candidates]], rules: Mapping[str, Rule]) -> dict[str, Any]:
    per: dict[str, dict[str, list[dict[str, float]]]] = {}
    for set_name, cands in sets.items():
        per[set_name] = {"bm25": [figures(c.query, c.bm25_files) for c in cands]}
        for rule_name, rule in rules.items():
            rows = []
            for c in cands:
                fused = np.asarray(c.fused, dtype=np.float64)
                rerank = {k: np.asarray(v, dtype=np.float64) for k, v in c.rerank.items()}
                rows.append(figures(c.query, file_ranking(c.paths, rule(fused, rerank) if fused.size else fused)))
            per[set_name][rule_name] = rows
    report: dict[str, Any] = {}
    for rule_name in ["bm25", *rules]:
        entry: dict[str, Any] = {"sets": {}, "kinds": {}}
        for m in METRICS:
            groups = [([r[m] for r in per[s]["hybrid"]], [r[m] for r in per[s][rule_name]]) for s in sets]
            entry[m] = float(np.mean([r[m] for s in sets for r in per[s][rule_name]]))
            entry[f"{m}_vs_hybrid"] = _bootstrap_pooled(groups)
        for s, cands in sets.items():
            entry["sets"][s] = {m: float(np.mean([r[m] for r in per[s][rule_name]])) for m in METRICS}
            for m in ("mrr@10", "hit@1"):
                entry["sets"][s][f"{m}_vs_hybrid"] = float(
                    np.mean([b[m] - a[m] for a, b in zip(per[s]["hybrid"], per[s][rule_name], strict=True)])
                )
            for c, a, b in zip(cands, per[s]["hybrid"], per[s][rule_name], strict=True):
                kind = c.query.kind or "summary"
                entry["kinds"].setdefault(kind, []).append(b["mrr@10"] - a["mrr@10"])
        entry["kinds"] = {k: [float(np.mean(v)), len(v)] for k, v in entry["kinds"].items()}
        report[rule_name] = entry
    return report


def disagreements(sets: Mapping[str, Sequence[Candidates]], head: int = 10) -> dict[str, Any]:
    """Where a reranker's favourite of the fused top ``head`` is not hybrid search's first file: how often each
    is a relevant file, and how often the reranker's favourite is keyword search's first file."""
    out: dict[str, Any] = {}
    names = sorted({k for cands in sets.values() for c in cands for k in c.rerank})
    for name in names:
        per_set = {}
        for set_name, cands in sets.items():
            counts = {"queries": 0, "differs": 0, "reranker_right": 0, "hybrid_right": 0, "reranker_is_bm25_first": 0}
            for c in cands:
                scores = c.rerank.get(name) or []
                if not scores or not c.paths:
                    continue
                counts["queries"] += 1
                favourite = c.paths[int(np.argmax(scores[:head]))]
                if favourite == c.paths[0]:
                    continue
                counts["differs"] += 1
                counts["reranker_right"] += c.query.relevant.get(favourite, 0) > 0
                counts["hybrid_right"] += c.query.relevant.get(c.paths[0], 0) > 0
                counts["reranker_is_bm25_first"] += bool(c.bm25_files) and c.bm25_files[0] == favourite
            per_set[set_name] = counts
        pooled = {k: sum(v[k] for v in per_set.values()) for k in next(iter(per_set.values()), {})}
        out[name] = {"pooled": pooled, "sets": per_set}
    return out


def table(report: Mapping[str, Any], sets: Sequence[str]) -> str:
    lines = [f"{'rule':44s} {'MRR':>6s} {'Δ (95%)':>26s} {'hit@1':>6s} Δhit  worst set ΔMRR / Δhit"]
    for name, e in report.items():
        d, lo, hi = e["mrr@10_vs_hybrid"]
        worst = min(sets, key=lambda s: e["sets"][s]["mrr@10_vs_hybrid"])
        lines.append(
            f"{name:44s} {e['mrr@10']:.3f} {d:+.3f} ({lo:+.3f} … {hi:+.3f}) {e['hit@1']:.3f} "
            f"{e['hit@1_vs_hybrid'][0]:+.3f} {worst} {e['sets'][worst]['mrr@10_vs_hybrid']:+.3f} / "
            f"{min(e['sets'][s]['hit@1_vs_hybrid'] for s in sets):+.3f}"
        )
    return "\n".join(lines)


def _dump(sets: Mapping[str, Sequence[Candidates]]) -> dict[str, Any]:
    return {
        s: [
            {
                "id": c.query.id,
                "text": c.query.text,
                "kind": c.query.kind,
                "relevant": c.query.relevant,
                "paths": c.paths,
                "fused": c.fused,
                "bm25_files": c.bm25_files,
                "rerank": c.rerank,
            }
            for c in cands
        ]
        for s, cands in sets.items()
    }


def _load(data: Mapping[str, Any]) -> dict[str, list[Candidates]]:
    return {
        s: [
            Candidates(
                Query(r["id"], r["text"], r["relevant"], r["kind"]),
                r["paths"],
                r["fused"],
                r["bm25_files"],
                r["rerank"],
            )
            for r in rows
        ]
        for s, rows in data.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", nargs=3, action="append", default=[], metavar=("FOLDER", "QUERIES", "WORK_DIR"))
    parser.add_argument(
        "--beir", nargs=4, action="append", default=[], metavar=("DATASET", "WORK_DIR", "QUERIES", "DOCS")
    )
    parser.add_argument(
        "--rerankers", default="bundled", help="comma list: settings' rerankers, judge, judge-head, ql-head"
    )
    parser.add_argument("--top-n", type=int, default=20, help="passages each reranker scores per query")
    parser.add_argument("--model", default="minilm-l6-v2", help="the model the indexes were built with")
    parser.add_argument("--from-scores", type=Path, action="append", default=[], help="scores kept by --scores")
    parser.add_argument("--scores", type=Path, default=None, help="keep every query's candidates and scores here")
    parser.add_argument("--out", type=Path, default=None, help="the figures of every rule (JSON)")
    args = parser.parse_args(argv)

    sets: dict[str, list[Candidates]] = {}
    for kept in args.from_scores:
        for name, cands in _load(json.loads(kept.read_text(encoding="utf-8"))).items():
            if name in sets:  # a second report adds its rerankers' scores to the same queries
                for old, new in zip(sets[name], cands, strict=True):
                    assert old.query.id == new.query.id and old.paths[: args.top_n] == new.paths[: args.top_n]
                    old.rerank.update(new.rerank)
            else:
                sets[name] = cands
    rerankers = [r for r in args.rerankers.split(",") if r]
    if args.folder or args.beir:
        from core.embedding import load_embedder

        embedder = load_embedder(args.model, adapter=None, device="cpu", precision="auto")
        specs: list[tuple[str, Path, list[Query]]] = []
        for folder, queries_file, work in args.folder:
            specs.append((Path(folder).name, Path(work), folder_queries(Path(folder), Path(queries_file))))
        for dataset, work, nq, nd in args.beir:
            specs.append(
                (
                    Path(dataset).name,
                    Path(work),
                    beir_queries(Path(dataset), Path(work), int(nq) or None, int(nd) or None),
                )
            )
        for name, work, queries in specs:
            sets[name] = collect(work, queries, embedder, args.top_n)
            log(f"{name}: {len(queries)} queries ({eval_half()} half)")
        for reranker_name in rerankers:
            reranker = load_reranker(reranker_name, embedder)
            for name, cands in sets.items():
                started = time.perf_counter()
                for c in cands:
                    scores = reranker.score(c.query.text, c.texts) if c.texts else []
                    c.rerank[reranker_name] = [float(v) for v in scores]
                log(f"{reranker_name} on {name}: {(time.perf_counter() - started) / max(1, len(cands)):.2f} s a query")
            del reranker
    names = sorted({k for cands in sets.values() for c in cands for k in c.rerank})
    report = measure(sets, rules_for(names, args.top_n))
    print(table(report, list(sets)))
    disagreeing = disagreements(sets)
    for name, entry in disagreeing.items():
        log(f"{name}, where its favourite of the top 10 is not hybrid's first: {entry['pooled']}")
    if args.scores:
        args.scores.write_text(json.dumps(_dump(sets)), encoding="utf-8")
    if args.out:
        summary = {
            "half": str(eval_half()),
            "queries": {name: len(cands) for name, cands in sets.items()},
            "rerankers": names,
            "disagreements": disagreeing,
            "rules": report,
        }
        args.out.write_text(json.dumps(summary), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
