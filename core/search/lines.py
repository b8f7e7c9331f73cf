"""Line numbers of search hits in text files, as an editor shows them (``notes.md:42``).

The index keeps each passage's offset in the *extracted* text, which normalises whitespace (blank-line
runs, trailing spaces), so counting newlines there drifts from the file's own lines. The passage's
first line is found in the raw file instead, the same occurrence of it (the k-th) as in the extracted
text. Nothing new is stored: the file is re-read, and kept while its size and mtime stay the same.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SleuthError

if TYPE_CHECKING:
    from core.search.searcher import Hit

#: Plain-text formats whose lines mean something to the user (an editor opens them at a line).
LINE_SUFFIXES = frozenset(
    (".txt", ".text", ".md", ".markdown", ".rst", ".org", ".adoc", ".asciidoc", ".tex", ".csv", ".tsv", ".log")
)
MAX_BYTES = 32 << 20  # bigger files are not re-read for a line number


def wants_line(path: str) -> bool:
    return Path(path).suffix.lower() in LINE_SUFFIXES


def line_in(extracted: str, raw: str | None, char_start: int, passage: str) -> int | None:
    """1-based line of the passage starting at ``char_start`` of ``extracted``, counted in ``raw``."""
    if not 0 <= char_start <= len(extracted):
        return None
    estimate = extracted.count("\n", 0, char_start) + 1
    first = next((ln.strip() for ln in passage.splitlines() if ln.strip()), "")[:80]
    if raw is None or not first:
        return estimate
    anchor = char_start + max(0, passage.find(first))
    pos = -1
    for _ in range(extracted.count(first, 0, anchor) + 1):
        pos = raw.find(first, pos + 1)
        if pos < 0:
            return estimate
    return raw.count("\n", 0, pos) + 1


class LineFinder:
    """Finds hits' lines; remembers the last few files read (safe to share between threads)."""

    def __init__(self, keep: int = 16) -> None:
        self._keep = keep
        self._files: OrderedDict[str, tuple[tuple[int, int], str, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def line(self, hit: Hit) -> int | None:
        if not wants_line(hit.path):
            return None
        texts = self._texts(Path(hit.path))
        if texts is None:
            return None
        extracted, raw = texts
        if extracted[hit.char_start : hit.char_end] != hit.text:
            return None  # the file changed since it was indexed: no line is better than a wrong one
        return line_in(extracted, raw, hit.char_start, hit.text)

    def lines(self, hits: list[Hit]) -> dict[str, int]:
        """{hit id: line} for the hits in text files that still match the file."""
        found: dict[str, int] = {}
        for hit in hits:
            line = self.line(hit)
            if line is not None:
                found[hit.id] = line
        return found

    def _texts(self, path: Path) -> tuple[str, str | None] | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        if stat.st_size > MAX_BYTES:
            return None
        stamp = (stat.st_size, stat.st_mtime_ns)
        key = str(path)
        with self._lock:
            cached = self._files.get(key)
            if cached is not None and cached[0] == stamp:
                self._files.move_to_end(key)
                return cached[1], cached[2]
        from core.ingest.documents import extract
        from core.ingest.textdecode import decode_text

        try:
            extracted = extract(path, timeout=10.0).text
        except SleuthError:
            return None
        try:
            raw: str | None = decode_text(path.read_bytes(), path)
        except (OSError, SleuthError, ValueError):
            raw = None
        with self._lock:
            self._files[key] = (stamp, extracted, raw)
            while len(self._files) > self._keep:
                self._files.popitem(last=False)
        return extracted, raw
