"""Spans of query terms in a passage, for showing why a passage matched."""

from __future__ import annotations

import re

# Common English function words; highlighting them would light up every passage.
STOP_WORDS = frozenset(
    (
        "a an and are as at be but by for from has have he her his i if in into is it its me my no not of on or "
        "our she so such than that the their them then there these they this to was we were what when where "
        "which who why will with you your"
    ).split()
)


def query_terms(query: str) -> list[str]:
    terms = [t for t in re.findall(r"\w+", query.lower()) if len(t) > 1 and t not in STOP_WORDS]
    return list(dict.fromkeys(terms))


def highlight_spans(text: str, query: str) -> list[tuple[int, int]]:
    """(start, end) spans, sorted and merged; a term also matches words it begins (index → indexing)."""
    terms = query_terms(query)
    if not terms:
        return []
    # Match a term's stem-ish prefix so "indexes" lights up for "indexing"; short terms must match whole.
    parts = [re.escape(t[:-2] if len(t) > 5 else t) + r"\w*" for t in sorted(terms, key=len, reverse=True)]
    pattern = re.compile(r"\b(?:" + "|".join(parts) + r")", re.IGNORECASE)
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans
