"""PDF text, page by page, read in a child process that can be killed.

Real folders hold PDFs that hang or crash a parser (huge content streams,
broken xrefs), so every PDF is read by a long-lived ``spawn`` worker process.
A file that overruns its time box gets the worker killed and restarted, and
the caller gets ``ExtractionTimeout``; a crash in the native reader only
costs that one file.

pypdfium2 is the primary reader (about 8x faster than pypdf on real PDFs and
better at word spacing and CJK); pypdf is the fallback for files pdfium
refuses to open or read.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import re
import sys
import threading
from collections.abc import Iterator
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
)

#: Time allowed for a fresh worker to import its readers; not part of a file's box.
START_TIMEOUT = 60.0
#: Restart the worker after this many files to bound memory held by the readers.
MAX_FILES_PER_WORKER = 200
#: Fewer visible characters per page than this, on average, means a scan.
MIN_CHARS_PER_PAGE = 8

_ERRORS: dict[str, type[ExtractionError]] = {
    cls.__name__: cls for cls in (CorruptFile, EncryptedFile, NoTextLayer, UnreadableFile, ExtractionError)
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


def _serve(conn: Connection) -> None:
    """Worker loop: receive a path, answer ("ok", pages) or ("error", class, reason)."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # "EOF marker not found" etc.
    import pypdf  # noqa: F401 - import both readers before saying ready
    import pypdfium2  # noqa: F401

    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        path = Path(request)
        try:
            conn.send(("ok", read_pages(path)))
        except ExtractionError as exc:
            conn.send(("error", type(exc).__name__, exc.reason))
        except Exception as exc:  # a reader bug must not kill the worker
            conn.send(("error", "CorruptFile", f"could not be read ({type(exc).__name__})"))


# --- the parent's side ------------------------------------------------------


class PdfWorker:
    """One reusable child process; restarted after a kill, a crash or N files."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._files = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def read(self, path: Path, timeout: float) -> list[str]:
        """Raw page texts of ``path``, within ``timeout`` seconds of reading."""
        with self._lock:
            try:
                reply = self._exchange(path, timeout)
            except (EOFError, OSError):
                # The worker died, while idle or on this file: a fresh one tries once more.
                self._stop(kill=True)
                try:
                    reply = self._exchange(path, timeout)
                except (EOFError, OSError) as exc:
                    self._stop(kill=True)
                    raise CorruptFile(path, "the PDF reader crashed on this file") from exc
            if self._files >= MAX_FILES_PER_WORKER:
                self._stop(kill=False)
        if reply[0] == "ok":
            pages: list[str] = reply[1]
            return pages
        raise _ERRORS.get(reply[1], CorruptFile)(path, reply[2])

    def _exchange(self, path: Path, timeout: float) -> tuple[Any, ...]:
        conn = self._ensure_started(path)
        conn.send(str(path))
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
            with _main_module_hidden():
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
def _main_module_hidden() -> Iterator[None]:
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


def read_pdf(path: Path, *, timeout: float) -> list[str]:
    """Page texts of a PDF, time-boxed; a scan without text raises ``NoTextLayer``."""
    pages = _WORKER.read(path, timeout)
    visible = sum(len("".join(page.split())) for page in pages)
    if pages and visible < MIN_CHARS_PER_PAGE * len(pages):
        raise NoTextLayer(path, "no text layer (scanned?); OCR is not supported")
    return pages


def shutdown() -> None:
    """Stop the PDF worker now (it is also stopped at interpreter exit)."""
    _WORKER.close()
