"""A watched index stays about the size of its content, however many small updates it takes."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.index.indexer import Indexer
from core.index.store import Store
from core.search.searcher import Searcher
from core.settings import Settings
from tests.core.corpus import TOPICS, write_corpus

UPDATES = 200


def drain(job: object) -> None:
    for _ in job:  # type: ignore[attr-defined]
        pass


@pytest.mark.slow
def test_many_one_file_updates_keep_the_index_near_the_size_of_a_fresh_one(
    settings: Settings, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    root = write_corpus(tmp_path / "docs", repeat=20).resolve()
    note = root / "note.txt"
    note.write_text(f"Meeting note {UPDATES - 1}: the quarterly budget review moved to room 0.", encoding="utf-8")
    fresh = Store(tmp_path / "fresh.lancedb")
    fresh.add_folder(root)
    fresh_indexer = Indexer(fresh, settings, tiny_embedder)
    drain(fresh_indexer.run([root]))

    watched = Store(tmp_path / "watched.lancedb")
    watched.add_folder(root)
    indexer = Indexer(watched, settings, tiny_embedder)
    drain(indexer.run([root]))
    started = time.monotonic()
    for n in range(UPDATES):
        note.write_text(f"Meeting note {n}: the quarterly budget review moved to room {n % 7}.", encoding="utf-8")
        drain(indexer.apply([note]))
    elapsed = time.monotonic() - started
    time.sleep(11)  # the last updates past the version retention too (the fresh index is older already)
    for index in (indexer.index, fresh_indexer.index):
        index.optimize()  # what the next write batch or run does
    grown, baseline = watched.disk_bytes(), fresh.disk_bytes()
    print(f"\n{UPDATES} one-file updates in {elapsed:.0f} s: {grown / 1e6:.2f} MB; fresh index {baseline / 1e6:.2f} MB")
    assert grown < 3 * baseline, (grown, baseline)

    hits = Searcher(indexer.index).search("quarterly budget", mode="bm25", rerank=False).hits
    assert [Path(h.path).name for h in hits][:1] == ["note.txt"]
    assert f"note {UPDATES - 1}:" in hits[0].text
    assert indexer.index.stats()["files"] == len(TOPICS) + 1


def test_rows_written_since_the_last_compaction_are_found_by_keyword(
    store: Store, settings: Settings, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    root = write_corpus(tmp_path / "docs").resolve()
    store.add_folder(root)
    indexer = Indexer(store, settings, tiny_embedder)
    drain(indexer.run([root]))
    (root / "late.txt").write_text("A marmoset eats tree gum.", encoding="utf-8")
    drain(indexer.apply([root / "late.txt"]))
    fts = next(i for i in indexer.index.chunks.list_indices() if i.columns == ["text"])
    assert indexer.index.chunks.index_stats(fts.name).num_unindexed_rows > 0, "no compaction after one file"
    hits = Searcher(indexer.index).search("marmoset", mode="bm25", rerank=False).hits
    assert [Path(h.path).name for h in hits] == ["late.txt"]


def test_a_first_run_brings_its_keyword_index_up_to_date_as_the_table_doubles(
    settings: Settings, tiny_embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An optimize's time grows with the whole table, so a large folder's text phase brings the keyword index up
    to date each time the table has doubled, not every few thousand rows: a number of times that grows with the
    log of its size. Scaled down: at least 20 new rows, a batch of two files."""
    import core.index.indexer as indexer_module
    import core.index.store as store_module
    from core.index.store import ProfileIndex
    from core.jobs import KEYWORD_READY

    monkeypatch.setattr(store_module, "UNINDEXED_ROWS", 20)
    monkeypatch.setattr(indexer_module, "WRITE_BATCH_FILES", 2)
    folder = tmp_path / "notes"
    folder.mkdir()
    for n in range(160):
        (folder / f"note{n:03}.txt").write_text(f"Logbook entry {n}: the keeper of lighthouse{n} trimmed its lamp.")
    at_rows: list[int] = []
    real_optimize = ProfileIndex.optimize

    def optimize(index: ProfileIndex) -> None:
        at_rows.append(index.chunks.count_rows())
        real_optimize(index)

    monkeypatch.setattr(ProfileIndex, "optimize", optimize)
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    indexer = Indexer(store, settings, tiny_embedder)
    for progress in indexer.run([folder]):
        if progress.message.startswith(KEYWORD_READY):
            break
    during, final = at_rows[:-1], at_rows[-1]
    assert final == indexer.index.chunks.count_rows() and during, at_rows
    assert during[0] >= 20 and all(later >= 2 * earlier for earlier, later in itertools.pairwise(during)), at_rows
    fts = next(i for i in indexer.index.chunks.list_indices() if i.index_type == "FTS")
    assert indexer.index.chunks.index_stats(fts.name).num_unindexed_rows == 0
    searcher = Searcher(indexer.index)
    assert [hit.path for hit in searcher.search("lighthouse137", mode="bm25", rerank=False).hits] == [
        str(folder / "note137.txt")
    ]
