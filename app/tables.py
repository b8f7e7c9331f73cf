"""Opening the index from several threads of one process.

LanceDB table creation is not safe to race: while one thread creates a table, another that finds it
"already existing" can still fail to open it. The store and a profile's tables are therefore opened
under one lock (cheap: it is held only while opening, never while searching or writing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.index.store import IndexProfile, ProfileIndex, Store

_LOCK = threading.Lock()


@contextmanager
def opening() -> Iterator[None]:
    with _LOCK:
        yield


def open_store(path: Path) -> Store:
    from app.models import quiet_collector

    with quiet_collector():  # the first call imports LanceDB and pyarrow
        from core.index.store import Store

        with _LOCK:
            return Store(path)


def open_profile(store: Store, profile: IndexProfile) -> ProfileIndex:
    with _LOCK:
        return store.profile_index(profile)
