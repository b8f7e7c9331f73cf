"""Chinese, Japanese and Thai text is found by keyword; Latin words keep their stemming; older indexes catch up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.index.cjk import bigrams, query_bigrams
from core.index.indexer import Indexer
from core.index.store import CJK_COLUMN, GLUED_COLUMN, SCHEMA_VERSION, Store
from core.search.searcher import Searcher
from core.settings import Settings
from tests.core.corpus import write_corpus

DATA = Path(__file__).parent.parent / "data" / "cjk"
BOOK = (
    "# 組版の覚え書き\n\n縦書きの本を作るときは、pLaTeX 2ε について知っておくと便利です。"
    "ルビや割注も扱えます。\n\nThe typesetter bakes the pages overnight."
)
THAI = "ภาษาไทยเป็นภาษาที่มีวรรณยุกต์ การเขียนไม่เว้นวรรคระหว่างคำ"


@pytest.fixture
def cjk_folder(tmp_path: Path) -> Path:
    root = write_corpus(tmp_path / "docs").resolve()
    (root / "book.md").write_text(BOOK, encoding="utf-8")
    (root / "thai.txt").write_text(THAI, encoding="utf-8")
    for name in ("euc_jp-utf8.txt", "gb2312-utf8.txt", "big5-utf8.txt", "gbk-utf8.txt"):
        shutil.copy(DATA / name, root / name)
    return root


def index(store: Store, settings: Settings, embedder: Embedder, root: Path) -> Indexer:
    store.add_folder(root)
    indexer = Indexer(store, settings, embedder)
    for _ in indexer.run([root]):
        pass
    return indexer


def names(indexer: Indexer, query: str) -> list[str]:
    return [Path(h.path).name for h in Searcher(indexer.index).search(query, mode="bm25", rerank=False).hits]


def test_unspaced_scripts_are_found_by_a_phrase_and_latin_keeps_stemming(
    store: Store, settings: Settings, tiny_embedder: Embedder, cjk_folder: Path
) -> None:
    indexer = index(store, settings, tiny_embedder, cjk_folder)
    assert names(indexer, "縦書きの本") == ["book.md"]
    assert names(indexer, "pLaTeX 2ε について")[0] == "book.md"
    assert names(indexer, "教育用") == ["euc_jp-utf8.txt"]
    assert set(names(indexer, "程序设计")) == {"gb2312-utf8.txt", "gbk-utf8.txt"}
    assert names(indexer, "วรรณยุกต์") == ["thai.txt"]
    assert names(indexer, "存在しない言葉") == []
    assert set(names(indexer, "baking")[:2]) == {"bread.md", "book.md"}  # bake, bakes: one stem
    hit = Searcher(indexer.index).search("縦書きの本", mode="bm25", rerank=False).hits[0]
    assert [hit.text[a:b] for a, b in hit.highlights] == ["縦書きの本"]


def test_an_index_from_before_the_bigram_column_gets_it_on_the_next_run(
    store: Store, settings: Settings, tiny_embedder: Embedder, cjk_folder: Path
) -> None:
    first = index(store, settings, tiny_embedder, cjk_folder)
    chunks = first.index.chunks
    for item in chunks.list_indices():
        if item.columns in ([CJK_COLUMN], [GLUED_COLUMN]):
            chunks.drop_index(item.name)
    chunks.drop_columns([CJK_COLUMN, GLUED_COLUMN])  # now as an older Sleuth left it
    store.set_meta("schema_version", 1)

    reader = store.profile_index(first.profile)
    assert not reader.has_cjk_column
    assert Searcher(reader).search("縦書きの本", mode="bm25", rerank=False).hits == []  # no error, no hit

    again = Indexer(store, settings, tiny_embedder)
    assert any("keyword" in step for step in again.repaired)
    assert names(again, "縦書きの本") == ["book.md"]
    assert Searcher(store.profile_index(first.profile)).search("縦書きの本", mode="bm25", rerank=False).hits
    assert store.schema_version() == SCHEMA_VERSION
    assert again.index.chunks.count_rows(f"{CJK_COLUMN} != '' AND {GLUED_COLUMN} IS NULL") == 0


def test_bigrams_follow_the_lucene_cjk_analyzer() -> None:
    assert bigrams("縦書きの本 and ABC 本") == "縦書 書き きの の本 本"
    assert query_bigrams("本") == "本" and query_bigrams("本 縦書き") == "縦書 書き"
    assert bigrams("plain Latin text") == ""
