"""How much dense search helps on this index: the dense weight, measured on probe queries from the index.

An embedder that was never trained for retrieval makes fusion worse than keyword search alone, so the
weight is not assumed but measured on probe queries drawn from the index itself: a passage's heading or
first sentence is the query, and the rest of that passage, with the query text cut out, is the one
relevant answer among a sample of passages from other files. BM25 (a throw-away LanceDB table with the
index's own full-text settings) and dense search (the embedder's real query and passage vectors) rank
that collection. A dense weight counts only if its gain over keyword-led fusion is clear of the noise (two
standard errors); of those, the smallest within one standard error of the best gain is kept (the
one-standard-error rule); where none counts, the weight is zero.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Hashable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lancedb
import numpy as np
import pyarrow as pa

from core.index.store import fts_config, sql_in
from core.search.fusion import METHOD, NORM_DEPTH, fuse_scores, keyword_lead, query_weight
from core.search.query_mining import clean_query, heading_split, is_fragment, sentence_split

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.index.store import ProfileIndex
    from core.search.searcher import Searcher

#: Dense weights the measurement tries (0 = keyword-led); the search takes any weight from 0 to 1.
WEIGHTS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8)
#: At most this many probes, one per file. At 150 the standard error of a weight's gain (about 0.013 nDCG@10 on
#: the real-folder set) was as large as the gain people get there, and the real folder's measurement came out
#: at 0.030 where its queries gain 0.047; at 300 (221 files qualified) it measured 0.048 ± 0.010
#: (docs/benchmarks.md, "More probes").
PROBES = 300
MIN_PROBES = 20
DISTRACTORS = 3000
HEADING_WORDS = 12
QUERY_WORDS = 16
MIN_REMAINDER_WORDS = 12
MIN_GAIN = 0.005
#: The probes over-rate what dense search adds: on the evaluation sets the gain a search got at a weight
#: was about this share of the probes' gain there (least squares over every set and weight; each set's
#: probe prediction beside its real gain is in docs/benchmarks.md, "How well the probes predict"). The
#: gain people are shown, and the MIN_GAIN test, use the corrected figure.
PROBE_BIAS = 0.5
# A weight is kept only if its gain over keyword-led fusion is this many standard errors above zero.
CONFIDENCE_Z = 2.0
_SENTENCE_ENDS = (".", "!", "?", ",", ";")


def ndcg_at(ranked: Sequence[Hashable], relevant: AbstractSet[Hashable], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def split_probe(text: str) -> tuple[str, str] | None:
    """(query, remainder) for one passage: its heading line or first sentence, and the text after it.

    The query must read like one a person would type (core.search.query_mining): a probe made of code or of a
    hard-wrapped line's fragment measures nothing a user will do. A first line that is no query (a title
    such as "getenv(3)", a signature) stays with the remainder, and the sentence after it is the query.
    """
    stripped = text.strip()
    heading = heading_split(stripped)
    if heading is not None:
        line, rest = heading
        query = clean_query(line.lstrip("#").strip())
        if query is None:
            found = _sentence_probe(rest)
            return (found[0], f"{line.strip()}\n{found[1]}") if found else None
        if len(query.split()) <= HEADING_WORDS and not is_fragment(line) and not line.rstrip().endswith(_SENTENCE_ENDS):
            return (query, rest.strip()) if len(rest.split()) >= MIN_REMAINDER_WORDS else None
    return _sentence_probe(stripped)


def _sentence_probe(text: str) -> tuple[str, str] | None:
    sentence = sentence_split(text)
    if sentence is None:
        return None
    query = clean_query(" ".join(sentence[0].split()[:QUERY_WORDS]))
    if query is None or len(query.split()) < 4:
        return None
    return (query, sentence[1]) if len(sentence[1].split()) >= MIN_REMAINDER_WORDS else None


def probe_queries(rows: Sequence[Mapping[str, Any]], limit: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(query, remainder, path) from passages of different files, in a seeded random order."""
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    probes: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for row in shuffled:
        if row["path"] in seen:
            continue
        split = split_probe(row["text"])
        if split is not None:
            probes.append((*split, row["path"]))
            seen.add(row["path"])
            if len(probes) >= limit:
                break
    return probes


