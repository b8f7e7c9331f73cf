from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from core.embedding import Embedder
from core.errors import ModelUnavailable
from core.index.indexer import Indexer
from core.index.store import Store
from core.search.fusion import NORM_DEPTH
from core.search.rerank import CrossEncoderReranker
from core.search.searcher import Searcher, SearchResponse
from core.settings import Settings


def test_bm25_ranks_the_matching_file_first_with_highlights(indexed: Indexer) -> None:
    response = Searcher(indexed.index).search("Vesuvius eruption", mode="bm25")
    top = response.hits[0]
    assert Path(top.path).name == "volcano.txt"
    assert "bm25" in top.scores
    highlighted = {top.text[a:b].lower() for a, b in top.highlights}
    assert {"vesuvius", "eruption"} <= highlighted


def test_dense_search_at_full_dimension_is_exact(indexed: Indexer, tiny_embedder: Embedder) -> None:
    searcher = Searcher(indexed.index, tiny_embedder)
    query = "baking bread at home"
    ids, vectors = zip(  # noqa: B905
        *[(i, v) for batch_ids, batch in indexed.index.iter_vectors() for i, v in zip(batch_ids, batch, strict=True)]
    )
    expected = np.array(vectors) @ tiny_embedder.embed_queries([query])[0]
    exact = [ids[i] for i in np.argsort(-expected, kind="stable")]
    hits = searcher.search(query, k=5, mode="dense", rerank=False).hits
    assert [h.id for h in hits] == exact[:5]
    assert [h.scores["dense"] for h in hits] == pytest.approx(sorted(expected, reverse=True)[:5], abs=1e-5)


def test_truncated_search_dimension_rescores_at_full_dimension(indexed: Indexer, tiny_embedder: Embedder) -> None:
    full_before = dict(
        pair for ids, vecs in indexed.index.iter_vectors() for pair in zip(ids, map(tuple, vecs), strict=True)
    )
    indexed.index.set_search_dim(16)
    assert indexed.index.chunks.schema.field("vector_search").type.list_size == 16
    full_after = dict(
        pair for ids, vecs in indexed.index.iter_vectors() for pair in zip(ids, map(tuple, vecs), strict=True)
    )
    assert full_after == full_before, "changing the dimension re-embeds nothing"
    row = indexed.index.chunks.search().select(["vector", "vector_search"]).limit(1).to_list()[0]
    head = np.array(row["vector"][:16])
    assert np.allclose(row["vector_search"], head / np.linalg.norm(head), atol=1e-6)
    hits = Searcher(indexed.index, tiny_embedder).search("chess openings", k=10, mode="dense", rerank=False).hits
    scores = [h.scores["dense"] for h in hits]
    assert scores == sorted(scores, reverse=True) and len(hits) == 10
    with pytest.raises(Exception, match="cannot exceed"):
        indexed.index.set_search_dim(10_000)


def test_hybrid_with_zero_dense_weight_keeps_keyword_order(indexed: Indexer, tiny_embedder: Embedder) -> None:
    keyword = Searcher(indexed.index).search("tomatoes sun water", k=20, mode="bm25").hits
    hybrid = Searcher(indexed.index, tiny_embedder, dense_weight=0.0).search("tomatoes sun water", k=20).hits
    assert [h.id for h in hybrid[: len(keyword)]] == [h.id for h in keyword]
    assert len(hybrid) > len(keyword), "dense-only passages follow the keyword hits"


def test_hybrid_fuses_both_rankers(indexed: Indexer, tiny_embedder: Embedder) -> None:
    hits = Searcher(indexed.index, tiny_embedder, dense_weight=0.5).search("sourdough starter", k=5).hits
    assert Path(hits[0].path).name == "bread.md"
    assert {"bm25", "dense", "fused"} <= set(hits[0].scores)


def test_hybrid_keyword_search_runs_beside_the_query_embedding(indexed: Indexer, tiny_embedder: Embedder) -> None:
    searcher = Searcher(indexed.index, tiny_embedder, dense_weight=0.5)
    keyword_search = searcher.keyword_candidates
    threads: list[str] = []

    def spy(query: str, limit: int, where: str | None = None, vectors: bool = False) -> pa.Table:
        threads.append(threading.current_thread().name)
        return keyword_search(query, limit, where, vectors)

    searcher.keyword_candidates = spy  # type: ignore[method-assign]
    query, pool = "sourdough starter", NORM_DEPTH  # candidates enough to standardise scores over
    hits = searcher.search(query, k=5, rerank=False).hits
    assert threads and threads[0].startswith("sleuth-keyword")
    response = SearchResponse(query, "hybrid", [])
    vector = searcher.query_vector(query, response)
    assert vector is not None
    dense = searcher.dense_candidates(query, pool, response, vector=vector)
    assert dense is not None
    fts = keyword_search(query, pool, None, True)
    expected = searcher.fuse(query, searcher.complete_dense(dense, fts, vector), fts.drop_columns(["vector"]))
    assert [h.id for h in hits] == expected["id"].to_pylist()[:5]


