"""File names that are not valid UTF-8 (bytes a Linux folder can hold) are indexed like any other."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.index.indexer import Indexer
from core.index.names import display, stored, unstored
from core.index.store import Store, chunk_id
from core.search.searcher import Searcher
from core.settings import Settings
from tests.core.corpus import write_corpus

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Windows file names are UTF-16, never bytes")


def run(store: Store, settings: Settings, embedder: Embedder, root: Path) -> Indexer:
    store.add_folder(root)
    indexer = Indexer(store, settings, embedder)
    for _ in indexer.run([root]):
        pass
    return indexer


def test_a_latin1_file_name_is_indexed_searchable_and_stays_so(
    store: Store, settings: Settings, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    root = write_corpus(tmp_path / "docs").resolve()
    with open(os.fsencode(root) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"Espresso beans are roasted dark; the crema sits on top of the cup.")
    name = os.fsdecode(os.fsencode(root) + b"/caf\xe9.txt")

    first = run(store, settings, tiny_embedder, root)
    records = first.index.file_records()
    assert records[name].status == "indexed", records[name]
    assert {r.status for r in records.values()} == {"indexed"}
    assert len(records) == 6 and not first.report.problems

    searcher = Searcher(first.index)
    assert Path(searcher.search("crema espresso", mode="bm25", rerank=False).hits[0].path) == Path(name)
    assert Path(searcher.search("sourdough starter", mode="bm25", rerank=False).hits[0].path).name == "bread.md"
    hit = searcher.search("crema espresso", mode="bm25", rerank=False).hits[0]
    assert os.path.exists(hit.path), "the path a hit gives opens the real file"
    assert hit.to_dict()["path"].endswith("caf\\xe9.txt")

    second = run(store, settings, tiny_embedder, root)
    assert second.report.unchanged == 6 and second.report.chunks_written == 0 and not second.report.problems

    os.rename(name, os.fsdecode(os.fsencode(root) + b"/th\xe9.txt"))  # a rename keeps its vectors
    third = run(store, settings, tiny_embedder, root)
    assert third.report.renamed == 1 and third.report.chunks_embedded == 0
    assert os.fsdecode(os.fsencode(root) + b"/th\xe9.txt") in third.index.file_records()

    os.unlink(os.fsdecode(os.fsencode(root) + b"/th\xe9.txt"))
    fourth = run(store, settings, tiny_embedder, root)
    assert fourth.report.removed == 1 and len(fourth.index.file_records()) == 5
    assert not fourth.index.chunks.count_rows("path LIKE '%th%'")


def test_the_stored_form_reads_back_exactly_and_leaves_valid_names_alone() -> None:
    raw = os.fsdecode(b"/d/caf\xe9 \xff\xfe.txt")
    assert unstored(stored(raw)) == raw and stored(stored(raw)) == stored(raw)
    assert stored("/d/café 縦書き.txt") == "/d/café 縦書き.txt"
    assert display(raw) == "/d/caf\\xe9 \\xff\\xfe.txt"
    # Ids of valid names are what they always were, so existing indexes keep their chunks.
    assert chunk_id("/d/café.txt", "abc", 0) == hashlib.sha1("/d/café.txt".encode()).hexdigest()[:16] + "-abc-0"
    assert chunk_id(raw, "abc", 0) != chunk_id(stored(raw), "abc", 0)


def test_the_watchers_durable_queue_keeps_an_undecodable_name(tmp_path: Path) -> None:
    from core.service.work_queue import WorkQueue

    queue = WorkQueue(tmp_path / "queue.sqlite3")
    raw = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.txt")
    assert queue.put([raw, str(tmp_path / "plain.txt")]) == 2
    items = queue.take()
    assert [i.path for i in items] == [raw, str(tmp_path / "plain.txt")] == queue.paths()
    queue.failed(items[:1])
    assert queue.take()[0].attempts == 1
    queue.done(queue.take())
    assert len(queue) == 0
    queue.close()