def _bm25_rankings(texts: Sequence[str], queries: Sequence[str], pool: int) -> list[list[tuple[int, float]]]:
    """BM25 rankings ((position in ``texts``, score), best first) from a temporary LanceDB table with the
    index's own full-text settings."""
    with tempfile.TemporaryDirectory(prefix="sleuth-probe-") as folder:
        table = lancedb.connect(folder).create_table(
            "probe", pa.table({"n": pa.array(range(len(texts)), pa.int64()), "text": list(texts)})
        )
        table.create_index("text", config=fts_config())
        rankings = []
        for query in queries:
            try:
                hits = table.search(query, query_type="fts").select(["n", "_score"]).limit(pool).to_arrow()
                pairs = zip(hits["n"].to_pylist(), hits["_score"].to_pylist(), strict=True)
                rankings.append([(int(n), float(score)) for n, score in pairs])
            except (ValueError, RuntimeError):  # a query of stop words only
                rankings.append([])
        return rankings


def weight_gains(per_probe: Mapping[str, Sequence[float]]) -> dict[float, tuple[float, float]]:
    """(mean gain over keyword-led fusion, its standard error) of every dense weight tried but 0."""
    n = len(per_probe["w0.0"])
    baseline = np.array(per_probe["w0.0"])
    gains: dict[float, tuple[float, float]] = {}
    for weight in WEIGHTS[1:]:
        diff = np.array(per_probe[f"w{weight}"]) - baseline
        gains[weight] = (float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(n)))
    return gains


def choose_weight(gains: Mapping[float, tuple[float, float]]) -> tuple[float, float]:
    """(weight, its mean gain over keyword-led fusion) by the one-standard-error rule, from ``weight_gains``.

    Only weights whose gain is clear of the noise (``CONFIDENCE_Z`` standard errors above zero) count; of
    those, the smallest whose gain is within one standard error of the best gain is chosen. The probes
    favour an embedder trained on pairs like them (headings and first sentences), so among weights they
    cannot tell apart, the one nearest keyword search is the safe one: with the bundled adapter the
    largest-gain weight fell below keyword search on manual pages, the rule's weight did not
    (docs/benchmarks-history.md, "The first probe measurement and the weight rule").
    """
    clear = {
        w: (mean, error)
        for w, (mean, error) in gains.items()
        if mean * PROBE_BIAS > MIN_GAIN and mean > CONFIDENCE_Z * error
    }
    if not clear:
        return 0.0, 0.0
    best_mean, best_error = max(clear.values())
    chosen = min(w for w, (mean, _e) in clear.items() if mean >= best_mean - best_error)
    return chosen, clear[chosen][0]


@dataclass
class ProbeSet:
    """Probe queries and the collection they are ranked in: each probe's remainder (position n for probe n),
    then passages of other files; ``file_of`` holds every passage's file, ``matrix`` its vector."""

    queries: list[tuple[str, str, str]]
    texts: list[str]
    file_of: list[str]
    matrix: np.ndarray
    query_vectors: np.ndarray


@dataclass
class ProbeRanking:
    """One probe's rankings of the collection ((position, score), best first) and keyword search's lead."""

    n: int
    bm25: list[tuple[int, float]]
    dense: list[tuple[int, float]]
    lead: float


def probe_set(
    searcher: Searcher, embedder: Embedder, probes: int = PROBES, distractors: int = DISTRACTORS, seed: int = 0
) -> ProbeSet:
    """Up to ``probes`` probe queries (one per file) and a collection of their remainders and ``distractors``."""
    chunks = searcher.index.chunks
    rows = chunks.search().where("vector IS NOT NULL").select(["id", "path", "text"]).limit(None).to_list()
    queries = probe_queries(rows, probes, seed)
    probe_files = {path for _q, _r, path in queries}
    others = [row["id"] for row in rows if row["path"] not in probe_files]
    random.Random(seed + 1).shuffle(others)
    others = others[:distractors]
    texts = [remainder for _q, remainder, _p in queries]
    vectors = [embedder.embed_passages(texts)] if texts else []
    # The file of every passage in the collection, for the keyword lead the search weighs each query by.
    file_of = [path for _q, _r, path in queries]
    if others and texts:
        by_id = {row["id"]: row for row in rows}
        for ids, block in searcher.index.iter_vectors(where=f"id IN {sql_in(others)}"):
            texts.extend(by_id[i]["text"] for i in ids)
            file_of.extend(by_id[i]["path"] for i in ids)
            vectors.append(block)
    matrix = np.concatenate(vectors).astype(np.float32) if vectors else np.zeros((0, 0), dtype=np.float32)
    query_texts = [q for q, _r, _p in queries]
    query_vectors = embedder.embed_queries(query_texts) if query_texts else np.zeros((0, 0), dtype=np.float32)
    return ProbeSet(queries, texts, file_of, matrix, query_vectors)


