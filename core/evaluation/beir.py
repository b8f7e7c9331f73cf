"""BEIR-format retrieval sets: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

The format is the one the BEIR benchmark publishes, so any of its sets (or one built by
``scripts/build_eval_sets.py``) evaluates the same way.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import SleuthError
from core.evaluation.halves import Half, in_half


class EvaluationError(SleuthError):
    """A data set that cannot be read, or an evaluation that cannot run; the message says why."""


@dataclass
class Doc:
    title: str
    text: str

    def content(self) -> str:
        """The text of the file the evaluation indexes: title as the first line, like a document heading."""
        return f"{self.title}\n\n{self.text}" if self.title else self.text


@dataclass
class BeirSet:
    corpus: dict[str, Doc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def judged_queries(self) -> list[str]:
        """Queries that have text and at least one relevant document in the corpus."""
        return [
            q
            for q, grades in self.qrels.items()
            if q in self.queries and any(g > 0 and d in self.corpus for d, g in grades.items())
        ]

    def half(self, half: Half) -> BeirSet:
        """The same documents with only the queries of ``half`` (core.evaluation.halves): the index is shared."""
        queries = {q: t for q, t in self.queries.items() if in_half(q, half)}
        qrels = {q: g for q, g in self.qrels.items() if q in queries}
        return BeirSet(self.corpus, queries, qrels, self.name, {**self.meta, "half": str(half)})

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "documents": len(self.corpus),
            "queries": len(self.judged_queries()),
            "judgements": sum(1 for q in self.judged_queries() for g in self.qrels[q].values() if g > 0),
            **self.meta,
        }


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as exc:
                        raise EvaluationError(f"{path}, line {number}: not JSON ({exc}).") from exc
    except OSError as exc:
        raise EvaluationError(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def load_beir(folder: Path, split: str = "test") -> BeirSet:
    """Read a BEIR folder; qrels keep only queries and documents that exist."""
    folder = Path(folder)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for needed in (folder / "corpus.jsonl", folder / "queries.jsonl", qrels_path):
        if not needed.is_file():
            raise EvaluationError(
                f"{needed} is missing: a BEIR set has corpus.jsonl, queries.jsonl and qrels/{split}.tsv."
            )
    corpus = {
        str(row["_id"]): Doc(str(row.get("title") or ""), str(row.get("text") or ""))
        for row in _jsonl(folder / "corpus.jsonl")
    }
    queries = {str(row["_id"]): str(row["text"]) for row in _jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for number, row in enumerate(reader, 1):
            if not row or (number == 1 and not row[-1].lstrip("-").isdigit()):
                continue  # blank line or the header
            if len(row) < 3:
                raise EvaluationError(f"{qrels_path}, line {number}: expected query-id, corpus-id, score.")
            query, doc, score = row[0], row[1], int(row[-1])
            if query in queries and doc in corpus:
                qrels.setdefault(query, {})[doc] = score
    meta: dict[str, Any] = {}
    if (folder / "meta.json").is_file():
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    beir = BeirSet(corpus, queries, qrels, name=folder.name, meta=meta)
    if not beir.judged_queries():
        raise EvaluationError(f"{folder} has no query with a relevant document in the corpus.")
    return beir


def write_beir(beir: BeirSet, folder: Path, split: str = "test") -> Path:
    """Write the set in BEIR format (sorted by id, so the same set gives the same bytes)."""
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for doc_id in sorted(beir.corpus):
            doc = beir.corpus[doc_id]
            handle.write(json.dumps({"_id": doc_id, "title": doc.title, "text": doc.text}, ensure_ascii=False) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for query_id in sorted(beir.queries):
            handle.write(json.dumps({"_id": query_id, "text": beir.queries[query_id]}, ensure_ascii=False) + "\n")
    with (folder / "qrels" / f"{split}.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for query_id in sorted(beir.qrels):
            for doc_id, grade in sorted(beir.qrels[query_id].items()):
                handle.write(f"{query_id}\t{doc_id}\t{grade}\n")
    if beir.meta:
        (folder / "meta.json").write_text(json.dumps(beir.meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


def subsample(beir: BeirSet, limit_queries: int | None = None, limit_docs: int | None = None, seed: int = 0) -> BeirSet:
    """A smaller set: a seeded sample of the judged queries, then every document they judge relevant
    plus a seeded sample of the others up to ``limit_docs`` (the relevant ones are never dropped)."""
    rng = random.Random(seed)
    queries = sorted(beir.judged_queries())
    if limit_queries is not None and limit_queries < len(queries):
        queries = sorted(rng.sample(queries, limit_queries))
    corpus_ids = sorted(beir.corpus)
    if limit_docs is not None and limit_docs < len(corpus_ids):
        needed = {d for q in queries for d, g in beir.qrels[q].items() if g > 0 and d in beir.corpus}
        others = [d for d in corpus_ids if d not in needed]
        room = max(0, limit_docs - len(needed))
        corpus_ids = sorted(needed | set(rng.sample(others, min(room, len(others)))))
    kept = set(corpus_ids)
    return BeirSet(
        corpus={d: beir.corpus[d] for d in corpus_ids},
        queries={q: beir.queries[q] for q in queries},
        qrels={q: {d: g for d, g in beir.qrels[q].items() if d in kept} for q in queries},
        name=beir.name,
        meta=dict(beir.meta),
    )
