"""Live indexing: follow the added folders and keep the index up to date, with one writer.

The window's writer worker (and ``sleuth watch``, on its main thread) drives one ``LiveIndexer``::

    live = LiveIndexer(store, settings, embedder, on_notice=notices.emit)  # on_notice: any thread

    # the writer worker thread, the only one that writes the index:
    lower_priority()                     # optional: nice 10 (this thread on Linux), torch on cores-1
    for progress in live.run():          # blocks between changes; returns after live.stop()
        progress_signal.emit(progress)   # core.indexer.Progress; phase "idle" = up to date

    # the GUI thread; all of these are thread-safe and return at once:
    live.pause(); live.resume(); live.paused
    live.add_folder(path); live.remove_folder(path)   # carried out by the writer
    live.recheck()                       # re-check every folder now (a "Refresh" action)
    live.folder_states()                 # {folder: FolderState.WATCHING | POLLING | MISSING}
    live.stop()                          # run() returns; waiting work stays queued for next time

``run()`` first scans every folder for what changed while Sleuth was closed (size and mtime; the hash
only where they differ) and finishes anything a crash or kill left half done, then applies the
watcher's debounced changes from the durable queue (``core.work_queue``), and re-checks every folder
every ``reconcile_s`` seconds (``reconcile_minutes`` setting) for changes the watcher missed. Progress
phases are those of ``Indexer.run``/``apply`` ("scan", "text", "embed", "measure", "done") plus
"idle", yielded once each time everything is up to date. Pause takes effect between batches and
also holds back the periodic re-check; changes keep being queued meanwhile.

Notices (``core.watcher.Notice``: ``kind``, ``folder``, ``message`` = what happened, ``action`` = what
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
from typing import IO

from core.embedding import Embedder
from core.errors import Cancelled, SleuthError
from core.indexer import CancelToken, Indexer, Progress, Report
from core.settings import Settings
from core.store import Store
from core.watcher import FolderState, FolderWatcher, Notice, NoticeCallback, NoticeKind, ObserverFactory
from core.work_queue import WorkItem, WorkQueue

log = logging.getLogger(__name__)

#: The most paths one batch applies; a bigger burst (a checkout, an unzip) is applied in several.
BATCH_LIMIT = 1000
#: Pause after a failed batch before trying again, so a persistent fault does not spin.
RETRY_AFTER_S = 5.0
#: Re-measure how much dense search helps (core.fusion) at a periodic re-check once live changes have
#: embedded this share of the index (and at least REMEASURE_MIN chunks) since the last measurement.
REMEASURE_SHARE = 0.2
REMEASURE_MIN = 200


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
        store: Store,
        settings: Settings,
        embedder: Embedder,
        *,
        folders: Sequence[Path] | None = None,
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
        (tests inject faults through it).
        """
        self.store = store
        self.indexer = Indexer(store, settings, embedder)
        self.queue = queue or WorkQueue.beside(store.path)
        self.folders = [Path(f) for f in folders] if folders is not None else None
        self.reconcile_s = reconcile_s if reconcile_s is not None else settings.reconcile_minutes * 60
        self.on_notice = on_notice
        self.control = CancelToken()
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

    def recheck(self) -> None:
        self._recheck.set()
        self.queue.wake()

    def add_folder(self, folder: Path) -> None:
        """Add a folder (or file): recorded, watched and indexed by the writer."""
        folder = folder.expanduser().resolve()

        def call() -> None:
            self.store.add_folder(folder)
            if self.folders is not None and folder not in self.folders:
                self.folders.append(folder)
            self.watcher.watch(folder)
            self.queue.put([str(folder)])

        self._calls.append(call)
        self.queue.wake()

    def remove_folder(self, folder: Path) -> None:
        """Stop following a folder; the writer forgets its files."""
        folder = folder.expanduser().resolve()

        def call() -> None:
            self.watcher.unwatch(folder)
            self.store.remove_folder(folder)
            if self.folders is not None and folder in self.folders:
                self.folders.remove(folder)
            self.queue.put([str(folder)])  # outside every folder now: its files are forgotten

        self._calls.append(call)
        self.queue.wake()

    def folder_states(self) -> dict[str, FolderState]:
        return self.watcher.states()

    # --- the writer loop -----------------------------------------------------------------
    def run(self) -> Generator[Progress, None, None]:
        """Apply changes until ``stop()``. Drive it from one thread only: it is the index's writer."""
        lock = _WriterLock(self.store.path)
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
                    yield Progress("idle", message=self._idle_message())
                self.queue.wait(max(0.0, min(1.0, next_reconcile - time.monotonic())))
        except Cancelled:
            return
        finally:
            self._running = False
            self.idle.clear()
            self.watcher.stop()
            lock.release()

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

    def _remeasure(self) -> Iterator[Progress]:
        """Live changes do not re-measure fusion one by one; a grown index is measured again here."""
        grown = self.totals.chunks_embedded - self._measured_at
        if self.indexer.report.fusion is not None:  # the re-check measured it already
            self._measured_at = self.totals.chunks_embedded
        elif grown >= max(REMEASURE_MIN, REMEASURE_SHARE * self.indexer.index.chunks.count_rows()):
            yield Progress("measure", message="Measuring how much dense search helps on your documents")
            try:
                self.indexer.measure_fusion()
            except Exception:  # a missed measurement keeps the previous weight
                log.exception("Measuring fusion failed")
            self._measured_at = self.totals.chunks_embedded

    def _apply(self, items: list[WorkItem]) -> Iterator[Progress]:
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

    def _absorb(self, report: Report) -> None:
        self.last_report = report
        total = self.totals
        total.added += report.added
        total.updated += report.updated
        total.unchanged += report.unchanged
        total.renamed += report.renamed
        total.removed += report.removed
        total.chunks_written += report.chunks_written
        total.chunks_embedded += report.chunks_embedded

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


class _WriterLock:
    """One live writer per index: a second ``sleuth watch`` (or the window beside it) is refused."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + "-writer.lock")
        self.handle: IO[str] | None = None
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory lock; the store's retries keep writes consistent
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SleuthError(
                f"The index at {db_path} is already kept up to date by {holder}; stop that first "
                "(only one Sleuth may watch an index)."
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"Sleuth (pid {os.getpid()})")
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing drops the lock; the kernel drops it too if we are killed
            self.handle = None


__all__ = ["FolderState", "LiveIndexer", "Notice", "NoticeKind", "lower_priority"]
