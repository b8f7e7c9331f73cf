"""Microsoft Office presentations and workbooks (.pptx, .xlsx, .xlsm) and RTF documents.

Each zip is checked for bombs before a library opens it. A presentation is its slides, each a page
(speaker notes included); a workbook is its sheets, each under its name, a row per line, read with
openpyxl's read-only (streaming) mode: at most ``MAX_SHEET_COLUMNS`` columns a row and
``MAX_SHEET_CHARS`` characters in all, past which the text ends with a notice saying so.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import CorruptFile, ExtractionTimeout
from core.ingest.files import open_regular
from core.ingest.opendocument import MAX_SHEET_CHARS, sheet_notice
from core.ingest.text import DEADLINE_EVERY, Document, normalise, paged, read_bytes
from core.ingest.zipped import open_zip, refuse_ole

if TYPE_CHECKING:
    from pptx.shapes.base import BaseShape
    from pptx.slide import Slide

#: Columns read in a row: a sheet's data is at its left; 16,384 styled empty columns are not.
MAX_SHEET_COLUMNS = 1024


# --- PowerPoint ------------------------------------------------------------------------------


def extract_pptx(path: Path, timeout: float) -> Document:
    from pptx import Presentation

    deadline = time.monotonic() + timeout
    with open_regular(path) as handle:
        refuse_ole(path, handle, "PowerPoint file (.ppt)")
        open_zip(path, handle, "a PowerPoint presentation").close()
        handle.seek(0)
        try:
            slides: list[str] = []
            for slide in Presentation(handle).slides:
                if time.monotonic() > deadline:
                    raise ExtractionTimeout(path, "took too long to read")
                slides.append(_slide_text(slide))
        except (OSError, ExtractionTimeout):
            raise
        except Exception as exc:  # zipfile, lxml, KeyError, python-pptx's own
            raise CorruptFile(path, "damaged or not a PowerPoint presentation") from exc
    return paged(path, slides)


def _slide_text(slide: Slide) -> str:
    lines = list(_shape_lines(slide.shapes))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            lines += ["", notes.text]
    return "\n".join(lines)


def _shape_lines(shapes: Iterable[BaseShape]) -> Iterable[str]:
    """Text boxes, placeholders and tables (a row per line), groups opened, in the slide's order."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    todo = list(reversed(list(shapes)))
    while todo:  # depth-first without recursion
        shape: Any = todo.pop()
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            todo.extend(reversed(list(shape.shapes)))
        elif getattr(shape, "has_table", False):
            for row in shape.table.rows:
                yield "\t".join(" ".join(cell.text.split()) for cell in row.cells)
        elif getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
            yield shape.text_frame.text


# --- Excel -----------------------------------------------------------------------------------


def extract_xlsx(path: Path, timeout: float) -> Document:
    import openpyxl

    deadline = time.monotonic() + timeout
    with open_regular(path) as handle:
        refuse_ole(path, handle, "Excel file (.xls)")
        # openpyxl's read-only mode streams the sheets; the shared strings it holds whole stay bounded.
        open_zip(path, handle, "an Excel workbook", streamed=("xl/worksheets/",)).close()
        handle.seek(0)
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True, keep_links=False)
            try:
                lines = _workbook_lines(path, workbook.worksheets, deadline)
            finally:
                workbook.close()
        except (OSError, ExtractionTimeout):
            raise
        except Exception as exc:  # zipfile, lxml, KeyError, openpyxl's own
            raise CorruptFile(path, "damaged or not an Excel workbook") from exc
    return Document(path, normalise("\n".join(lines)))


def _workbook_lines(path: Path, sheets: Iterable[Any], deadline: float) -> list[str]:
    """Each sheet's name, then its rows (cells joined by tabs, empty trailing cells dropped)."""
    lines: list[str] = []
    chars = 0
    for sheet in sheets:
        lines += ["", sheet.title]
        if not hasattr(sheet, "iter_rows"):
            continue  # a chart sheet
        # The declared dimensions are not trusted (some writers say A1 whatever the data), nor padded to:
        # each row comes as wide as its own last cell, and is cut at MAX_SHEET_COLUMNS.
        sheet.reset_dimensions()
        for count, row in enumerate(sheet.iter_rows(values_only=True)):
            if count % DEADLINE_EVERY == 0 and time.monotonic() > deadline:
                raise ExtractionTimeout(path, "took too long to read")
            cells = [_cell(value) for value in row[:MAX_SHEET_COLUMNS]]
            while cells and not cells[-1]:
                cells.pop()
            if not cells:
                continue
            line = "\t".join(cells)
            chars += len(line) + 1
            if chars > MAX_SHEET_CHARS:
                lines.append(sheet_notice(MAX_SHEET_CHARS))
                return lines
            lines.append(line)
    return lines


def _cell(value: object) -> str:
    """A cell's value as a person would read it: 3 not 3.0, a date without a midnight time."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return " ".join(str(value).split())


# --- RTF -------------------------------------------------------------------------------------

_CODE_PAGE = re.compile(rb"\\ansicpg(\d{3,5})")


def extract_rtf(path: Path, timeout: float) -> Document:
    """RTF through striprtf: one linear pass, input capped at ``MAX_TEXT_BYTES`` (it has no deadline)."""
    from striprtf.striprtf import rtf_to_text

    data = read_bytes(path)
    if not data.lstrip()[:5] == b"{\\rtf":
        raise CorruptFile(path, "damaged or not an RTF document")
    # RTF is 7-bit: other characters come as \'hh escapes in the document's code page, or as \uN.
    encoding = "cp1252"
    found = _CODE_PAGE.search(data, 0, 4096)
    if found:
        with contextlib.suppress(LookupError):
            encoding = codecs.lookup(f"cp{int(found.group(1))}").name
    return Document(path, normalise(rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")))
