"""A passage in its surroundings: the text the preview shows, and where in the file the passage is.

Pure functions over core objects (no Qt), so they run on the preview worker and in tests alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.search.highlight import highlight_spans

if TYPE_CHECKING:
    from core.ingest.documents import Document
    from core.search.searcher import Hit

CONTEXT_CHARS = 6000  # before and after the passage


@dataclass
class Preview:
    hit: Hit
    query: str
    text: str  # what the preview shows
    passage: tuple[int, int]  # the passage's span within ``text``
    terms: list[tuple[int, int]]  # query-term spans within ``text``
    page_breaks: list[tuple[int, int]] = field(default_factory=list)  # (position in text, page number)
    line: int | None = None
    source: str = "document"  # "document" (re-read from the file) or "index" (stitched from stored passages)
    note: str = ""
    encoding: str = ""  # the codec the file was read with, where it was a text file


def from_document(hit: Hit, query: str, doc: Document, line: int | None = None) -> Preview | None:
    """The passage in its document, or None when the file no longer holds it (changed since indexing)."""
    text = doc.text
    if text[hit.char_start : hit.char_end] != hit.text:
        return None
    start = max(0, hit.char_start - CONTEXT_CHARS)
    if start:  # begin at a line start
        newline = text.find("\n", start, hit.char_start)
        start = newline + 1 if newline >= 0 else start
    end = min(len(text), hit.char_end + CONTEXT_CHARS)
    if end < len(text):
        newline = text.rfind("\n", hit.char_end, end)
        end = newline if newline >= 0 else end
    window = text[start:end]
    breaks = [(p.char_start - start, p.number) for p in doc.pages if start < p.char_start < end]
    return Preview(
        hit,
        query,
        window,
        (hit.char_start - start, hit.char_end - start),
        highlight_spans(window, query),
        breaks,
        line,
        encoding=doc.encoding,
    )


def from_chunks(hit: Hit, query: str, rows: Sequence[dict[str, Any]], note: str) -> Preview:
    """The passage between its stored neighbours, stitched by their document offsets."""
    rows = sorted(rows, key=lambda r: r["char_start"])
    if not any(r["ordinal"] == hit.ordinal for r in rows):
        rows = [
            *rows,
            {
                "ordinal": hit.ordinal,
                "text": hit.text,
                "char_start": hit.char_start,
                "char_end": hit.char_end,
            },
        ]
        rows.sort(key=lambda r: r["char_start"])
    out = ""
    covered = rows[0]["char_start"]
    passage = (0, len(hit.text))
    for row in rows:
        if row["char_start"] >= covered:
            piece_start = len(out) + (2 if out else 0)
            out += ("\n\n" if out else "") + row["text"]
        else:  # overlapping windows: append only the part not shown yet
            piece_start = len(out) - (covered - row["char_start"])
            out += row["text"][covered - row["char_start"] :]
        if row["ordinal"] == hit.ordinal:
            passage = (piece_start, piece_start + len(row["text"]))
        covered = max(covered, row["char_end"])
    return Preview(hit, query, out, passage, highlight_spans(out, query), source="index", note=note)
