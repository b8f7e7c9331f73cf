"""An index left half-changed by a crash, or written by another Sleuth, opens, repairs itself and searches."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from core.embedding import Embedder
from core.index.indexer import Indexer
from core.index.store import NEW_SEARCH_COLUMN, SCHEMA_VERSION, Store
from core.search.searcher import Searcher
from core.settings import Settings


def dense_names(indexer: Indexer, embedder: Embedder, query: str) -> list[str]:
    response = Searcher(indexer.index, embedder).search(query, mode="dense", rerank=False)
    assert not response.notes, response.notes
    return [Path(h.path).name for h in response.hits]


def test_a_crash_between_dropping_and_adding_the_search_column_is_repaired_on_open(
    indexed: Indexer, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    before = dense_names(indexed, tiny_embedder, "sourdough starter")
    indexed.index.chunks.drop_columns(["vector_search"])  # what the old dimension change did first

    reader = store.profile_index(indexed.profile)  # a window's reader, before any writer opened it
    assert reader.search_dim == 0
    response = Searcher(reader, tiny_embedder).search("sourdough starter", mode="hybrid", rerank=False)
    assert response.hits and any("rebuilt" in n for n in response.notes)

    again = Indexer(store, settings, tiny_embedder)
    assert again.repaired and again.index.search_dim == indexed.profile.dimension
    assert dense_names(again, tiny_embedder, "sourdough starter") == before
    for _ in again.run():
        pass
    assert again.report.chunks_embedded == 0


def test_a_crash_after_the_new_column_was_written_keeps_the_new_dimension(
    indexed: Indexer, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    chunks = indexed.index.chunks
    chunks.add_columns(pa.field(NEW_SEARCH_COLUMN, pa.list_(pa.float32(), 16)))
    chunks.drop_columns(["vector_search"])
    again = Indexer(store, settings, tiny_embedder)
    assert again.index.search_dim == 16 and NEW_SEARCH_COLUMN not in again.index.chunks.schema.names
    assert again.index.chunks.count_rows("vector_search IS NULL") == 0
    assert dense_names(again, tiny_embedder, "sourdough starter")


def test_a_dimension_change_swaps_in_a_whole_column(
    indexed: Indexer, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    before = dense_names(indexed, tiny_embedder, "sourdough starter")
    indexed.index.set_search_dim(32)
    assert indexed.index.search_dim == 32 and NEW_SEARCH_COLUMN not in indexed.index.chunks.schema.names
    assert indexed.index.chunks.count_rows("vector_search IS NULL") == 0
    indexed.index.set_search_dim(0)
    assert dense_names(indexed, tiny_embedder, "sourdough starter") == before


def test_the_index_records_its_schema_and_reads_columns_a_later_sleuth_added(
    indexed: Indexer, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    indexed.index.files.add_columns({"tags": "'work'"})  # a later Sleuth's column
    again = Indexer(store, settings, tiny_embedder)
    records = again.index.file_records()
    assert records and {r.status for r in records.values()} == {"indexed"}
    for _ in again.run():
        pass
    assert again.report.unchanged == len(records)
