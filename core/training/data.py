"""Training examples mined from the user's own documents; no labels needed.

EBAE/EBAR: every chunk, with the next chunk of the same file (by ordinal) as its following passage.
Contrastive: a heading or first sentence -> the rest of its chunk, and a chunk -> the chunk after it.
Queries are mined as the fusion probes mine them (core.search.query_mining): prose a person might type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.search.query_mining import clean_query, heading_split, is_fragment, sentence_split

if TYPE_CHECKING:
    from core.index.store import ProfileIndex

MIN_PASSAGE_CHARS = 40
MAX_QUERY_CHARS = 300


@dataclass(frozen=True)
class Passage:
    """One chunk of one document, in reading order."""

    doc: str
    ordinal: int
    text: str


@dataclass(frozen=True)
class Pair:
    """A self-supervised (query, passage) pair; ``negative`` is an optional hard negative from another document."""

    query: str
    passage: str
    doc: str
    negative: str | None = None


def passages_from_index(index: ProfileIndex) -> list[Passage]:
    """Every chunk of an index profile, grouped by file and ordered by ordinal."""
    if not index.chunks.count_rows():
        return []
    table = index.chunks.search().select(["path", "ordinal", "text"]).limit(None).to_arrow()
    rows = zip(table["path"].to_pylist(), table["ordinal"].to_pylist(), table["text"].to_pylist(), strict=True)
    return sorted((Passage(p, int(o), t) for p, o, t in rows if t and t.strip()), key=lambda r: (r.doc, r.ordinal))


def passages_from_texts(documents: Iterable[tuple[str, str]], tokenizer: Any, size: int, overlap: int) -> list[Passage]:
    """Chunk ``(doc id, text)`` pairs exactly as the indexer would (for training outside an index)."""
    from core.ingest.chunking import chunk_text

    out: list[Passage] = []
    for doc, text in documents:
        out.extend(
            Passage(doc, c.ordinal, c.text) for c in chunk_text(text, tokenizer, size, overlap) if c.text.strip()
        )
    return out


def following_passages(passages: Sequence[Passage]) -> list[str | None]:
    """For each passage, the text of the next chunk of the same document, or None for the last one."""
    out: list[str | None] = []
    for i, passage in enumerate(passages):
        nxt = passages[i + 1] if i + 1 < len(passages) else None
        ok = nxt is not None and nxt.doc == passage.doc and nxt.ordinal > passage.ordinal
        out.append(nxt.text if ok and nxt is not None else None)
    return out


def _first_sentence(text: str) -> tuple[str, str] | None:
    split = sentence_split(text)
    if split is None or not 15 <= len(split[0]) <= MAX_QUERY_CHARS or len(split[1]) < MIN_PASSAGE_CHARS:
        return None
    query = clean_query(split[0])
    return (query, split[1]) if query else None


def queries_from(text: str) -> list[tuple[str, str]]:
    """(query, passage) splits of one chunk: its heading line -> the rest, and its first sentence -> the rest.

    Where the first line is no heading (a signature, a directive), it stays with the passage, as a reference
    entry's synopsis stays with the entry when its one-line summary is the query.
    """
    stripped = text.strip()
    split = heading_split(stripped)
    if split is not None:
        line, rest = split[0].strip(), split[1].strip()
        first = line.lstrip("#").strip()
        if first and len(first) <= 120 and len(rest) >= MIN_PASSAGE_CHARS and not is_fragment(first):
            heading = clean_query(first)
            pairs = [(heading, rest)] if heading else []
            sentence = _first_sentence(rest)
            if sentence:
                query, after = sentence
                pairs.append((query, after if heading else f"{line}\n{after}"))
            return pairs
    sentence = _first_sentence(stripped)
    return [sentence] if sentence else []


def contrastive_pairs(passages: Sequence[Passage], next_chunk: bool = True) -> list[Pair]:
    """Heading/first sentence -> rest of the chunk, and (``next_chunk``) chunk -> next chunk of the same document."""
    pairs: list[Pair] = []
    for passage, following in zip(passages, following_passages(passages), strict=True):
        pairs.extend(Pair(query, rest, passage.doc) for query, rest in queries_from(passage.text))
        if next_chunk and following is not None and len(following.strip()) >= MIN_PASSAGE_CHARS:
            pairs.append(Pair(passage.text, following, passage.doc))
    return pairs


def add_hard_negatives(index: ProfileIndex, pairs: Sequence[Pair], candidates: int = 10) -> list[Pair]:
    """Attach the best BM25 match (LanceDB FTS on the chunks) that comes from another document."""
    out: list[Pair] = []
    for pair in pairs:
        negative = None
        try:
            rows = (
                index.chunks.search(" ".join(pair.query.split()[:64]), query_type="fts")
                .select(["path", "text"])
                .limit(candidates)
                .to_list()
            )
        except (ValueError, RuntimeError):  # no FTS index, or nothing searchable in the query
            rows = []
        for row in rows:
            if row["path"] != pair.doc and row["text"] != pair.passage:
                negative = row["text"]
                break
        out.append(Pair(pair.query, pair.passage, pair.doc, negative))
    return out


def fingerprint(passages: Sequence[Passage]) -> str:
    """Identifies the training data, so a checkpoint is resumed only on the same documents."""
    digest = hashlib.sha256()
    for passage in passages:
        digest.update(f"{passage.doc}\0{passage.ordinal}\0{passage.text}\0".encode())
    return digest.hexdigest()[:16]
