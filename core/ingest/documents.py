"""Text extraction: turn a file into one string, with page offsets for PDFs.

Every failure becomes an ``ExtractionError`` subclass with a reason a user
can read, so one bad file is recorded and the run goes on. Extractors live
in a registry keyed by suffix; PDFs, and images by OCR, are read in a killable worker process
(``core.ingest.pdf_extract``), other formats in-process with bounded work: one
linear pass over the markup, a deadline checked as it goes, input size
capped, zip-based formats (.docx, .odt) checked for decompression bombs
before they are opened. A gzip file is read through decompression, in the
format its inner name says (``notes.txt.gz``). A file with no known suffix is
read as text when its first bytes are text (``README.Debian``, ``CHANGES``).
"""

from __future__ import annotations

import bisect
import gzip
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from core.errors import (
    CorruptFile,
    EncryptedFile,
    ExtractionError,
    ExtractionTimeout,
    UnreadableFile,
    UnsupportedFile,
)
from core.ingest import ocr, pdf_extract
from core.ingest.files import NotRegularFile, check_regular, open_regular
from core.ingest.textdecode import SNIFF_BYTES, decode, looks_like_text

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from docx.table import Table
    from docx.text.paragraph import Paragraph

#: Text and HTML files are read whole; beyond this they are logs or dumps.
MAX_TEXT_BYTES = 64 * 1024 * 1024
#: A gzip file may expand to MAX_TEXT_BYTES, but past this size no more than MAX_GZIP_RATIO times
#: its compressed size: text compresses 3-10 fold, a decompression bomb a thousand fold.
GZIP_RATIO_FROM = 1024 * 1024
MAX_GZIP_RATIO = 100
#: A zip-based document (.docx, .odt) whose parts expand past this is refused: its readers hold parts whole.
MAX_ZIP_BYTES = 256 * 1024 * 1024
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

    def page_at(self, offset: int) -> int | None:
        """Page holding ``offset`` (a chunk's start), or None without pages."""
        if not self.pages or not 0 <= offset <= len(self.text):
            return None
        index = bisect.bisect_right(self.pages, offset, key=lambda page: page.char_start)
        return self.pages[index - 1].number


# --- normalisation -----------------------------------------------------------

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


# --- plain text ----------------------------------------------------------------


def _read_bytes(path: Path, *, capped: bool = True) -> bytes:
    with open_regular(path) as handle:
        data = handle.read(MAX_TEXT_BYTES + 1) if capped else handle.read()
    if capped and len(data) > MAX_TEXT_BYTES:
        raise UnsupportedFile(path, f"too large to index (over {MAX_TEXT_BYTES / 2**20:g} MB)")
    return data


def _extract_text(path: Path, timeout: float) -> Document:
    return _text_document(path, _read_bytes(path))


def _extract_sniffed(path: Path, timeout: float) -> Document:
    """A file with no known suffix: text if its first bytes are."""
    data = _read_bytes(path)
    if not looks_like_text(data[:SNIFF_BYTES]):
        raise UnsupportedFile(path, "not a text file (binary content)")
    return _text_document(path, data)


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
_BLOCKS_SET = frozenset(_BLOCKS)
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


def _extract_html(path: Path, timeout: float) -> Document:
    return _html_document(path, _read_bytes(path), timeout)


#: Elements that are page furniture, not content: navigation bars and the pilcrow links on headings.
_NAVIGATION_ROLES = frozenset({"navigation", "menubar", "menu", "toolbar"})
_CHROME_CLASSES = frozenset({"headerlink", "anchorjs-link", "heading-anchor"})
#: How many elements the walk handles between looks at the clock.
_DEADLINE_EVERY = 2048


