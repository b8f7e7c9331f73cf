from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from core.embedding import Embedder
from core.fusion import WeightedRRF, estimate_fusion, ndcg_at, probe_queries
from core.indexer import Indexer
from core.search import Searcher
from core.settings import Settings
from core.store import Store
from tests.core.corpus import write_corpus


def test_ndcg() -> None:
    assert ndcg_at(["a", "b"], {"a"}) == 1.0
    assert ndcg_at(["x", "a"], {"a"}) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert ndcg_at(["x", "y"], {"a"}) == 0.0
    assert ndcg_at(["a", "b"], set()) == 0.0


def _results(ids: list[int], score_column: str) -> pa.Table:
    return pa.table(
        {
            "_rowid": pa.array(ids, pa.uint64()),
            "id": [str(i) for i in ids],
            score_column: pa.array([1.0] * len(ids), pa.float32()),
        }
    )


def test_weighted_rrf_zero_weight_keeps_bm25_order_and_appends_dense() -> None:
    fused = WeightedRRF(dense_weight=0.0).rerank_hybrid(
        "q", _results([5, 1, 9], "_distance"), _results([1, 2, 3], "_score")
    )
    assert fused["id"].to_pylist() == ["1", "2", "3", "5", "9"]


def test_weighted_rrf_equal_weights_is_plain_rrf() -> None:
    fused = WeightedRRF(dense_weight=1.0).rerank_hybrid(
        "q", _results([5, 1, 9], "_distance"), _results([1, 2, 3], "_score")
    )
    assert fused["id"].to_pylist()[0] == "1"
    assert fused["_relevance_score"].to_pylist()[0] == pytest.approx(1 / 62 + 1 / 61)


def test_probe_queries_come_from_files_with_several_passages() -> None:
    rows = [
        {"id": "a0", "path": "a", "text": "Alpha beta gamma delta epsilon. More text follows here."},
        {"id": "a1", "path": "a", "text": "Second passage of a with enough words."},
        {"id": "b0", "path": "b", "text": "A lone passage in file b is never a probe."},
    ]
    probes = probe_queries(rows, 10)
    assert sorted(p[1] for p in probes) == ["a0", "a1"]
    assert ("Alpha beta gamma delta epsilon.", "a0", "a") in probes


def test_estimate_on_a_real_index(tmp_path: Path, settings: Settings, tiny_embedder: Embedder) -> None:
    topics = ["volcano lava magma", "bread yeast flour", "chess pawn king", "tax income receipts", "garden tomato sun"]
    files = {
        f"{t.split()[0]}{n}.txt": "\n\n".join(
            f"Part {p} about {t}: the {t.split()[p % 3]} notes number {n} continue with {t} details." for p in range(12)
        )
        for n in range(3)
        for t in topics
    }
    folder = write_corpus(tmp_path / "docs", files)
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    indexer = Indexer(store, settings, tiny_embedder)
    events = [e.phase for e in indexer.run([folder])]
    assert "measure" in events
    estimate = store.fusion(indexer.profile)
    assert estimate is not None and estimate["probes"] >= 8
    assert estimate["dense_weight"] in (0.0, 0.25, 0.5, 1.0, 2.0)
    assert 0.0 <= estimate["ndcg_bm25"] <= 1.0 and 0.0 <= estimate["ndcg_dense"] <= 1.0
    assert estimate["gain"] >= 0.0
    # No weight is chosen unless it beats keyword-led fusion.
    fused = estimate["ndcg_fused"]
    assert estimate["dense_weight"] == 0.0 or fused[str(estimate["dense_weight"])] > fused["0.0"]
    again = estimate_fusion(Searcher(indexer.index, tiny_embedder))
    assert again["dense_weight"] == estimate["dense_weight"], "the estimate is deterministic"


def test_tiny_corpus_is_not_measured_and_keyword_search_leads(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    store.add_folder(corpus)
    indexer = Indexer(store, settings, tiny_embedder)
    for _ in indexer.run([corpus]):
        pass
    estimate = store.fusion(indexer.profile)
    assert estimate is not None and estimate["gain"] is None and estimate["dense_weight"] == 0.0
    assert store.dense_weight(indexer.profile) == 0.0
