from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.embedding import Embedder
from core.index import indexer as indexer_module
from core.index.indexer import Indexer
from core.index.store import ChunkRow, IndexProfile, Store
from core.index.vector_index import build_vector_index, has_vector_index, needs_vector_index, sub_vectors
from core.search.searcher import Searcher
from core.settings import Settings
from tests.core.stand_ins import FixedQuery

DIM = 16


def test_a_large_table_gets_an_index_and_dense_search_stays_exact_at_the_top(store: Store) -> None:
    profile = IndexProfile("m", "", "m", DIM, 256, 32)
    index = store.profile_index(profile)
    rows = [ChunkRow(f"/d/{i}.txt", "h", 0, f"text {i}", None, 0, 6, 2) for i in range(1200)]
    index.replace_chunks_many([(r.path, r.file_hash, [r]) for r in rows])
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((1000, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [r.id for r in rows[:1000]]
    index.set_vectors(ids, vectors)  # 200 chunks still wait for their vectors

    assert not needs_vector_index(index, min_rows=1001)
    assert needs_vector_index(index, min_rows=1000)
    build_vector_index(index)
    assert has_vector_index(index.chunks)
    assert not needs_vector_index(index, min_rows=1000)

    embedder = FixedQuery(DIM)
    searcher = Searcher(index, embedder)  # type: ignore[arg-type]
    for target in (3, 517, 999):
        embedder.vector = vectors[target] + 0.05 * rng.standard_normal(DIM).astype(np.float32)
        exact = [ids[i] for i in np.argsort(-(vectors @ embedder.vector))[:3]]
        hits = searcher.search("q", k=3, mode="dense", rerank=False).hits
        assert [h.id for h in hits] == exact


def test_sub_vectors_divide_the_dimension() -> None:
    assert sub_vectors(576) == 144
    assert sub_vectors(64) == 16
    assert sub_vectors(6) == 3
    assert sub_vectors(7) == 7


def test_the_indexer_builds_the_vector_index_when_the_table_is_large(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    monkeypatch.setattr(indexer_module, "needs_vector_index", lambda index: not built)
    monkeypatch.setattr(indexer_module, "build_vector_index", lambda index: built.append(index.chunks.count_rows()))
    store.add_folder(corpus)
    indexer = Indexer(store, settings, tiny_embedder)
    messages = [p.message for p in indexer.run([corpus])]
    assert len(built) == 1 and built[0] > 0
    assert any("vector index" in m for m in messages)


def test_a_dimension_change_on_a_large_index_builds_its_vector_index_again(store: Store) -> None:
    """The index on the old search column goes with it; the writer builds one on the new column at once."""
    from core.index import vector_index
    from core.jobs import drain
    from core.service.writer import WriteService

    profile = IndexProfile("m", "", "m", DIM, 256, 32)
    store.set_active_profile(profile)
    index = store.profile_index(profile)
    rows = [ChunkRow(f"/d/{i}.txt", "h", 0, f"text {i}", None, 0, 6, 2) for i in range(vector_index.MIN_ROWS)]
    index.replace_chunks_many([(r.path, r.file_hash, [r]) for r in rows])
    vectors = np.random.default_rng(0).standard_normal((len(rows), DIM)).astype(np.float32)
    index.set_vectors([r.id for r in rows], vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    build_vector_index(index)
    assert has_vector_index(index.chunks)
    with WriteService(store, "a test") as writer:
        report = drain(writer.set_search_dim(8))
    assert report.message.startswith("Search dimension is now 8")
    assert index.search_dim == 8 and has_vector_index(index.chunks)
