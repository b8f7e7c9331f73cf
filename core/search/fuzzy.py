"""Typo tolerance: a query word that no passage holds is replaced by the nearest word the index has.

Only a word with no exact hit is touched ("corupted" when no passage says it), so a rare but real word
is never "corrected" into a common one. Tantivy finds the passages holding a term within one or two
edits of the word's stem (LanceDB's ``MatchQuery(fuzziness=...)``, which compares with the index's
stemmed terms, so the stem is what is asked for); the correction is the word in those passages whose
stem is nearest, and among those the one nearest to what was typed. Searching then goes on with the
corrected query, and the search notes say so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from core.search.highlight import query_terms, stem

_WORD = re.compile(r"[^\W_]+")
#: Words this short are left alone: one edit turns them into too many others.
MIN_LENGTH = 4


def max_edits(word: str) -> int:
    """Tantivy's limit is two; short words get one, as most spell checkers do."""
    return 1 if len(word) <= 5 else 2


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, stopping early once it exceeds ``limit`` (then ``limit + 1``)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def candidates(query: str) -> list[str]:
    """The query's words worth checking: not stop words, not numbers, long enough to misspell."""
    return [t for t in query_terms(query) if len(t) >= MIN_LENGTH and t.isalpha()]


def nearest(word: str, texts: Iterable[str]) -> str | None:
    """The word of ``texts`` nearest to ``word``: by stem first, then as written; the commoner on ties."""
    target = stem(word)
    limit = max_edits(target)
    counts = Counter(w.lower() for text in texts for w in _WORD.findall(text))
    best: tuple[int, int, int, str] | None = None
    for candidate, count in counts.items():
        if candidate == word or not candidate.isalpha():
            continue
        by_stem = edit_distance(stem(candidate), target, limit)
        if by_stem > limit:
            continue
        key = (by_stem, edit_distance(candidate, word, 6), -count, candidate)
        if best is None or key < best:
            best = key
    return best[3] if best else None


def correct(
    query: str, has_exact: Callable[[str], bool], fuzzy_texts: Callable[[str, int], list[str]]
) -> tuple[str, list[tuple[str, str]]]:
    """``query`` with each word that has no exact hit replaced by its nearest indexed word.

    ``has_exact(word)`` asks the keyword index whether any passage holds the word; ``fuzzy_texts(stem,
    edits)`` returns the texts of passages holding a term within ``edits`` of ``stem``. Returns the new
    query and the (typed, corrected) pairs; the query is unchanged when nothing needed correcting.
    """
    fixes: list[tuple[str, str]] = []
    for word in candidates(query):
        if has_exact(word):
            continue
        target = stem(word)
        replacement = nearest(word, fuzzy_texts(target, max_edits(target)))
        if replacement:
            fixes.append((word, replacement))
    for typed, fixed in fixes:
        query = re.sub(rf"(?<![^\W_]){re.escape(typed)}(?![^\W_])", fixed, query, flags=re.IGNORECASE)
    return query, fixes
