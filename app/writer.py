"""The one writer: a worker thread that owns every index write (indexing, search dimension, removal).

The GUI hands it jobs through a small thread-safe queue and hears back only through signals.
Indexing is ``core.indexer.Indexer.run``, a generator: between its events the worker reports
progress, honours pause (it waits there) and cancellation (``CancelToken``), so nothing here ever
blocks the GUI thread.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import messages, tables
from app.models import ModelCache
from app.qt import QObject, QThread, Signal, Slot
from core.errors import Cancelled, SleuthError
from core.settings import Settings

if TYPE_CHECKING:
    from core.indexer import CancelToken, Report
    from core.store import Store

log = logging.getLogger("sleuth.writer")


@dataclass(frozen=True)
class IndexJob:
    """Bring folders up to date; ``roots`` None means every folder that is not paused."""

    roots: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AddFolderJob:
    path: str


@dataclass(frozen=True)
class RemoveFolderJob:
    path: str


@dataclass(frozen=True)
class SearchDimJob:
    dim: int


@dataclass(frozen=True)
class SettingsJob:
    """Use these settings for later jobs (queued, so jobs before it finish with the old ones)."""

    settings: Settings


Job = IndexJob | AddFolderJob | RemoveFolderJob | SearchDimJob | SettingsJob


@dataclass
class IndexOutcome:
    """What one indexing run did, for the window (report is None when it could not start)."""

    report: Report | None
    rebuilt: bool = False
    cancelled: bool = False
    error: str = ""
    skipped: list[str] = field(default_factory=list)  # files over the size limit


class JobQueue:
    """FIFO of jobs; index jobs merge, and wait while indexing is paused (other jobs still run)."""

    def __init__(self) -> None:
        self._jobs: list[Job | None] = []
        self._cond = threading.Condition()
        self._paused = False

    def put(self, job: Job | None, *, front: bool = False) -> None:
        with self._cond:
            if isinstance(job, IndexJob) and not front:
                # Merge with a queued index job, unless new settings come between them.
                for i in range(len(self._jobs) - 1, -1, -1):
                    queued = self._jobs[i]
                    if isinstance(queued, SettingsJob):
                        break
                    if isinstance(queued, IndexJob):
                        self._jobs[i] = _merge(queued, job)
                        self._cond.notify_all()
                        return
            self._jobs.insert(0, job) if front else self._jobs.append(job)
            self._cond.notify_all()

    def set_paused(self, paused: bool) -> None:
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    def take(self) -> Job | None:
        """The next runnable job; None means stop."""
        with self._cond:
            while True:
                for i, job in enumerate(self._jobs):
                    if not (self._paused and isinstance(job, IndexJob)):
                        return self._jobs.pop(i)
                self._cond.wait()

    def pending_index(self) -> bool:
        with self._cond:
            return any(isinstance(job, IndexJob) for job in self._jobs)


def _merge(a: IndexJob, b: IndexJob) -> IndexJob:
    if a.roots is None or b.roots is None:
        return IndexJob(None)
    return IndexJob(tuple(dict.fromkeys(a.roots + b.roots)))


class Writer(QObject):
    """Lives on its own QThread; ``loop`` runs there until ``stop``."""

    progress = Signal(object)  # core.indexer.Progress
    busy = Signal(bool)  # an indexing run started / ended
    runStarted = Signal(bool)  # an indexing run began; True when it builds a new index
    pausedAt = Signal(bool)  # True once the run has actually stopped at a checkpoint
    indexFinished = Signal(object)  # IndexOutcome
    indexChanged = Signal()  # folders, files, profile or search vectors changed: readers refresh
    searchDimChanged = Signal(int)  # the search dimension now in the index
    status = Signal(str)  # short progress text (model download, rewrite)

    def __init__(self, db_path: Path, settings: Settings, models: ModelCache) -> None:
        super().__init__()
        self.db_path = db_path
        self.settings = dataclasses.replace(settings)
        self.models = models
        self.jobs = JobQueue()
        self._run = threading.Event()  # set = not paused
        self._run.set()
        self._lock = threading.Lock()
        self._paused_folders: set[str] = set()
        self._cancel: CancelToken | None = None
        self._current_roots: tuple[str, ...] | None = None
        self._store: Store | None = None
        self._waiting = False

    # --- called from the GUI thread (thread-safe) -------------------------------------------
    def submit(self, job: Job, *, interrupt: bool = False) -> None:
        """Queue a job; ``interrupt`` stops a running index run at its next checkpoint, to resume after."""
        self.jobs.put(job)
        if interrupt:
            self._interrupt()

    def set_paused(self, paused: bool) -> None:
        self.jobs.set_paused(paused)
        if paused:
            self._run.clear()
            if self._waiting:  # already stopped at a checkpoint: say so again
                self.pausedAt.emit(True)
        else:
            self._run.set()

    def set_folder_paused(self, folder: str, paused: bool) -> None:
        with self._lock:
            if paused:
                self._paused_folders.add(folder)
            else:
                self._paused_folders.discard(folder)
            running = self._current_roots
        if paused and running is not None and folder in running:
            self._interrupt()  # continues without it
        if not paused:
            self.jobs.put(IndexJob((folder,)))

    def stop(self) -> None:
        self.jobs.put(None, front=True)
        self._run.set()
        with self._lock:
            if self._cancel is not None:
                self._cancel.cancel()

    def _interrupt(self) -> None:
        with self._lock:
            token, roots = self._cancel, self._current_roots
        if token is not None and not token.cancelled:
            token.cancel()
            self.jobs.put(IndexJob(roots))

    # --- the worker thread ------------------------------------------------------------------
    @Slot()
    def loop(self) -> None:
        while True:
            job = self.jobs.take()
            if job is None:
                break
            try:
                self._dispatch(job)
            except Exception as exc:  # a bug must not kill the only writer
                log.exception("writer job %r failed", job)
                messages.error(messages.describe(exc))
        self._store = None
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()

    def _dispatch(self, job: Job) -> None:
        if isinstance(job, SettingsJob):
            self.settings = dataclasses.replace(job.settings)
        elif isinstance(job, IndexJob):
            self._index(job.roots)
        elif isinstance(job, AddFolderJob):
            self.store().add_folder(Path(job.path))
            self.indexChanged.emit()
            self._index((job.path,))
        elif isinstance(job, RemoveFolderJob):
            store = self.store()
            store.remove_folder(Path(job.path))
            forgotten = store.forget_root(Path(job.path))
            self.indexChanged.emit()
            messages.info(f"Removed {job.path} from Sleuth ({forgotten} files forgotten; nothing was deleted).")
        elif isinstance(job, SearchDimJob):
            self._set_search_dim(job.dim)

    def store(self) -> Store:
        if self._store is None:
            self._store = tables.open_store(self.db_path)
        return self._store

    def _index(self, roots: tuple[str, ...] | None) -> None:
        store = self.store()
        with self._lock:
            paused = set(self._paused_folders)
        wanted = [f for f in (roots if roots is not None else store.folders()) if f in store.folders()]
        wanted = [f for f in wanted if f not in paused]
        if not wanted:
            return
        settings = self.settings
        outcome = IndexOutcome(None)
        self.busy.emit(True)
        from core.indexer import CancelToken, Indexer

        token = CancelToken()
        try:
            embedder = self.models.embedder(settings.model, settings.adapter, settings, self.status.emit)
            if 0 < embedder.dimension < settings.search_dim:
                messages.warning(
                    f"Search dimension {settings.search_dim} is more than the model's {embedder.dimension}; "
                    "using the full dimension."
                )
                settings = dataclasses.replace(settings, search_dim=0)
            with tables.opening():  # it may create the new profile's tables
                indexer = Indexer(store, settings, embedder)
            outcome.rebuilt = indexer.rebuilding
            if indexer.rebuilding:
                messages.info(
                    f"Building a new index ({indexer.profile.describe()}) in the background; "
                    "the current one answers searches until it is complete."
                )
                wanted = store.folders()  # a new index must hold every folder before it replaces the old one
            with self._lock:
                self._cancel, self._current_roots = token, tuple(wanted)
            self.runStarted.emit(indexer.rebuilding)
            for event in indexer.run([Path(f) for f in wanted], token):
                self.progress.emit(event)
                if event.phase in ("text", "embed") and (event.files_done or event.chunks_done):
                    self.indexChanged.emit()
                self._wait_if_paused(token)
            outcome.report = indexer.report
            outcome.skipped = list(indexer.report.too_large)
            if indexer.report.switched_profile:
                self._ensure_search_dim(store, settings)
        except Cancelled:
            outcome.cancelled = True
        except SleuthError as exc:
            outcome.error = str(exc)
            messages.error(str(exc))
        except Exception as exc:
            log.exception("indexing failed")
            outcome.error = messages.describe(exc)
            messages.error(f"Indexing stopped: {outcome.error}")
        finally:
            with self._lock:
                self._cancel, self._current_roots = None, None
            self.indexChanged.emit()
            self.indexFinished.emit(outcome)
            if not self.jobs.pending_index():
                self.busy.emit(False)

    def _wait_if_paused(self, token: CancelToken) -> None:
        if self._run.is_set():
            return
        self._waiting = True
        self.pausedAt.emit(True)
        while not self._run.wait(0.1) and not token.cancelled:
            pass
        self._waiting = False
        self.pausedAt.emit(False)

    def _set_search_dim(self, dim: int) -> None:
        store = self.store()
        self.settings = dataclasses.replace(self.settings, search_dim=dim)
        profile = store.active_profile()
        if profile is None:
            return  # applies when the first index is built
        index = tables.open_profile(store, profile)
        target = dim or profile.dimension
        if target == index.search_dim:
            self.searchDimChanged.emit(index.search_dim)
            return
        self.status.emit(f"Rewriting search vectors at dimension {target}…")
        try:
            index.set_search_dim(dim)
        except SleuthError as exc:
            messages.error(str(exc))
            return
        finally:
            self.indexChanged.emit()
            self.status.emit("")
        self.searchDimChanged.emit(index.search_dim)
        messages.info(f"Search dimension is now {index.search_dim} (rescored at the full {profile.dimension}).")

    def _ensure_search_dim(self, store: Store, settings: Settings) -> None:
        """A new index built while the search dimension changed gets the dimension asked for last."""
        profile = store.active_profile()
        if profile is not None and tables.open_profile(store, profile).search_dim != (
            self.settings.search_dim or profile.dimension
        ):
            self._set_search_dim(self.settings.search_dim)


def start(worker: QObject, name: str, entry: Callable[[], Any] | None = None) -> QThread:
    """Move ``worker`` to a new named QThread and start it; ``entry`` runs there first when given."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    if entry is not None:
        thread.started.connect(entry)
    thread.start()
    return thread
