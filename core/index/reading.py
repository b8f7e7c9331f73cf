"""The text phase's reading: hash, extract and chunk a file into the rows the chunks table stores.

A run with many files reads them in a pool of worker processes, one per core (extraction and chunking are
Python and a tokenizer, bound by one core each); the indexer's thread only writes what they return, as they
finish, so a slow file (a long PDF) leaves the other workers busy. A thread of the readers' own hands out the
files and collects what is read, so the workers read on while the indexer writes a batch. A worker holds the
embedder's tokenizer as a bare ``tokenizers.Tokenizer`` (what the model's tokenizer runs underneath), so it
imports neither torch nor transformers. PDFs and images are still read by each worker's own killable PDF process
(``core.ingest.pdf_extract``), so a file that hangs a reader costs its time box, as before. A worker that dies
(a native crash in a reader) takes only the file it was reading: the files it held are read again one at a
time, and the one that kills a worker again is recorded as a failure.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from core.errors import ExtractionError
from core.index.rows import ChunkRow
from core.ingest.chunking import Tokenizer, chunk_text
from core.ingest.documents import extract
from core.ingest.ocr import is_image
from core.ingest.pdf_extract import main_module_hidden
from core.ingest.scanning import Exclusions, content_hash, scan

#: A run reads in worker processes from this many files on; fewer are read on the indexer's thread (starting
#: the workers costs about a second, more than a handful of files take).
POOL_MIN_FILES = 24
#: Files out at a time, per worker: enough that a worker never waits for its next file, few enough to bound what
#: waits in memory. (Handed back in order, 4 a worker let a long PDF at the head idle the other core: 16 a worker
#: made the 446-file folder's text phase 0.6 s shorter; handed back as read, 4 are enough.)
AHEAD_PER_WORKER = 4
#: A first run's files read before its index has opened (:func:`first_files`), per worker and in all: more than
#: the workers read in the seconds LanceDB takes to import (32 a worker left a core idle for 1.5 s of them), and
#: a bound on the text that waits in memory.
FIRST_FILES_PER_WORKER = 128
FIRST_FILES_BYTES = 64 * 1024 * 1024
#: Read files that wait for the indexer while it writes a batch, per worker and in passages: enough that the
#: workers read on through a write (the readers idled for most of a second at each of the 446-file folder's
#: batches when they waited for the indexer to ask), few enough to bound what waits in memory.
WAITING_PER_WORKER = 32
WAITING_ROWS = 8_000
#: How often the readers' thread looks whether its caller has stopped while it waits for the workers.
STOP_CHECK_S = 0.2
CRASHED = "the reader crashed on this file"


@dataclass(frozen=True)
class ReadJob:
    """One file to read. ``known_hash``: hashed already (as a possible rename); ``stored_hash``: the hash its
    stored chunks were made from, which are kept if the content still has it; ``size`` and ``mtime``: what the
    scan that chose it saw (a file read early is taken only by a run whose scan saw it the same)."""

    path: str
    known_hash: str = ""
    stored_hash: str = ""
    size: int = -1
    mtime: float = -1.0
    ocr: bool = False  # read its pictures of text now; False leaves them for the OCR pass (``awaiting_ocr``)


@dataclass
class FileText:
    """What reading a file gave: its hash and rows, or why it could not be read."""

    file_hash: str = ""
    error: str = ""  # "" when it was read
    unchanged: bool = False  # its content has the stored hash: the stored chunks are still right
    rows: list[dict[str, Any]] = field(default_factory=list)  # ChunkRow.to_row() of each chunk
    problems: list[str] = field(default_factory=list)  # parts that could not be read (a page OCR gave up on)
    encoding: str = ""
    awaiting_ocr: bool = False  # it holds pictures of text that only the OCR pass reads


def read_file(job: ReadJob, tokenizer: Tokenizer, chunk_size: int, chunk_overlap: int) -> FileText:
    """Hash, extract and chunk one file; an unreadable file is a ``FileText`` with its reason, never a raise."""
    path = Path(job.path)
    try:
        file_hash = job.known_hash or content_hash(path)
    except OSError as exc:
        return FileText(error=exc.strerror.lower() if exc.strerror else exc.__class__.__name__)
    if job.stored_hash and job.stored_hash == file_hash:
        return FileText(file_hash, unchanged=True)
    try:
        document = extract(path, ocr=job.ocr)
    except ExtractionError as exc:
        return FileText(file_hash, error=exc.reason)
    chunks = chunk_text(document.text, tokenizer, chunk_size, chunk_overlap)
    rows = [
        ChunkRow(
            job.path, file_hash, c.ordinal, c.text, document.page_at(c.char_start), c.char_start, c.char_end, c.n_tokens
        ).to_row()
        for c in chunks
    ]
    return FileText(
        file_hash,
        rows=rows,
        problems=list(document.problems),
        encoding=document.encoding,
        awaiting_ocr=document.awaiting_ocr > 0,
    )


class OffsetTokenizer:
    """A ``tokenizers.Tokenizer`` called as chunking calls a model's tokenizer (offsets, no special tokens).

    Built from the model tokenizer's own serialised form, with what ``transformers`` switches off per call
    switched off here: truncation, padding, and special tokens recognised in the text.
    """

    def __init__(self, serialised: str) -> None:
        from tokenizers import Tokenizer as Backend

        self.backend = Backend.from_str(serialised)
        self.backend.no_truncation()
        self.backend.no_padding()
        self.backend.encode_special_tokens = True

    def __call__(self, text: str, **kwargs: object) -> dict[str, list[tuple[int, int]]]:
        return {"offset_mapping": self.backend.encode(text, add_special_tokens=False).offsets}


def serialised_tokenizer(tokenizer: Any) -> str | None:
    """A fast tokenizer's ``tokenizers`` form, which a worker rebuilds; None for any other kind."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend.to_str() if backend is not None else None


