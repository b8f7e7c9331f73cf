"""Ranking metrics over documents, as BEIR / TREC define them (graded gains, binary recall and MRR).

A run maps each query id to a ranked list of document ids; qrels map each query id to {doc id: grade}.
Grades <= 0 are not relevant. Queries without any relevant document are skipped, as trec_eval does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

#: The figures every report carries, in this order.
METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100")


def ndcg_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with linear gains (gain = grade), as in BEIR's pytrec_eval ``ndcg_cut``."""
    dcg = sum(grades.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]) if grades.get(doc, 0) > 0)
    ideal_grades = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    ideal = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal_grades))
    return dcg / ideal if ideal else 0.0


def mrr_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the top k, else 0."""
    for rank, doc in enumerate(ranked[:k], 1):
        if grades.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def recall_at(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k."""
    relevant = {doc for doc, g in grades.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def per_query(ranked: Sequence[str], grades: Mapping[str, int], deep: Sequence[str] | None = None) -> dict[str, float]:
    """The four figures for one query; ``deep`` (a longer ranking, if fetched separately) gives recall@100."""
    return {
        "ndcg@10": ndcg_at(ranked, grades, 10),
        "mrr@10": mrr_at(ranked, grades, 10),
        "recall@10": recall_at(ranked, grades, 10),
        "recall@100": recall_at(ranked if deep is None else deep, grades, 100),
    }


def evaluate_run(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    deep_run: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, float]:
    """Mean of each metric over the judged queries; a judged query missing from the run scores 0.

    ``deep_run`` holds longer rankings for recall@100 where they were fetched by a separate, deeper search
    (the top 10 then comes from a search the size the app itself makes).
    """
    judged = [q for q, grades in qrels.items() if any(g > 0 for g in grades.values())]
    totals = dict.fromkeys(METRICS, 0.0)
    for query in judged:
        deep = None if deep_run is None else deep_run.get(query, [])
        for name, value in per_query(run.get(query, []), qrels[query], deep).items():
            totals[name] += value
    n = len(judged)
    return {name: (total / n if n else 0.0) for name, total in totals.items()} | {"queries": n}
