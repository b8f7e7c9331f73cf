from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from core.embedding import Embedder
from core.index.indexer import Indexer
from core.index.stats import index_stats
from core.index.store import FUSION_MEASUREMENT, Store
from core.search.calibration import (
    WEIGHTS,
    choose_weight,
    describe_estimate,
    estimate_fusion,
    measure,
    ndcg_at,
    probe_queries,
    split_probe,
    weight_gains,
)
from core.search.fusion import (
    DENSE_MIN_SPREAD,
    KEYWORD_LEAD,
    METHOD,
    NORM_DEPTH,
    ScoreFusion,
    WeightedRRF,
    fuse_scores,
    keyword_lead,
    query_weight,
    standardise,
)
from core.search.searcher import Searcher
from core.settings import Settings
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


def _scored(ids: list[int], scores: list[float], column: str) -> pa.Table:
    return pa.table(
        {"_rowid": pa.array(ids, pa.uint64()), "id": [str(i) for i in ids], column: pa.array(scores, pa.float32())}
    )


def test_score_fusion_zero_weight_keeps_bm25_order_and_appends_dense_in_dense_order() -> None:
    dense = _scored([5, 1, 9], [0.9, 0.8, 0.7], "_dense_score")
    fused = ScoreFusion(dense_weight=0.0).rerank_hybrid("q", dense, _scored([1, 2, 3], [7.0, 3.0, 2.5], "_score"))
    assert fused["id"].to_pylist() == ["1", "2", "3", "5", "9"]


def test_score_fusion_mixes_standardised_scores() -> None:
    # BM25 barely separates 1 and 2; dense separates them clearly: with equal shares dense decides.
    dense = [(2, 0.90), (1, 0.50), (3, 0.48), (4, 0.46)]
    bm25 = [(1, 10.1), (2, 10.0), (3, 2.0), (4, 1.0)]
    assert max(fuse_scores(dense, bm25, 0.0).items(), key=lambda kv: kv[1])[0] == 1
    half = fuse_scores(dense, bm25, 0.5)
    assert max(half.items(), key=lambda kv: kv[1])[0] == 2
    z_dense, z_bm25 = standardise([s for _i, s in dense]), standardise([s for _i, s in bm25])
    expected = 0.5 * (z_dense[1] - z_dense.min()) + 0.5 * (z_bm25[0] - z_bm25.min())
    assert half[1] == pytest.approx(expected)
    # The same through the LanceDB reranker, with its tables, as the searcher calls it.
    table = ScoreFusion(0.5).rerank_hybrid(
        "q",
        _scored([i for i, _s in dense], [s for _i, s in dense], "_dense_score"),
        _scored([i for i, _s in bm25], [s for _i, s in bm25], "_score"),
    )
    assert table["id"].to_pylist()[0] == "2"
    assert table["_relevance_score"].to_pylist()[0] == pytest.approx(half[2], rel=1e-6)


def test_dense_scores_packed_tightly_do_not_outweigh_a_clear_keyword_lead() -> None:
    # Dense search can hardly tell these apart (cosine 0.80-0.83); BM25 prefers 1 clearly, though not so far
    # that the per-query weight would drop dense search altogether.
    dense = [(2, 0.83), (3, 0.82), (4, 0.81), (1, 0.80)]
    bm25 = [(1, 12.0), (2, 8.0), (3, 7.5), (4, 7.0)]
    assert float(np.std([s for _i, s in dense])) < DENSE_MIN_SPREAD
    stretched = fuse_scores(dense, bm25, 0.5, dense_min_spread=0.0)
    assert max(stretched.items(), key=lambda kv: kv[1])[0] == 2, "z-scores alone let the packed dense list win"
    fused = fuse_scores(dense, bm25, 0.5)
    assert max(fused.items(), key=lambda kv: kv[1])[0] == 1
    # The rest keep the order both lists agree on.
    assert fused[2] > fused[3] > fused[4]
    # A dense list that spreads wider than the floor is standardised by its own spread, as before.
    wide = [(2, 0.9), (3, 0.6), (4, 0.3), (1, 0.1)]
    assert fuse_scores(wide, bm25, 0.5) == pytest.approx(fuse_scores(wide, bm25, 0.5, dense_min_spread=0.0))