def test_keyword_hits_that_dense_search_left_out_get_their_own_dense_score(
    indexed: Indexer, tiny_embedder: Embedder
) -> None:
    searcher = Searcher(indexed.index, tiny_embedder, dense_weight=0.5)
    query = "sourdough starter bread flour"
    response = SearchResponse(query, "hybrid", [])
    vector = searcher.query_vector(query, response)
    assert vector is not None
    everything = searcher.dense_candidates(query, 1000, response, vector=vector)
    one = searcher.dense_candidates(query, 1, response, vector=vector)
    fts = searcher.keyword_candidates(query, 50, vectors=True)
    assert everything is not None and one is not None and fts.num_rows > 1
    completed = searcher.complete_dense(one, fts, vector)
    exact = dict(zip(everything["_rowid"].to_pylist(), everything["_dense_score"].to_pylist(), strict=True))
    got = dict(zip(completed["_rowid"].to_pylist(), completed["_dense_score"].to_pylist(), strict=True))
    # Every keyword hit is now in dense search's ranking, at the score a full dense search gives it, in order.
    assert set(fts["_rowid"].to_pylist()) <= set(got)
    assert all(got[row] == pytest.approx(exact[row], abs=1e-5) for row in got)
    assert completed["_dense_score"].to_pylist() == sorted(got.values(), reverse=True)
    assert completed.schema == one.schema
    # Through the engine, every fused keyword hit carries a dense score.
    hits = searcher.search(query, k=20, rerank=False).hits
    assert all("dense" in hit.scores for hit in hits if "bm25" in hit.scores)


def test_empty_and_odd_queries_do_not_fail(indexed: Indexer, tiny_embedder: Embedder) -> None:
    searcher = Searcher(indexed.index, tiny_embedder)
    assert searcher.search("   ").hits == []
    for query in ['"unbalanced', "AND OR NOT", "(*)", "c++ && ||", "the of and", "naïve café ✓"]:
        searcher.search(query, mode="hybrid")


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory, tiny_llama_dir: Path) -> Path:
    from transformers import AutoTokenizer

    path = tmp_path_factory.mktemp("cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_cross_encoder_reranks_the_top_candidates(indexed: Indexer, tiny_cross_encoder: Path) -> None:
    reranker = CrossEncoderReranker(str(tiny_cross_encoder))
    searcher = Searcher(indexed.index, None, reranker)
    response = searcher.search("income tax", k=5, mode="bm25", rerank=True, rerank_top_n=4)
    head = response.hits[:4]
    assert all("rerank" in h.scores for h in head)
    assert [h.score for h in head] == sorted((h.score for h in head), reverse=True)
    direct = reranker.score("income tax", [h.text for h in head])
    assert sorted(direct.tolist(), reverse=True) == pytest.approx([h.score for h in head], abs=1e-5)


def test_missing_reranker_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="reranker"):
        CrossEncoderReranker(str(tmp_path / "no-such-model"))


def test_search_without_reranker_says_so(indexed: Indexer, tiny_embedder: Embedder) -> None:
    response = Searcher(indexed.index, tiny_embedder).search("chess", mode="hybrid", rerank=True)
    assert any("not reranked" in note for note in response.notes)


def test_an_interrupted_dimension_change_is_finished_by_the_next_run(
    indexed: Indexer, store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path
) -> None:
    # What a crash right after the column was replaced leaves behind: full vectors, no search vectors.
    indexed.index.chunks.drop_columns(["vector_search"])
    indexed.index.chunks.add_columns(pa.field("vector_search", pa.list_(pa.float32(), 16)))
    assert indexed.index.search_dim == 16
    assert Searcher(indexed.index, tiny_embedder).search("chess", mode="dense").hits == []
    again = Indexer(store, settings, tiny_embedder)
    for _ in again.run([corpus]):
        pass
    assert again.report.chunks_embedded == 0
    hits = Searcher(again.index, tiny_embedder).search("chess", k=3, mode="dense").hits
    assert len(hits) == 3


def test_readers_see_a_dimension_change_made_by_the_writer(indexed: Indexer, store: Store) -> None:
    reader = store.profile_index(indexed.profile)
    indexed.index.set_search_dim(32)
    assert reader.search_dim == 32
