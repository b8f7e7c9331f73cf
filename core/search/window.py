"""The stretch of a passage a reranker reads: the window around the words that match the query.

A reranker reads about a hundred tokens per candidate in the time budget of a search; the words that match
the query are what it has to judge, so each candidate is cut to the window that holds most of them.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)


def _stem(word: str) -> str:
    return word.lower()[:5]


def passage_window(query: str, text: str, words: int) -> str:
    """The ``words``-word stretch of ``text`` that holds the most distinct query words (the first such).

    Text of ``words`` words or fewer is returned whole; so is text without spaces (CJK), which the
    tokenizer's truncation cuts instead.
    """
    tokens = text.split()
    if len(tokens) <= words:
        return text
    wanted = {_stem(w) for w in _WORD.findall(query) if len(w) > 1}
    if not wanted:
        return " ".join(tokens[:words])
    stems = [{_stem(w) for w in _WORD.findall(token)} & wanted for token in tokens]
    step = max(1, words // 8)
    starts = sorted({min(start, len(tokens) - words) for start in range(0, len(tokens), step)})
    coverage = [len(set().union(*stems[start : start + words])) for start in starts]
    best = max(coverage)
    if best == 0:
        return " ".join(tokens[:words])
    # The first run of windows that cover the most query words, and of those the middle one: the matches
    # then sit in the window's centre, with context on both sides.
    first = coverage.index(best)
    last = first
    while last + 1 < len(coverage) and coverage[last + 1] == best:
        last += 1
    best_start = starts[(first + last) // 2]
    return " ".join(tokens[best_start : best_start + words])
