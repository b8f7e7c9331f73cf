"""The vocabulary of long jobs: cancel and pause, progress, the report a job returns, notices for the user.

Every write command of :mod:`core.service.writer` is a generator that yields :class:`Progress` and
returns its :class:`Report`; the CLI renders the yields as progress bars, the window turns them into
signals. Importing this module loads neither LanceDB nor torch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from core.errors import Cancelled
from core.vocabulary import ProblemKind


class Phase(StrEnum):
    """Where a job is. A ``StrEnum``: ``Phase.TEXT == "text"``."""

    SCAN = "scan"  # looking for new, changed and deleted files
    TEXT = "text"  # reading and chunking files: keyword search works as they arrive
    OCR = "ocr"  # reading pictures of text (images, scanned pages), after every other file's text is searchable
    EMBED = "embed"  # embedding passages
    MEASURE = "measure"  # measuring how much dense search helps (core.search.calibration)
    DONE = "done"  # the job is finished; its Report follows
    IDLE = "idle"  # the live loop: everything known is up to date
    WRITE = "write"  # a short write: folders, search vectors


#: What the text phase's last event says, first: every file read is in the keyword index, embedding comes next.
KEYWORD_READY = "Keyword search ready"


class CancelToken:
    """Cancel, pause and resume a long job; the job calls ``check()`` between batches.

    ``on_wait`` (any thread) hears ``True`` when a paused job actually stops at a checkpoint and ``False``
    when it goes on: the window says "Paused" only once indexing has really stopped.
    """

    def __init__(self, on_wait: Callable[[bool], None] | None = None) -> None:
        self._event = threading.Event()
        self._paused = False
        self._changed = threading.Condition()
        self.on_wait = on_wait

    def cancel(self) -> None:
        self._event.set()
        with self._changed:
            self._changed.notify_all()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def pause(self) -> None:
        with self._changed:
            self._paused = True

    def resume(self) -> None:
        with self._changed:
            self._paused = False
            self._changed.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def check(self) -> None:
        """Raise ``Cancelled`` if cancelled; while paused, wait here (a cancel still ends the wait)."""
        waiting = self._paused and not self.cancelled and self.on_wait is not None
        if waiting and self.on_wait is not None:
            self.on_wait(True)
        try:
            with self._changed:
                self._changed.wait_for(lambda: not self._paused or self._event.is_set())
        finally:
            if waiting and self.on_wait is not None and not self.cancelled:
                self.on_wait(False)
        if self._event.is_set():
            raise Cancelled("Indexing was cancelled; the next run continues where this one stopped.")


@dataclass
class Problem:
    """A file or folder that could not be read, and why, in words the user can act on."""

    path: str
    reason: str
    known: bool = False  # listed again from an earlier run's record: the file has not changed since
    kind: ProblemKind = ProblemKind.FAILED  # or SKIPPED: a verdict on the file's type, not a failure


@dataclass
class Progress:
    """One step of a job, for a progress bar or the status bar."""

    phase: Phase
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    current: str = ""
    rate: float = 0.0  # files/s in the text phase, chunks/s in the embed phase
    eta_s: float | None = None
    message: str = ""
    report: Report | None = None  # with Phase.DONE: what the run did


#: What receives a job's progress: a progress bar, a signal's ``emit``.
ProgressSink = Callable[[Progress], None]

_COUNTS = ("added", "updated", "unchanged", "renamed", "removed", "chunks_written", "chunks_embedded")


@dataclass
class Report:
    """What a job did; reports of successive jobs add up (``totals.add(report)``)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    renamed: int = 0
    removed: int = 0
    chunks_written: int = 0
    chunks_embedded: int = 0
    problems: list[Problem] = field(default_factory=list)
    too_large: list[str] = field(default_factory=list)
    switched_profile: bool = False
    fusion: dict[str, object] | None = None
    message: str = ""  # one line for people: what the job did

    @property
    def changed(self) -> bool:
        """Whether the index changed (or a file could not be read, newly): worth telling the user about."""
        news = any(not problem.known for problem in self.problems)
        return bool(self.added or self.updated or self.renamed or self.removed or self.chunks_embedded or news)

    def add(self, other: Report) -> None:
        """Sum the counts of ``other`` into this report (problems and flags stay with each job's own report)."""
        for name in _COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


#: A write command (``core.service.writer``): yields progress, returns what it did.
Job = Generator[Progress, None, Report]
T = TypeVar("T")


def drain(job: Generator[Progress, None, T], sink: ProgressSink | None = None) -> T:
    """Run a write command to its end, handing each progress event to ``sink``; its report."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        if sink is not None:
            sink(event)


class NoticeKind(StrEnum):
    WATCHING = "watching"  # the folder is watched live
    WATCH_LIMIT = "watch_limit"  # the inotify limit is reached: re-checked periodically instead
    NO_PERMISSION = "no_permission"  # cannot watch it: re-checked periodically instead
    WATCH_FAILED = "watch_failed"  # any other reason it cannot be watched
    FOLDER_MISSING = "folder_missing"  # gone (unplugged, unmounted, deleted): its files are kept
    FOLDER_BACK = "folder_back"  # it is there again: watched and re-checked
    EVENTS_LOST = "events_lost"  # the system dropped events: every folder is re-checked
    INDEX_ERROR = "index_error"  # the writer failed to apply a batch; it retries (core.service.live)
    WORK_DROPPED = "work_dropped"  # a batch failed repeatedly and was given up (core.service.live)


@dataclass(frozen=True)
class Notice:
    """Something the user should know: ``message`` says what happened, ``action`` what they can do."""

    kind: NoticeKind
    folder: str
    message: str
    action: str = ""
    level: str = "warning"  # "info", "warning" or "error"

    def __str__(self) -> str:
        return f"{self.message} {self.action}".strip()


NoticeCallback = Callable[[Notice], None]
