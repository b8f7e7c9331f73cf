"""Evaluation: metrics against hand-computed values, the BEIR format, the set builders, ``sleuth eval`` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.cli import main
from core.evaluation.beir import BeirSet, Doc, EvaluationError, load_beir, subsample, write_beir
from core.evaluation.halves import half_of
from core.evaluation.metrics import evaluate_run, mrr_at, ndcg_at, recall_at
from core.evaluation.runner import parse_dims
from core.evaluation.sources import (
    Entry,
    deb822,
    dpkg_entries,
    long_description,
    make_set,
    parse_man,
    strip_verbatim,
)

# --- metrics -----------------------------------------------------------------------------------


def test_ndcg_with_graded_relevance_matches_hand_computation() -> None:
    ranked = ["a", "b", "c", "d"]
    grades = {"b": 1, "d": 2, "x": 0}
    dcg = 1 / math.log2(3) + 2 / math.log2(5)  # b at rank 2, d at rank 4
    ideal = 2 / math.log2(2) + 1 / math.log2(3)  # d first, then b
    assert ndcg_at(ranked, grades) == pytest.approx(dcg / ideal)
    assert ndcg_at(ranked, grades) == pytest.approx(0.567207, abs=1e-6)
    assert ndcg_at(["d", "b"], grades) == pytest.approx(1.0)
    assert ndcg_at(ranked, grades, k=2) == pytest.approx((1 / math.log2(3)) / ideal)
    assert ndcg_at(ranked, {"x": 0}) == 0.0


def test_mrr_and_recall() -> None:
    grades = {"c": 1, "z": 1}
    assert mrr_at(["a", "b", "c"], grades) == pytest.approx(1 / 3)
    assert mrr_at(["a", "b", "c"], grades, k=2) == 0.0
    assert recall_at(["a", "c"], grades, 10) == 0.5
    assert recall_at(["z", "c"], grades, 1) == 0.5
    assert recall_at(["z", "c"], grades, 2) == 1.0
    assert recall_at(["a"], {}, 10) == 0.0


def test_evaluate_run_averages_judged_queries_and_counts_missing_ones_as_zero() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 0}}  # q3 has no relevant document: skipped
    run = {"q1": ["d1", "d9"]}  # q2 is missing from the run
    figures = evaluate_run(run, qrels)
    assert figures["queries"] == 2
    assert figures["ndcg@10"] == pytest.approx(0.5)
    assert figures["mrr@10"] == pytest.approx(0.5)
    deep = {"q1": ["d1"], "q2": [f"x{i}" for i in range(50)] + ["d2"]}
    assert evaluate_run(run, qrels, deep)["recall@100"] == pytest.approx(1.0)
    assert evaluate_run(run, qrels, deep)["recall@10"] == pytest.approx(0.5)


# --- BEIR format -------------------------------------------------------------------------------


def _tiny_set() -> BeirSet:
    return BeirSet(
        corpus={f"d{i}": Doc(f"title {i}", f"text number {i}") for i in range(10)},
        queries={"q1": "first", "q2": "second", "q3": "orphan"},
        qrels={"q1": {"d1": 1, "d2": 2}, "q2": {"d5": 1}, "q3": {"nowhere": 1}},
        name="tiny",
    )


def test_beir_roundtrip_header_and_filtering(tmp_path: Path) -> None:
    folder = write_beir(_tiny_set(), tmp_path / "tiny")
    lines = (folder / "qrels" / "test.tsv").read_text().splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore" and "q1\td2\t2" in lines
    loaded = load_beir(folder)
    assert loaded.corpus["d3"] == Doc("title 3", "text number 3")
    assert loaded.qrels["q1"] == {"d1": 1, "d2": 2}
    assert "q3" not in loaded.qrels  # its document is not in the corpus
    assert loaded.judged_queries() == ["q1", "q2"]
    assert loaded.summary()["judgements"] == 3


def test_beir_errors_name_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match=r"qrels/test\.tsv"):
        load_beir(tmp_path)


def test_subsample_keeps_every_relevant_document() -> None:
    small = subsample(_tiny_set(), limit_queries=1, limit_docs=3, seed=1)
    assert len(small.queries) == 1
    (query,) = small.queries
    assert set(small.qrels[query]) <= set(small.corpus)
    assert len(small.corpus) == 3
    assert subsample(_tiny_set(), 1, 3, seed=1).corpus.keys() == small.corpus.keys()  # seeded


def test_parse_dims() -> None:
    assert parse_dims("64, 128,full,64") == [64, 128, 0]
    with pytest.raises(EvaluationError):
        parse_dims("64,-1")


# --- set builders ------------------------------------------------------------------------------

STATUS = """\
Package: alpha
Status: install ok installed
Source: alpha-src (1.0)
Description: fast tool for counting words
 Alpha reads text files and counts words, lines and characters quickly.
 .
 It is a fast tool for counting words in large files.
  * verbatim list item