# --- the worker processes ---------------------------------------------------------------------

_worker: tuple[OffsetTokenizer, int, int] | None = None


def _start_worker(serialised: str, chunk_size: int, chunk_overlap: int) -> None:
    global _worker
    _worker = (OffsetTokenizer(serialised), chunk_size, chunk_overlap)


def _ready() -> None:
    """Nothing: handed to each worker by :meth:`Readers.start`, so that the pool starts every process now."""


def _read_in_worker(job: ReadJob) -> FileText:
    assert _worker is not None, "the worker was started without a tokenizer"
    tokenizer, size, overlap = _worker
    return read_file(job, tokenizer, size, overlap)


_DONE = object()  # the readers' thread has handed over every file


class _Handoff:
    """Read files on their way from the readers' thread to the indexer: first in, first out, bounded by files and
    by passages (one file is always let through, however long), and stoppable from either side."""

    def __init__(self, most_files: int, most_rows: int) -> None:
        self._items: deque[tuple[object, int]] = deque()
        self._rows = 0
        self._most = (most_files, most_rows)
        self._changed = threading.Condition()
        self.stopped = False

    def put(self, item: object, rows: int) -> bool:
        """Add ``item`` once there is room; False (dropping it) when the taker has stopped."""
        with self._changed:
            most_files, most_rows = self._most
            while (
                not self.stopped and self._items and (len(self._items) >= most_files or self._rows + rows > most_rows)
            ):
                self._changed.wait()
            if self.stopped:
                return False
            self._items.append((item, rows))
            self._rows += rows
            self._changed.notify_all()
            return True

    def get(self) -> object:
        with self._changed:
            while not self._items:
                self._changed.wait()
            item, rows = self._items.popleft()
            self._rows -= rows
            self._changed.notify_all()
            return item

    def stop(self) -> None:
        with self._changed:
            self.stopped = True
            self._items.clear()
            self._changed.notify_all()


def first_files(roots: Iterable[Path], exclusions: Exclusions, workers: int) -> list[ReadJob]:
    """The first files a run into an empty index reads from these folders, in the order it reads them (every
    file is new to it): what :meth:`Readers.start` can read while the index opens. Images (which only the OCR
    pass reads) and files the scan skips are left to the run."""
    jobs: list[ReadJob] = []
    budget, most = FIRST_FILES_BYTES, workers * FIRST_FILES_PER_WORKER
    looked = 0  # a folder of photos is not walked to its end here, before the index has even opened
    for root in roots:
        for info in scan(root, exclusions):
            looked += 1
            if len(jobs) >= most or info.size > budget or looked > 4 * most:
                return jobs
            if not info.skipped and not is_image(info.path):
                jobs.append(ReadJob(str(info.path), size=info.size, mtime=info.mtime))
                budget -= info.size
    return jobs


