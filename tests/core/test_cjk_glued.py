"""A Latin word written against Chinese, Japanese, Korean or Thai text ("由libpod库") is a word for keyword
search; Latin-only text and queries score as before; an index from before the change catches up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.index.cjk import bigrams, glued, latin_part, spaced
from core.index.indexer import Indexer
from core.index.store import GLUED_COLUMN, SCHEMA_VERSION, Store
from core.search.highlight import highlight_spans
from core.search.searcher import COLUMNS, Searcher
from core.settings import Settings
from tests.core.corpus import write_corpus
from tests.core.test_cjk_search import index, names

FILES = {
    "podman.md": "# 容器\n\nPodman是由libpod库提供的一个容器管理工具，它兼容Docker命令，也能运行Quarkus应用。",
    "latin.md": "The libpod library is what Podman uses to manage pods and containers, not quarks.",
    "book.md": "人々が縦書きの本を作るときは、pLaTeX 2εについて知っておくと便利です。Dockerコンテナでも動きます。",
    "korean.md": "Python은 배우기 쉬운 프로그래밍 언어입니다. Kubernetes클러스터에서 실행합니다.",
    "thai.txt": "ภาษาไทยไม่เว้นวรรคระหว่างคำ เช่นGrafanaแดชบอร์ด",
}


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    root = write_corpus(tmp_path / "docs").resolve()
    for name, text in FILES.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_glued_words_are_split_off_their_runs() -> None:
    assert glued("Podman是由libpod库提供") == "Podman libpod"
    assert glued("pLaTeX 2εについて") == "2ε" and glued("Dockerコンテナ") == "Docker"
    assert glued("Python은 프로그래밍") == "Python" and glued("เช่นGrafanaแดชบอร์ด") == "Grafana"
    assert glued("Docker コンテナ, plain text") == "" and glued("縦書き") == ""
    assert spaced("Dockerコンテナ") == "Docker コンテナ" and spaced("plain  query") == "plain  query"
    assert latin_part("Dockerコンテナ") == "Docker" and latin_part("縦書き") == ""
    assert bigrams("人々はLinuxを") == "人々 々は を" and glued("人々はLinux") == "Linux"  # 々 is in the run


def test_a_latin_word_inside_cjk_text_is_found_stemmed_and_highlighted(
    store: Store, settings: Settings, tiny_embedder: Embedder, mixed: Path
) -> None:
    indexer = index(store, settings, tiny_embedder, mixed)
    assert indexer.index.has_glued_words
    assert set(names(indexer, "libpod")) == {"podman.md", "latin.md"}
    assert set(names(indexer, "libpods")) == {"podman.md", "latin.md"}  # stemmed as the text is
    assert set(names(indexer, "podman")) == {"podman.md", "latin.md"}
    assert set(names(indexer, "docker")) == {"podman.md", "book.md"}
    assert names(indexer, "kubernetes") == ["korean.md"] and names(indexer, "python") == ["korean.md"]
    assert names(indexer, "grafana") == ["thai.txt"]
    assert names(indexer, "Dockerコンテナ")[0] == "book.md"  # the query's run is a word boundary too
    assert names(indexer, "2ε")[0] == "book.md"
    assert names(indexer, "縦書きの本") == ["book.md"]  # CJK phrases as before
    hit = next(h for h in Searcher(indexer.index).search("libpod", mode="bm25", rerank=False).hits if "由" in h.text)
    assert [hit.text[a:b] for a, b in hit.highlights] == ["libpod"]
    text = FILES["book.md"]
    assert [text[a:b] for a, b in highlight_spans(text, "Dockerコンテナ")] == ["Dockerコンテナ"]
    assert [text[a:b] for a, b in highlight_spans(text, "docker")] == ["Docker"]


def test_the_search_box_neither_corrects_nor_misses_a_glued_word(
    store: Store, settings: Settings, tiny_embedder: Embedder, mixed: Path
) -> None:
    indexer = index(store, settings, tiny_embedder, mixed)
    searcher = Searcher(indexer.index)
    response = searcher.search_documents("quarkus", mode="bm25", rerank=False)
    assert not response.corrected and [Path(d.path).name for d in response.documents] == ["podman.md"]
    response = searcher.search_documents("docker -libpod", mode="bm25", rerank=False)
    assert [Path(d.path).name for d in response.documents] == ["book.md"]


def test_latin_text_scores_exactly_as_before(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    indexer = index(store, settings, tiny_embedder, corpus)
    assert not indexer.index.has_glued_words  # no glued word, no index on them, no extra query
    for query in ("sourdough starter", "baking", "volcano eruption"):
        hits = Searcher(indexer.index).search(query, k=50, mode="bm25", rerank=False).hits
        plain = (
            indexer.index.chunks.search(query, query_type="fts", fts_columns="text")
            .select([*COLUMNS, "_score"])
            .limit(50)
            .to_list()
        )
        assert [(h.id, h.scores["bm25"]) for h in hits] == [(r["id"], pytest.approx(r["_score"])) for r in plain]


def test_the_first_glued_word_written_later_by_the_same_writer_gets_its_index(
    store: Store, settings: Settings, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    """A writer that found no glued word stops looking for one (a large table is not scanned after every batch);
    a later write that brings the first one gets its index all the same, as the window's long-lived writer does."""
    root = write_corpus(tmp_path / "docs").resolve()
    (root / "latin.md").write_text(FILES["latin.md"], encoding="utf-8")
    indexer = index(store, settings, tiny_embedder, root)
    assert not indexer.index.has_glued_words
    assert names(indexer, "libpod") == ["latin.md"]
    (root / "podman.md").write_text(FILES["podman.md"], encoding="utf-8")
    for _ in indexer.run([root]):  # the same writer, the same table, a second run
        pass
    assert indexer.index.has_glued_words
    assert set(names(indexer, "libpod")) == {"podman.md", "latin.md"}


