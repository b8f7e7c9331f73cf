"""LanceDB's caches stay within Sleuth's bounds while a watched folder changes.

Every write is a new table version, and LanceDB caches each version's metadata beside the last ones; its
defaults (6 GB of index cache, 1 GB of metadata cache) let a window left open grow by megabytes an edit.
Sleuth shares one bounded cache (``core.index.store.lancedb_session``) across its connections.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.index import store as store_module
from core.index.indexer import Indexer
from core.index.store import Store
from core.search.searcher import Searcher
from core.settings import Settings

EDITS = 24
CAP = 1 << 20


@pytest.fixture
def small_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's LanceDB session made anew with caches of ``CAP`` bytes each, and dropped afterwards."""
    monkeypatch.setattr(store_module, "INDEX_CACHE_BYTES", CAP)
    monkeypatch.setattr(store_module, "METADATA_CACHE_BYTES", CAP)
    store_module.lancedb_session.cache_clear()
    yield
    store_module.lancedb_session.cache_clear()


def index(store: Store, settings: Settings, embedder: Embedder) -> Indexer:
    indexer = Indexer(store, settings, embedder)
    for _ in indexer.run():
        pass
    return indexer


@pytest.mark.usefixtures("small_caches")
def test_edit_after_edit_keeps_the_caches_within_their_bounds_and_searches_right(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    store = Store(tmp_path / "db")
    store.add_folder(corpus)
    index(store, settings, tiny_embedder)
    note = corpus / "notes.txt"
    for n in range(EDITS):
        note.write_text(f"Edit {n}: the kettle whistles, word marker{n} here.\n", encoding="utf-8")
        indexer = index(store, settings, tiny_embedder)
        assert indexer.report.updated + indexer.report.added == 1
        hits = Searcher(indexer.index, tiny_embedder).search(f"marker{n}", k=5, mode="hybrid", rerank=False).hits
        assert hits and Path(hits[0].path).name == "notes.txt", f"edit {n} not found"
    session = store_module.lancedb_session()
    # Each bound is kept to within an entry; without bounds this index held several megabytes by now.
    assert session.size_bytes <= 2 * CAP + CAP // 2, session
