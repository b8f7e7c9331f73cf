"""What every reader returns: a ``Document`` (one string, with where its pages start), and the shared limits.

A reader for a format with parts a user would name (PDF pages, slides, the messages of a mailbox)
returns them as pages, so a result can say which one it came from (``page_label``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import UnsupportedFile
from core.ingest.files import open_regular

#: Text and HTML files are read whole; beyond this they are logs or dumps.
MAX_TEXT_BYTES = 64 * 1024 * 1024
#: How many elements (or rows) an in-process reader handles between looks at the clock.
DEADLINE_EVERY = 2048
PAGE_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Page:
    """Where a page starts, so a chunk can say which page it came from."""

    number: int  # 1-based page number
    char_start: int  # offset in Document.text where this page begins


@dataclass(frozen=True)
class Document:
    """One file's text; offsets into ``text`` are what chunks and pages share."""

    path: Path
    text: str  # full extracted text; pages joined with PAGE_SEPARATOR
    pages: tuple[Page, ...] = ()  # empty for formats without pages
    encoding: str = ""  # the codec a text or HTML file was read with (a guess, when nothing declared it)
    problems: tuple[str, ...] = ()  # parts that could not be read, the rest being indexed ("page 3: OCR took…")
    awaiting_ocr: int = 0  # pictures of text left for OCR to read (``extract(..., ocr=False)``): images, pages

    def page_at(self, offset: int) -> int | None:
        """Page holding ``offset`` (a chunk's start), or None without pages."""
        if not self.pages or not 0 <= offset <= len(self.text):
            return None
        index = bisect.bisect_right(self.pages, offset, key=lambda page: page.char_start)
        return self.pages[index - 1].number


def page_label(path: Path | str) -> str:
    """What a page of this format is called: a slide, a message of a mailbox, or a page."""
    suffix = Path(path).suffix.lower()
    return "slide" if suffix in (".pptx", ".odp") else "message" if suffix == ".mbox" else "page"


def paged(path: Path, texts: Sequence[str]) -> Document:
    """A document of pages (normalised here), numbered from 1 in order, joined with ``PAGE_SEPARATOR``."""
    texts = [normalise(text) for text in texts]
    pages: list[Page] = []
    offset = 0
    for number, text in enumerate(texts, start=1):
        pages.append(Page(number, offset))
        offset += len(text) + len(PAGE_SEPARATOR)
    return Document(path, PAGE_SEPARATOR.join(texts), tuple(pages))


# C0/C1 controls except tab and newline, lone surrogates (PDF readers emit them for broken ToUnicode
# maps; they cannot be stored) and the noncharacters U+FFFE/U+FFFF: they only hurt chunking.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_NEWLINES = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def normalise(text: str) -> str:
    """Newlines as "\\n", no control characters, at most one blank line in a row."""
    text = _CONTROL.sub("", _NEWLINES.sub("\n", text.replace("\ufeff", "")))
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_RUN.sub("\n\n", text).strip()


def read_bytes(path: Path, *, capped: bool = True) -> bytes:
    """The whole file, refused past ``MAX_TEXT_BYTES`` unless ``capped`` is off."""
    with open_regular(path) as handle:
        data = handle.read(MAX_TEXT_BYTES + 1) if capped else handle.read()
    if capped and len(data) > MAX_TEXT_BYTES:
        raise UnsupportedFile(path, f"too large to index (over {MAX_TEXT_BYTES / 2**20:g} MB)")
    return data
