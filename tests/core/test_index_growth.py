"""A watched index stays about the size of its content, however many small updates it takes."""

from __future__ import annotations

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