def worker_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Readers:
    """Reads files in worker processes, handing back each file's text as soon as it is read."""

    def __init__(self, serialised: str, chunk_size: int, chunk_overlap: int, workers: int | None = None) -> None:
        self.workers = workers or worker_count()
        self._args = (serialised, chunk_size, chunk_overlap)
        self._pool: ProcessPoolExecutor | None = None
        self._starting: threading.Thread | None = None
        self._early: dict[ReadJob, Future[FileText]] = {}  # read since start(), not asked for yet

    def __enter__(self) -> Readers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, first: Sequence[ReadJob] = ()) -> Readers:
        """Start every worker now, ahead of the first file, and return at once: each imports its readers and
        rebuilds the tokenizer (most of a second) while the caller does its own start-up, such as opening the
        index. They are started on a thread of their own, because starting a spawned process waits until it
        has read its start-up data (the tokenizer, hundreds of kilobytes) from a pipe.

        ``first``: files to begin reading at once (:func:`first_files`); :meth:`read` takes the result of each
        it is asked for, and those it is not asked for are dropped when the readers close.
        """
        self._starting = threading.Thread(
            target=self._start_all, args=(list(first),), name="sleuth-readers-start", daemon=True
        )
        self._starting.start()
        return self

    def _start_all(self, first: list[ReadJob]) -> None:
        for _ in range(self.workers):
            self._submit_call(_ready, self.workers)
        for job in first:
            self._early[job] = self._submit(job, self.workers)

    def _started(self) -> None:
        """Wait until :meth:`start`'s thread has handed out its calls (the pool is this thread's from then on)."""
        if self._starting is not None:
            self._starting.join()
            self._starting = None

    def reads_as(self, serialised: str, chunk_size: int, chunk_overlap: int) -> bool:
        """Whether these workers chunk as these arguments would (the same tokenizer and chunk settings)."""
        return self._args == (serialised, chunk_size, chunk_overlap)

    def _executor(self, workers: int) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker, initargs=self._args
            )
        return self._pool

    def _submit(self, job: ReadJob, workers: int) -> Future[FileText]:
        return self._submit_call(_read_in_worker, workers, job)

    def _submit_call(self, call: Callable[..., Any], workers: int, *args: Any) -> Future[Any]:
        """The call's future; where a worker has died since the pool started, one that failed as the calls out
        did (``BrokenProcessPool``), so that a file handed out after the death is read again like those."""
        pool = self._executor(workers)
        try:
            with main_module_hidden():  # the workers start with the first calls: no __main__ to run again
                return pool.submit(call, *args)
        except BrokenProcessPool as exc:
            failed: Future[Any] = Future()
            failed.set_exception(exc)
            return failed

    def read(self, jobs: Iterable[ReadJob]) -> Iterator[tuple[ReadJob, FileText]]:
        """Each job with its text, as the workers finish them: a slow file holds up no other.

        A thread of the readers' own hands out the files and collects what the workers read, so the workers
        stay busy while the caller writes a batch. At most ``AHEAD_PER_WORKER`` files a worker are out at a
        time (besides those read early), and at most ``WAITING_PER_WORKER`` read files a worker, or
        ``WAITING_ROWS`` passages, wait for the caller. Closing the iterator stops the workers after their
        current file."""
        self._started()
        handoff = _Handoff(self.workers * WAITING_PER_WORKER, WAITING_ROWS)
        feeder = threading.Thread(target=self._feed, args=(jobs, handoff), name="sleuth-readers", daemon=True)
        feeder.start()
        try:
            while (item := handoff.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield cast(tuple[ReadJob, FileText], item)
        finally:
            handoff.stop()
            feeder.join()
            self.close()

    def _feed(self, jobs: Iterable[ReadJob], handoff: _Handoff) -> None:
        """The readers' thread: keep the workers busy and hand each read file to :meth:`read`'s caller."""
        try:
            for job, text in self._read_all(jobs, handoff):
                if not handoff.put((job, text), len(text.rows)):
                    return
            handoff.put(_DONE, 0)
        except BaseException as exc:  # raised to the caller, in its thread
            handoff.put(exc, 0)

    def _read_all(self, jobs: Iterable[ReadJob], handoff: _Handoff) -> Iterator[tuple[ReadJob, FileText]]:
        pending = iter(jobs)
        out: dict[Future[FileText], ReadJob] = {}  # in the order they were handed out
        while not handoff.stopped:
            while len(out) < self.workers * AHEAD_PER_WORKER:
                job = next(pending, None)
                if job is None:
                    break
                early = self._early.pop(job, None)
                out[early or self._submit(job, self.workers)] = job
            if not out:
                return
            done, _running = wait(out, timeout=STOP_CHECK_S, return_when=FIRST_COMPLETED)
            crashed = False
            for future in [future for future in out if future in done]:
                try:
                    text = future.result()
                except BrokenProcessPool:
                    crashed = True
                    continue
                yield out.pop(future), text
            if crashed:
                # Which file killed the worker is not known: read those that were out again, one at a time.
                again = list(out.values())
                out.clear()
                yield from self._one_by_one(again)

    def _one_by_one(self, jobs: list[ReadJob]) -> Iterator[tuple[ReadJob, FileText]]:
        self.close()
        for job in jobs:
            try:
                text = self._submit(job, 1).result()
            except BrokenProcessPool:
                self.close()
                text = FileText(error=CRASHED)
            yield job, text
        self.close()  # the next files get every worker again

    def close(self) -> None:
        self._started()
        self._early.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
