"""The bundled rerankers, reranking in search (after the filters, progressively) and training one: real models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from core.embedding import Embedder
from core.embedding.bundled_encoder import bundled_encoder_dir
from core.errors import Cancelled, ConfigError
from core.index.indexer import Indexer
from core.jobs import CancelToken
from core.search.query_likelihood import QueryLikelihoodReranker
from core.search.rerank import (
    BUNDLED,
    BUNDLED_DIR,
    BUNDLED_MINILM,
    WHY_OFF,
    CrossEncoderReranker,
    Reranker,
    load_bundled,
    settings_reranker,
    top_n_for,
    weight_for,
)
from core.search.searcher import Searcher, mixed_scores
from core.search.window import passage_window
from core.settings import Settings, load_settings
from core.training.data import contrastive_pairs, passages_from_index
from core.training.rerank_data import mine_rerank_examples
from core.training.reranker import RerankerTraining, RerankOptions

DEFAULT_WEIGHT = weight_for(Settings(reranker=BUNDLED))  # the bundled reranker's own share
PASSAGES = [
    "SQLite's VACUUM command rebuilds the database file, repacking it into a minimal amount of disk space.",
    "To undo the most recent commit but keep its changes in the working tree, run git reset --soft HEAD~1.",
    "Tomatoes need at least six hours of sun a day; water the roots in the morning, never the leaves.",
]


@pytest.fixture(scope="module")
def minilm_reranker() -> CrossEncoderReranker:
    return CrossEncoderReranker(BUNDLED_MINILM)


@pytest.fixture(scope="module")
def bundled_reranker(bundled_cache_dir: Path) -> Reranker:
    """The default reranker, loaded the way search loads it, from the bundled model converted offline."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLEUTH_CACHE_DIR", str(bundled_cache_dir))
        reranker = settings_reranker(Settings(device="cpu", reranker=BUNDLED))
    assert reranker is not None
    return reranker


def test_the_window_holds_the_query_words_with_context_on_both_sides() -> None:
    words = [f"w{i}" for i in range(300)]
    words[200:202] = ["restore", "snapshot"]
    window = passage_window("restore a snapshot", " ".join(words), words=40).split()
    assert len(window) == 40 and "restore" in window and "snapshot" in window
    assert 10 <= window.index("restore") <= 30  # not pushed to an edge
    assert passage_window("anything", "short text", words=40) == "short text"
    assert passage_window("zzz", " ".join(words), words=40).split() == words[:40]  # no match: the start


def test_the_trained_cross_encoder_ships_and_puts_the_answer_first(minilm_reranker: CrossEncoderReranker) -> None:
    assert (BUNDLED_DIR / "adapter_config.json").is_file()
    assert json.loads((BUNDLED_DIR / "training.json").read_text())["steps"] > 0
    assert int(np.argmax(minilm_reranker.score("how do I undo my last git commit", PASSAGES))) == 1
    assert int(np.argmax(minilm_reranker.score("shrink the size of a database file", PASSAGES))) == 0


def test_the_bundled_reranker_is_the_bundled_model_reading_the_query_after_each_passage(
    bundled_reranker: Reranker,
) -> None:
    assert isinstance(bundled_reranker, QueryLikelihoodReranker)
    assert int(np.argmax(bundled_reranker.score("how do I undo my last git commit", PASSAGES))) == 1
    assert int(np.argmax(bundled_reranker.score("shrink the size of a database file", PASSAGES))) == 0
    assert int(np.argmax(bundled_reranker.score("when should I water tomato plants", PASSAGES))) == 2
    assert bundled_reranker.score("anything", []).shape == (0,)


def test_the_bundled_reranker_scores_a_batch_as_it_scores_each_passage_alone(bundled_cache_dir: Path) -> None:
    reranker = QueryLikelihoodReranker(BUNDLED, precision="fp32", cache_dir=bundled_cache_dir)  # bf16 rounds
    alone = [float(reranker.score("undo a git commit", [p])[0]) for p in PASSAGES]
    together = reranker.score("undo a git commit", [PASSAGES[0] + " " + PASSAGES[2], *PASSAGES])  # longest first
    assert together[1:].tolist() == pytest.approx(alone, abs=1e-3)  # padding changes nothing


def test_reranking_runs_after_the_filters_and_shows_both_scores(
    indexed: Indexer, tiny_embedder: Embedder, bundled_reranker: Reranker
) -> None:
    searcher = Searcher(indexed.index, tiny_embedder, bundled_reranker, dense_weight=0.0, rerank_weight=DEFAULT_WEIGHT)
    response = searcher.search_documents("bake bread in a hot oven -sourdough", k=5, rerank_top_n=10)
    assert response.reranked
    assert all(Path(d.path).name != "bread.md" for d in response.documents)  # the excluded word's file
    head = response.hits[:3]
    assert head and all({"rerank", "fused"} <= set(h.scores) for h in head)