def test_an_index_from_before_the_glued_column_gets_it_on_the_next_run(
    store: Store, settings: Settings, tiny_embedder: Embedder, mixed: Path
) -> None:
    first = index(store, settings, tiny_embedder, mixed)
    chunks = first.index.chunks
    for item in chunks.list_indices():
        if item.columns == [GLUED_COLUMN]:
            chunks.drop_index(item.name)
    chunks.drop_columns([GLUED_COLUMN])  # now as the previous Sleuth left it
    chunks.update(where="path LIKE '%book.md'", values={"text_cjk": "人 縦書"})  # its bigrams, without 々
    store.set_meta("schema_version", 2)

    reader = store.profile_index(first.profile)
    assert not reader.has_glued_words
    assert names(first, "libpod") == ["latin.md"]  # searched as before, no error

    again = Indexer(store, settings, tiny_embedder)
    assert any("written against" in step for step in again.repaired)
    assert set(names(again, "libpod")) == {"podman.md", "latin.md"}
    assert names(again, "人々") == ["book.md"]
    assert set(names(index(store, settings, tiny_embedder, mixed), "libpod")) == {"podman.md", "latin.md"}
    assert store.schema_version() == SCHEMA_VERSION
    # Only the rows with CJK/Thai text were read and written; the others stay empty.
    assert again.index.chunks.count_rows(f"{GLUED_COLUMN} IS NULL") == again.index.chunks.count_rows("text_cjk = ''")
    assert Indexer(store, settings, tiny_embedder).repaired == []  # nothing left to do


def test_sleuth_search_finds_a_glued_word(
    tmp_path: Path,
    tiny_llama_dir: Path,
    mixed: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.cli import main

    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SLEUTH_DB", str(tmp_path / "db"))
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["index", str(mixed)]) == 0
    capsys.readouterr()
    assert main(["search", "libpod", "--mode", "bm25", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    found = {Path(r["path"]).name: r for r in results}
    assert set(found) == {"podman.md", "latin.md"}
    text = found["podman.md"]["text"]
    assert [text[a:b] for a, b in found["podman.md"]["highlights"]] == ["libpod"]
    assert main(["search", "Kubernetes", "--mode", "bm25"]) == 0
    assert "korean.md" in capsys.readouterr().out