def test_standardising_looks_at_the_top_of_a_list_only() -> None:
    head = [float(NORM_DEPTH - i) for i in range(NORM_DEPTH)]
    short, long = standardise(head), standardise(head + [0.0] * 500)
    assert np.allclose(long[:NORM_DEPTH], short)  # a deeper pool does not change how the top is scored
    assert not standardise([3.0, 3.0, 3.0]).any() and standardise([]).size == 0


def _probes(gains: dict[float, list[float]], n: int = 100) -> dict[str, list[float]]:
    """Per-probe nDCG lists: keyword-led fusion scores 0.5 on every probe, weight w adds gains[w] in turn."""
    per_probe = {"w0.0": [0.5] * n}
    for weight in WEIGHTS[1:]:
        pattern = gains.get(weight, [0.0])
        per_probe[f"w{weight}"] = [0.5 + pattern[i % len(pattern)] for i in range(n)]
    return per_probe


def test_the_weight_nearest_keyword_search_within_one_standard_error_of_the_best_is_chosen() -> None:
    # 0.6 gains most, 0.4 a little less (well within one standard error), 0.2 clearly less
    noisy = {0.2: [0.0, 0.04], 0.4: [-0.2, 0.3], 0.5: [-0.2, 0.31], 0.6: [-0.2, 0.32]}
    assert choose_weight(weight_gains(_probes(noisy, n=400))) == (0.4, pytest.approx(0.05))
    # where the larger weight is better by more than its standard error, it is chosen
    clear = {0.2: [0.01, 0.01], 0.4: [0.02, 0.02], 0.5: [0.1, 0.1], 0.6: [0.2, 0.2]}
    assert choose_weight(weight_gains(_probes(clear))) == (0.6, pytest.approx(0.2))
    # a gain that is not clear of the noise counts for nothing
    assert choose_weight(weight_gains(_probes({0.5: [-0.3, 0.34]}))) == (0.0, 0.0)
    assert choose_weight(weight_gains(_probes({}))) == (0.0, 0.0)


def test_probe_is_a_heading_or_first_sentence_and_the_rest_of_its_passage() -> None:
    body = "The starter needs flour and water every day, kept warm, and it doubles within a few hours of a feed."
    assert split_probe("Sourdough starter care\n" + body) == ("Sourdough starter care", body)
    sentence = "Basalt lava flows are runny and spread far from the vent."
    assert split_probe(sentence + " " + body) == (sentence, body)
    words = "Lava cools into basalt columns where the flow meets the sea and steam rises over the rocks".split()
    long_sentence = " ".join(words * 2) + "."
    query, rest = split_probe(long_sentence + " " + body) or ("", "")
    assert query == " ".join((words * 2)[:16]) and rest == body  # the whole sentence is cut out
    assert split_probe("Too short. " + body) is None  # a query needs four words
    assert split_probe(sentence + " Nothing much after.") is None  # and an answer needs some text


def test_probe_queries_read_like_what_people_type() -> None:
    body = "The function returns the value of the environment variable, or a null pointer when it is not set at all."
    summary = "Get an environment variable by its name."
    # a title that is no query stays with the remainder; the sentence after it is the probe
    assert split_probe(f"getenv(3)\n\n{summary} {body}") == (summary, f"getenv(3)\n{body}")
    assert split_probe("Reading the environment\n\n" + body) == ("Reading the environment", body)
    assert split_probe("Using ``getenv()`` safely\n\n" + body) == ("Using getenv() safely", body)
    # code, a directive, a wrapped line's fragment: no probe from those lines
    assert split_probe("char *getenv(const char *name);\n\n" + body) is None
    assert split_probe(".. versionadded:: 3.11\n\n" + body) is None
    wrapped = "For setenv(), the value of the variable\nis copied into a new string that the\ncaller owns. " + body
    sentence = "For setenv(), the value of the variable is copied into a new string that the caller owns."
    assert split_probe(wrapped) == (" ".join(sentence.split()[:16]), body)  # the sentence, not its first line
    assert split_probe("the caller owns it. " + body) is None  # a chunk that starts mid-sentence


def test_probe_queries_take_one_passage_per_file() -> None:
    body = " ".join(["more words about the topic"] * 4)
    rows = [
        {"id": f"{f}{n}", "path": f, "text": f"Heading of {f} part {n}\n{body}"} for f in "abc" for n in range(3)
    ] + [{"id": "d0", "path": "d", "text": "no probe here"}]
    probes = probe_queries(rows, 10)
    assert sorted(p[2] for p in probes) == ["a", "b", "c"]
    assert all(q.startswith("Heading of") and r == body for q, r, _p in probes)
    assert probe_queries(rows, 10) == probes and len(probe_queries(rows, 2)) == 2