def test_the_reranked_order_follows_the_fused_one_without_changing_it(
    indexed: Indexer, tiny_embedder: Embedder, bundled_reranker: Reranker
) -> None:
    searcher = Searcher(indexed.index, tiny_embedder, bundled_reranker, dense_weight=0.0, rerank_weight=DEFAULT_WEIGHT)
    fused = searcher.search_documents("when is the income tax filing deadline", k=5, rerank=False)
    assert not fused.reranked and fused.candidates
    reranked = searcher.rerank_documents(fused, k=5, rerank_top_n=10)
    assert reranked.reranked and reranked is not fused
    assert not any("rerank" in h.scores for h in fused.hits)  # what the window shows meanwhile is untouched
    assert Path(reranked.documents[0].path).name == "return.txt"
    assert all("rerank" in h.scores for h in reranked.hits[:3])
    assert reranked.documents[0].best.highlights  # the words are marked in the new order too


def test_the_mix_weight_moves_from_the_fused_order_to_the_rerankers() -> None:
    fused = np.array([3.0, 2.0, 1.0])
    rerank = np.array([-1.0, 0.0, 5.0])
    assert np.argsort(-mixed_scores(fused, rerank, 0.0)).tolist() == [0, 1, 2]
    assert np.argsort(-mixed_scores(fused, rerank, 1.0)).tolist() == [2, 1, 0]
    # A reranker with no opinion leaves the fused order, standardised: (3, 2, 1) -> (1.22, 0, -1.22) x 0.5.
    assert mixed_scores(fused, np.array([1.0, 1.0, 1.0]), 0.5).tolist() == pytest.approx(
        [0.6124, 0.0, -0.6124], abs=1e-4
    )


def test_reranking_is_off_by_default_and_saved_defaults_follow(tmp_path: Path) -> None:
    assert Settings().reranker == "" and settings_reranker(Settings()) is None
    path = tmp_path / "settings.json"
    # Every earlier default (off before version 3, the bundled language model from 3 to 6) becomes today's.
    for saved in (
        {"schema_version": 2, "reranker": "", "rerank_top_n": 12},
        {"schema_version": 6, "reranker": BUNDLED},
    ):
        path.write_text(json.dumps(saved))
        settings = load_settings(path)
        assert settings.reranker == "" and settings.rerank_top_n == saved.get("rerank_top_n", 0)
    for chosen in (BUNDLED_MINILM, "cross-encoder/ms-marco-MiniLM-L-6-v2"):  # a choice is kept
        path.write_text(json.dumps({"schema_version": 6, "reranker": chosen}))
        assert load_settings(path).reranker == chosen
    path.write_text(json.dumps({"schema_version": 7, "reranker": BUNDLED}))
    assert load_settings(path).reranker == BUNDLED  # turned on since: kept
    assert "hybrid search" in WHY_OFF and "MRR@10" in WHY_OFF  # the settings panel's reason, with its figures


