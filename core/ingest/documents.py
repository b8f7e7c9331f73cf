"""Text extraction: turn a file into one string, with page offsets for PDFs.

Every failure becomes an ``ExtractionError`` subclass with a reason a user
can read, so one bad file is recorded and the run goes on. Extractors live
in a registry keyed by suffix; PDFs are read in a killable worker process
(``core.ingest.pdf_extract``), other formats in-process. A gzip file is read
through decompression, in the format its inner name says (``notes.txt.gz``).
"""

from __future__ import annotations

import bisect
import gzip
import re
import stat
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import (
    CorruptFile,
    EncryptedFile,
    ExtractionError,
    UnreadableFile,
    UnsupportedFile,
)
from core.ingest import pdf_extract
from core.ingest.textdecode import decode

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

#: Text and HTML files are read whole; beyond this they are logs or dumps.
MAX_TEXT_BYTES = 64 * 1024 * 1024
#: A gzip file may expand to MAX_TEXT_BYTES, but past this size no more than MAX_GZIP_RATIO times
#: its compressed size: text compresses 3-10 fold, a decompression bomb a thousand fold.
GZIP_RATIO_FROM = 1024 * 1024
MAX_GZIP_RATIO = 100
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

    def page_at(self, offset: int) -> int | None:
        """Page holding ``offset`` (a chunk's start), or None without pages."""
        if not self.pages or not 0 <= offset <= len(self.text):
            return None
        index = bisect.bisect_right(self.pages, offset, key=lambda page: page.char_start)
        return self.pages[index - 1].number


# --- normalisation -----------------------------------------------------------

# C0/C1 controls except tab and newline; NULs and escapes only hurt chunking.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NEWLINES = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def normalise(text: str) -> str:
    """Newlines as "\\n", no control characters, at most one blank line in a row."""
    text = _CONTROL.sub("", _NEWLINES.sub("\n", text.replace("\ufeff", "")))
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_RUN.sub("\n\n", text).strip()


# --- plain text ----------------------------------------------------------------


def _read_bytes(path: Path, *, capped: bool = True) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(MAX_TEXT_BYTES + 1) if capped else handle.read()
    if capped and len(data) > MAX_TEXT_BYTES:
        raise UnsupportedFile(path, f"too large to index (over {MAX_TEXT_BYTES / 2**20:g} MB)")
    return data


def _extract_text(path: Path, timeout: float) -> Document:
    return _text_document(path, _read_bytes(path))


def _text_document(path: Path, data: bytes) -> Document:
    decoded = decode(data, path)
    return Document(path, normalise(decoded.text), encoding=decoded.encoding)


# --- HTML ------------------------------------------------------------------------

_INVISIBLE = ("script", "style", "noscript", "template", "head", "iframe", "object", "svg", "canvas")
_BLOCKS = (
    *("address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog"),
    *("div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr"),
    *("h1", "h2", "h3", "h4", "h5", "h6", "li", "main", "nav", "ol", "option", "p", "pre"),
    *("section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul"),
)
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


def _extract_html(path: Path, timeout: float) -> Document:
    return _html_document(path, _read_bytes(path))


def _html_document(path: Path, data: bytes) -> Document:
    from bs4 import BeautifulSoup
    from bs4.dammit import EncodingDetector
    from bs4.element import Comment, NavigableString, Tag

    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    decoded = decode(data, path, declared=declared)
    soup = BeautifulSoup(decoded.text, _html_parser())
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup.find_all(_INVISIBLE):
        tag.decompose()
    for tag in soup.find_all(hidden=True):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    # Source line breaks are just spaces in HTML (except in <pre>); blocks,
    # <br> and table cells get real separators so sentences don't run together.
    for string in soup.find_all(string=True):
        if isinstance(string, NavigableString) and string.find_parent("pre") is None:
            string.replace_with(_SPACES.sub(" ", string))
    for tag in soup.find_all(_BLOCKS):
        if isinstance(tag, Tag):
            tag.insert_before("\n")
            tag.insert_after("\n")
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all(("td", "th")):
        tag.insert_after("\t")
    lines = (" ".join(line.split()) for line in soup.get_text().split("\n"))
    body = normalise("\n".join(lines))
    if title and not body.startswith(title):
        body = f"{title}\n\n{body}" if body else title
    return Document(path, body, encoding=decoded.encoding)


def _html_parser() -> str:
    """lxml copes better with broken markup and is already there for python-docx."""
    try:
        import lxml  # noqa: F401
    except ImportError:
        return "html.parser"
    return "lxml"


# --- DOCX --------------------------------------------------------------------------

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _extract_docx(path: Path, timeout: float) -> Document:
    import docx

    with path.open("rb") as handle:
        head = handle.read(len(_OLE_MAGIC))
    if head == _OLE_MAGIC:
        # Office wraps a password-protected .docx in an OLE container.
        if "EncryptedPackage".encode("utf-16-le") in _read_bytes(path, capped=False):
            raise EncryptedFile(path, "password protected")
        raise CorruptFile(path, "an old-format Word file (.doc), not .docx")
    try:
        document = docx.Document(str(path))
        lines: list[str] = []
        _docx_blocks(document.iter_inner_content(), lines)
    except OSError:
        raise
    except Exception as exc:  # zipfile, lxml, KeyError, docx's own
        raise CorruptFile(path, "damaged or not a Word document") from exc
    return Document(path, normalise("\n".join(lines)))


