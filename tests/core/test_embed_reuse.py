"""Each distinct passage is embedded once: copies of a file, in one run or a later one, reuse its vectors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.embedding import Embedder
from core.index import indexer as indexer_module
from core.index.indexer import Indexer
from core.index.store import HASH_COLUMN, SCHEMA_VERSION, ProfileIndex, Store
from core.search.searcher import Searcher
from core.settings import Settings
from tests.core.corpus import write_corpus

QUERIES = ("sourdough starter", "volcano eruption", "chess opening", "tax deadline")


def run(store: Store, settings: Settings, embedder: Embedder, *roots: Path) -> Indexer:
    for root in roots:
        store.add_folder(root)
    indexer = Indexer(store, settings, embedder)
    for _ in indexer.run():
        pass
    return indexer


def vectors(index: ProfileIndex) -> dict[tuple[str, int], np.ndarray]:
    rows = index.chunks.search().select(["path", "ordinal", "vector"]).limit(None).to_list()
    return {(r["path"].rsplit("/docs/", 1)[1], r["ordinal"]): np.array(r["vector"]) for r in rows}


def dense(indexer: Indexer, embedder: Embedder, query: str) -> dict[tuple[str, int], float]:
    """Every passage's best dense score, best first; a passage and its copy count once."""
    hits = Searcher(indexer.index, embedder).search(query, k=200, mode="dense", rerank=False).hits
    found: dict[tuple[str, int], float] = {}
    for hit in hits:
        found.setdefault((Path(hit.path).name, hit.ordinal), hit.scores["dense"])
    return found


@pytest.fixture
def twice(tmp_path: Path) -> Path:
    """The sample corpus twice over, in two folders of one added folder."""
    root = tmp_path / "docs"
    write_corpus(root / "a", repeat=3)
    shutil.copytree(root / "a", root / "b")
    return root.resolve()


@pytest.mark.parametrize("fetch", [indexer_module.EMBED_FETCH, 4])  # copies in one fetch, and in later ones
def test_copies_are_embedded_once_and_search_the_same(
    tmp_path: Path,
    settings: Settings,
    tiny_embedder: Embedder,
    twice: Path,
    fetch: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(indexer_module, "EMBED_FETCH", fetch)
    reused = run(Store(tmp_path / "reused"), settings, tiny_embedder, twice)
    written = reused.report.chunks_written
    texts = reused.index.chunks.search().select(["text"]).limit(None).to_arrow()["text"].to_pylist()
    assert len(texts) == written and reused.report.chunks_embedded == len(set(texts)) <= written // 2
    assert reused.index.count_pending() == 0
    assert {r.status for r in reused.index.file_records().values()} == {"indexed"}

    with monkeypatch.context() as patch:  # the same folder with every passage embedded: one passage a fetch
        patch.setattr(ProfileIndex, "vectors_for_texts", lambda self, texts: {})
        patch.setattr(indexer_module, "EMBED_FETCH", 1)
        every = run(Store(tmp_path / "every"), settings, tiny_embedder, twice)
    assert every.report.chunks_embedded == written
    ours, theirs = vectors(reused.index), vectors(every.index)
    assert ours.keys() == theirs.keys()
    for key, vector in ours.items():
        # The same up to the int8 model's batch effects (its activations are scaled per batch).
        np.testing.assert_allclose(vector, theirs[key], atol=2e-2)
    for query in QUERIES:
        ours_found, theirs_found = dense(reused, tiny_embedder, query), dense(every, tiny_embedder, query)
        assert list(ours_found)[:3] == list(theirs_found)[:3]  # the random tiny model has near ties further down
        assert set(ours_found) == set(theirs_found)
        np.testing.assert_allclose(sorted(ours_found.values()), sorted(theirs_found.values()), atol=2e-2)


def test_a_copy_made_later_reuses_the_stored_vectors(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    first = run(store, settings, tiny_embedder, corpus)
    before = dict(vectors(first.index))
    shutil.copy(corpus / "bread.md", corpus / "bread-copy.md")
    (corpus / "notes.txt").write_text("A new note about kneading dough by hand.", encoding="utf-8")
    again = run(store, settings, tiny_embedder)
    assert again.report.added == 2 and again.report.chunks_written > 1
    assert again.report.chunks_embedded == 1  # the note; the copy's passages had vectors already
    after = vectors(again.index)
    copies = [key for key in after if key[0].startswith("bread-copy.md")]
    assert copies
    for name, ordinal in copies:
        np.testing.assert_array_equal(after[(name, ordinal)], before[(name.replace("-copy", ""), ordinal)])


def test_an_index_from_before_the_text_digests_gets_them_on_the_next_run(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    first = run(store, settings, tiny_embedder, corpus)
    first.index.chunks.drop_columns([HASH_COLUMN])  # as the previous Sleuth left it
    store.set_meta("schema_version", 3)
    reader = store.profile_index(first.profile)
    assert reader.vectors_for_texts(["anything"]) == {}
    shutil.copy(corpus / "volcano.txt", corpus / "volcano-copy.txt")
    again = run(store, settings, tiny_embedder)
    assert again.index.chunks.count_rows(f"{HASH_COLUMN} IS NULL") == 0
    assert again.report.added == 1 and again.report.chunks_embedded == 0
    assert store.schema_version() == SCHEMA_VERSION == 4
