"""Text extraction: turn a file into one string, with page offsets for PDFs, slides and mailboxes.

Every failure becomes an ``ExtractionError`` subclass with a reason a user
can read, so one bad file is recorded and the run goes on. Extractors live
in a registry keyed by suffix; PDFs, and images by OCR, are read in a killable worker process
(``core.ingest.pdf_extract``), other formats in-process with bounded work: one
linear pass over the markup, a deadline checked as it goes, input size
capped, zip-based formats (Office, OpenDocument, EPUB) checked for
decompression bombs before they are opened (``core.ingest.zipped``). Office
presentations and workbooks and RTF are read in ``core.ingest.office``,
OpenDocument in ``core.ingest.opendocument``, e-books in ``core.ingest.epub``,
e-mail in ``core.ingest.mail``. A gzip file is read through decompression, in
the format its inner name says (``notes.txt.gz``). A file with no known suffix
is read as text when its first bytes are text (``README.Debian``, ``CHANGES``).

What is not read is said: ``skip_reason`` names an unsupported type, ``BINARY_CONTENT`` a file whose
name might be text but whose bytes are not; only ``is_ignored`` names (droppings, backups, hidden
files) are left out without a word.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import (
    CorruptFile,
    ExtractionError,
    UnreadableFile,
    UnsupportedFile,
)
from core.ingest import epub, mail, ocr, office, opendocument, pdf_extract
from core.ingest.files import NotRegularFile, check_regular, open_regular
from core.ingest.markup import html_document
from core.ingest.text import MAX_TEXT_BYTES, PAGE_SEPARATOR, Document, Page, normalise, paged, read_bytes
from core.ingest.textdecode import SNIFF_BYTES, decode, looks_like_text
from core.ingest.zipped import GZIP_RATIO_FROM, MAX_GZIP_RATIO, open_zip, refuse_ole
from core.vocabulary import ProblemKind

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

__all__ = ["MAX_GZIP_RATIO", "MAX_TEXT_BYTES", "PAGE_SEPARATOR", "Document", "Page", "extract", "normalise"]


# --- plain text ----------------------------------------------------------------


def _extract_text(path: Path, timeout: float) -> Document:
    return _text_document(path, read_bytes(path))


def _extract_sniffed(path: Path, timeout: float) -> Document:
    """A file with no known suffix: text if its first bytes are."""
    data = read_bytes(path)
    if not looks_like_text(data[:SNIFF_BYTES]):
        raise UnsupportedFile(path, BINARY_CONTENT)
    return _text_document(path, data)


def _text_document(path: Path, data: bytes) -> Document:
    decoded = decode(data, path)
    return Document(path, normalise(decoded.text), encoding=decoded.encoding)


# --- HTML ------------------------------------------------------------------------


def _extract_html(path: Path, timeout: float) -> Document:
    return html_document(path, read_bytes(path), timeout)


# --- DOCX --------------------------------------------------------------------------


def _extract_docx(path: Path, timeout: float) -> Document:
    import docx

    with open_regular(path) as handle:
        refuse_ole(path, handle, "Word file (.doc)")
        open_zip(path, handle, "a Word document").close()
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
    return html_document(path, data, timeout) if _inner_suffix(path) in _HTML_SUFFIXES else _text_document(path, data)


# --- PDF -----------------------------------------------------------------------------


def _extract_pdf(path: Path, timeout: float, *, ocr: bool = True) -> Document:
    read = pdf_extract.read_pdf(path, timeout=timeout, ocr=ocr)
    return dataclasses.replace(paged(path, read.pages), problems=tuple(read.problems), awaiting_ocr=read.awaiting_ocr)


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
#: Office, e-book and e-mail formats, read by their own modules.
_DOCUMENT_READERS: dict[str, Extractor] = {
    ".odt": opendocument.extract_odt,
    ".ods": opendocument.extract_ods,
    ".odp": opendocument.extract_odp,
    ".pptx": office.extract_pptx,
    ".xlsx": office.extract_xlsx,
    ".xlsm": office.extract_xlsx,
    ".rtf": office.extract_rtf,
    ".epub": epub.extract_epub,
    ".eml": mail.extract_eml,
    ".mbox": mail.extract_mbox,
}
EXTRACTORS: dict[str, Extractor] = {
    **dict.fromkeys(_TEXT_SUFFIXES + _DATA_SUFFIXES, _extract_text),
    **dict.fromkeys(_HTML_SUFFIXES, _extract_html),
    ".docx": _extract_docx,
    **_DOCUMENT_READERS,
    ".pdf": _extract_pdf,
    **dict.fromkeys(ocr.IMAGE_SUFFIXES, _extract_image),
}
#: Never sniffed for text: formats that are binary by name (images, media, archives, programs, office
#: formats Sleuth does not read). They are listed as an unsupported file type.
_BINARY_SUFFIXES = frozenset(
    "." + suffix
    for suffix in (
        "gif bmp ico icns heic heif psd xcf raw cr2 nef svgz "
        "mp3 wav flac ogg oga opus m4a aac wma mid midi mp4 m4v mkv avi mov wmv webm flv mpg mpeg "
        "zip 7z rar tar tgz tbz2 txz bz2 xz zst lz lzma z jar war whl egg deb rpm apk iso img dmg msi cab "
        "exe dll so dylib o a lib obj ko pyc pyo pyd class wasm bin dat db sqlite sqlite3 mdb "
        "doc dot xls ppt odg mobi rtfd pages numbers key "
        "ttf otf woff woff2 eot pt pth ckpt safetensors gguf onnx npy npz pkl pickle parquet arrow lance"
    ).split()
)
#: Not documents, by policy, and left out without being listed: editor swap files, partial downloads, lock,
#: pid and socket files come and go as programs run, and listing them would only be noise.
_DROPPINGS = frozenset(".swp .swo .tmp .part .crdownload .lock .pid .sock".split())
#: Formats read through gzip: ``notes.txt.gz``'s inner name decides.
GZIP_INNER_SUFFIXES: frozenset[str] = frozenset(_TEXT_SUFFIXES + _DATA_SUFFIXES + _HTML_SUFFIXES)
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(EXTRACTORS)


def _inner_suffix(path: Path) -> str:
    return Path(path.stem).suffix.lower()


def could_be_text(path: Path) -> bool:
    """A name no extractor claims that may still be a text file (``README.Debian``, ``LICENSE``): sniff it.

    Ignored names (``is_ignored``) and names of binary formats are not candidates.
    """
    if is_ignored(path) or _extractor(path) is not None:
        return False
    return path.suffix.lower() not in _BINARY_SUFFIXES and path.suffix.lower() != ".gz"


def is_ignored(path: Path) -> bool:
    """Not a document, by policy: left out of the index without being listed among the files not read.

    Hidden files no extractor claims (``.bashrc``, ``.DS_Store``; a hidden ``.notes.md`` is read), backups
    (``notes~``) and droppings (``.swp``, ``.part``, ``.crdownload``, ``.lock``…). Every other file is
    read, or listed with the reason it is not (``skip_reason``).
    """
    name = path.name
    if _extractor(path) is not None:
        return False
    return not name or name.startswith(".") or name.endswith("~") or path.suffix.lower() in _DROPPINGS


#: Why a file whose name might be text is not read, once its first bytes are seen.
BINARY_CONTENT = "not a document (binary content)"
_UNSUPPORTED = "unsupported file type"


def skip_reason(path: Path) -> str:
    """Why a file of this name is not read: ``unsupported file type (.zip)``, ``(.tar.gz)``."""
    suffix = path.suffix.lower()
    if suffix == ".gz" and _inner_suffix(path):
        suffix = _inner_suffix(path) + suffix
    return f"{_UNSUPPORTED} ({suffix or 'no extension'})"


def problem_kind(reason: str) -> ProblemKind:
    """What a reason recorded in the index means: a verdict on a file's type (which a later Sleuth may read),
    or a failure. The one place that reads a reason's wording; everything else compares ``ProblemKind``."""
    skipped = reason == BINARY_CONTENT or reason.startswith(_UNSUPPORTED + " (")
    return ProblemKind.SKIPPED if skipped else ProblemKind.FAILED