def test_estimate_on_a_real_index(tmp_path: Path, settings: Settings, tiny_embedder: Embedder) -> None:
    topics = ["volcano lava magma", "bread yeast flour", "chess pawn king", "tax income receipts", "garden tomato sun"]
    files = {
        f"{t.split()[0]}{n}.txt": "\n\n".join(
            f"Part {p} of the notes about {t}. The {t.split()[p % 3]} entries number {n} continue with more "
            f"{t} details, each one written down in plain words for later reading."
            for p in range(3)
        )
        for n in range(5)
        for t in topics
    }
    folder = write_corpus(tmp_path / "docs", files)
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    indexer = Indexer(
        store, dataclasses.replace(settings, chunk_size=160, chunk_overlap=0), tiny_embedder, measure=measure
    )
    events = [e.phase for e in indexer.run([folder])]
    assert "measure" in events
    estimate = store.fusion(indexer.profile)
    assert estimate is not None and estimate["probes"] >= 20 and estimate["collection"] >= estimate["probes"]
    assert estimate["method"] == METHOD and estimate["dense_weight"] in WEIGHTS
    assert 0.0 <= estimate["ndcg_bm25"] <= 1.0 and 0.0 <= estimate["ndcg_dense"] <= 1.0
    assert estimate["gain"] >= 0.0
    # No weight is chosen unless it beats keyword-led fusion.
    fused = estimate["ndcg_fused"]
    assert estimate["dense_weight"] == 0.0 or fused[str(estimate["dense_weight"])] > fused["0.0"]
    again = estimate_fusion(Searcher(indexer.index, tiny_embedder))
    assert again["dense_weight"] == estimate["dense_weight"], "the estimate is deterministic"


def test_tiny_corpus_is_not_measured_and_keyword_search_leads(store: Store, indexed: Indexer) -> None:
    indexer = indexed
    estimate = store.fusion(indexer.profile)
    assert estimate is not None and estimate["gain"] is None and estimate["dense_weight"] == 0.0
    assert store.dense_weight(indexer.profile) == 0.0


def test_a_measurement_for_another_fusion_method_is_measured_again(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path, indexed: Indexer
) -> None:
    indexer = indexed
    # What a Sleuth that fused by reciprocal rank stored: a weight on another scale, and no method.
    store.set_fusion(indexer.profile, {"probes": 150, "dense_weight": 2.0, "gain": 0.05})
    assert store.fusion(indexer.profile) is None and store.dense_weight(indexer.profile) == 0.0
    phases = [event.phase for event in Indexer(store, settings, tiny_embedder, measure=measure).run([corpus])]
    assert "measure" in phases
    assert (store.fusion(indexer.profile) or {}).get("method") == METHOD


def test_a_measurement_made_with_fewer_probes_keeps_its_weight_until_measured_again(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path, indexed: Indexer
) -> None:
    indexer = indexed
    # What Sleuth stored when it measured on 150 probes: this method, but no measurement version.
    older = {"method": METHOD, "probes": 150, "dense_weight": 0.7, "gain": 0.1}
    store.set_meta(f"fusion:{indexer.profile.key}", older)
    assert store.fusion(indexer.profile) is None, "not taken as today's measurement"
    assert store.dense_weight(indexer.profile) == 0.7, "but its weight answers until the next run"
    status = describe_estimate(index_stats(store).estimate)
    assert "weight 0.7, measured on 150 probe queries" in status, "and the status says which weight that is"
    phases = [event.phase for event in Indexer(store, settings, tiny_embedder, measure=measure).run([corpus])]
    assert "measure" in phases
    again = store.fusion(indexer.profile)
    assert again is not None and again["measurement"] == FUSION_MEASUREMENT and again["probes"] != 150


def _with_paths(ids: list[int], scores: list[float], column: str, paths: list[str]) -> pa.Table:
    return _scored(ids, scores, column).append_column("path", pa.array(paths))


def test_keyword_lead_is_measured_against_the_next_file_not_the_next_passage() -> None:
    bm25 = [(1, 10.0), (2, 9.9), (3, 5.0), (4, 1.0)]
    z = standardise([s for _i, s in bm25])
    files = {1: "a", 2: "a", 3: "b", 4: "c"}
    assert keyword_lead(bm25, files) == pytest.approx(z[0] - z[2])
    assert keyword_lead(bm25) == pytest.approx(z[0] - z[1]), "without files, each passage is its own"
    assert keyword_lead([]) == 0.0
    assert keyword_lead([(1, 3.0), (2, 2.0)], {1: "a", 2: "a"}) == math.inf, "one file only is decisive"