class _HtmlText:
    """An lxml parser target: the visible text, gathered in one pass as the parser reads (no tree is built).

    Work is linear in the input: every element costs a constant, however many siblings it has or however
    deep it sits, and the walk stops at its deadline.
    """

    def __init__(self, path: Path, deadline: float) -> None:
        self.path, self.deadline = path, deadline
        self.parts: list[str] = []
        self.title: list[str] | None = None  # collecting the first <title> while not None
        self.title_done = False
        self.title_text = ""
        self.skipped = 0  # depth inside an invisible element
        self.pre = 0
        self.elements = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.elements += 1
        if self.elements % _DEADLINE_EVERY == 0 and time.monotonic() > self.deadline:
            raise ExtractionTimeout(self.path, "took too long to read (an enormous or pathological page)")
        if tag == "title" and not self.title_done and self.title is None:
            self.title = []
        if self.skipped:
            self.skipped += 1
            return
        if tag in _INVISIBLE or "hidden" in attrib or _chrome(tag, attrib):
            self.skipped = 1
            return
        if tag in _BLOCKS_SET or tag == "br":
            self.parts.append("\n")
        if tag == "pre":
            self.pre += 1

    def end(self, tag: str) -> None:
        if tag == "title" and self.title is not None:
            self.title_done = True
            self.title_text = " ".join("".join(self.title).split())
            self.title = None
        if self.skipped:
            self.skipped -= 1
            return
        if tag in _BLOCKS_SET:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")
        if tag == "pre":
            self.pre -= 1

    def data(self, text: str) -> None:
        if self.title is not None:
            self.title.append(text)
        if not self.skipped:
            self.parts.append(text if self.pre else _SPACES.sub(" ", text))

    def comment(self, text: str) -> None:
        """Comments are not text."""

    def doctype(self, *args: object) -> None:
        """Neither is the doctype (``html SYSTEM "about:legacy-compat"``)."""

    def close(self) -> str:
        return "".join(self.parts)


def _chrome(tag: str, attrib: dict[str, str]) -> bool:
    if tag == "nav" or attrib.get("role", "").lower() in _NAVIGATION_ROLES:
        return True
    return tag == "a" and not _CHROME_CLASSES.isdisjoint(attrib.get("class", "").split())


def _html_document(path: Path, data: bytes, timeout: float = 60.0) -> Document:
    from bs4.dammit import EncodingDetector
    from lxml import etree

    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    decoded = decode(data, path, declared=declared)
    target = _HtmlText(path, time.monotonic() + timeout)
    # Re-encoded as UTF-8 and said so: the page's own charset tag has been dealt with already.
    parser = etree.HTMLParser(target=target, encoding="utf-8", no_network=True, huge_tree=True)
    text = etree.fromstring(decoded.text.encode("utf-8", "replace"), parser) if decoded.text.strip() else ""
    title = target.title_text
    lines = (" ".join(line.split()) for line in str(text or "").split("\n"))
    body = normalise("\n".join(lines))
    if title and not body.startswith(title):
        body = f"{title}\n\n{body}" if body else title
    return Document(path, body, encoding=decoded.encoding)


