"""The durable list of paths waiting for the index writer.

Watchers put paths in (from any thread); the single writer takes a batch, applies it, and only then
marks it done. The list lives in a small SQLite file beside the index (never in the user's folders),
so work that was waiting or half done when Sleuth stopped, crashed or was killed is picked up at the
next start. A path is stored once however often it changes; a path that changes again while its
batch is being applied stays queued for another pass.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import StoreError
from core.index.names import stored, unstored

#: A batch that failed this many times is dropped (and reported) instead of blocking the queue.
MAX_ATTEMPTS = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS work (
    path TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS work_seq ON work (seq);
"""


@dataclass(frozen=True)
class WorkItem:
    path: str
    seq: int  # which version of the entry was taken; a later put() gives a new one
    attempts: int = 0


def queue_path(db_path: Path) -> Path:
    """Where the queue of an index lives: beside its database folder."""
    return db_path.with_name(db_path.name + "-queue.sqlite3")


class WorkQueue:
    """Paths to (re)index, in arrival order, deduplicated, persisted. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the work queue at {path}: {exc}") from exc
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    @classmethod
    def beside(cls, db_path: Path) -> WorkQueue:
        return cls(queue_path(db_path))

    def put(self, paths: Iterable[str]) -> int:
        """Queue paths (one transaction); returns how many were given."""
        rows = [(stored(str(path)),) for path in paths]  # SQLite, like Arrow, takes valid UTF-8 only
        if not rows:
            return 0
        with self._lock:
            with self._db:
                # Each put gets a sequence number above every queued one: it sorts last, and a batch
                # being applied meanwhile cannot mark this newer version done.
                self._db.executemany(
                    "INSERT INTO work (path, seq) VALUES (?, (SELECT IFNULL(MAX(seq), 0) + 1 FROM work)) "
                    "ON CONFLICT(path) DO UPDATE SET seq = excluded.seq, attempts = 0",
                    rows,
                )
            self._arrived.notify_all()
        return len(rows)

    def take(self, limit: int = 1000) -> list[WorkItem]:
        """The oldest entries, left in the queue until ``done``: a crash before that redoes them."""
        with self._lock:
            rows = self._db.execute("SELECT path, seq, attempts FROM work ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [WorkItem(unstored(path), seq, attempts) for path, seq, attempts in rows]

    def done(self, items: Sequence[WorkItem]) -> None:
        """Forget applied entries, except those put again since they were taken."""
        with self._lock, self._db:
            self._db.executemany(
                "DELETE FROM work WHERE path = ? AND seq = ?", [(stored(i.path), i.seq) for i in items]
            )

    def failed(self, items: Sequence[WorkItem]) -> list[WorkItem]:
        """Count a failed attempt; entries that failed ``MAX_ATTEMPTS`` times are dropped and returned."""
        dropped = [i for i in items if i.attempts + 1 >= MAX_ATTEMPTS]
        with self._lock, self._db:
            self._db.executemany(
                "UPDATE work SET attempts = attempts + 1 WHERE path = ? AND seq = ?",
                [(stored(i.path), i.seq) for i in items],
            )
            self._db.executemany(
                "DELETE FROM work WHERE path = ? AND seq = ?", [(stored(i.path), i.seq) for i in dropped]
            )
        return dropped

    def wait(self, timeout: float) -> bool:
        """Block until something is queued (or ``wake``), at most ``timeout`` seconds; True if work is waiting."""
        with self._lock:
            if not self._count():
                self._arrived.wait(timeout)
            return self._count() > 0

    def wake(self) -> None:
        """End a ``wait`` early (the writer has something else to do, e.g. stop)."""
        with self._lock:
            self._arrived.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def paths(self) -> list[str]:
        with self._lock:
            return [unstored(row[0]) for row in self._db.execute("SELECT path FROM work ORDER BY seq")]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM work").fetchone()[0])