def _docx_blocks(blocks: Iterable[Paragraph | Table], lines: list[str]) -> None:
    """Paragraph and table text in document order; a table row per line."""
    from docx.text.paragraph import Paragraph

    for block in blocks:
        if isinstance(block, Paragraph):
            lines.append(block.text)
            continue
        # A merged cell repeats across its span: keep it once. The set holds the
        # XML elements themselves, so ids of discarded lxml proxies cannot be reused.
        seen: set[object] = set()
        for row in block.rows:
            cells: list[str] = []
            for cell in row.cells:
                if cell._tc in seen:
                    continue
                seen.add(cell._tc)
                inner: list[str] = []
                _docx_blocks(cell.iter_inner_content(), inner)
                cells.append(" ".join(text for text in inner if text.strip()))
            lines.append("\t".join(cells))


# --- gzip ------------------------------------------------------------------------------------


def _gunzip(path: Path) -> bytes:
    """The decompressed bytes, read in bounded chunks so a bomb stops at the limits."""
    compressed = max(path.stat().st_size, 1)
    out = bytearray()
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                out += chunk
                if len(out) > MAX_TEXT_BYTES:
                    raise UnsupportedFile(path, f"too large to index (over {MAX_TEXT_BYTES / 2**20:g} MB uncompressed)")
                if len(out) > GZIP_RATIO_FROM and len(out) > MAX_GZIP_RATIO * compressed:
                    raise CorruptFile(path, f"expands more than {MAX_GZIP_RATIO} times: not read (a gzip bomb?)")
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise CorruptFile(path, "damaged or not a gzip file") from exc
    return bytes(out)


def _extract_gzip(path: Path, timeout: float) -> Document:
    data = _gunzip(path)
    return _html_document(path, data) if _inner_suffix(path) in _HTML_SUFFIXES else _text_document(path, data)


# --- PDF -----------------------------------------------------------------------------


def _extract_pdf(path: Path, timeout: float) -> Document:
    texts = [normalise(text) for text in pdf_extract.read_pdf(path, timeout=timeout)]
    pages: list[Page] = []
    offset = 0
    for number, text in enumerate(texts, start=1):
        pages.append(Page(number, offset))
        offset += len(text) + len(PAGE_SEPARATOR)
    return Document(path, PAGE_SEPARATOR.join(texts), tuple(pages))


# --- registry and entry point -------------------------------------------------------

Extractor = Callable[[Path, float], Document]

_TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".rst", ".org", ".adoc", ".asciidoc", ".tex")
_DATA_SUFFIXES = (".csv", ".tsv", ".log")
_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
#: Manual pages (``ls.1.gz``, ``printf.3p.gz``): troff source, read as text when gzipped as distributions ship them.
_MAN_SECTION = re.compile(r"\.[1-9][a-z]{0,4}")
EXTRACTORS: dict[str, Extractor] = {
    **dict.fromkeys(_TEXT_SUFFIXES + _DATA_SUFFIXES, _extract_text),
    **dict.fromkeys(_HTML_SUFFIXES, _extract_html),
    ".docx": _extract_docx,
    ".pdf": _extract_pdf,
}
#: Formats read through gzip: ``notes.txt.gz``'s inner name decides.
GZIP_INNER_SUFFIXES: frozenset[str] = frozenset(_TEXT_SUFFIXES + _DATA_SUFFIXES + _HTML_SUFFIXES)
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(EXTRACTORS)


def _inner_suffix(path: Path) -> str:
    return Path(path.stem).suffix.lower()


def _extractor(path: Path) -> Extractor | None:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        inner = _inner_suffix(path)
        return _extract_gzip if inner in GZIP_INNER_SUFFIXES or _MAN_SECTION.fullmatch(inner) else None
    return EXTRACTORS.get(suffix)


def is_supported(path: Path) -> bool:
    return _extractor(path) is not None


def extract(path: Path, *, timeout: float = 60.0) -> Document:
    """Extract ``path``'s text; raises only ``ExtractionError`` subclasses.

    ``timeout`` bounds the PDF reader, the one that can hang on a bad file.
    """
    extractor = _extractor(path)
    if extractor is None:
        raise UnsupportedFile(path, f"unsupported file type ({path.suffix or 'no extension'})")
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise UnreadableFile(path, pdf_extract.os_error_reason(exc)) from exc
    if stat.S_ISDIR(mode):
        raise UnreadableFile(path, "is a folder, not a file")
    if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
        raise UnreadableFile(path, "not a regular file")
    try:
        return extractor(path, timeout)
    except ExtractionError:
        raise
    except OSError as exc:
        raise UnreadableFile(path, pdf_extract.os_error_reason(exc)) from exc
    except Exception as exc:  # a parser's own error types; the cause stays chained for debugging
        raise CorruptFile(path, f"could not be read ({type(exc).__name__})") from exc
