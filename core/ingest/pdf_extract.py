"""PDF text, page by page, and OCR of pictures of text, done in a child process that can be killed.

Real folders hold PDFs that hang or crash a parser (huge content streams,
broken xrefs), so every PDF is read by a long-lived ``spawn`` worker process.
A file that overruns its time box gets the worker killed and restarted, and
the caller gets ``ExtractionTimeout``; a crash in the native reader only
costs that one file.

The same worker, at low priority, reads pictures of text (``core.ingest.ocr``):
a PDF page with no text layer but an image on it, and image files. Each page
has its own time box; a page that overruns it or fails is named in the
document's problems while the file's other pages are kept.

pypdfium2 is the primary reader (about 8x faster than pypdf on real PDFs and
better at word spacing and CJK); pypdf is the fallback for files pdfium
refuses to open or read.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from core.errors import (
    CorruptFile,
    EncryptedFile,
    ExtractionError,
    ExtractionTimeout,
    NoTextLayer,
    UnreadableFile,
    UnsupportedFile,
)

#: Time allowed for a fresh worker to import its readers; not part of a file's box.
START_TIMEOUT = 60.0
#: Restart the worker after this many files to bound memory held by the readers.
MAX_FILES_PER_WORKER = 200
#: Fewer visible characters per page than this, on average, means a scan; a page with fewer and an image is OCR'd.
MIN_CHARS_PER_PAGE = 8
#: The most one page's (or image's) OCR may take, the first one loading the models included. Its own box, not
#: the file's: a niced worker on a busy 2-core machine took up to 79 s a page (docs/benchmarks.md).
OCR_SECONDS_PER_PAGE = 300.0
#: OCR of one file stops after this long; the pages left are named in its problems.
MAX_OCR_SECONDS_PER_FILE = 1800.0
#: The worker's niceness: reading and OCR give way to whatever the user is doing.
WORKER_NICENESS = 10

_ERRORS: dict[str, type[ExtractionError]] = {
    cls.__name__: cls
    for cls in (CorruptFile, EncryptedFile, NoTextLayer, UnreadableFile, UnsupportedFile, ExtractionError)
}
# pdfium replaces a hyphen that ends a line, and the line break, with U+FFFE
# (\x02 in older builds). Mostly that splits one word ("exam-ple"), so join
# it: search finds "example", at the cost of "selfconscious".
_LINE_END_HYPHEN = re.compile("[\x02\ufffe]\r?\n?")


def os_error_reason(exc: OSError) -> str:
    """A short user-facing phrase for an OS error while opening a file."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    return f"could not be read ({exc.strerror or type(exc).__name__})"


# --- readers: run inside the worker process --------------------------------


def read_pages(path: Path) -> list[str]:
    """Raw text of every page; pypdfium2 first, pypdf when pdfium fails."""
    try:
        return _read_with_pdfium(path)
    except ExtractionError:
        raise
    except OSError as exc:
        raise UnreadableFile(path, os_error_reason(exc)) from exc
    except Exception:  # any pdfium failure: let pypdf try
        pass
    try:
        return _read_with_pypdf(path)
    except ExtractionError:
        raise
    except OSError as exc:
        raise UnreadableFile(path, os_error_reason(exc)) from exc
    except Exception as exc:  # pypdf raises many unrelated types
        raise CorruptFile(path, "damaged or not a PDF") from exc


def _read_with_pdfium(path: Path) -> list[str]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise EncryptedFile(path, "password protected") from exc
        raise
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            pages.append(_LINE_END_HYPHEN.sub("", textpage.get_text_range()))
            textpage.close()
            page.close()
        return pages
    finally:
        pdf.close()


def _read_with_pypdf(path: Path) -> list[str]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    reader = PdfReader(path, strict=False)
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError) as exc:
            raise EncryptedFile(path, "encrypted with an unsupported method") from exc
        if not opened:
            raise EncryptedFile(path, "password protected")
    return [page.extract_text() or "" for page in reader.pages]


