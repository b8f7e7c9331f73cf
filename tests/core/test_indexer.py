from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.errors import Cancelled
from core.index.indexer import Indexer
from core.index.store import Store
from core.jobs import CancelToken
from core.search.searcher import Searcher
from core.settings import Settings
from tests.core.corpus import TOPICS, write_corpus


def run(store: Store, settings: Settings, embedder: Embedder, *roots: Path) -> Indexer:
    for root in roots:
        store.add_folder(root.resolve())
    indexer = Indexer(store, settings, embedder)
    for _ in indexer.run(list(roots) or None):
        pass
    return indexer


def chunk_rows(indexer: Indexer) -> list[tuple[str, str, int, str]]:
    rows = indexer.index.chunks.search().select(["id", "path", "ordinal", "text"]).limit(None).to_list()
    return sorted((r["id"], r["path"], r["ordinal"], r["text"]) for r in rows)


def bm25_paths(indexer: Indexer, query: str) -> list[str]:
    response = Searcher(indexer.index).search(query, mode="bm25", rerank=False)
    return [Path(h.path).name for h in response.hits]


def test_first_run_indexes_every_file_and_embeds_every_chunk(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    indexer = run(store, settings, tiny_embedder, corpus)
    records = indexer.index.file_records()
    assert sorted(Path(p).name for p in records) == sorted(Path(n).name for n in TOPICS)
    assert {r.status for r in records.values()} == {"indexed"}
    assert indexer.report.added == len(TOPICS)
    stats = indexer.index.stats()
    assert stats["chunks"] == indexer.report.chunks_written == indexer.report.chunks_embedded > len(TOPICS)
    assert stats["pending"] == 0
    assert sum(r.chunks for r in records.values()) == stats["chunks"]
    assert bm25_paths(indexer, "sourdough starter")[0] == "bread.md"
    assert bm25_paths(indexer, "javascriptonly") == [], "script text is not visible text"


def test_second_run_embeds_nothing(store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path) -> None:
    first = run(store, settings, tiny_embedder, corpus)
    before = chunk_rows(first)
    second = run(store, settings, tiny_embedder, corpus)
    assert second.report.chunks_embedded == 0 and second.report.chunks_written == 0
    assert second.report.unchanged == len(TOPICS)
    assert "nothing to embed" in second.summary()
    assert chunk_rows(second) == before


def test_touched_file_with_same_content_is_not_reindexed(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    run(store, settings, tiny_embedder, corpus)
    later = time.time() + 5
    os.utime(corpus / "bread.md", (later, later))
    again = run(store, settings, tiny_embedder, corpus)
    assert again.report.chunks_written == 0 and again.report.chunks_embedded == 0
    assert again.index.file_records()[str((corpus / "bread.md").resolve())].mtime == pytest.approx(later)


def test_changed_file_replaces_its_chunks(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    run(store, settings, tiny_embedder, corpus)
    (corpus / "chess.rst").write_text("Checkers is played on the dark squares with twelve pieces each.")
    indexer = run(store, settings, tiny_embedder, corpus)
    assert indexer.report.updated == 1
    assert indexer.report.chunks_embedded == indexer.report.chunks_written == 1
    assert bm25_paths(indexer, "checkers twelve pieces") == ["chess.rst"]
    assert bm25_paths(indexer, "Sicilian Defence") == []


def test_deleted_file_is_removed(store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path) -> None:
    run(store, settings, tiny_embedder, corpus)
    (corpus / "garden.html").unlink()
    indexer = run(store, settings, tiny_embedder, corpus)
    assert indexer.report.removed == 1
    assert bm25_paths(indexer, "tomatoes blight") == []
    assert all(not p.endswith("garden.html") for p in indexer.index.file_records())
    assert all(row[1].endswith(("volcano.txt", "bread.md", "chess.rst", "return.txt")) for row in chunk_rows(indexer))


def test_renamed_file_keeps_its_vectors(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    first = run(store, settings, tiny_embedder, corpus)
    before = {row[3] for row in chunk_rows(first) if row[1].endswith("volcano.txt")}
    (corpus / "geology").mkdir()
    (corpus / "volcano.txt").rename(corpus / "geology" / "vesuvius.txt")
    indexer = run(store, settings, tiny_embedder, corpus)
    assert indexer.report.renamed == 1 and indexer.report.chunks_embedded == 0
    assert bm25_paths(indexer, "Vesuvius Pompeii")[0] == "vesuvius.txt"
    after = {row[3] for row in chunk_rows(indexer) if row[1].endswith("vesuvius.txt")}
    assert after == before
    assert indexer.index.stats()["pending"] == 0


def test_keyword_search_works_before_vectors_exist(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    store.add_folder(corpus)
    indexer = Indexer(store, settings, tiny_embedder)
    events = indexer.run([corpus])
    for event in events:
        if event.phase == "embed":
            break
    assert indexer.index.count_pending() > 0
    assert bm25_paths(indexer, "income tax deadline")[0] == "return.txt"
    events.close()


def test_cancelled_run_is_completed_by_the_next_without_duplicates(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    # Every passage distinct: a repeated one is embedded once, and there would be too little left to cancel.
    notes = {f"note{i}.txt": " ".join(f"{word}{i}" for word in TOPICS["bread.md"].split()) for i in range(30)}
    corpus = write_corpus(tmp_path / "docs", notes)
    clean = run(Store(tmp_path / "clean.lancedb"), settings, tiny_embedder, corpus)

    store = Store(tmp_path / "resumed.lancedb")
    store.add_folder(corpus)
    for stop_at in ("text", "embed"):
        token = CancelToken()
        indexer = Indexer(store, settings, tiny_embedder)
        seen = 0
        with pytest.raises(Cancelled):
            for event in indexer.run([corpus], token):
                if event.phase == stop_at:
                    seen += 1
                    if seen == 3:
                        token.cancel()
    resumed = run(store, settings, tiny_embedder, corpus)
    assert chunk_rows(resumed) == chunk_rows(clean)
    assert resumed.index.count_pending() == 0
    assert {r.status for r in resumed.index.file_records().values()} == {"indexed"}


def test_a_run_that_continues_a_cancelled_one_keeps_counting(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    """After a cancel at "64 of 240" the next run says "64 of 240" (or more), never "0 of 176"."""
    corpus = write_corpus(tmp_path / "docs", {f"note{i}.txt": f"Note {i}. " + TOPICS["bread.md"] for i in range(60)})
    store = Store(tmp_path / "index.lancedb")
    store.add_folder(corpus.resolve())
    token = CancelToken()
    first: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        for event in Indexer(store, settings, tiny_embedder).run([corpus], token):
            if event.phase == "embed" and event.chunks_done:
                first.append((event.chunks_done, event.chunks_total))
                token.cancel()
    stopped_at, total = first[-1]
    assert 0 < stopped_at < total

    later = [
        (event.chunks_done, event.chunks_total)
        for event in Indexer(store, settings, tiny_embedder).run([corpus])
        if event.phase == "embed" and event.chunks_total
    ]
    # It goes on from where the cancelled run stood (the batch in hand when it was cancelled is kept too).
    assert later[0][1] == total and stopped_at <= later[0][0] < total
    assert [done for done, _ in later] == sorted(done for done, _ in later)
    assert later[-1] == (total, total)


def test_new_settings_build_a_new_index_while_the_old_one_serves(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    old = run(store, settings, tiny_embedder, corpus)
    old_rotation = old.index._rotation_key()
    store.set_meta(old_rotation, {"digest": "0", "dimension": 1, "matrix": ""})  # as a turned index keeps it
    bigger = Settings(model=settings.model, chunk_size=96, chunk_overlap=16)
    indexer = Indexer(store, bigger, tiny_embedder)
    assert indexer.rebuilding
    for event in indexer.run():
        if event.phase == "embed":
            assert store.active_profile() == old.profile
    assert store.active_profile() == indexer.profile
    assert indexer.report.switched_profile
    assert not any(name.endswith(old.profile.key) for name in store._table_names())
    assert store.get_meta(old_rotation) is None, "the old profile's rotation goes with its tables"
    assert bm25_paths(indexer, "Queen's Gambit")[0] == "chess.rst"
