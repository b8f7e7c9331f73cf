"""The write service: the one way anything writes to an index.

A :class:`WriteService` holds the index's writer lock for as long as it is open, so a second writer — the
window beside ``sleuth watch``, two ``sleuth index`` runs, a second process of any kind — is refused with
the holder named instead of corrupting the index. Every write command is a method that returns a
generator: it yields :class:`core.jobs.Progress` and returns its :class:`core.jobs.Report`
(``report = yield from writer.index(...)``; :func:`core.jobs.drain` runs one to the end)::

    with WriteService.open(db_path, "sleuth index") as writer:
        yield from writer.add_folder(folder)
        report = drain(writer.index(settings, embedder), render)

The CLI, ``sleuth watch`` and the window (``app.writer``, on its worker thread) all write through it;
:meth:`WriteService.follow` gives the live loop (``core.service.live``) that applies folder changes.
Adding a write command means adding a method here, nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from core.errors import SleuthError
from core.index.indexer import Indexer
from core.index.store import Store
from core.index.vector_index import BUILDING, build_vector_index, needs_vector_index
from core.jobs import CancelToken, Job, NoticeCallback, Phase, Progress, Report
from core.search import calibration
from core.settings import Settings

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.embedding.background import BackgroundEmbedder
    from core.index.reading import Readers
    from core.service.live import LiveIndexer

T = TypeVar("T")


class IndexBusy(SleuthError):
    """Another process (or another writer in this one) holds the index's writer lock."""


class WriterLock:
    """An advisory lock file beside the index; the kernel drops it when the holder exits or is killed."""

    def __init__(self, db_path: Path, holder: str) -> None:
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
            other = handle.read().strip() or "another Sleuth process"
            handle.close()
            raise IndexBusy(
                f"The index at {db_path} is already kept up to date by {other}; only one Sleuth may write to an "
                "index at a time. Use that one, or stop it first."
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder} (pid {os.getpid()})")
        handle.flush()
        self.handle = handle

    @staticmethod
    def holder(db_path: Path) -> str | None:
        """Who keeps the index up to date now ("sleuth watch (pid 4242)"), or None when nobody holds the lock.

        Read from ``/proc/locks`` where there is one: trying the lock, even for a moment, could refuse a
        writer that starts at that very moment."""
        path = db_path.with_name(db_path.name + "-writer.lock")
        try:
            text = path.read_text(encoding="utf-8").strip()
            inode = path.stat().st_ino
        except OSError:
            return None
        held = _flock_listed(inode)
        if held is None:
            held = _flock_taken(path)
        return (text or "another Sleuth process") if held else None

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing drops the lock
            self.handle = None


def _flock_listed(inode: int) -> bool | None:
    """Whether the kernel lists a flock() on this inode (None where /proc/locks cannot be read)."""
    try:
        lines = Path("/proc/locks").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()  # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF"
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