def pictured_pages(path: Path, pages: list[str]) -> list[int]:
    """Indices of the pages that are pictures of text: next to no text layer, and an image on the page."""
    thin = [index for index, text in enumerate(pages) if _visible(text) < MIN_CHARS_PER_PAGE]
    if not thin:
        return []
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(path)
    except Exception:  # read by pypdf: pdfium cannot render it either
        return []
    try:
        found = []
        for index in (i for i in thin if i < len(pdf)):
            page = pdf[index]
            if next(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=4), None) is not None:
                found.append(index)
            page.close()
        return found
    finally:
        pdf.close()


def ocr_pdf_page(path: Path, index: int) -> str:
    """The text OCR reads on one page, rendered at ``ocr.RENDER_DPI``."""
    import pypdfium2 as pdfium

    from core.ingest import ocr

    pdf = pdfium.PdfDocument(path)
    try:
        page = pdf[index]
        image = ocr.render_page(page)
        page.close()
    finally:
        pdf.close()
    return ocr.recognise(image)


def _answer(request: tuple[Any, ...]) -> Any:
    """One request's answer: ("pdf", path), ("pdf-page", path, index) or ("image", path)."""
    kind, path = request[0], Path(request[1])
    if kind == "pdf":
        pages = read_pages(path)
        return pages, pictured_pages(path, pages)
    from core.ingest import ocr

    if kind == "pdf-page":
        return ocr_pdf_page(path, request[2])
    return ocr.recognise(ocr.load_image(path))


def _serve(conn: Connection) -> None:
    """Worker loop: receive a request, answer ("ok", value) or ("error", class, reason)."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # "EOF marker not found" etc.
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    # The primary reader loads before saying ready, outside any file's time box. pypdf, the fallback for the few
    # files pdfium refuses, loads on the first of them (0.24 s, which each worker started paid before).
    import pypdfium2  # noqa: F401

    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            conn.send(("ok", _answer(request)))
        except ExtractionError as exc:
            conn.send(("error", type(exc).__name__, exc.reason))
        except Exception as exc:  # a reader bug must not kill the worker
            conn.send(("error", "CorruptFile", f"could not be read ({type(exc).__name__})"))


# --- the parent's side ------------------------------------------------------


class PdfWorker:
    """One reusable child process; restarted after a kill, a crash or N requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._files = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def ask(self, request: tuple[Any, ...], path: Path, timeout: float) -> Any:
        """The worker's answer to ``request`` (see ``_answer``) about ``path``, within ``timeout`` seconds."""
        with self._lock:
            try:
                reply = self._exchange(request, path, timeout)
            except (EOFError, OSError):
                # The worker died, while idle or on this file: a fresh one tries once more.
                self._stop(kill=True)
                try:
                    reply = self._exchange(request, path, timeout)
                except (EOFError, OSError) as exc:
                    self._stop(kill=True)
                    raise CorruptFile(path, "the reader crashed on this file") from exc
            if self._files >= MAX_FILES_PER_WORKER:
                self._stop(kill=False)
        if reply[0] == "ok":
            return reply[1]
        raise _ERRORS.get(reply[1], CorruptFile)(path, reply[2])

    def _exchange(self, request: tuple[Any, ...], path: Path, timeout: float) -> tuple[Any, ...]:
        conn = self._ensure_started(path)
        conn.send(request)
        self._files += 1
        if not conn.poll(timeout):
            self._stop(kill=True)
            raise ExtractionTimeout(path, f"took longer than {timeout:g} s to read")
        reply: tuple[Any, ...] = conn.recv()
        return reply

    def close(self) -> None:
        with self._lock:
            self._stop(kill=False)

    def _ensure_started(self, path: Path) -> Connection:
        """The live worker's connection; startup failures are not the file's fault."""
        if self._conn is not None and self._process is not None and self._process.is_alive():
            return self._conn
        self._stop(kill=True)
        ctx = multiprocessing.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe()
        process = ctx.Process(target=_serve, args=(child_conn,), name="sleuth-pdf", daemon=True)
        try:
            with main_module_hidden():
                process.start()
        except OSError as exc:
            parent_conn.close()
            raise ExtractionError(path, f"the PDF reader could not start ({exc.strerror})") from exc
        finally:
            child_conn.close()
        self._process, self._conn, self._files = process, parent_conn, 0
        started = ready = False
        try:
            started = parent_conn.poll(START_TIMEOUT)  # True on EOF too: it died
            ready = started and parent_conn.recv() == "ready"
        except (EOFError, OSError):
            pass
        if not ready:
            self._stop(kill=True)
            if not started:
                raise ExtractionTimeout(path, f"the PDF reader did not start in {START_TIMEOUT:g} s")
            raise ExtractionError(path, "the PDF reader could not start")
        return parent_conn

    def _stop(self, *, kill: bool) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            if not kill:
                try:
                    conn.send(None)
                except OSError:
                    kill = True
            conn.close()
        if process is not None:
            if kill:
                process.kill()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
            process.close()


