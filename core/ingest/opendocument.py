"""OpenDocument text, spreadsheets and presentations (.odt, .ods, .odp): content.xml, read as a stream.

All three keep their text in the same elements (paragraphs, headings, table rows), so one reader walks
content.xml with the stdlib's iterparse, keeps no tree (what is read is dropped) and checks a deadline as
it goes. A spreadsheet is its sheets, each under its name, a row per line (cells joined by tabs); a
presentation is its slides, each a page (speaker notes included), so a result can say which slide.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import CorruptFile, EncryptedFile, ExtractionTimeout
from core.ingest.files import open_regular
from core.ingest.text import DEADLINE_EVERY, Document, normalise, paged
from core.ingest.zipped import open_zip

if TYPE_CHECKING:
    from collections.abc import Iterable
    from xml.etree.ElementTree import Element

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_PARAGRAPHS = (_TEXT + "p", _TEXT + "h")
_CELLS = (_TABLE + "table-cell", _TABLE + "covered-table-cell")
#: Not the document's text: comments, and the deleted text that tracked changes keep.
_SKIPPED = (_OFFICE + "annotation", _TEXT + "tracked-changes", _TEXT + "note-citation")
#: A spreadsheet's text past this many characters is not read (a data dump, not a document); the text says so.
MAX_SHEET_CHARS = 5_000_000


def sheet_notice(limit: int) -> str:
    """The last line of a workbook cut at ``limit`` characters."""
    return f"[Sleuth read the first {limit:,} characters of this workbook; the rest is not indexed.]"


def extract_odt(path: Path, timeout: float) -> Document:
    """Paragraphs and table rows in document order."""
    return Document(path, normalise("\n".join(_read(path, timeout, _OdfText(path, timeout))[0])))


def extract_ods(path: Path, timeout: float) -> Document:
    """Each sheet's name, then its rows."""
    sections = _read(path, timeout, _OdfText(path, timeout, sheets=True))
    return Document(path, normalise("\n".join(sections[0])))


def extract_odp(path: Path, timeout: float) -> Document:
    """One page per slide."""
    sections = _read(path, timeout, _OdfText(path, timeout, slides=True))
    slides = sections[1:] or [[]]
    slides[0] = sections[0] + slides[0]  # text before the first slide (there should be none)
    return paged(path, ["\n".join(lines) for lines in slides])


def _read(path: Path, timeout: float, reader: _OdfText) -> list[list[str]]:
    import xml.etree.ElementTree as ElementTree

    with open_regular(path) as handle, open_zip(path, handle, "an OpenDocument file") as archive:
        names = set(archive.namelist())
        if "content.xml" not in names:
            raise CorruptFile(path, "damaged or not an OpenDocument file (no content.xml)")
        if "META-INF/manifest.xml" in names and b"encryption-data" in archive.read("META-INF/manifest.xml"):
            raise EncryptedFile(path, "password protected")
        try:
            with archive.open("content.xml") as content:
                reader.walk(ElementTree.iterparse(content, events=("start", "end")))
        except ElementTree.ParseError as exc:
            raise CorruptFile(path, "damaged OpenDocument content") from exc
    return reader.sections


class _OdfText:
    """One line per paragraph outside tables, one per table row (cells joined by tabs), in ``sections``.

    With ``sheets``, each top-level table (a sheet) starts with its name; with ``slides``, each
    ``draw:page`` starts a new section. Spreadsheet text stops at ``MAX_SHEET_CHARS``.
    """

    def __init__(self, path: Path, timeout: float, *, sheets: bool = False, slides: bool = False) -> None:
        self.path, self.deadline = path, time.monotonic() + timeout
        self.sheets, self.slides = sheets, slides
        self.sections: list[list[str]] = [[]]
        self.chars = 0

    def _emit(self, cells: list[list[str]], text: str) -> None:
        (cells[-1] if cells else self.sections[-1]).append(text)
        self.chars += len(text) + 1

    def walk(self, events: Iterable[tuple[str, Element]]) -> None:
        stack: list[Element] = []
        in_paragraph = skipped = 0
        rows: list[list[str]] = []  # the open rows' cells
        cells: list[list[str]] = []  # the open cells' paragraphs
        for count, (event, element) in enumerate(events):
            if count % DEADLINE_EVERY == 0 and time.monotonic() > self.deadline:
                raise ExtractionTimeout(self.path, "took too long to read")
            if self.sheets and self.chars > MAX_SHEET_CHARS:
                self.sections[-1].append(sheet_notice(MAX_SHEET_CHARS))
                return
            tag = element.tag
            if event == "start":
                stack.append(element)
                if tag in _PARAGRAPHS:
                    in_paragraph += 1
                elif in_paragraph:
                    pass
                elif tag in _SKIPPED:
                    skipped += 1
                elif skipped:
                    pass
                elif tag == _TABLE + "table-row":
                    rows.append([])
                elif tag in _CELLS:
                    cells.append([])
                elif tag == _TABLE + "table" and self.sheets and not cells:
                    self._emit(cells, "")
                    self._emit(cells, element.get(_TABLE + "name") or "")
                elif tag == _DRAW + "page" and self.slides:
                    self.sections.append([])
                continue
            stack.pop()
            if tag in _PARAGRAPHS:
                in_paragraph -= 1
                if in_paragraph or skipped:
                    continue
                self._emit(cells, _paragraph(element))
            elif in_paragraph:
                continue
            elif tag in _SKIPPED:
                skipped -= 1
            elif skipped:
                continue
            elif tag in _CELLS and cells and rows:
                rows[-1].append(" ".join(text for text in cells.pop() if text.strip()))
            elif tag == _TABLE + "table-row" and rows:
                row = rows.pop()
                while row and not row[-1]:
                    row.pop()  # a row's repeated empty cells, up to the sheet's edge
                if row or not self.sheets:
                    self._emit(cells, "\t".join(row))
            else:
                continue
            element.clear()
            if stack and len(stack[-1]) and stack[-1][-1] is element:
                del stack[-1][-1]  # what is read is dropped: memory stays flat however long the document


def _paragraph(element: Element) -> str:
    """A paragraph's text: spans, links and fields inline; <text:s c=N/>, tabs and line breaks as themselves."""
    parts: list[str] = []
    todo: list[Element | str] = [element]
    while todo:  # depth-first without recursion: nesting depth costs nothing
        item = todo.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        tag = item.tag
        if item is not element:
            if tag == _TEXT + "s":
                parts.append(" " * _count(item.get(_TEXT + "c")))
            elif tag == _TEXT + "tab":
                parts.append("\t")
            elif tag == _TEXT + "line-break":
                parts.append("\n")
        if item is not element and item.tail:
            todo.append(item.tail)
        if item is element or tag not in _SKIPPED:
            todo.extend(reversed(list(item)))
            if item.text:
                todo.append(item.text)
    return "".join(parts)


def _count(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1000))
    except ValueError:
        return 1
