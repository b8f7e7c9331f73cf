"""The writer's jobs and their queue (app.writer runs them on the one writer thread)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.settings import Settings

if TYPE_CHECKING:
    from app.adapt_worker import AdaptRun
    from core.jobs import Report


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


@dataclass(frozen=True)
class AdaptJob:
    """Train an adapter on the indexed passages (app.adapt_worker); the live loop waits until it ends."""

    run: AdaptRun


Job = IndexJob | AddFolderJob | RemoveFolderJob | SearchDimJob | SettingsJob | AdaptJob


@dataclass
class IndexOutcome:
    """What one indexing run did, for the window (report is None when it could not start)."""

    report: Report | None
    rebuilt: bool = False
    cancelled: bool = False
    error: str = ""
    skipped: list[str] = field(default_factory=list)  # files over the size limit


class Empty:
    """What ``JobQueue.take(block=False)`` answers when no job waits."""


EMPTY = Empty()


class JobQueue:
    """FIFO of jobs; index jobs merge (each one only asks the live loop to start again)."""

    def __init__(self) -> None:
        self._jobs: list[Job | None] = []
        self._cond = threading.Condition()

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

    def take(self, block: bool = True) -> Job | Empty | None:
        """The next job; None means stop; ``EMPTY`` when none waits and ``block`` is False."""
        with self._cond:
            while not self._jobs:
                if not block:
                    return EMPTY
                self._cond.wait()
            return self._jobs.pop(0)

    def pending(self) -> bool:
        with self._cond:
            return bool(self._jobs)


def _merge(a: IndexJob, b: IndexJob) -> IndexJob:
    if a.roots is None or b.roots is None:
        return IndexJob(None)
    return IndexJob(tuple(dict.fromkeys(a.roots + b.roots)))
