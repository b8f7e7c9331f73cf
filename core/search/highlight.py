"""Spans of query terms in a passage, for showing why a passage matched.

A word lights up when it stems like a query word, with the Snowball English stemmer that the keyword
index uses too (``indexing`` for ``indexes``, never ``down`` for ``do`` or ``rootless`` for ``root``).
Text in scripts without spaces (core.index.cjk) lights up where the query's run occurs in it, or, where
the whole run does not, its bigrams: what the keyword search matched. A Latin word written against such a
run ("由libpod库") is a word of its own, as it is for the keyword index.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

from core.index.cjk import RUN

# Common English function words; highlighting them would light up every passage, and typo correction must
# never "correct" one that the documents happen not to hold ("does" into "de").
STOP_WORDS = frozenset(
    (
        "a an and are as at be but by for from has have he her his i if in into is it its me my no not of on or "
        "our she so such than that the their them then there these they this to was we were what when where "
        "which who why will with you your does did done doing how can could should would may might must "
        "shall am been being had having about often always never also very just more most much many some any "
        "each every all both few other only own same too again once here now still even ever yet than out "
        "off up over under after before between during through while because until whose whom"
    ).split()
)
_WORD = re.compile(r"[^\W_]+")
_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Lower-cased, accents folded (as the index folds them), stemmed."""
    folded = unicodedata.normalize("NFKD", word.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return str(_STEMMER.stemWord(folded))


def _words(text: str) -> list[tuple[int, int]]:
    """Spans of the words outside unspaced-script runs; a run is a boundary, as a space is."""
    spans: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        if not RUN.search(match.group()):
            spans.append(match.span())
            continue
        start = match.start()
        for run in RUN.finditer(match.group()):
            if start < match.start() + run.start():
                spans.append((start, match.start() + run.start()))
            start = match.start() + run.end()
        if start < match.end():
            spans.append((start, match.end()))
    return spans


def query_terms(query: str) -> list[str]:
    lowered = query.lower()
    words = (lowered[a:b] for a, b in _words(lowered))
    terms = [t for t in words if len(t) > 1 and t not in STOP_WORDS]
    return list(dict.fromkeys(terms))


def highlight_spans(text: str, query: str) -> list[tuple[int, int]]:
    """(start, end) spans, sorted and merged."""
    stems = {stem(t) for t in query_terms(query)}
    spans: list[tuple[int, int]] = []
    if stems:
        spans.extend((a, b) for a, b in _words(text) if stem(text[a:b]) in stems)
    for run in dict.fromkeys(RUN.findall(query)):
        pieces = [run] if run in text or len(run) < 2 else [run[i : i + 2] for i in range(len(run) - 1)]
        for piece in pieces:
            spans.extend(m.span() for m in re.finditer(re.escape(piece), text))
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
