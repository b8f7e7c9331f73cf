"""The real-folder evaluation: judged queries over real files (text, Markdown, reST, HTML, PDF) end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.evaluation.beir import EvaluationError
from core.evaluation.folder import FolderQuery, load_queries, paired_bootstrap, score_query
from tests.core.corpus import write_corpus
from tests.core.hostile import make_pdf

# A chunk belongs to the page it starts on: each page is longer than a chunk, its query words at its end.
ATLAS = [
    ["Quokkas live on Rottnest Island.", "They are small marsupials that smile.", "Rangers count them each spring."],
    [
        "Mathematicians in Pisa wrote about rabbits breeding in pairs.",
        "Each month the number of pairs grew by the sum of the two before.",
        "Page two is about the Fibonacci sequence and golden ratios.",
    ],
    [
        "Auf der Insel stand ein alter Turm aus rotem Stein.",
        "Im Winter kamen die Schiffe nur selten an der Küste vorbei.",
        "Die Leuchtturmwärter kürzten jede Nacht die Dochte der Lampen.",
    ],
]
QUERIES = [
    {"id": "a", "kind": "keywords", "query": "Vesuvius Pompeii", "relevant": ["volcano.txt"]},
    {"id": "b", "kind": "question", "query": "how do I feed a sourdough starter?", "relevant": ["bread.md"]},
    {"id": "c", "kind": "identifier", "query": "Sicilian Defence", "relevant": ["chess.rst"]},
    {"id": "d", "kind": "paraphrase", "query": "tomatoes blight", "relevant": ["garden.html", "taxes/return.txt"]},
    {
        "id": "e",
        "kind": "keywords",
        "query": "Fibonacci golden ratios",
        "relevant": ["atlas.pdf"],
        "pages": {"atlas.pdf": [2]},
    },
    {
        "id": "f",
        "kind": "non-english",
        "query": "Leuchtturmwärter Dochte",
        "relevant": ["atlas.pdf"],
        "pages": {"atlas.pdf": [3]},
    },
]


def _folder(root: Path) -> Path:
    write_corpus(root)
    (root / "atlas.pdf").write_bytes(make_pdf(ATLAS))
    return root


def _queries(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_score_query_collapses_to_files_and_reads_the_page_of_the_first_passage() -> None:
    query = FolderQuery("q", "keywords", "x", ("/f/b.pdf", "/f/c.txt"), {"/f/b.pdf": (4,)})
    scores = score_query(query, [("/f/a.txt", None), ("/f/b.pdf", 3), ("/f/c.txt", None)])
    assert scores["hit@1"] == 0.0 and scores["hit@5"] == 1.0 and scores["mrr@10"] == pytest.approx(0.5)
    assert scores["page_hit"] == 0.0  # the right file, the wrong page
    assert score_query(query, [("/f/b.pdf", 4)])["page_hit"] == 1.0
    assert score_query(FolderQuery("q", "keywords", "x", ("/f/c.txt",)), [("/f/c.txt", None)])["page_hit"] is None


def test_paired_bootstrap_interval_holds_the_mean_and_is_seeded() -> None:
    a = [0.0, 1.0, 0.0, 1.0, 0.5, 0.0]
    b = [1.0, 1.0, 0.0, 1.0, 1.0, 0.5]
    result = paired_bootstrap(a, b, samples=2000, seed=3)
    assert result["diff"] == pytest.approx(1 / 3)
    assert result["ci95_low"] <= result["diff"] <= result["ci95_high"]
    assert result == paired_bootstrap(a, b, samples=2000, seed=3)
    assert paired_bootstrap([1.0, 1.0], [1.0, 1.0])["ci95_low"] == 0.0


def test_load_queries_refuses_unknown_kinds_and_missing_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs")
    good = load_queries(_queries(tmp_path / "q.jsonl", QUERIES), folder)
    assert [q.kind for q in good][:3] == ["keywords", "question", "identifier"] and good[4].pages == {"atlas.pdf": (2,)}
    with pytest.raises(EvaluationError, match="kind 'slang'"):
        load_queries(_queries(tmp_path / "bad.jsonl", [{**QUERIES[0], "kind": "slang"}]), folder)
    with pytest.raises(EvaluationError, match=r"nowhere\.txt is not in"):
        load_queries(_queries(tmp_path / "bad.jsonl", [{**QUERIES[0], "relevant": ["nowhere.txt"]}]), folder)


def test_sleuth_eval_on_a_real_folder_end_to_end(
    tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    user_db = tmp_path / "user-db"
    monkeypatch.setenv("SLEUTH_DB", str(user_db))
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["config", "set", "chunk_size", "48"]) == 0
    folder = _folder(tmp_path / "docs")
    queries = _queries(tmp_path / "queries.jsonl", QUERIES)
    work, out = tmp_path / "work", tmp_path / "report" / "folder.json"
    argv = ["eval", str(folder), "--queries", str(queries), "--work-dir", str(work), "--out", str(out), "--half", "all"]
    capsys.readouterr()
    assert main([*argv, "--modes", "bm25,dense,hybrid,hybrid_rerank", "--reranker", "bundled"]) == 0
    printed = capsys.readouterr().out
    assert "| bm25 |" in printed and "hybrid_minus_bm25_mrr@10" in printed
    report = json.loads(out.read_text())
    assert report["dataset"]["files"] == 6 and report["dataset"]["queries"] == 6
    assert report["index"]["added"] == 6 and report["index"]["chunks_embedded"] == report["index"]["chunks"]
    bm25 = report["results"]["bm25"]
    # Every query shares rare words with its file, and each PDF query's words are on one page only.
    assert bm25["hit@1"] == 1.0 and bm25["mrr@10"] == 1.0 and bm25["ndcg@10"] < 1.0  # d has two relevant files
    assert bm25["page_hit"] == 1.0 and bm25["page_queries"] == 2
    for mode in ("dense", "hybrid"):
        assert all(0.0 <= report["results"][mode][m] <= 1.0 for m in ("hit@1", "hit@5", "mrr@10", "ndcg@10"))
    # The bundled reranker (off by default, named here) runs the fifth mode, set against hybrid search.
    assert report["reranker"] == "bundled" and 0.0 <= report["results"]["hybrid_rerank"]["mrr@10"] <= 1.0
    against = report["paired"]["hybrid_rerank_minus_hybrid_mrr@10"]
    assert against["ci95_low"] <= against["diff"] <= against["ci95_high"]
    paired = report["paired"]["hybrid_minus_bm25_hit@1"]
    assert paired["ci95_low"] <= paired["diff"] <= paired["ci95_high"] and "normal" in paired
    assert set(report["by_kind"]) == {"keywords", "question", "identifier", "paraphrase", "non-english"}
    assert report["by_kind"]["keywords"]["queries"] == 2
    assert report["top5"]["bm25"]["e"][0] == ["atlas.pdf", 2]
    assert not user_db.exists()  # the user's index is never touched

    # The kept work folder is reused: nothing is read or embedded again.
    assert main([*argv, "--modes", "bm25"]) == 0
    again = json.loads(out.read_text())
    assert again["index"]["unchanged"] == 6 and again["index"]["chunks_embedded"] == 0
    assert again["results"]["bm25"] == {**bm25, "seconds": again["results"]["bm25"]["seconds"]}

    # The test half by default, the dev half on request: together every query, once.
    halves = {}
    for half in ("dev", None):
        assert main([*argv[:-2], *(("--half", half) if half else ()), "--modes", "bm25"]) == 0
        report = json.loads(out.read_text())
        halves[report["command"]["half"]] = set(report["per_query"])
    assert set(halves) == {"dev", "test"}
    assert halves["dev"] | halves["test"] == {q["id"] for q in QUERIES} and not halves["dev"] & halves["test"]
