"""Searching as the search box does: one result per document, the query syntax, typo correction — on a real index."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.index.indexer import Indexer
from core.index.store import Store
from core.search.calibration import measure
from core.search.searcher import Searcher
from core.settings import Settings

LONG = "\n\n".join(
    f"Chapter {i}. Tomatoes in the {place} want steady watering and a sunny spot; tie each tomato stem to its cane."
    for i, place in enumerate(["greenhouse", "border", "pots", "tunnel", "allotment", "courtyard"], 1)
)
FILES = {
    "garden/handbook.md": LONG,
    "garden/blight.txt": "Late blight strikes tomatoes and potatoes in warm wet weather. Remove the leaves at once.",
    "garden/sauce.md": "A quick tomato sauce: garlic, olive oil, plum tomatoes and salt, simmered twenty minutes.",
    "Projects/tomato-plan.txt": "Project plan: a tomato trial with six varieties, measured weekly for yield.",
    "git/recovering.md": (
        "# Recovering a corrupted object\n\nWhen git reports a corrupted blob object, the repository still holds "
        "other copies: fetch the object again from a remote repository, or find it in a pack file."
    ),
    "git/branches.txt": "Branches in a repository are cheap: create one per feature and merge it when done.",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for i, (name, text) in enumerate(FILES.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        stamp = datetime(2024, 1 + i, 15).timestamp()  # one file a month, January to June 2024
        os.utime(path, (stamp, stamp))
    return root


def index(store: Store, settings: Settings, embedder: Embedder, folder: Path) -> Indexer:
    store.add_folder(folder)
    indexer = Indexer(store, settings, embedder, measure=measure)
    for _ in indexer.run([folder]):
        pass
    return indexer


@pytest.fixture
def searcher(store: Store, settings: Settings, tiny_embedder: Embedder, folder: Path) -> Searcher:
    return Searcher(index(store, settings, tiny_embedder, folder).index, tiny_embedder, dense_weight=0.0)


def names(response: object) -> list[str]:
    return [Path(d.path).name for d in response.documents]  # type: ignore[attr-defined]


def test_one_result_per_document_ordered_by_its_best_passage(searcher: Searcher) -> None:
    flat = searcher.search("tomato", k=100, mode="bm25").hits
    assert sum(Path(h.path).name == "handbook.md" for h in flat) > 1  # the long file floods the passages
    response = searcher.search_documents("tomato", k=10, mode="bm25")
    paths = [d.path for d in response.documents]
    assert len(paths) == len(set(paths)) == 4
    assert paths == list(dict.fromkeys(h.path for h in flat))  # each document where its best passage ranks
    handbook = next(d for d in response.documents if d.path.endswith("handbook.md"))
    assert len(handbook.hits) > 1
    assert handbook.best is handbook.hits[0]
    ranks = {h.id: i for i, h in enumerate(flat)}
    assert [ranks[h.id] for h in handbook.hits] == sorted(ranks[h.id] for h in handbook.hits)
    assert [h.id for h in response.hits[:5]] == [h.id for h in flat[:5]]  # the flat list is still there
    assert all(h.highlights for d in response.documents for h in d.hits)
    assert handbook.mtime == datetime(2024, 1, 15).timestamp()


def test_enough_candidates_for_k_documents_behind_long_files(
    store: Store, settings: Settings, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(3):  # three long files, each with far more compost passages than a page of results
        (root / f"long-{i}.md").write_text("\n\n".join(f"Compost heap turning, note {n}." for n in range(30)))
    for i in range(10):
        (root / f"short-{i}.txt").write_text(f"Short note {i}: a compost bin by the shed.")
    searcher = Searcher(index(store, settings, tiny_embedder, root).index, tiny_embedder, dense_weight=0.0)
    response = searcher.search_documents("compost", k=10, mode="bm25")
    assert len(response.documents) == 10


def test_type_and_folder_filters_narrow_inside_the_store(searcher: Searcher) -> None:
    assert set(names(searcher.search_documents("tomato type:md", mode="bm25"))) == {"handbook.md", "sauce.md"}
    assert names(searcher.search_documents("tomato in:projects", mode="bm25")) == ["tomato-plan.txt"]
    hybrid = searcher.search_documents("tomato type:txt in:garden", mode="hybrid", rerank=False)
    assert names(hybrid) == ["blight.txt"]  # the dense candidates are filtered too


def test_date_filters_and_sort_by_date(searcher: Searcher) -> None:
    # handbook: January, blight: February, sauce: March, plan: April.
    after = searcher.search_documents("tomato after:2024-02-20", mode="bm25")
    assert set(names(after)) == {"sauce.md", "tomato-plan.txt"}
    window = searcher.search_documents("tomato after:2024-02 before:2024-04", mode="bm25")
    assert set(names(window)) == {"blight.txt", "sauce.md"}
    newest = searcher.search_documents("tomato", mode="bm25", sort="date")
    assert names(newest) == ["tomato-plan.txt", "sauce.md", "blight.txt", "handbook.md"]


def test_many_files_in_the_date_range_are_filtered_after_retrieval(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.search.narrowing.PREFILTER_PATHS", 1)  # more files pass than go into a prefilter
    assert set(names(searcher.search_documents("tomato after:2024-02-20", mode="bm25"))) == {
        "sauce.md",
        "tomato-plan.txt",
    }


def test_phrase_and_exclusion(searcher: Searcher) -> None:
    assert names(searcher.search_documents('"plum tomatoes"', mode="bm25")) == ["sauce.md"]
    excluded = names(searcher.search_documents("tomatoes -potato", mode="bm25"))
    assert "blight.txt" not in excluded and "handbook.md" in excluded
    assert "handbook.md" not in names(searcher.search_documents("tomato -greenhouse", mode="bm25"))


def test_typos_are_corrected_only_where_a_word_has_no_exact_hit(searcher: Searcher) -> None:
    response = searcher.search_documents("corupted objekt repositry", mode="bm25")
    assert names(response)[0] == "recovering.md"
    assert response.corrected == "corrupted object repository"
    assert "Showing results for corrupted object repository" in response.notes
    exact = searcher.search_documents("branches repository", mode="bm25")
    assert not exact.corrected and names(exact)[0] == "branches.txt"
    assert not any(n.startswith("Showing results") for n in exact.notes)


def test_filters_alone_ask_for_a_word(searcher: Searcher) -> None:
    response = searcher.search_documents("type:pdf", mode="bm25")
    assert not response.documents and "Add a word" in response.notes[0]
