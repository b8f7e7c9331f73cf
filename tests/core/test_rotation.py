"""A truncated search column is turned by the index's own principal axes: full-dimension scores are unchanged,
the first dimensions carry what tells passages apart, and vectors, queries and crashes all agree on it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from core.embedding import Embedder, project
from core.embedding.matryoshka import ROTATION_MIN_ROWS
from core.index.store import (
    NEW_SEARCH_COLUMN,
    ROTATION_FIELD,
    ChunkRow,
    IndexProfile,
    ProfileIndex,
    Store,
)
from core.search.searcher import Searcher
from tests.core.corpus import TOPICS
from tests.core.stand_ins import FixedQuery

DIM = 16
ROWS = ROTATION_MIN_ROWS + 200


def spread_late(rows: int, seed: int = 0) -> np.ndarray:
    """Unit vectors that vary mostly in their last dimensions and share a common first ones: a plain prefix
    of them says little, as with models never trained for truncation."""
    rng = np.random.default_rng(seed)
    scale = np.linspace(0.05, 1.0, DIM, dtype=np.float32)
    vectors = rng.standard_normal((rows, DIM)).astype(np.float32) * scale
    vectors[:, 0] += 2.0
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def add(index: ProfileIndex, vectors: np.ndarray, start: int = 0) -> list[str]:
    """Passages ``start``… with these vectors; their ids."""
    rows = [ChunkRow(f"/d/{start + i}.txt", "h", 0, f"text {start + i}", None, 0, 6, 2) for i in range(len(vectors))]
    index.replace_chunks_many([(r.path, r.file_hash, [r]) for r in rows])
    ids = [r.id for r in rows]
    index.set_vectors(ids, vectors)
    return ids


def profile_index(store: Store) -> ProfileIndex:
    return store.profile_index(IndexProfile("m", "", "m", DIM, 256, 32))


def same_rotation(index: ProfileIndex, rotation: np.ndarray) -> bool:
    turned_by = index.search_space()[1]
    return turned_by is not None and np.array_equal(turned_by, rotation)


def kept(index: ProfileIndex, ids: list[str], vectors: np.ndarray, targets: range) -> float:
    """The share of each query's exact full-dimension top 3 that dense search returns."""
    embedder = FixedQuery(DIM)
    searcher = Searcher(index, embedder)  # type: ignore[arg-type]
    rng = np.random.default_rng(1)
    found = 0
    for target in targets:
        embedder.vector = vectors[target] + 0.05 * rng.standard_normal(DIM).astype(np.float32)
        exact = {ids[i] for i in np.argsort(-(vectors @ embedder.vector))[:3]}
        # k=3 fetches the usual pool of candidates (NORM_DEPTH) from the truncated first stage
        hits = searcher.search("q", k=3, mode="dense", rerank=False).hits
        found += len(exact & {h.id for h in hits})
    return found / (3 * len(targets))


def test_a_truncated_search_column_is_turned_by_the_index_principal_axes(store: Store) -> None:
    vectors = spread_late(ROWS)
    index = profile_index(store)
    small = ROTATION_MIN_ROWS - 200
    ids = add(index, vectors[:small])
    index.set_search_dim(2)
    assert index.search_space()[1] is None, "too few passages for a rotation: a plain prefix"
    ids += add(index, vectors[small:], start=small)
    plain = kept(index, ids, vectors, range(0, ROWS, 40))

    index.set_search_dim(2)  # now enough passages have vectors
    dim, rotation = index.search_space()
    assert dim == 2 and rotation is not None
    assert np.allclose(rotation.T @ rotation, np.eye(DIM), atol=1e-5), "orthogonal: full scores unchanged"
    stored = index.chunks.search().select(["id", "vector", "vector_search"]).limit(5).to_list()
    for row in stored:
        assert np.allclose(row["vector_search"], project(np.array(row["vector"]), 2, rotation), atol=1e-5)
    turned = kept(index, ids, vectors, range(0, ROWS, 40))
    assert turned > plain + 0.2, (plain, turned)

    reader = store.profile_index(index.profile)  # another process's view of the same index
    assert reader.search_space()[0] == 2
    assert same_rotation(reader, rotation)
    assert kept(reader, ids, vectors, range(0, ROWS, 40)) == turned

    index.set_search_dim(4)  # another dimension keeps the index's rotation
    assert same_rotation(index, rotation)
    index.set_search_dim(0)  # the full dimension is never turned
    assert index.search_space() == (DIM, None)
    assert ROTATION_FIELD not in (index.chunks.schema.field("vector_search").metadata or {})


