"""Narrowing a search by the query's filters: inside the store where LanceDB can, on the candidates otherwise.

Suffix and path filters become a ``where`` prefilter on the passages (both rankers honour it); dates do
too when few files pass them (their paths, from the files table), since the passages hold no dates;
else they are checked on the candidates, which the searcher then fetches more of. Phrases and excluded
words are checked on the candidates' text; an excluded word also drops every file the keyword index
finds it in, so ``-potato`` removes a document however its other passages rank.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.index.names import stored
from core.search.highlight import stem

if TYPE_CHECKING:
    from core.index.store import ProfileIndex
    from core.search.hits import Hit
    from core.search.query import Filters, ParsedQuery

#: A date filter narrows the search inside the store when at most this many files pass it; else after.
PREFILTER_PATHS = 2000
_WORD = re.compile(r"[^\W_]+")


def sql_literal(value: str) -> str:
    """A SQL string literal (``value`` already in the index's stored form where it is a path)."""
    return "'" + value.replace("'", "''") + "'"


def prefilter(index: ProfileIndex, filters: Filters) -> tuple[str | None, bool]:
    """The store prefilter for ``filters`` (suffix, path, and dates where few files pass), and whether the
    dates are left to check on the candidates."""
    conditions: list[str] = []
    if filters.types:
        conditions.append(" OR ".join(f"ends_with(lower(path), {sql_literal('.' + t)})" for t in filters.types))
    if filters.folders:
        conditions.append(" OR ".join(f"strpos(lower(path), {sql_literal(f.lower())}) > 0" for f in filters.folders))
    late = False
    if filters.after is not None or filters.before is not None:
        paths = index.paths_modified(filters.after, filters.before, PREFILTER_PATHS)
        if paths is None:
            late = True
        else:
            conditions.append(f"path IN ({', '.join(sql_literal(p) for p in paths)})" if paths else "false")
    return (" AND ".join(f"({c})" for c in conditions) or None), late


def narrow(
    hits: list[Hit],
    parsed: ParsedQuery,
    index: ProfileIndex,
    late_dates: bool,
    holding: Callable[[list[str]], set[str]],
) -> list[Hit]:
    """Phrases, exclusions and (where the store could not) dates, checked on the candidates."""
    if parsed.phrases:
        phrases = [p.lower() for p in parsed.phrases]
        hits = [h for h in hits if all(p in " ".join(h.text.lower().split()) for p in phrases)]
    if parsed.excluded:
        words = [w for w in parsed.excluded if " " not in w]
        phrases = [p.lower() for p in parsed.excluded if " " in p]
        dropped = holding(words)
        stems = {stem(w) for w in words}
        hits = [
            h
            for h in hits
            if h.path not in dropped
            and not stems & {stem(w) for w in _WORD.findall(h.text)}
            and not any(p in " ".join(h.text.lower().split()) for p in phrases)
        ]
    if late_dates and hits:
        paths = list(dict.fromkeys(stored(h.path) for h in hits))
        mtimes = index.mtimes(paths)
        hits = [h for h in hits if parsed.filters.admits(h.path, mtimes.get(stored(h.path)))]
    return hits
