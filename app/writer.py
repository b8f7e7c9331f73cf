"""The window's writer thread: runs the engine's write service (``core.service.writer``) and reports by signals.

Every index write (folders, indexing, search dimension, adapting) is a command of the one
``WriteService``, which this worker opens on its own thread and keeps open (holding the index's writer
lock) until the window closes. The GUI hands it jobs through a small thread-safe queue and hears back
only through signals. Between jobs the worker follows the folders live (``WriteService.follow``); a job
stops the live loop (waiting changes stay queued on disk), runs on the same thread, and the live loop
starts again. Pause maps to the live loop's pause; nothing here ever blocks the GUI thread.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import messages, tables
from app.jobs import (
    AdaptJob,
    AddFolderJob,
    Empty,
    IndexJob,
    IndexOutcome,
    Job,
    JobQueue,
    RemoveFolderJob,
    SearchDimJob,
    SettingsJob,
)
from app.models import ModelCache
from app.qt import QObject, QThread, Signal, Slot
from core.errors import SleuthError
from core.jobs import Phase, Report, drain
from core.settings import Settings

if TYPE_CHECKING:
    from app.adapt_worker import AdaptRun
    from core.index.store import Store
    from core.jobs import Notice
    from core.service.live import LiveIndexer
    from core.service.writer import WriteService

log = logging.getLogger("sleuth.writer")


class Writer(QObject):
    """Lives on its own QThread; ``loop`` runs there until ``stop``.

    Between jobs it follows the unpaused folders live; a job stops the live loop, runs on this same
    thread, and the live loop starts again (its start-up re-check is cheap: size and mtime).
    """

    progress = Signal(object)  # core.jobs.Progress (phase "idle": up to date, following changes)
    busy = Signal(bool)  # an indexing run started / everything is up to date again
    runStarted = Signal(bool)  # an indexing run began; True when it builds a new index
    pausedAt = Signal(bool)  # True once indexing has actually stopped at a checkpoint
    indexFinished = Signal(object)  # IndexOutcome
    indexChanged = Signal()  # folders, files, profile or search vectors changed: readers refresh
    searchDimChanged = Signal(int)  # the search dimension now in the index
    status = Signal(str)  # short progress text (model download, rewrite)
    folderStates = Signal(object)  # {folder: core.service.watcher.FolderState}

    def __init__(self, db_path: Path, settings: Settings, models: ModelCache) -> None:
        super().__init__()
        self.db_path = db_path
        self.settings = dataclasses.replace(settings)
        self.models = models
        self.jobs = JobQueue()
        self._lock = threading.Lock()  # guards _paused, _paused_folders, _live, _adapting, _stopping
        self._paused = False
        self._paused_folders: set[str] = set()
        self._live: LiveIndexer | None = None
        self._adapting: AdaptRun | None = None
        self._stopping = False
        self._service: WriteService | None = None
        self._waiting = False
        self._dim_warned = 0

    # --- called from the GUI thread (thread-safe) -------------------------------------------
    def submit(self, job: Job) -> None:
        """Queue a job; the live loop stops at its next checkpoint and starts again after the job."""
        with self._lock:
            self.jobs.put(job)
            live = self._live
        if live is not None:
            live.stop()  # waiting changes stay queued (core.service.work_queue) for the next start

    def set_paused(self, paused: bool) -> None:
        with self._lock:
            self._paused = paused
            live = self._live
        if live is not None:
            live.pause() if paused else live.resume()
        if paused and self._waiting:  # already stopped at a checkpoint: say so again
            self.pausedAt.emit(True)

    def set_folder_paused(self, folder: str, paused: bool) -> None:
        with self._lock:
            if paused:
                self._paused_folders.add(folder)
            else:
                self._paused_folders.discard(folder)
            live = self._live
        if paused and live is not None:  # at once: the job below restarts the loop only when its turn comes
            live.hold(Path(folder))
        self.submit(IndexJob((folder,)))  # follow the new set of folders

    def stop(self) -> None:
        with self._lock:
            self.jobs.put(None, front=True)
            self._stopping = True
            live, adapting = self._live, self._adapting
        if live is not None:
            live.stop()
        if adapting is not None:  # stops after the current step, with a checkpoint
            adapting.cancel()

    # --- the worker thread ------------------------------------------------------------------
    @Slot()
    def loop(self) -> None:
        from core.service.live import lower_priority

        lower_priority()  # this thread only (nice); torch leaves a core for the GUI
        follow = True  # False after the live loop could not start: wait for the next job
        while True:
            job = self.jobs.take(block=not follow)
            if job is None:
                break
            if isinstance(job, Empty):
                follow = self._follow()
                continue
            follow = True
            try:
                self._dispatch(job)
            except Exception as exc:  # a bug must not kill the only writer
                log.exception("writer job %r failed", job)
                messages.error(messages.describe(exc))
        if self._service is not None:
            self._service.close()  # lets another Sleuth write to the index
            self._service = None
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()

    def _dispatch(self, job: Job) -> None:
        if isinstance(job, SettingsJob):
            self.settings = dataclasses.replace(job.settings)
        elif isinstance(job, AddFolderJob):
            drain(self.service().add_folder(Path(job.path)))
            self.indexChanged.emit()
        elif isinstance(job, RemoveFolderJob):
            report = drain(self.service().remove_folder(Path(job.path)))
            self.indexChanged.emit()
            messages.info(report.message)
        elif isinstance(job, SearchDimJob):
            self._set_search_dim(job.dim)
        elif isinstance(job, AdaptJob):
            self._adapt(job.run)
        # IndexJob: nothing to do here; the live loop that follows re-checks the folders.

    def _adapt(self, run: AdaptRun) -> None:
        """Train on this thread: the live loop is stopped meanwhile, so training and embedding never compete."""
        with self._lock:
            self._adapting = run
            if self._stopping:  # stop() came between taking this job and here
                run.cancel()
        try:
            run.execute(self.service(), self.settings)
        finally:
            with self._lock:
                self._adapting = None

    def service(self) -> WriteService:
        """The write service, opened on first use; it holds the index's writer lock until the window closes."""
        if self._service is None:
            from core.service import background
            from core.service.writer import WriteService

            if background.background_pid(self.db_path) is not None:  # it stands aside for the window
                self.status.emit("Taking over from Sleuth's background watch…")
                if background.stand_aside(self.db_path):
                    log.info("Sleuth's background watch stood aside for the window")
            self._service = WriteService(tables.open_store(self.db_path), "the Sleuth window")
        return self._service

    def store(self) -> Store:
        return self.service().store

    def _follow(self) -> bool:
        """Follow the unpaused folders live until stopped; False when there is nothing to follow now."""
        try:
            store = self.store()
        except SleuthError as exc:  # another Sleuth writes to this index: say so, wait for the next job
            messages.error(str(exc))
            self.indexFinished.emit(IndexOutcome(None, error=str(exc)))
            return False
        with self._lock:
            paused = set(self._paused_folders)
        folders = [f for f in store.folders() if f not in paused]
        if not folders:
            self.folderStates.emit({})
            return False
        live = self._start_live(folders)
        if live is None:
            return False
        with self._lock:
            if self.jobs.pending():  # a job came while starting: it goes first
                return True
            self._live = live
            if self._paused:
                live.pause()
        busy = False
        try:
            for event in live.run():
                if event.phase == Phase.IDLE:
                    if busy:
                        busy = False
                        self.busy.emit(False)
                    self.progress.emit(event)
                    self.folderStates.emit(live.folder_states())
                    continue
                if not busy:
                    busy = True
                    self.busy.emit(True)
                    self.runStarted.emit(live.rebuilding)
                self.progress.emit(event)
                if event.phase in (Phase.TEXT, Phase.OCR, Phase.EMBED) and (event.files_done or event.chunks_done):
                    self.indexChanged.emit()
                if event.phase == Phase.DONE and event.report is not None:
                    self._finished(live, event.report)
            if busy:  # stopped mid-run: it continues where it stopped at the next start
                self.indexFinished.emit(IndexOutcome(None, cancelled=True))
        except Exception as exc:
            log.exception("following the folders failed")
            text = messages.describe(exc)
            messages.error(text if isinstance(exc, SleuthError) else f"Indexing stopped: {text}")
            self.indexFinished.emit(IndexOutcome(None, error=text))
            return False
        finally:
            with self._lock:
                self._live = None
            self._waiting = False
            if busy:
                self.busy.emit(False)
        return True

    def _start_live(self, folders: list[str]) -> LiveIndexer | None:
        settings = self.settings
        try:
            embedder = self.models.embedder(
                settings.model, settings.adapter, settings, self.status.emit, depth=settings.depth
            )
            self.models.prepare_reranker(settings, self.status.emit)
            if 0 < embedder.dimension < settings.search_dim:
                if self._dim_warned != settings.search_dim:
                    self._dim_warned = settings.search_dim
                    messages.warning(
                        f"Search dimension {settings.search_dim} is more than the model's {embedder.dimension}; "
                        "using the full dimension."
                    )
                settings = dataclasses.replace(settings, search_dim=0)
            with tables.opening():  # it may create the new profile's tables
                live = self.service().follow(
                    settings,
                    embedder,
                    folders=[Path(f) for f in folders],
                    on_notice=self._notice,
                    on_wait=self._at_checkpoint,
                )
        except Exception as exc:
            log.exception("cannot start indexing")
            text = messages.describe(exc)
            messages.error(text if isinstance(exc, SleuthError) else f"Indexing stopped: {text}")
            self.indexFinished.emit(IndexOutcome(None, error=text))
            return None
        if live.rebuilding:  # it covers every folder until the new index is whole
            messages.info(
                f"Building a new index ({live.describe_profile()}) in the background; "
                "the current one answers searches until it is complete."
            )
        return live

    def _finished(self, live: LiveIndexer, done: Report) -> None:
        report = copy.deepcopy(done)
        if report.switched_profile:
            self._ensure_search_dim()
        self.indexChanged.emit()
        self.indexFinished.emit(IndexOutcome(report, rebuilt=report.switched_profile, skipped=list(report.too_large)))
        self.folderStates.emit(live.folder_states())

    def _notice(self, notice: Notice) -> None:
        """From watcher or writer threads: to the status bar (signals only) and the folders pane."""
        if notice.kind != "watching":  # the folders pane shows that
            post = {"info": messages.info, "error": messages.error}.get(notice.level, messages.warning)
            post(str(notice))
        with self._lock:
            live = self._live
        if live is not None:
            self.folderStates.emit(live.folder_states())

    def _at_checkpoint(self, waiting: bool) -> None:
        self._waiting = waiting
        self.pausedAt.emit(waiting)

    def _set_search_dim(self, dim: int) -> None:
        self.settings = dataclasses.replace(self.settings, search_dim=dim)
        service = self.service()
        try:
            report = drain(service.set_search_dim(dim), lambda event: self.status.emit(event.message))
        except SleuthError as exc:
            messages.error(str(exc))
            return
        finally:
            self.indexChanged.emit()
            self.status.emit("")
        now = service.search_dim()
        if now is not None:
            self.searchDimChanged.emit(now)
        if report.message.startswith("Search dimension is now"):
            messages.info(report.message)

    def _ensure_search_dim(self) -> None:
        """A new index built while the search dimension changed gets the dimension asked for last."""
        profile = self.store().active_profile()
        if profile is not None and self.service().search_dim() != (self.settings.search_dim or profile.dimension):
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


__all__ = [
    "AdaptJob",
    "AddFolderJob",
    "IndexJob",
    "IndexOutcome",
    "Job",
    "RemoveFolderJob",
    "SearchDimJob",
    "SettingsJob",
    "Writer",
    "start",
]