# --- DOCX --------------------------------------------------------------------------

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _check_zip(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse a zip whose declared part sizes or compression ratios say bomb, before any part is read.

    Python's zipfile never inflates a part past its declared size, so the declaration is a real bound.
    """
    total = 0
    for member in archive.infolist():
        total += member.file_size
        big = member.file_size > GZIP_RATIO_FROM
        if total > MAX_ZIP_BYTES or (big and member.file_size > MAX_GZIP_RATIO * max(member.compress_size, 1)):
            expands = sum(m.file_size for m in archive.infolist()) / 2**20
            raise CorruptFile(path, f"compressed parts expand to {expands:,.0f} MB; refused as a possible zip bomb")
        if member.filename.endswith(".xml") and member.file_size > MAX_TEXT_BYTES:
            # Parsed whole into a tree several times its size.
            raise UnsupportedFile(path, f"too large to index (its text part is {member.file_size / 2**20:,.0f} MB)")


def _open_zip(path: Path, handle: IO[bytes], kind: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise CorruptFile(path, f"damaged or not {kind}") from exc
    _check_zip(path, archive)
    return archive


def _extract_docx(path: Path, timeout: float) -> Document:
    import docx

    with open_regular(path) as handle:
        head = handle.read(len(_OLE_MAGIC))
        if head == _OLE_MAGIC:
            # Office wraps a password-protected .docx in an OLE container.
            if "EncryptedPackage".encode("utf-16-le") in _read_bytes(path, capped=False):
                raise EncryptedFile(path, "password protected")
            raise CorruptFile(path, "an old-format Word file (.doc), not .docx")
        handle.seek(0)
        _open_zip(path, handle, "a Word document").close()
        handle.seek(0)
        try:
            document = docx.Document(handle)
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


# --- OpenDocument text ------------------------------------------------------------------------

_ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODF_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODF_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODF_PARAGRAPHS = (_ODF_TEXT + "p", _ODF_TEXT + "h")
#: Not the document's text: comments, and the deleted text that tracked changes keep.
_ODF_SKIPPED = (_ODF_OFFICE + "annotation", _ODF_TEXT + "tracked-changes", _ODF_TEXT + "note-citation")


def _extract_odt(path: Path, timeout: float) -> Document:
    """content.xml's paragraphs and table rows, read as a stream (the stdlib's iterparse; no tree kept)."""
    import xml.etree.ElementTree as ElementTree

    deadline = time.monotonic() + timeout
    with open_regular(path) as handle, _open_zip(path, handle, "an OpenDocument file") as archive:
        names = set(archive.namelist())
        if "content.xml" not in names:
            raise CorruptFile(path, "damaged or not an OpenDocument file (no content.xml)")
        if "META-INF/manifest.xml" in names and b"encryption-data" in archive.read("META-INF/manifest.xml"):
            raise EncryptedFile(path, "password protected")
        lines: list[str] = []
        try:
            with archive.open("content.xml") as content:
                _odt_lines(path, ElementTree.iterparse(content, events=("start", "end")), lines, deadline)
        except ElementTree.ParseError as exc:
            raise CorruptFile(path, "damaged OpenDocument content") from exc
    return Document(path, normalise("\n".join(lines)))


def _odt_lines(path: Path, events: Iterable[tuple[str, Element]], lines: list[str], deadline: float) -> None:
    """One line per paragraph outside tables, one per table row (cells joined by tabs)."""
    stack: list[Element] = []
    in_paragraph = skipped = 0
    rows: list[list[str]] = []  # the open rows' cells
    cells: list[list[str]] = []  # the open cells' paragraphs
    for count, (event, element) in enumerate(events):
        if count % _DEADLINE_EVERY == 0 and time.monotonic() > deadline:
            raise ExtractionTimeout(path, "took too long to read")
        tag = element.tag
        if event == "start":
            stack.append(element)
            if tag in _ODF_PARAGRAPHS:
                in_paragraph += 1
            elif in_paragraph:
                pass
            elif tag in _ODF_SKIPPED:
                skipped += 1
            elif skipped:
                pass
            elif tag == _ODF_TABLE + "table-row":
                rows.append([])
            elif tag in (_ODF_TABLE + "table-cell", _ODF_TABLE + "covered-table-cell"):
                cells.append([])
            continue
        stack.pop()
        if tag in _ODF_PARAGRAPHS:
            in_paragraph -= 1
            if in_paragraph or skipped:
                continue
            text = _odf_paragraph(element)
            (cells[-1] if cells else lines).append(text)
        elif in_paragraph:
            continue
        elif tag in _ODF_SKIPPED:
            skipped -= 1
        elif skipped:
            continue
        elif tag in (_ODF_TABLE + "table-cell", _ODF_TABLE + "covered-table-cell") and cells and rows:
            rows[-1].append(" ".join(text for text in cells.pop() if text.strip()))
        elif tag == _ODF_TABLE + "table-row" and rows:
            row = rows.pop()
            while row and not row[-1]:
                row.pop()  # a row's repeated empty cells, up to the sheet's edge
            (cells[-1] if cells else lines).append("\t".join(row))
        else:
            continue
        element.clear()
        if stack and len(stack[-1]) and stack[-1][-1] is element:
            del stack[-1][-1]  # what is read is dropped: memory stays flat however long the document


def _odf_paragraph(element: Element) -> str:
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
            if tag == _ODF_TEXT + "s":
                parts.append(" " * _count(item.get(_ODF_TEXT + "c")))
            elif tag == _ODF_TEXT + "tab":
                parts.append("\t")
            elif tag == _ODF_TEXT + "line-break":
                parts.append("\n")
        if item is not element and item.tail:
            todo.append(item.tail)
        if item is element or tag not in _ODF_SKIPPED:
            todo.extend(reversed(list(item)))
            if item.text:
                todo.append(item.text)
    return "".join(parts)


def _count(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 1000))
    except ValueError:
        return 1


# --- gzip ------------------------------------------------------------------------------------


def _gunzip(path: Path) -> bytes:
    """The decompressed bytes, read in bounded chunks so a bomb stops at the limits."""
    compressed = max(path.stat().st_size, 1)
    out = bytearray()
    try:
        with open_regular(path) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as handle:
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
    return _html_document(path, data, timeout) if _inner_suffix(path) in _HTML_SUFFIXES else _text_document(path, data)


# --- PDF -----------------------------------------------------------------------------


def _extract_pdf(path: Path, timeout: float) -> Document:
    read = pdf_extract.read_pdf(path, timeout=timeout)
    texts = [normalise(text) for text in read.pages]
    pages: list[Page] = []
    offset = 0
    for number, text in enumerate(texts, start=1):
        pages.append(Page(number, offset))
        offset += len(text) + len(PAGE_SEPARATOR)
    return Document(path, PAGE_SEPARATOR.join(texts), tuple(pages), problems=tuple(read.problems))


# --- images (OCR) ------------------------------------------------------------------------


def _extract_image(path: Path, timeout: float) -> Document:
    """An image's text, read by OCR in the PDF worker; an image with no text is an empty document."""
    return Document(path, normalise(pdf_extract.read_image(path)))


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
    ".odt": _extract_odt,
    ".pdf": _extract_pdf,
    **dict.fromkeys(ocr.IMAGE_SUFFIXES, _extract_image),
}
#: Never sniffed for text: formats that are binary by name (images, media, archives, programs, office
#: formats Sleuth does not read), and editor droppings.
_BINARY_SUFFIXES = frozenset(
    "." + suffix
    for suffix in (
        "gif bmp ico icns heic heif psd xcf raw cr2 nef svgz "
        "mp3 wav flac ogg oga opus m4a aac wma mid midi mp4 m4v mkv avi mov wmv webm flv mpg mpeg "
        "zip 7z rar tar tgz tbz2 txz bz2 xz zst lz lzma z jar war whl egg deb rpm apk iso img dmg msi cab "
        "exe dll so dylib o a lib obj ko pyc pyo pyd class wasm bin dat db sqlite sqlite3 mdb "
        "doc dot xls xlsx xlsm ppt pptx odp ods odg epub mobi rtfd pages numbers key "
        "ttf otf woff woff2 eot pt pth ckpt safetensors gguf onnx npy npz pkl pickle parquet arrow lance "
        "swp swo tmp part crdownload lock pid sock"
    ).split()
)
#: Formats read through gzip: ``notes.txt.gz``'s inner name decides.
GZIP_INNER_SUFFIXES: frozenset[str] = frozenset(_TEXT_SUFFIXES + _DATA_SUFFIXES + _HTML_SUFFIXES)
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(EXTRACTORS)