def probe_rankings(probes: ProbeSet, pool: int = NORM_DEPTH) -> Iterator[ProbeRanking]:
    """Each probe's BM25 and dense rankings of the collection, as the search sees them."""
    query_texts = [q for q, _r, _p in probes.queries]
    bm25_rankings = _bm25_rankings(probes.texts, query_texts, pool)
    for n, (bm25, query_vector) in enumerate(zip(bm25_rankings, probes.query_vectors, strict=True)):
        similarities = probes.matrix @ query_vector
        dense = [(int(i), float(similarities[i])) for i in np.argsort(-similarities, kind="stable")[:pool]]
        lead = keyword_lead(bm25, {i: probes.file_of[i] for i, _s in bm25})
        yield ProbeRanking(n, bm25, dense, lead)


def estimate_fusion(
    searcher: Searcher, probes: int = PROBES, distractors: int = DISTRACTORS, pool: int = NORM_DEPTH, seed: int = 0
) -> dict[str, Any]:
    """Measure BM25, dense and fused nDCG@10 on held-out probe passages and choose the dense weight."""
    # per_query: the probes fuse as the search does, each query's weight shrunk by keyword search's lead.
    result: dict[str, Any] = {"method": METHOD, "probes": 0, "measured_at": time.time(), "per_query": True}
    embedder = searcher.embedder
    collection = probe_set(searcher, embedder, probes, distractors, seed) if embedder is not None else None
    if collection is None or len(collection.queries) < MIN_PROBES:
        result.update(
            probes=len(collection.queries) if collection else 0,
            dense_weight=0.0,
            gain=None,
            reason="too little text to measure dense search",
        )
        return result
    result["probes"] = len(collection.queries)
    per_probe: dict[str, list[float]] = defaultdict(list)
    for probe in probe_rankings(collection, pool):
        relevant = {probe.n}  # the probe's own remainder
        per_probe["bm25"].append(ndcg_at([i for i, _s in probe.bm25], relevant))
        per_probe["dense"].append(ndcg_at([i for i, _s in probe.dense], relevant))
        for weight in WEIGHTS:
            # As the search fuses (core.search.fusion.ScoreFusion): the weight shrinks by keyword search's lead.
            scores = fuse_scores(probe.dense, probe.bm25, query_weight(weight, probe.lead))
            fused = sorted(scores, key=lambda i: scores[i], reverse=True)
            per_probe[f"w{weight}"].append(ndcg_at(fused, relevant))
    means = {key: float(np.mean(values)) for key, values in per_probe.items()}
    gains = weight_gains(per_probe)
    best, gain = choose_weight(gains)
    result.update(
        dense_weight=best,
        gain=gain,
        predicted_gain=gain * PROBE_BIAS,
        gains={str(w): {"gain": mean, "se": error} for w, (mean, error) in gains.items()},
        ndcg_bm25=means["bm25"],
        ndcg_dense=means["dense"],
        ndcg_fused={str(w): means[f"w{w}"] for w in WEIGHTS},
        collection=len(collection.texts),
    )
    return result


def measure(index: ProfileIndex, embedder: Embedder) -> dict[str, Any]:
    """The indexer's fusion measurement (``core.index.indexer.Measure``) for this index and embedder."""
    from core.search.searcher import Searcher

    return estimate_fusion(Searcher(index, embedder))


def describe_estimate(estimate: Mapping[str, Any] | None, prior: float | None = None) -> str:
    """One line for people: what the measurement found and what fusion does with it.

    ``prior``: the model's dense weight from Sleuth's evaluation sets, used until a measurement exists.
    """
    if not estimate or estimate.get("gain") is None:
        why = f"not measured on your documents ({estimate.get('reason')})" if estimate else "not measured yet"
        if prior:
            return (
                f"Dense search: {why}; until it is, it has the weight measured for this model on Sleuth's "
                f"evaluation sets ({prior:g})."
            )
        return f"Dense search: {why}; keyword search leads."
    if estimate["dense_weight"] == 0:
        return (
            f"Dense search: off in fusion; added to keyword search it made no gain clear of noise on your "
            f"documents (alone on {estimate['probes']} probe queries: keyword nDCG@10 {estimate['ndcg_bm25']:.3f}, "
            f"dense {estimate['ndcg_dense']:.3f}; such probes over-rate dense search about twofold)."
        )
    predicted = estimate.get("predicted_gain", estimate["gain"] * PROBE_BIAS)
    return (
        f"Dense search adds about {predicted:+.3f} nDCG@10 on your documents (weight "
        f"{estimate['dense_weight']:g}, measured on {estimate['probes']} probe queries and corrected for "
        "how much such probes over-rate it)."
    )
