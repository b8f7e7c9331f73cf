"""Live indexing: follow the added folders and keep the index up to date, with one writer.

The window's writer worker (and ``sleuth watch``, on its main thread) gets one ``LiveIndexer`` from the
write service (``core.service.writer``), which holds the index's writer lock::

    live = writer.follow(settings, embedder, on_notice=notices.emit)  # on_notice: any thread

    # the writer worker thread, the only one that writes the index:
    lower_priority()                     # optional: nice 10 (this thread on Linux), torch on cores-1
    for progress in live.run():          # blocks between changes; returns after live.stop()
        progress_signal.emit(progress)   # core.jobs.Progress; phase "idle" = up to date

    # the GUI thread; all of these are thread-safe and return at once:
    live.pause(); live.resume(); live.paused
    live.add_folder(path); live.remove_folder(path)   # carried out by the writer
    live.recheck()                       # re-check every folder now (a "Refresh" action)
    live.folder_states()                 # {folder: FolderState.WATCHING | POLLING | MISSING}
    live.stop()                          # run() returns; waiting work stays queued for next time

``run()`` first scans every folder for what changed while Sleuth was closed (size and mtime; the hash
only where they differ) and finishes anything a crash or kill left half done, then applies the
watcher's debounced changes from the durable queue (``core.service.work_queue``), and re-checks every folder
every ``reconcile_s`` seconds (``reconcile_minutes`` setting) for changes the watcher missed. Progress
phases are those of ``Indexer.run``/``apply`` ("scan", "text", "embed", "measure", "done") plus
"idle", yielded once each time everything is up to date. Pause takes effect between batches and
also holds back the periodic re-check; changes keep being queued meanwhile.

Notices (``core.jobs.Notice``: ``kind``, ``folder``, ``message`` = what happened, ``action`` = what
to do, ``level``) report folders that cannot be watched live (inotify watch limit, permission, gone)
and batches the writer could not apply; they arrive on watcher or writer threads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.embedding import Embedder
from core.errors import Cancelled, SleuthError
from core.jobs import CancelToken, Job, Notice, NoticeCallback, NoticeKind, Phase, Progress, Report, drain
from core.service.watcher import FolderState, FolderWatcher, ObserverFactory
from core.service.work_queue import WorkItem, WorkQueue
from core.settings import Settings

if TYPE_CHECKING:
    from core.index.indexer import Indexer
    from core.index.store import Store

log = logging.getLogger(__name__)

#: The most paths one batch applies; a bigger burst (a checkout, an unzip) is applied in several.
BATCH_LIMIT = 1000
#: Pause after a failed batch before trying again, so a persistent fault does not spin.
RETRY_AFTER_S = 5.0
#: Re-measure how much dense search helps (core.search.fusion) at a periodic re-check once live changes have
#: embedded this share of the index (and at least REMEASURE_MIN chunks) since the last measurement.
REMEASURE_SHARE = 0.2
REMEASURE_MIN = 200


class Writer(Protocol):
    """What the live loop needs of the write service (``core.service.writer.WriteService``)."""

    store: Store

    def indexer(self, settings: Settings, embedder: Embedder) -> Indexer: ...
    def add_folder(self, path: Path) -> Job: ...
    def remove_folder(self, path: Path) -> Job: ...


def lower_priority(nice: int = 10, threads: int | None = None) -> None:
    """Background manners: a lower CPU priority, and leave a core free for the user.

    ``os.nice`` lowers the calling thread on Linux (the whole process elsewhere): call it on the writer
    thread before the model first runs, so torch's worker threads inherit it. ``threads`` bounds torch's
    intra-op threads (default: all cores but one); it is process-wide.
    """
    if nice and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(nice)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads or max(1, (os.cpu_count() or 2) - 1))


class LiveIndexer:
    """Watches the folders, queues changes durably, and applies them as the index's single writer."""

    def __init__(
        self,
        writer: Writer,
        settings: Settings,
        embedder: Embedder,
        *,
        folders: Sequence[Path] | None = None,
        control: CancelToken | None = None,
        on_notice: NoticeCallback | None = None,
        quiet_s: float = 1.0,
        reconcile_s: float | None = None,
        poll_s: float = 60.0,
        observer_factory: ObserverFactory | None = None,
        queue: WorkQueue | None = None,
    ) -> None:
        """``folders``: only these (already added) folders; default every added folder, as they change.

        ``quiet_s``: how long a file must stay unchanged before it is read. ``poll_s``: how often a
        folder that cannot be watched live is re-checked. ``observer_factory`` makes watchdog observers
        (tests inject faults through it). ``control``: the token that pauses and stops the loop.
        Use ``WriteService.follow``, which makes one under the service's writer lock.
        """
        self.writer = writer
        self.store = writer.store
        self.indexer = writer.indexer(settings, embedder)
        self.queue = queue or WorkQueue.beside(self.store.path)
        self.wanted = [Path(f) for f in folders] if folders is not None else None
        # A new profile must hold every folder before it replaces the old one: until then, follow all.
        self.folders = None if self.indexer.rebuilding else self.wanted
        self.reconcile_s = reconcile_s if reconcile_s is not None else settings.reconcile_minutes * 60
        self.on_notice = on_notice
        self.control = control or CancelToken()
        self.watcher = FolderWatcher(
            self.indexer.exclusions,
            self.queue.put,
            quiet_s=quiet_s,
            poll_s=poll_s,
            on_notice=self._notice,
            observer_factory=observer_factory,
        )
        self.totals = Report()  # summed over every batch and re-check since start
        self.last_report = Report()
        self.reconciles = 0  # completed whole-folder re-checks, the start-up one included
        self.idle = threading.Event()  # set while everything known is applied
        self._calls: deque[Callable[[], None]] = deque()
        self._recheck = threading.Event()
        self._retry = threading.Event()
        self._running = False
        self._measured_at = 0  # totals.chunks_embedded when fusion was last measured
        self._held: set[Path] = set()  # folders whose changes are not applied (see hold); guarded by _held_lock
        self._held_lock = threading.Lock()

    # --- control (any thread) ------------------------------------------------------------
    def stop(self) -> None:
        self.control.cancel()
        self._retry.set()
        self.queue.wake()
        if not self._running:
            self.watcher.stop()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()
        self.queue.wake()

    @property
    def paused(self) -> bool:
        return self.control.paused

    def hold(self, folder: Path) -> None:
        """Stop applying changes under ``folder`` from now on, while the rest are followed (any thread).

        A change under it that is queued or arrives later is dropped rather than applied: a paused folder's
        files stay as they were. Whoever resumes the folder starts a loop that follows it again, and that
        start re-checks the folder, so nothing changed meanwhile is missed.
        """
        with self._held_lock:
            self._held.add(folder.expanduser().resolve())
        self.queue.wake()

    def recheck(self) -> None:
        self._recheck.set()
        self.queue.wake()

    def add_folder(self, folder: Path) -> None:
        """Add a folder (or file): recorded, watched and indexed by the writer."""
        folder = folder.expanduser().resolve()

        def call() -> None:
            drain(self.writer.add_folder(folder))
            if self.wanted is not None and folder not in self.wanted:
                self.wanted.append(folder)
            if self.folders is not None and folder not in self.folders:
                self.folders.append(folder)
            self.watcher.watch(folder)
            self.queue.put([str(folder)])

        self._calls.append(call)
        self.queue.wake()

    def remove_folder(self, folder: Path) -> None:
        """Stop following a folder; the writer forgets its files (nothing on disk is touched)."""
        folder = folder.expanduser().resolve()

        def call() -> None:
            self.watcher.unwatch(folder)
            drain(self.writer.remove_folder(folder))  # its files, in every index profile
            for chosen in (self.folders, self.wanted):
                if chosen is not None and folder in chosen:
                    chosen.remove(folder)

        self._calls.append(call)
        self.queue.wake()

    def folder_states(self) -> dict[str, FolderState]:
        return self.watcher.states()

    @property
    def rebuilding(self) -> bool:
        """Whether this loop is building a new index profile beside the one that answers searches."""
        return self.indexer.rebuilding

    def describe_profile(self) -> str:
        return self.indexer.profile.describe()

    # --- the writer loop -----------------------------------------------------------------
    def run(self) -> Generator[Progress, None, None]:
        """Apply changes until ``stop()``. Drive it from one thread only: it is the index's writer."""
        self._running = True
        try:
            self.watcher.start(self._roots())
            yield from self._reconcile()
            yield from self._remeasure()
            next_reconcile = time.monotonic() + self.reconcile_s
            while True:
                self.control.check()  # waits here while paused; raises Cancelled after stop()
                while self._calls:
                    self._carry_out(self._calls.popleft())
                if self._recheck.is_set() or time.monotonic() >= next_reconcile:
                    self._recheck.clear()
                    yield from self._reconcile()
                    yield from self._remeasure()
                    next_reconcile = time.monotonic() + self.reconcile_s
                    continue
                items = self.queue.take(BATCH_LIMIT)
                if items:
                    self.idle.clear()
                    yield from self._apply(items)
                    continue
                if not self.idle.is_set():
                    self.idle.set()
                    yield Progress(Phase.IDLE, message=self._idle_message())
                self.queue.wait(max(0.0, min(1.0, next_reconcile - time.monotonic())))
        except Cancelled:
            return
        finally:
            self._running = False
            self.idle.clear()
            self.watcher.stop()

    def _carry_out(self, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as exc:  # a failed folder change is reported; live updates go on
            log.exception("Changing the folders failed")
            self._notice(_index_error(exc, "changing your folders"))

    def _roots(self) -> list[Path]:
        return list(self.folders) if self.folders is not None else [Path(f) for f in self.store.folders()]

    def _reconcile(self) -> Iterator[Progress]:
        self.idle.clear()
        try:
            yield from self.indexer.run(self._roots() if self.folders is not None else None, self.control)
        except Cancelled:
            raise
        except Exception as exc:  # one failed re-check must not end live updates
            log.exception("Re-checking the folders failed")
            self._notice(_index_error(exc, "re-checking your folders"))
            return
        self.reconciles += 1
        self._absorb(self.indexer.report)
        if self.indexer.report.switched_profile and self.folders is None and self.wanted is not None:
            self._narrow()

    def _narrow(self) -> None:
        """The new profile is whole: follow only the folders asked for again."""
        assert self.wanted is not None
        self.folders = list(self.wanted)
        for folder in self.store.folders():
            if Path(folder) not in self.folders:
                self.watcher.unwatch(Path(folder))

    def _remeasure(self) -> Iterator[Progress]:
        """Live changes do not re-measure fusion one by one; a grown index is measured again here."""
        grown = self.totals.chunks_embedded - self._measured_at
        if self.indexer.report.fusion is not None:  # the re-check measured it already
            self._measured_at = self.totals.chunks_embedded
        elif grown >= max(REMEASURE_MIN, REMEASURE_SHARE * self.indexer.index.chunks.count_rows()):
            yield Progress(Phase.MEASURE, message="Measuring how much dense search helps on your documents")
            try:
                self.indexer.measure_fusion()
            except Exception:  # a missed measurement keeps the previous weight
                log.exception("Measuring fusion failed")
            self._measured_at = self.totals.chunks_embedded

    def _apply(self, items: list[WorkItem]) -> Iterator[Progress]:
        held = [self._is_held(item.path) for item in items]
        if any(held):
            self.queue.done([item for item, h in zip(items, held, strict=True) if h])
            items = [item for item, h in zip(items, held, strict=True) if not h]
            if not items:
                return
        try:
            yield from self.indexer.apply([item.path for item in items], self.control)
        except Cancelled:
            raise  # the batch stays queued: the next start applies it
        except Exception as exc:  # one bad batch must not end live updates
            log.exception("Applying %d changed paths failed", len(items))
            dropped = self.queue.failed(items)
            self._notice(_index_error(exc, f"updating {len(items)} changed files"))
            if dropped:
                self._notice(
                    Notice(
                        NoticeKind.WORK_DROPPED,
                        "",
                        f"Gave up updating {len(dropped)} changed files after repeated errors "
                        f"(first: {dropped[0].path}).",
                        "The next full re-check tries them again; run `sleuth index` to do it now.",
                        "error",
                    )
                )
            self._retry.wait(RETRY_AFTER_S)
            return
        self.queue.done(items)
        self._absorb(self.indexer.report)

    def _is_held(self, path: str) -> bool:
        with self._held_lock:
            return any(Path(path).is_relative_to(folder) for folder in self._held)

    def _absorb(self, report: Report) -> None:
        self.last_report = report
        self.totals.add(report)

    def _idle_message(self) -> str:
        states = self.watcher.states()
        live = sum(1 for s in states.values() if s is FolderState.WATCHING)
        text = f"Up to date; watching {live} of {len(states)} folders"
        return text + (" (the others are re-checked periodically)." if live < len(states) else ".")

    def _notice(self, notice: Notice) -> None:
        if self.on_notice is None:
            log.log(logging.INFO if notice.level == "info" else logging.WARNING, "%s", notice)
            return
        try:
            self.on_notice(notice)
        except Exception:
            log.exception("The notice callback failed")


def _index_error(exc: Exception, doing: str) -> Notice:
    reason = str(exc) if isinstance(exc, SleuthError) else f"{exc.__class__.__name__}: {exc}"
    return Notice(
        NoticeKind.INDEX_ERROR,
        "",
        f"Something went wrong {doing}: {reason}",
        "Sleuth tries again shortly; nothing is lost. If this keeps happening, run `sleuth index` to see why.",
        "error",
    )


__all__ = ["FolderState", "LiveIndexer", "Notice", "NoticeKind", "lower_priority"]