def test_saved_defaults_become_each_rerankers_own_numbers(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    minilm_era = {"schema_version": 3, "rerank_top_n": 20, "rerank_weight": 0.3}
    shared_era = {"schema_version": 4, "rerank_top_n": 5, "rerank_weight": 0.5}
    for saved in (minilm_era, shared_era):
        path.write_text(json.dumps(saved))
        settings = load_settings(path)
        assert (settings.rerank_top_n, settings.rerank_weight) == (0, -1.0)  # automatic
        language_model = dataclasses.replace(settings, reranker=BUNDLED)
        assert (top_n_for(language_model), weight_for(language_model)) == (5, 0.5)  # the bundled language model's own
        minilm = dataclasses.replace(settings, reranker=BUNDLED_MINILM)
        assert (top_n_for(minilm), weight_for(minilm)) == (20, 0.3)  # the cross-encoder's own
    path.write_text(json.dumps({"schema_version": 3, "rerank_top_n": 12, "rerank_weight": 0.4}))
    settings = load_settings(path)
    assert (settings.rerank_top_n, settings.rerank_weight) == (12, 0.4)  # choices are kept, for every reranker
    assert (top_n_for(settings), weight_for(settings)) == (12, 0.4)
    with pytest.raises(ConfigError):
        Settings(rerank_weight=-0.5).validate()


def test_training_a_reranker_resumes_after_cancel_and_loads(
    indexed: Indexer, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    passages = passages_from_index(indexed.index)
    pairs = contrastive_pairs(passages, next_chunk=False)
    searcher = Searcher(indexed.index, tiny_embedder, dense_weight=0.0)
    examples = mine_rerank_examples(searcher, pairs, passages, hard=2, easy=1, skip=0, seed=0)
    assert examples and all(len(e.negatives) == 3 for e in examples)
    assert all(e.positive not in e.negatives for e in examples)
    options = RerankOptions(steps=3, batch_size=2, checkpoint_every=1, max_tokens=64, window_words=40)
    run_dir, out = tmp_path / "run", tmp_path / "reranker"
    cancel = CancelToken()
    first = RerankerTraining(examples, options, base_dir=bundled_encoder_dir(), run_dir=run_dir, out_dir=out)
    with pytest.raises(Cancelled):
        for event in first.run(cancel):
            if event.phase == "rerank" and event.step == 1:
                cancel.cancel()
    assert not out.exists()
    again = RerankerTraining(examples, options, base_dir=bundled_encoder_dir(), run_dir=run_dir, out_dir=out)
    events = list(again.run())
    assert "Continuing from the checkpoint at step 1." in [e.message for e in events]
    assert [e.step for e in events if e.phase == "rerank"] == [2, 3]
    assert events[-1].phase == "done" and (out / "adapter_model.safetensors").is_file()
    tokenizer, model = load_bundled("cpu", out)
    assert model(**tokenizer(["a query"], ["a passage"], return_tensors="pt")).logits.shape == (1, 1)


def test_sleuth_adapt_trains_the_minilm_reranker_on_your_documents_and_not_the_default_one(
    cli_indexed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli import main

    tmp_path = cli_indexed
    capsys.readouterr()
    # Reranking off (the default), or the bundled language model: nothing adapting trains, refused before any training.
    for reranker in ("", BUNDLED):
        assert main(["config", "set", "reranker", reranker]) == 0
        assert main(["adapt", "--reranker", "--steps", "1", "--no-progress"]) == 2
        assert "set the reranker to 'bundled-minilm' first" in capsys.readouterr().err
        assert not (tmp_path / "data" / "adapters").exists() and not (tmp_path / "data" / "rerankers").exists()
        assert load_settings(tmp_path / "config" / "settings.json").reranker == reranker

    assert main(["config", "set", "reranker", "bundled-minilm"]) == 0
    capsys.readouterr()
    assert main(["adapt", "--stage", "rerank", "--rerank-steps", "2", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    trained = tmp_path / "data" / "rerankers" / "my-documents"
    assert f"Reranker saved to {trained}" in out and "Reranker:" in err and "steps" in err
    assert load_settings(tmp_path / "config" / "settings.json").reranker == str(trained)
    # Searching uses it: both scores in the answer.
    assert main(["search", "income tax deadline", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"rerank", "fused"} <= set(data["results"][0]["scores"])
    assert Path(data["results"][0]["path"]).name == "return.txt"


def test_a_question_word_the_documents_lack_is_not_corrected(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    from core.index.store import Store
    from tests.core.corpus import write_corpus

    folder = write_corpus(
        tmp_path / "docs",
        {
            "bread.md": "# Bread\n\nA sourdough starter needs flour and water every day before the dough can rise.",
            "lisbon.txt": "Pasteis de nata are best warm, dusted with cinnamon, in Belem near the monastery.",
        },
    )
    store = Store(tmp_path / "index.lancedb")
    store.add_folder(folder)
    indexer = Indexer(store, settings, tiny_embedder)
    for _ in indexer.run([folder]):
        pass
    searcher = Searcher(indexer.index, tiny_embedder, dense_weight=0.0)
    # Neither file says "does", and "de" is one edit from its stem: the question still reads as typed.
    response = searcher.search_documents("why does my sourdough dough not rise", rerank=False)
    assert not response.corrected and Path(response.documents[0].path).name == "bread.md"
    assert searcher.search_documents("sourdogh starter", rerank=False).corrected == "sourdough starter"


def test_why_reranking_is_off_quotes_the_committed_test_halves() -> None:
    results = Path(__file__).resolve().parents[2] / "benchmarks/results/halves"
    report = json.loads((results / "pooled-test.json").read_text())
    cell = report["pooled"]["hybrid_rerank - hybrid"]["pooled"]["mrr@10"]
    for value in (cell["diff"], cell["ci95_low"], cell["ci95_high"]):
        assert f"{value:+.3f}".replace("-", "−").lstrip("+") in WHY_OFF
    assert f"({cell['queries']} queries)" in WHY_OFF