def test_a_querys_dense_weight_shrinks_as_keyword_search_leads() -> None:
    assert query_weight(0.6, 0.0) == pytest.approx(0.6)
    assert query_weight(0.6, KEYWORD_LEAD / 2) == pytest.approx(0.3)
    assert query_weight(0.6, KEYWORD_LEAD) == 0.0 and query_weight(0.6, math.inf) == 0.0


def test_a_confident_keyword_answer_stays_first_whatever_dense_search_prefers() -> None:
    # BM25 is sure of a.txt; dense search (tightly clustered scores, stretched by z-scoring) prefers b.txt.
    paths = ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"]
    bm25 = _with_paths([1, 2, 3, 4, 5], [20.0, 4.0, 3.8, 3.5, 3.0], "_score", paths)
    dense = _with_paths(
        [2, 1, 3, 4, 5], [0.83, 0.80, 0.79, 0.78, 0.77], "_dense_score", [paths[i - 1] for i in (2, 1, 3, 4, 5)]
    )
    lead = keyword_lead(list(zip([1, 2, 3, 4, 5], [20.0, 4.0, 3.8, 3.5, 3.0], strict=True)))
    assert query_weight(0.8, lead) < 0.2, "most of the dense weight is taken away for this query"
    assert ScoreFusion(0.8).rerank_hybrid("q", dense, bm25)["path"].to_pylist()[0] == "a.txt"
    assert ScoreFusion(0.8, adaptive=False).rerank_hybrid("q", dense, bm25)["path"].to_pylist()[0] == "b.txt"
    # A close call between files is still decided with dense search's help.
    close = _with_paths([1, 2, 3, 4, 5], [10.0, 9.8, 3.8, 3.5, 3.0], "_score", paths)
    assert ScoreFusion(0.8).rerank_hybrid("q", dense, close)["path"].to_pylist()[0] == "b.txt"


def test_an_identifier_found_in_one_file_leads_the_hybrid_results(indexed: Indexer, tiny_embedder: Embedder) -> None:
    # The tiny model's vectors are noise: at full dense weight they would decide the order, but BM25 found
    # the term in one file only, so that file comes first.
    response = Searcher(indexed.index, tiny_embedder, dense_weight=1.0).search("Vesuvius", mode="hybrid", k=5)
    assert Path(response.hits[0].path).name == "volcano.txt"


def test_the_bundled_model_has_its_measured_prior_until_the_documents_give_a_measurement(
    store: Store, settings: Settings, tiny_embedder: Embedder, indexed: Indexer
) -> None:
    from core.embedding.registry import DEFAULT_ADAPTER, chosen_model, prior_dense_weight
    from core.index.store import IndexProfile

    # The tiny corpus is too small to measure: a model without a prior leaves keyword search leading.
    assert store.dense_weight(indexed.profile) == 0.0
    tiny = store.fusion(indexed.profile)
    assert tiny is not None and tiny["gain"] is None
    assert describe_estimate(tiny, prior_dense_weight(settings.model, settings.adapter)).endswith(
        "keyword search leads."
    )
    # The bundled models (a profile names the one the default setting chose): the weight measured on the
    # evaluation sets, said as such.
    assert prior_dense_weight(chosen_model("auto", DEFAULT_ADAPTER, 0, "cpu"), DEFAULT_ADAPTER) is not None
    bundled = IndexProfile("smollm2-135m", DEFAULT_ADAPTER, "llara:smollm2-135m+adapter:bundled@0", 576, 256, 32)
    prior = prior_dense_weight("smollm2-135m", DEFAULT_ADAPTER)
    assert prior is not None and 0 < prior < 1
    assert store.dense_weight(bundled) == prior
    store.set_fusion(bundled, dict(tiny))
    assert store.dense_weight(bundled) == prior, "too little text to measure: the prior still holds"
    assert f"evaluation sets ({prior:g})" in describe_estimate(store.fusion(bundled), prior)
    # A real measurement replaces it, down to zero.
    store.set_fusion(bundled, {**tiny, "gain": 0.0, "dense_weight": 0.0})
    assert store.dense_weight(bundled) == 0.0