@contextlib.contextmanager
def main_module_hidden() -> Iterator[None]:
    """Keep ``spawn`` from re-running ``__main__`` in the worker, which needs none of it.

    Re-running the app's entry script would import the GUI into every worker,
    and fails outright when there is no script file (stdin, ``-c``, embedding).
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved: dict[str, object] = {n: main.__dict__[n] for n in ("__spec__", "__file__") if n in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


_WORKER = PdfWorker()
atexit.register(_WORKER.close)


@dataclass(frozen=True)
class PdfText:
    """A PDF's raw page texts (OCR's where a page is a picture), and what could not be read, page by page."""

    pages: list[str]
    problems: list[str]
    awaiting_ocr: int = 0  # pictured pages left unread (``ocr=False``)


def read_pdf(path: Path, *, timeout: float, ocr: bool = True) -> PdfText:
    """Page texts of a PDF, the text layer read within ``timeout`` and each pictured page OCR'd in its own box.

    Raises ``NoTextLayer`` when neither gives text; a page whose OCR fails is one of the problems. ``ocr=False``
    reads the text layer only and counts the pictured pages left for OCR, which a file of scans is all of.
    """
    pages, pictured = _WORKER.ask(("pdf", str(path)), path, timeout)
    if pictured and not ocr:
        return PdfText(pages, [], awaiting_ocr=len(pictured))
    page_timeout = OCR_SECONDS_PER_PAGE
    problems: list[str] = []
    recognised = False
    stop = time.monotonic() + MAX_OCR_SECONDS_PER_FILE
    for done, index in enumerate(pictured):
        if time.monotonic() > stop:
            left = ", ".join(str(i + 1) for i in pictured[done:])
            problems.append(f"pages {left} not read: OCR stops after {MAX_OCR_SECONDS_PER_FILE:g} s a file")
            break
        try:
            text = _WORKER.ask(("pdf-page", str(path), index), path, page_timeout)
        except ExtractionTimeout:
            problems.append(f"page {index + 1}: OCR took longer than {page_timeout:g} s")
            continue
        except ExtractionError as exc:
            problems.append(f"page {index + 1}: {exc.reason}")
            continue
        if _visible(text):
            pages[index], recognised = text, True
    if not recognised and pages and sum(_visible(page) for page in pages) < MIN_CHARS_PER_PAGE * len(pages):
        if problems:
            raise ExtractionError(path, "; ".join(problems))
        if pictured:
            raise NoTextLayer(path, "no text layer, and OCR found no text on its pages")
        raise NoTextLayer(path, "no text layer, and no pictures of text on its pages")
    return PdfText(pages, problems)


def read_image(path: Path) -> str:
    """The text OCR reads in an image file, time-boxed like one PDF page."""
    try:
        text: str = _WORKER.ask(("image", str(path)), path, OCR_SECONDS_PER_PAGE)
    except ExtractionTimeout as exc:
        raise ExtractionTimeout(path, f"OCR took longer than {OCR_SECONDS_PER_PAGE:g} s") from exc
    return text


def _visible(text: str) -> int:
    return len("".join(text.split()))


def shutdown() -> None:
    """Stop the PDF worker now (it is also stopped at interpreter exit)."""
    _WORKER.close()
