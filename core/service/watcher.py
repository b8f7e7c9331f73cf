"""Folder watching: filesystem events become filtered, debounced paths for the index writer.

One watchdog observer per added folder (recursive). Events are only hints: a path is passed on once
it has been quiet for ``quiet_s`` (a file still being written is read once, when it is complete; an
editor's atomic save — write a temporary file, rename it over the original — arrives as one update),
and the writer looks at it afresh. A move passes on its source and destination together, so the
writer can see that the content merely moved. Events for excluded paths (the ``exclude`` patterns,
``.gitignore`` rules, unsupported file types) are dropped here, before they reach the queue; a changed
``.gitignore`` passes on its folder, which is then checked again under the new rules.

When a folder cannot be watched live — the inotify watch limit is reached (``ENOSPC``), permission is
denied, it is not there (an unplugged drive) — a ``Notice`` says what happened and what to do, and the
folder falls back to being re-checked every ``poll_s`` seconds; the other folders are not affected. A
folder that comes back is watched again and re-checked. Lost events (inotify queue overflow is silent
apart from a log line) trigger a re-check of every folder.

Threads: watchdog's observer threads call the event handler; one ticker thread passes on quiet paths
and checks the folders' health. ``sink`` and ``on_notice`` are called from those threads.
``core.service.live.LiveIndexer`` owns a watcher; the window uses that, not this module directly.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from core.ingest.documents import is_ignored
from core.ingest.scanning import IGNORE_FILE, Exclusions
from core.jobs import Notice, NoticeCallback, NoticeKind

log = logging.getLogger(__name__)

EVENTS = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileAttribEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
HEALTH_CHECK_S = 1.0
#: How often a watched folder is checked for subfolders the watch does not cover (a limit hit later on).
COVERAGE_CHECK_S = 600.0


class FolderState(StrEnum):
    WATCHING = "watching"  # live events
    POLLING = "polling"  # re-checked every poll_s seconds
    MISSING = "missing"  # not there; its files stay in the index until it is back or removed


ObserverFactory = Callable[[], Any]  # a watchdog BaseObserver: schedule(), start(), stop(), join(), emitters


def _default_observer() -> Any:
    from watchdog.observers import Observer

    return Observer()


@dataclass
class _Folder:
    path: Path
    state: FolderState = FolderState.MISSING
    observer: Any = None
    next_poll: float = 0.0
    next_coverage: float = 0.0
    is_file: bool = False  # an added file, not a folder: its parent is watched, non-recursively


class FolderWatcher:
    """Watches folders and hands quiet, relevant paths to ``sink`` (the durable work queue's ``put``)."""

    def __init__(
        self,
        exclusions: Exclusions,
        sink: Callable[[list[str]], object],
        *,
        quiet_s: float = 1.0,
        poll_s: float = 60.0,
        on_notice: NoticeCallback | None = None,
        observer_factory: ObserverFactory | None = None,
    ) -> None:
        self.exclusions = exclusions
        self.sink = sink
        self.quiet_s = quiet_s
        self.poll_s = poll_s
        self.on_notice = on_notice or (lambda notice: log.warning("%s", notice))
        self.observer_factory = observer_factory or _default_observer
        self._folders: dict[Path, _Folder] = {}
        self._pending: dict[str, float] = {}  # path -> when it will have been quiet long enough
        self._partner: dict[str, str] = {}  # the other end of a move: both are passed on together
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None
        self._overflow = _OverflowHook(self)

    # --- lifecycle -----------------------------------------------------------------------
    def start(self, folders: Sequence[Path] = ()) -> None:
        for folder in folders:
            self.watch(folder)
        if self._ticker is None:
            self._stopped.clear()
            self._overflow.install()
            self._ticker = threading.Thread(target=self._tick_loop, name="sleuth-watch-ticker", daemon=True)
            self._ticker.start()

    def stop(self) -> None:
        """Stop watching; paths still waiting out their quiet period go to the sink, so none is lost."""
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        self._overflow.remove()
        with self._lock:
            folders = list(self._folders.values())
        for folder in folders:
            _discard(folder.observer)
            folder.observer = None
        with self._lock:
            rest = sorted(self._pending)
            self._pending.clear()
            self._partner.clear()
        if rest:
            self.sink(rest)

    def watch(self, folder: Path) -> FolderState:
        """Start following an added folder (or file); returns how it is followed."""
        with self._lock:
            if folder in self._folders:
                return self._folders[folder].state
            entry = self._folders[folder] = _Folder(folder)
        self._start(entry, back=False)
        return entry.state

    def unwatch(self, folder: Path) -> None:
        with self._lock:
            entry = self._folders.pop(folder, None)
        if entry is not None:
            _discard(entry.observer)

    def states(self) -> dict[str, FolderState]:
        with self._lock:
            return {str(path): entry.state for path, entry in self._folders.items()}

    def pending(self) -> int:
        """Paths still waiting out their quiet period."""
        with self._lock:
            return len(self._pending)

    def recheck_all(self) -> None:
        """Pass on every folder: the writer re-checks them all (stat only where nothing changed)."""
        with self._lock:
            folders = [str(path) for path, entry in self._folders.items() if entry.state is not FolderState.MISSING]
        if folders:
            self._deliver(folders)

    # --- events (observer threads) -------------------------------------------------------
    def on_event(self, folder: Path, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind not in ("created", "modified", "attrib", "deleted", "moved") or (
            event.is_directory and kind in ("modified", "attrib")
        ):
            return
        paths = [os.fsdecode(event.src_path)]
        if kind == "moved" and event.dest_path:
            paths.append(os.fsdecode(event.dest_path))
        wanted = [w for w in (self._wanted(folder, Path(p), event.is_directory) for p in paths) if w is not None]
        if wanted:
            self._note(wanted)

    def _wanted(self, folder: Path, path: Path, is_dir: bool) -> str | None:
        """The path to pass on for an event at ``path``, or None when it cannot matter to the index."""
        with self._lock:
            entry = self._folders.get(folder)
        if entry is None:
            return None
        if entry.is_file:
            return str(path) if path == folder else None  # its folder is watched for the file's sake
        if path == folder or not path.is_relative_to(folder):
            return None  # the folder itself going away is the health check's business
        if path.name == IGNORE_FILE and not is_dir:
            # New rules: check the folder again; the writer adds and removes files to match.
            parent = path.parent
            if self.exclusions.gitignore and (parent == folder or not self.exclusions.excluded(folder, parent, True)):
                return str(parent)
            return None
        if not is_dir and is_ignored(path):
            return None  # a dropping or backup: not a document, by policy
        if self.exclusions.excluded(folder, path, is_dir):
            return None
        return str(path)

    def _note(self, paths: list[str]) -> None:
        due = time.monotonic() + self.quiet_s
        with self._lock:
            for path in paths:
                self._pending[path] = due
            if len(paths) == 2 and paths[0] != paths[1]:
                self._partner[paths[0]], self._partner[paths[1]] = paths[1], paths[0]

    # --- ticker thread -------------------------------------------------------------------
    def _tick_loop(self) -> None:
        tick = max(0.02, min(0.25, self.quiet_s / 4))
        next_health = 0.0
        while not self._stopped.wait(tick):
            try:
                self._pass_on_quiet()
                now = time.monotonic()
                if now >= next_health:
                    next_health = now + HEALTH_CHECK_S
                    self._check_folders(now)
            except Exception:  # a watcher bug must not end live updates; the periodic re-check remains
                log.exception("Folder watcher tick failed")

    def _pass_on_quiet(self) -> None:
        now = time.monotonic()
        with self._lock:
            ready = [
                path
                for path, due in self._pending.items()
                if due <= now and self._pending.get(self._partner.get(path, ""), 0.0) <= now
            ]
            for path in ready:
                del self._pending[path]
                self._partner.pop(path, None)
        if ready:
            self._deliver(ready)

    def _deliver(self, paths: list[str]) -> None:
        try:
            self.sink(paths)
        except Exception:
            log.exception("Could not queue %d changed paths; retrying", len(paths))
            with self._lock:
                later = time.monotonic() + 1.0
                for path in paths:
                    self._pending.setdefault(path, later)

    def _check_folders(self, now: float) -> None:
        with self._lock:
            entries = list(self._folders.values())
        for entry in entries:
            present = entry.path.exists()
            if entry.state is FolderState.MISSING:
                if present:
                    self._start(entry, back=True)
                    self._deliver([str(entry.path)])
                continue
            if not present:
                _discard(entry.observer)
                entry.observer, entry.state = None, FolderState.MISSING
                self._notify_missing(entry.path)
                continue
            if entry.state is FolderState.WATCHING and not _alive(entry.observer):
                # The watch ended by itself (the folder was replaced, say): watch again and catch up.
                _discard(entry.observer)
                entry.observer = None
                self._start(entry, back=False)
                self._deliver([str(entry.path)])
            elif entry.state is FolderState.WATCHING and now >= entry.next_coverage:
                entry.next_coverage = now + COVERAGE_CHECK_S
                self._check_coverage(entry)
            if entry.state is FolderState.POLLING and now >= entry.next_poll:
                entry.next_poll = now + self.poll_s
                self._deliver([str(entry.path)])

    # --- starting a watch ----------------------------------------------------------------
    def _start(self, entry: _Folder, back: bool) -> None:
        path = entry.path
        if not path.exists():
            entry.state = FolderState.MISSING
            self._notify_missing(path)
            return
        observer = self.observer_factory()
        entry.is_file = path.is_file()
        target, recursive = (path.parent, False) if entry.is_file else (path, True)
        try:
            observer.schedule(_Handler(self, path), str(target), recursive=recursive, event_filter=EVENTS)
            observer.start()
        except OSError as exc:
            _discard(observer)
            self._fall_back(entry, exc)
            return
        entry.observer, entry.state = observer, FolderState.WATCHING
        entry.next_coverage = time.monotonic() + COVERAGE_CHECK_S
        if back:
            self.on_notice(Notice(NoticeKind.FOLDER_BACK, str(path), f"{path} is available again.", "", "info"))
        self.on_notice(Notice(NoticeKind.WATCHING, str(path), f"Watching {path} for changes.", "", "info"))
        self._check_coverage(entry)

    def _check_coverage(self, entry: _Folder) -> None:
        """watchdog ignores subfolders it fails to watch (the limit reached halfway): look for any."""
        if entry.is_file:
            return
        missed = _unwatched_subfolders(entry.observer, entry.path)
        if missed:
            time.sleep(0.5)  # a folder created during the walk may just be getting its watch
            missed = _unwatched_subfolders(entry.observer, entry.path, missed)
        if missed:
            self._fall_back(entry, OSError(errno.ENOSPC, f"{len(missed)} subfolders could not be watched"))

    def _fall_back(self, entry: _Folder, exc: OSError) -> None:
        path = entry.path
        if exc.errno == errno.ENOENT and not path.exists():
            entry.state = FolderState.MISSING
            self._notify_missing(path)
            return
        entry.state = FolderState.POLLING
        entry.next_poll = time.monotonic() + self.poll_s
        every = f"Sleuth re-checks it every {self.poll_s:g} s instead, so changes show up later."
        if exc.errno == errno.ENOSPC:
            notice = Notice(
                NoticeKind.WATCH_LIMIT,
                str(path),
                f"Cannot watch {path} for changes: the system limit on watched folders (inotify watches) "
                f"is reached. {every}",
                "To watch it live, raise fs.inotify.max_user_watches (e.g. `sudo sysctl "
                "fs.inotify.max_user_watches=524288`, and add that line to /etc/sysctl.conf to keep it), or "
                "exclude large folders you do not search; then restart Sleuth.",
            )
        elif exc.errno == errno.EMFILE:
            notice = Notice(
                NoticeKind.WATCH_LIMIT,
                str(path),
                f"Cannot watch {path} for changes: the system limit on inotify instances is reached. {every}",
                "Raise fs.inotify.max_user_instances (e.g. `sudo sysctl fs.inotify.max_user_instances=1024`) "
                "or close programs that watch many folders; then restart Sleuth.",
            )
        elif exc.errno in (errno.EACCES, errno.EPERM):
            notice = Notice(
                NoticeKind.NO_PERMISSION,
                str(path),
                f"Cannot watch {path} for changes: permission denied. {every}",
                "Give your user read access to the folder, or remove it from Sleuth.",
            )
        else:
            notice = Notice(
                NoticeKind.WATCH_FAILED,
                str(path),
                f"Cannot watch {path} for changes ({exc.strerror or exc}). {every}",
                "Restart Sleuth to try again; if this persists, report it with this message.",
            )
        self.on_notice(notice)

    def _notify_missing(self, path: Path) -> None:
        self.on_notice(
            Notice(
                NoticeKind.FOLDER_MISSING,
                str(path),
                f"{path} is not available (an unplugged drive or a network share?). Its files stay searchable.",
                "Sleuth catches up when it is back; remove the folder from Sleuth if it is gone for good.",
            )
        )


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher, folder: Path) -> None:
        self.watcher = watcher
        self.folder = folder

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.watcher.on_event(self.folder, event)


class _OverflowHook(logging.Handler):
    """watchdog reports an inotify queue overflow only in its log: have every folder re-checked then."""

    LOGGERS = ("watchdog.observers.inotify", "watchdog.observers.inotify_c")

    def __init__(self, watcher: FolderWatcher) -> None:
        super().__init__(logging.WARNING)
        self.watcher = watcher

    def install(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)

    def remove(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" not in record.getMessage().lower():
            return
        self.watcher.on_notice(
            Notice(
                NoticeKind.EVENTS_LOST,
                "",
                "The system dropped some file change events (too many changes at once).",
                "Sleuth re-checks all folders now; nothing to do.",
                "info",
            )
        )
        self.watcher.recheck_all()


def _alive(observer: Any) -> bool:
    try:
        return bool(observer.is_alive()) and all(emitter.is_alive() for emitter in observer.emitters)
    except AttributeError:  # an observer without emitters to inspect
        return bool(observer.is_alive())


def _discard(observer: Any) -> None:
    if observer is None:
        return
    try:
        observer.stop()
        if observer.is_alive():
            observer.join(timeout=2)
    except (RuntimeError, OSError):
        pass


def _unwatched_subfolders(observer: Any, root: Path, candidates: list[str] | None = None) -> list[str]:
    """Subfolders (excluded or not: watchdog watches them all) that have no inotify watch.

    Reads watchdog's private bookkeeping; where that is not available (another backend, another
    version) nothing is reported and the periodic re-check remains the safety net.
    """
    try:
        watched: set[bytes] = set()
        for emitter in observer.emitters:
            watched.update(emitter._inotify._active_callbacks_by_path)
    except AttributeError:
        return []
    if candidates is None:
        candidates = [os.path.join(dirpath, name) for dirpath, dirnames, _files in os.walk(root) for name in dirnames]
    return [
        path
        for path in candidates
        if os.fsencode(path) not in watched and not os.path.islink(path) and os.path.isdir(path)
    ]
