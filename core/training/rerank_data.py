"""Training examples for the cross-encoder: a mined query, its passage, and hard negatives from Sleuth's own search.

The queries and passages are the adapter's (:func:`core.training.data.contrastive_pairs`, headings and first
sentences only). Most negatives are what Sleuth's hybrid search ranks high for the query from *other*
documents, so the reranker learns to separate the candidates it will be shown; random passages of other
documents complete each group.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.index.names import unstored
from core.jobs import CancelToken
from core.training.data import Pair, Passage

if TYPE_CHECKING:
    from core.search.searcher import Searcher

#: Candidates of the hybrid ranking the hard negatives are drawn from, and how many of its top ones are skipped.
MINING_DEPTH = 30
SKIP_TOP = 3


@dataclass(frozen=True)
class RerankExample:
    """One group: the query, its passage (the positive) and passages of other documents (the negatives)."""

    query: str
    positive: str
    negatives: tuple[str, ...]
    doc: str


def _words(text: str) -> set[str]:
    return set(text.lower().split())


def near_duplicate(a: str, b: str, threshold: float = 0.5) -> bool:
    """Whether two passages share most of their words (another copy of the answer is no negative)."""
    x, y = _words(a), _words(b)
    return bool(x and y) and len(x & y) / len(x | y) >= threshold


def mine_rerank_examples(
    searcher: Searcher,
    pairs: Sequence[Pair],
    passages: Sequence[Passage],
    *,
    hard: int = 3,
    easy: int = 2,
    skip: int = SKIP_TOP,
    limit: int | None = None,
    seed: int = 0,
    cancel: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RerankExample]:
    """Up to ``limit`` groups (a seeded sample of the pairs), each with ``hard`` + ``easy`` negatives.

    Hard negatives are drawn from Sleuth's hybrid ranking of the query, from other documents, below its
    first ``skip`` such passages and within the top :data:`MINING_DEPTH`: the very top holds the most false
    negatives (other documents that answer too: a function's docstring and its page in the manual). Easy
    negatives are random passages of other documents; without them a small cross-encoder learned nothing
    from hard negatives alone (docs/benchmarks-history.md). A near copy of the positive is never a negative.
    """
    rng = random.Random(seed)
    chosen = list(pairs)
    rng.shuffle(chosen)
    if limit is not None:
        chosen = chosen[:limit]
    pool = [p for p in passages if len(p.text.strip()) >= 40]
    examples: list[RerankExample] = []
    for number, pair in enumerate(chosen):
        if cancel is not None:
            cancel.check()
        doc = unstored(pair.doc)
        response = searcher.search(pair.query, k=MINING_DEPTH, mode="hybrid", rerank=False)
        found = [h.text for h in response.hits if h.path != doc]
        found = [t for t in dict.fromkeys(found) if not near_duplicate(t, pair.passage)][skip:]
        picked = rng.sample(found, min(hard, len(found)))
        for _attempt in range(50 * (hard + easy) if pool else 0):  # bounded: a one-document pool has none
            if len(picked) >= hard + easy:
                break
            other = rng.choice(pool)
            if unstored(other.doc) != doc and other.text not in picked and not near_duplicate(other.text, pair.passage):
                picked.append(other.text)
        examples.append(RerankExample(pair.query, pair.passage, tuple(picked), pair.doc))
        if progress is not None:
            progress(number + 1, len(chosen))
    return examples