Package: alpha-doc
Status: install ok installed
Source: alpha-src
Description: documentation for alpha
 Alpha reads text files and counts words, lines and characters quickly.

Package: removed
Status: deinstall ok config-files
Description: a package that is gone
 It was removed and should not be in the set.
"""


def test_deb822_and_long_description() -> None:
    stanzas = list(deb822(STATUS))
    assert [s["Package"] for s in stanzas] == ["alpha", "alpha-doc", "removed"]
    synopsis, _, body = stanzas[0]["Description"].partition("\n")
    assert synopsis == "fast tool for counting words"
    text = long_description(body)
    assert text.splitlines()[1] == "" and text.splitlines()[-1] == " * verbatim list item"


def test_dpkg_entries_strip_the_query_from_the_document(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text(STATUS)
    entries = {e.key: e for e in dpkg_entries(status)}
    assert set(entries) == {"alpha", "alpha-doc"}
    alpha = entries["alpha"]
    assert alpha.group == "alpha-src" and entries["alpha-doc"].group == "alpha-src"
    assert alpha.query == "fast tool for counting words"
    assert "fast tool for counting words" not in alpha.text.lower()
    assert "It is a in large files." in alpha.text
    assert strip_verbatim("A  Fast\nTool here", "fast tool") == "A here"


def test_make_set_one_per_group_unique_texts_and_unambiguous_queries() -> None:
    body = " ".join(f"word{i}" for i in range(40))
    entries = [
        Entry("a1", "a", "a1", "shared synopsis text here", body + " a1"),
        Entry("b1", "b", "b1", "shared synopsis text here", body + " b1"),  # ambiguous query: never asked
        Entry("c1", "c", "c1", "unique synopsis for c", body + " c1"),
        Entry("c2", "c", "c2", "sibling of c", body + " c2"),  # same group as c1
        Entry("d1", "d", "d1", "copy of c text", body + " c1"),  # same text as c1 (if c1 is chosen)
        Entry("e1", "e", "e1", "too short", "tiny text"),
    ]
    beir = make_set(entries, name="t", docs=None, queries=10, seed=0)
    assert "a1" in beir.corpus and "b1" in beir.corpus and "e1" not in beir.corpus
    assert len({"c1", "c2"} & set(beir.corpus)) == 1
    assert "q:a1" not in beir.queries and "q:b1" not in beir.queries
    for query, grades in beir.qrels.items():
        (doc,) = grades
        assert query == f"q:{doc}" and beir.queries[query] not in beir.corpus[doc].text
    assert make_set(entries, name="t", docs=None, queries=10, seed=0).corpus == beir.corpus


def test_parse_man_splits_name_description_and_body() -> None:
    rendered = (
        "LS(1)                 User Commands                 LS(1)\n\nNAME\n       ls - list directory\n"
        "       contents\n\nSYNOPSIS\n       ls [OPTION]... [FILE]...\n\nDESCRIPTION\n       List information.\n\n"
        "GNU coreutils 9.1          2022-09          LS(1)\n"
    )
    names, description, body = parse_man(rendered) or ("", "", "")
    assert names == "ls" and description == "list directory contents"
    assert body == "SYNOPSIS\nls [OPTION]... [FILE]...\n\nDESCRIPTION\nList information."
    assert parse_man("X(1)\n\nSYNOPSIS\n  x\nfooter\n") is None


def test_builder_script_offline_set_is_deterministic(tmp_path: Path) -> None:
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "scripts" / "build_eval_sets.py"
    spec = importlib.util.spec_from_file_location("build_eval_sets", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    status = tmp_path / "status"
    status.write_text(STATUS)
    args = ["--sets", "dpkg", "--dpkg-status", str(status), "--dpkg-queries", "5"]
    assert module.main([str(tmp_path / "one"), *args]) == 0
    assert module.main([str(tmp_path / "two"), *args]) == 0
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert (tmp_path / "one/dpkg-status" / name).read_bytes() == (tmp_path / "two/dpkg-status" / name).read_bytes()
    assert load_beir(tmp_path / "one/dpkg-status").judged_queries()


# --- sleuth eval end to end --------------------------------------------------------------------

TOPICS = {
    "volcano": ("Magma rises through the crust and erupts as basalt lava.", "volcanic eruption lava"),
    "bread": ("Sourdough starter with wild yeast; knead the dough and bake it.", "sourdough bread baking"),
    "chess": ("The Sicilian Defence answers e4 with c5 in chess openings.", "chess opening defence"),
    "garden": ("Tomatoes need sun; water the roots to avoid blight.", "growing tomatoes garden"),
    "taxes": ("Collect payslips and receipts before the tax filing deadline.", "income tax filing"),
    "guitar": ("Tune the guitar strings and practise chords every day.", "guitar chords practice"),
    "coffee": ("Grind the coffee beans finely for an espresso shot.", "espresso coffee grinding"),
    "cycling": ("Inflate the bicycle tyres and oil the chain before a ride.", "bicycle chain maintenance"),
}


@pytest.fixture
def tiny_reranker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random BERT cross-encoder: exercises the reranking path, its scores mean nothing."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from tests.conftest import build_tiny_tokenizer

    directory = tmp_path_factory.mktemp("tiny-reranker")
    tokenizer = build_tiny_tokenizer()
    tokenizer.pad_token = "<unk>"
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=512,
    )
    config.num_labels = 1
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_sleuth_eval_end_to_end(
    tmp_path: Path,
    tiny_llama_dir: Path,
    tiny_reranker_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    user_db = tmp_path / "user-db"
    monkeypatch.setenv("SLEUTH_DB", str(user_db))
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["config", "set", "chunk_size", "48"]) == 0
    assert main(["config", "set", "reranker", ""]) == 0  # reranking off: the fifth mode says so
    beir = BeirSet(
        corpus={name: Doc(name, (text + " ") * 3) for name, (text, _query) in TOPICS.items()},
        queries={f"q-{name}": query for name, (_text, query) in TOPICS.items()},
        qrels={f"q-{name}": {name: 1} for name in TOPICS},
        name="topics",
    )
    folder = write_beir(beir, tmp_path / "topics")
    out = tmp_path / "report" / "topics.json"
    capsys.readouterr()
    argv = ["eval", str(folder), "--dims", "16,full", "--out", str(out), "--limit-queries", "6", "--half", "all"]
    assert main([*argv, "--modes", "bm25,dense,hybrid,hybrid_rrf,hybrid_rerank"]) == 0
    printed = capsys.readouterr().out
    assert "| 64 | bm25 |" in printed and "not run: no reranker" in printed
    report = json.loads(out.read_text())
    assert out.with_suffix(".svg").is_file()
    assert report["dims"] == [64, 16]
    assert report["dataset"]["queries"] == 6 and report["index"]["documents"] == 8
    for dim in ("64", "16"):
        row = report["results"][dim]
        assert set(row) >= {"bm25", "dense", "hybrid", "hybrid_rrf", "hybrid_rerank", "paired"}
        for mode in ("bm25", "dense", "hybrid", "hybrid_rrf"):
            assert set(row[mode]) >= {"ndcg@10", "mrr@10", "recall@10", "recall@100"}
            assert 0.0 <= row[mode]["ndcg@10"] <= 1.0
        assert row["bm25"]["ndcg@10"] == pytest.approx(1.0)  # every query shares rare words with its document
        assert row["hybrid_rerank"] == {"skipped": "not run: no reranker"}
        assert row["hybrid"]["dense_weight"] == report["fusion"][dim]["dense_weight"]
        assert row["hybrid_rrf"]["dense_weight"] == 1.0
    assert not user_db.exists()  # the user's index is never touched

    # With a reranker the fifth mode runs; a kept work folder is reused.
    work = tmp_path / "work"
    rerank_argv = [
        *(
            "eval",
            str(folder),
            "--dims",
            "full",
            "--out",
            str(out),
            "--no-plot",
            "--work-dir",
            str(work),
            "--half",
            "all",
        )
    ]
    assert main([*rerank_argv, "--modes", "bm25,hybrid_rerank", "--reranker", str(tiny_reranker_dir)]) == 0
    report = json.loads(out.read_text())
    assert report["reranker"] == str(tiny_reranker_dir)
    assert report["results"]["64"]["hybrid_rerank"]["recall@100"] == pytest.approx(1.0)
    assert (work / "index.lancedb").is_dir() and len(list((work / "docs").glob("*.txt"))) == 8

    # The halves: the dev and the test queries of the same sample, on the one kept index, never overlap.
    halves = {}
    for half in ("dev", "test"):
        assert main([*rerank_argv[:-1], half, "--modes", "bm25"]) == 0
        report = json.loads(out.read_text())
        assert report["command"]["half"] == half and report["dataset"]["half"] == half
        halves[half] = set(report["per_query"]["queries"])
        assert all(half_of(q) == half for q in halves[half])
    assert halves["dev"] | halves["test"] == {f"q-{name}" for name in TOPICS}
    assert not halves["dev"] & halves["test"]