def test_a_crash_during_the_first_turn_leaves_vectors_and_queries_projected_alike(store: Store) -> None:
    all_vectors = spread_late(ROWS)
    index = profile_index(store)
    small = ROTATION_MIN_ROWS - 200
    all_ids = add(index, all_vectors[:small])
    index.set_search_dim(2)  # a plain prefix: the rotation comes once enough passages have vectors
    all_ids += add(index, all_vectors[small:], start=small)
    plain = kept(index, all_ids, all_vectors, range(0, ROWS, 40))

    # The rotation is fitted and the new column added under its temporary name; then the process dies.
    rotation_digest = index._rotation_for(2)
    assert rotation_digest is not None
    index.chunks.add_columns(index._search_field(NEW_SEARCH_COLUMN, 2, rotation_digest))
    again = store.profile_index(index.profile)
    again.repair()
    assert NEW_SEARCH_COLUMN not in again.chunks.schema.names
    assert again.search_space()[1] is None, "the old, plain column is whole and is what queries are projected for"
    assert kept(again, all_ids, all_vectors, range(0, ROWS, 40)) == plain

    # This time it dies between dropping the old column and renaming the new one.
    again._rewrite_search_column(2, rotation_digest)
    turned = kept(again, all_ids, all_vectors, range(0, ROWS, 40))
    again.set_search_dim(4)
    again.chunks.add_columns(again._search_field(NEW_SEARCH_COLUMN, 2, rotation_digest))
    for batch_ids, full in again.iter_vectors():
        search = pa.FixedSizeListArray.from_arrays(pa.array(project(full, 2, again.search_space()[1]).ravel()), 2)
        again.chunks.merge_insert("id").when_matched_update_all().execute(
            pa.table({"id": pa.array(batch_ids, pa.string()), NEW_SEARCH_COLUMN: search})
        )
    again.chunks.drop_columns(["vector_search"])
    last = store.profile_index(index.profile)
    assert last.search_dim == 0
    last.repair()
    dim, rotation = last.search_space()
    assert dim == 2 and rotation is not None
    assert kept(last, all_ids, all_vectors, range(0, ROWS, 40)) == turned > plain


def notes(count: int, seed: int = 0) -> dict[str, str]:
    """Files of 20 distinct paragraphs each (about 100 passages of 48 tokens), from the sample corpus's words."""
    words = sorted({w.strip(".,:;").lower() for text in TOPICS.values() for w in text.split()})
    rng = random.Random(seed)
    return {
        f"notes/{i:03d}.txt": "\n\n".join(
            f"Note {i}.{j}: " + " ".join(rng.choice(words) for _ in range(30)) + "." for j in range(20)
        )
        for i in range(count)
    }


def test_an_index_that_grows_past_the_threshold_is_turned_after_its_embedding_run(
    cli_indexed: Path, tmp_path: Path, tiny_embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through ``sleuth``: a small index set to 8 dimensions keeps a plain prefix; a folder added later brings
    it past the threshold, and that run's end turns its search vectors; ``sleuth status`` says so."""
    from core.cli import main

    assert main(["config", "set", "search_dim", "8"]) == 0
    store = Store(tmp_path / "db")
    profile = store.active_profile()
    assert profile is not None
    assert store.profile_index(profile).search_space() == (8, None)

    folder = tmp_path / "notes"
    for name, text in notes(4).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert main(["index", str(folder)]) == 0
    assert "Turning the search vectors so their first dimensions say the most…" in capsys.readouterr().err
    index = store.profile_index(profile)
    assert index.chunks.count_rows("vector IS NOT NULL") >= ROTATION_MIN_ROWS
    dim, rotation = index.search_space()
    assert dim == 8 and rotation is not None
    row = index.chunks.search().select(["vector", "vector_search"]).limit(1).to_list()[0]
    assert np.allclose(row["vector_search"], project(np.array(row["vector"]), 8, rotation), atol=1e-5)
    assert main(["status", "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["model"]
    assert (model["search_dim"], model["search_rotated"]) == (8, True)

    searcher = Searcher(index, tiny_embedder)
    turned = searcher.search("sourdough starter", mode="dense", rerank=False).hits
    assert main(["config", "set", "search_dim", "0"]) == 0
    full = searcher.search("sourdough starter", mode="dense", rerank=False).hits
    assert turned and full and index.search_space() == (tiny_embedder.dimension, None)
    both = {h.id for h in turned} & {h.id for h in full}
    assert both, "the turned first stage finds some of the full dimension's results"
    scores = {h.id: h.scores["dense"] for h in full}
    assert all(h.scores["dense"] == pytest.approx(scores[h.id], abs=1e-5) for h in turned if h.id in both), (
        "candidates are rescored with the full vectors, as at the full dimension"
    )
