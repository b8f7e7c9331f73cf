"""The search box's syntax: what to look for, and how to narrow it, parsed once for the window and the CLI.

    tomato blight "late blight" -potato type:pdf in:Projects after:2024-01 before:2024-06-30

Words are searched as always (keywords and meaning); a ``"quoted phrase"`` must occur as written
(case and spacing aside); ``-word`` drops every document that mentions the word; ``type:`` keeps one
kind of file (the suffix, ``type:pdf``); ``in:`` keeps files whose path holds the text (a folder name,
``in:Projects``); ``after:`` and ``before:`` compare the file's modification time with the start of a
year, month or day (``after:2024-01`` is from 1 January 2024 on, ``before:2024-06-30`` up to the end of
29 June). Filters of one kind combine with OR (``type:pdf type:md``), different kinds with AND. What
cannot be read (``after:someday``) is searched as a word and explained in ``problems``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

FILTER_KEYS = ("type", "in", "after", "before")
# A filter, an exclusion, a quoted phrase, or a plain word; quotes may be left open at the end.
_TOKEN = re.compile(
    r'(?P<key>(?<!\S)(?:type|in|after|before)):(?P<value>"[^"]*"?|\S+)|(?P<neg>(?<!\S)-)?(?P<phrase>"[^"]*"?)|(?P<word>\S+)'
)
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")


@dataclass(frozen=True)
class Filters:
    """Which files may answer: by suffix, by path substring, by modification time (seconds since the epoch)."""

    types: tuple[str, ...] = ()  # lower-case suffixes without the dot
    folders: tuple[str, ...] = ()  # path substrings, matched ignoring case
    after: float | None = None  # mtime >= after
    before: float | None = None  # mtime < before

    def __bool__(self) -> bool:
        return bool(self.types or self.folders or self.after is not None or self.before is not None)

    def admits(self, path: str, mtime: float | None = None) -> bool:
        """Whether ``path`` (modified at ``mtime``, where the dates matter) passes every filter."""
        lower = path.lower()
        if self.types and not any(lower.endswith("." + t) for t in self.types):
            return False
        if self.folders and not any(f.lower() in lower for f in self.folders):
            return False
        if self.after is not None and (mtime is None or mtime < self.after):
            return False
        return not (self.before is not None and (mtime is None or mtime >= self.before))


@dataclass(frozen=True)
class ParsedQuery:
    raw: str
    text: str  # the words to rank by: plain words and the words of phrases, operators removed
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    filters: Filters = field(default_factory=Filters)
    problems: tuple[str, ...] = ()

    def with_text(self, text: str) -> ParsedQuery:
        return replace(self, text=text)


def parse(query: str) -> ParsedQuery:
    words: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    values: dict[str, list[str]] = {key: [] for key in FILTER_KEYS}
    problems: list[str] = []
    after: float | None = None
    before: float | None = None
    for m in _TOKEN.finditer(query):
        if m.group("key"):
            key, value = m.group("key"), m.group("value").strip('"').strip()
            if not value:
                continue
            if key in ("after", "before"):
                moment = parse_date(value)
                if moment is None:
                    problems.append(
                        f"“{key}:{value}” is not a date (write 2024, 2024-06 or 2024-06-30); searched as words."
                    )
                    words.append(value)
                elif key == "after":
                    after = moment if after is None else max(after, moment)
                else:
                    before = moment if before is None else min(before, moment)
                continue
            values[key].append(value.lstrip(".").lower() if key == "type" else value)
        elif m.group("phrase") is not None:
            phrase = " ".join(m.group("phrase").strip('"').split())
            if not phrase:
                continue
            if m.group("neg"):
                excluded.append(phrase)
            else:
                phrases.append(phrase)
                words.append(phrase)
        else:
            word = m.group("word")
            if word.startswith("-") and len(word) > 1 and word[1].isalnum():
                excluded.append(word[1:])
            else:
                words.append(word)
    filters = Filters(tuple(dict.fromkeys(values["type"])), tuple(dict.fromkeys(values["in"])), after, before)
    return ParsedQuery(query, " ".join(words), tuple(phrases), tuple(excluded), filters, tuple(problems))


def parse_date(value: str) -> float | None:
    """The local start of the year, month or day ``value`` names, in seconds since the epoch; None if not a date."""
    m = _DATE.match(value)
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        return datetime(year, month, day).timestamp()
    except ValueError:
        return None


def set_filter(query: str, key: str, value: str) -> str:
    """``query`` with its ``key:`` filters replaced by ``key:value`` (or removed where ``value`` is empty).

    The filter bar edits the query this way, so the search box always shows what is applied.
    """
    if key not in FILTER_KEYS:
        raise ValueError(f"unknown filter {key}")
    kept = [m.group() for m in _TOKEN.finditer(query) if m.group("key") != key]
    if value:
        kept.append(f'{key}:"{value}"' if " " in value else f"{key}:{value}")
    return " ".join(kept)


def filter_values(query: str, key: str) -> list[str]:
    """The values of ``key:`` in ``query``, as written."""
    return [m.group("value").strip('"') for m in _TOKEN.finditer(query) if m.group("key") == key]
