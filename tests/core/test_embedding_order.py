"""Prose becomes semantically searchable before bulk data: the indexer's embedding order, end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.errors import Cancelled
from core.index import indexer as indexer_module
from core.index import priority
from core.index.indexer import Indexer
from core.index.priority import Tier, embedding_order, tier
from core.index.stats import describe_vectors, index_stats
from core.index.store import FileRecord, Store
from core.jobs import CancelToken, Phase
from core.search.searcher import Searcher
from core.settings import Settings


def write_folder(root: Path) -> dict[str, Path]:
    """Three short notes (one just edited), a long manual, a big log and a CSV table."""
    root.mkdir()
    files = {
        "note-old.txt": "The plumber comes on Tuesday to fix the kitchen tap that drips.",
        "note-mid.md": "Recipe: bake the sourdough at 230 degrees for forty minutes.",
        "note-new.txt": "Passport renewal needs two photos and the old passport.",
        "manual.txt": "\n\n".join(f"Chapter {i}. The garden pump needs oil every spring." for i in range(40)),
        "server.log": "\n".join(f"2024-01-01 12:00:{i:02d} worker {i} finished job {i * 7}" for i in range(30)),
        "table.csv": "\n".join(f"{i},item {i},{i * 3} kg" for i in range(30)),
    }
    paths = {}
    for age, (name, text) in enumerate(reversed(files.items())):
        path = root / name
        path.write_text(text)
        stamp = 1_700_000_000 + 1000 * (len(files) - age)
        os.utime(path, (stamp, stamp))
        paths[name] = path
    os.utime(paths["note-new.txt"], (1_800_000_000, 1_800_000_000))
    return paths


def test_tiers_put_tables_logs_and_huge_files_last() -> None:
    assert tier("/d/letter.txt", 3) is Tier.SHORT
    assert tier("/d/report.pdf", 200) is Tier.LONG
    assert tier("/d/book.pdf", 5000) is Tier.BULK
    assert tier("/d/server.log", 2) is Tier.BULK
    assert tier("/d/export.csv.gz", 2) is Tier.BULK
    assert tier("/d/app.min.js", 1) is Tier.BULK


def test_short_documents_come_latest_change_first_then_long_ones_smallest_first() -> None:
    def record(path: str, chunks: int, mtime: float) -> FileRecord:
        return FileRecord(path, "/d", 1000 * chunks, mtime, "h", "text", chunks=chunks)

    records = {
        r.path: r
        for r in (
            record("/d/old.txt", 2, 100.0),
            record("/d/new.txt", 3, 300.0),
            record("/d/thesis.pdf", 400, 500.0),
            record("/d/report.pdf", 90, 50.0),
            record("/d/data.csv", 5, 900.0),
        )
    }
    pending = {path: r.chunks for path, r in records.items()}
    assert embedding_order(pending, records) == [
        "/d/new.txt",
        "/d/old.txt",
        "/d/report.pdf",
        "/d/thesis.pdf",
        "/d/data.csv",
    ]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several fetches and a long document even in a folder small enough for a test."""
    monkeypatch.setattr(indexer_module, "EMBED_FETCH", 8)
    monkeypatch.setattr(indexer_module, "EMBED_BATCH", 4)
    monkeypatch.setattr(priority, "LONG_DOCUMENT_CHUNKS", 4)


def folder_indexer(tmp_path: Path, settings: Settings, embedder: Embedder) -> tuple[Store, Indexer]:
    """The folder of :func:`write_folder`, added to a new index, and an indexer for it."""
    store = Store(tmp_path / "db")
    store.add_folder(write_folder(tmp_path / "docs")["manual.txt"].parent.resolve())
    return store, Indexer(store, settings, embedder)


def searchable_files(indexer: Indexer) -> set[str]:
    passages, missing = indexer.index.passages_by_file()
    return {Path(path).name for path in passages if not missing[path]}


@pytest.mark.usefixtures("small_batches")
def test_short_documents_get_vectors_before_long_ones_and_bulk_data(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    _store, indexer = folder_indexer(tmp_path, settings, tiny_embedder)
    progress: list[tuple[int, int]] = []
    stages: dict[int, set[str]] = {}
    for event in indexer.run():
        if event.phase == Phase.EMBED and event.files_total:
            progress.append((event.files_done, event.files_total))
            if event.files_done not in stages:
                stages[event.files_done] = searchable_files(indexer)
    notes = {"note-new.txt", "note-mid.md", "note-old.txt"}
    assert progress[0] == (0, 6) and progress[-1] == (6, 6)
    assert [done for done, _total in progress] == sorted(done for done, _total in progress)
    assert stages[0] == set()
    assert stages[3] == notes, "the notes were searchable before anything else had vectors"
    assert stages[4] == notes | {"manual.txt"}, "a long document before tables and logs"
    assert indexer.index.count_pending() == 0


@pytest.mark.usefixtures("small_batches")
def test_a_cancelled_run_leaves_the_notes_semantically_searchable(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    store, indexer = folder_indexer(tmp_path, settings, tiny_embedder)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        for event in indexer.run(cancel=cancel):
            if event.phase == Phase.EMBED and event.files_done >= 3:
                cancel.cancel()
    stats = index_stats(store)
    assert stats.files == 6 and stats.files_waiting == 3
    assert describe_vectors(stats).startswith("vectors for 3 of 6 files")
    dense = Searcher(indexer.index, tiny_embedder).search("passport photos renewal", mode="dense", rerank=False)
    names = {Path(hit.path).name for hit in dense.hits}
    assert "note-new.txt" in names
    assert not names & {"server.log", "table.csv"}, "dense search only returns passages that have vectors"