def _inner_suffix(path: Path) -> str:
    return Path(path.stem).suffix.lower()


def could_be_text(path: Path) -> bool:
    """A name no extractor claims that may still be a text file (``README.Debian``, ``LICENSE``): sniff it.

    Hidden files (``.bashrc``), backups (``notes~``) and names of binary formats are not candidates.
    """
    name = path.name
    if not name or name.startswith(".") or name.endswith("~") or _extractor(path) is not None:
        return False
    return path.suffix.lower() not in _BINARY_SUFFIXES and path.suffix.lower() != ".gz"


def is_candidate(path: Path) -> bool:
    """Whether a file of this name may be indexed: a supported type, or possibly text (its content decides)."""
    return is_supported(path) or could_be_text(path)


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

    ``timeout`` bounds every reader: the PDF worker is killed past it; the in-process readers (HTML,
    OpenDocument) check it as they go, and the rest do work bounded by the input size limits. OCR (images,
    scanned pages) has a box of its own per page, ``pdf_extract.OCR_SECONDS_PER_PAGE``.
    """
    extractor = _extractor(path) or (_extract_sniffed if could_be_text(path) else None)
    if extractor is None:
        raise UnsupportedFile(path, f"unsupported file type ({path.suffix or 'no extension'})")
    try:
        check_regular(path, path.stat().st_mode)  # the readers check again on the descriptor they read
        return extractor(path, timeout)
    except ExtractionError:
        raise
    except NotRegularFile as exc:  # a FIFO or device would block or never end
        raise UnreadableFile(path, exc.strerror or "not a regular file") from exc
    except OSError as exc:
        raise UnreadableFile(path, pdf_extract.os_error_reason(exc)) from exc
    except Exception as exc:  # a parser's own error types; the cause stays chained for debugging
        raise CorruptFile(path, f"could not be read ({type(exc).__name__})") from exc