def _flock_taken(path: Path) -> bool:
    try:
        import fcntl
    except ImportError:
        return False
    with path.open("a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
    return False


class WriteService:
    """The single writer of one index (all its profiles) while it is open."""

    def __init__(self, store: Store, holder: str = "Sleuth") -> None:
        """``holder`` names this writer to a second one that is refused ("the Sleuth window", "sleuth watch")."""
        self._lock = WriterLock(store.path, holder)
        self.store = store
        self.live: LiveIndexer | None = None

    @classmethod
    def open(cls, db_path: Path, holder: str = "Sleuth") -> WriteService:
        from core.index.store import Store

        return cls(Store(db_path), holder)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
        self._lock.release()

    def __enter__(self) -> WriteService:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- write commands: generators of Progress that return their Report -----------------------
    def indexer(
        self, settings: Settings, embedder: Embedder | BackgroundEmbedder, readers: Readers | None = None
    ) -> Indexer:
        """An indexer writing under this service's lock; it measures fusion after embedding. ``embedder`` may be
        loading in the background (``sleuth index``): the text phase does not wait for it; ``readers``: reader
        processes started while the index opened."""
        return Indexer(self.store, settings, embedder, measure=calibration.measure, readers=readers)

    def index(
        self,
        settings: Settings,
        embedder: Embedder | BackgroundEmbedder,
        roots: Sequence[Path] | None = None,
        cancel: CancelToken | None = None,
        *,
        indexer: Indexer | None = None,
    ) -> Job:
        """Bring folders up to date (every added folder by default; all of them when a new profile is built)."""
        indexer = indexer or self.indexer(settings, embedder)
        yield from indexer.run(roots or None, cancel)
        return indexer.report

    def add_folders(self, paths: Iterable[Path]) -> Job:
        """Record folders (or single files) to index; they must exist."""
        added: list[str] = []
        for path in paths:
            folder = path.expanduser().resolve()
            if not folder.exists():
                raise SleuthError(f"{path} does not exist.")
            if str(folder) not in self.store.folders():
                yield Progress(Phase.WRITE, current=str(folder), message=f"Adding {folder}")
                self.store.add_folder(folder)
                added.append(str(folder))
        return Report(message=f"Added {', '.join(added)}." if added else "")

    def add_folder(self, path: Path) -> Job:
        return (yield from self.add_folders([path]))

    def remove_folder(self, path: Path) -> Job:
        """Forget a folder and its files in every index profile; nothing on disk is touched."""
        folder = path.expanduser().resolve()
        if str(folder) not in self.store.folders():
            raise SleuthError(f"{folder} is not one of Sleuth's folders (see: sleuth status).")
        yield Progress(Phase.WRITE, current=str(folder), message=f"Removing {folder}")
        self.store.remove_folder(folder)
        removed = self.store.forget_root(folder)
        return Report(removed=removed, message=f"Removed {folder} ({removed} files forgotten; nothing was deleted).")

    def set_search_dim(self, dim: int) -> Job:
        """Re-derive the active profile's search vectors at ``dim`` (0: full); no re-embedding."""
        profile = self.store.active_profile()
        if profile is None:
            return Report(message="The search dimension applies when the first index is built.")
        index = self.store.profile_index(profile)
        target = dim or profile.dimension
        if target == index.search_dim:
            return Report(message=f"Search dimension is {index.search_dim}.")
        yield Progress(Phase.WRITE, message=f"Rewriting search vectors at dimension {target}…")
        index.set_search_dim(dim)
        if needs_vector_index(index):  # the old column's index went with it; searching stays fast
            yield Progress(Phase.WRITE, message=f"{BUILDING}…")
            build_vector_index(index)
        return Report(message=f"Search dimension is now {index.search_dim} (rescored at the full {profile.dimension}).")

    def search_dim(self) -> int | None:
        """The search dimension now in the active profile (None before the first index)."""
        profile = self.store.active_profile()
        return None if profile is None else self.store.profile_index(profile).search_dim

    def adapt(self, train: Callable[[Store], Generator[T, None, None]]) -> Generator[T, None, None]:
        """Train an adapter on the indexed passages while holding the lock: training and embedding never compete.

        ``train`` is ``core.training.adapt_index`` bound to its settings and options; re-embedding with the
        new adapter is an ordinary :meth:`index` run afterwards.
        """
        yield from train(self.store)

    def follow(
        self,
        settings: Settings,
        embedder: Embedder,
        *,
        folders: Sequence[Path] | None = None,
        on_notice: NoticeCallback | None = None,
        on_wait: Callable[[bool], None] | None = None,
        **options: Any,
    ) -> LiveIndexer:
        """The live loop over ``folders`` (default every added folder); drive its ``run()`` on one thread.

        While a new index profile is being built, the loop covers every folder (a new index must hold
        all of them before it replaces the old one) and narrows to ``folders`` once it is complete.
        """
        from core.service.live import LiveIndexer

        live = LiveIndexer(
            self, settings, embedder, folders=folders, on_notice=on_notice, control=CancelToken(on_wait), **options
        )
        self.live = live
        return live


__all__ = ["IndexBusy", "WriteService", "WriterLock"]