def _extractor(path: Path) -> Extractor | None:
    suffix = path.suffix.lower()
    if suffix == ".gz":
        inner = _inner_suffix(path)
        return _extract_gzip if inner in GZIP_INNER_SUFFIXES or _MAN_SECTION.fullmatch(inner) else None
    return EXTRACTORS.get(suffix)


def is_supported(path: Path) -> bool:
    return _extractor(path) is not None


def extract(path: Path, *, timeout: float = 60.0, ocr: bool = True) -> Document:
    """Extract ``path``'s text; raises only ``ExtractionError`` subclasses.

    ``timeout`` bounds every reader: the PDF worker is killed past it; the in-process readers (HTML,
    OpenDocument) check it as they go, and the rest do work bounded by the input size limits. OCR (images,
    scanned pages) has a box of its own per page, ``pdf_extract.OCR_SECONDS_PER_PAGE``. ``ocr=False`` leaves
    pictures of text unread, counted in ``Document.awaiting_ocr``: an image is an empty document awaiting one,
    a PDF its text layer awaiting its pictured pages (seconds of OCR each, against milliseconds a page).
    """
    extractor = _extractor(path) or (_extract_sniffed if could_be_text(path) else None)
    if extractor is None:
        raise UnsupportedFile(path, skip_reason(path))
    try:
        check_regular(path, path.stat().st_mode)  # the readers check again on the descriptor they read
        if not ocr and extractor is _extract_image:
            return Document(path, "", awaiting_ocr=1)
        if not ocr and extractor is _extract_pdf:
            return _extract_pdf(path, timeout, ocr=False)
        return extractor(path, timeout)
    except ExtractionError:
        raise
    except NotRegularFile as exc:  # a FIFO or device would block or never end
        raise UnreadableFile(path, exc.strerror or "not a regular file") from exc
    except OSError as exc:
        raise UnreadableFile(path, pdf_extract.os_error_reason(exc)) from exc
    except Exception as exc:  # a parser's own error types; the cause stays chained for debugging
        raise CorruptFile(path, f"could not be read ({type(exc).__name__})") from exc
