"""Best-sentence rescoring: each candidate scored by its sentence closest to the query, in the embedder's space.

A passage vector averages a whole chunk (up to 256 tokens); a question is often answered by one sentence in it.
This reranker splits each candidate into sentences, embeds them with the index's own embedder (no other model,
nothing to download) and scores the candidate by the best cosine between the query and one of its sentences.
It reads meaning, not words: it cannot copy the query's terms the way a small language model's query
likelihood can, so it does not pull hybrid search's order back toward BM25's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from core.embedding import Embedder

NAME = "sentences"
TITLE = "Best sentence, read by the embedder"
#: At most this many sentences of a candidate are embedded (the first ones: a chunk's opening carries its topic).
MAX_SENTENCES = 12
#: Sentences shorter than this many words join the next one (headings, list bullets, "Example:").
MIN_WORDS = 4
_BREAK = re.compile(r"(?<=[.!?。！？])\s+|\n\s*\n|\n(?=\s*[-*•]|\s*\d+[.)]\s)")


def sentences(text: str, max_sentences: int = MAX_SENTENCES, min_words: int = MIN_WORDS) -> list[str]:
    """The passage cut at sentence ends, blank lines and list items; short pieces joined to the next."""
    pieces = [" ".join(p.split()) for p in _BREAK.split(text) if p and p.strip()]
    out: list[str] = []
    carry = ""
    for piece in pieces:
        carry = f"{carry} {piece}".strip()
        if len(carry.split()) >= min_words or len(carry) >= 24:  # CJK text has no spaces between words
            out.append(carry)
            carry = ""
            if len(out) == max_sentences:
                return out
    if carry:
        out.append(carry)
    return out or [" ".join(text.split())]


class SentenceReranker:
    """Scores a passage by the cosine of its best sentence with the query (both embedded by ``embedder``)."""

    name = NAME

    def __init__(self, embedder: Embedder, max_sentences: int = MAX_SENTENCES) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences

    @property
    def title(self) -> str:
        return TITLE

    def window(self, query: str, text: str) -> str:
        return text

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        split = [sentences(p, self.max_sentences) for p in passages]
        flat = [s for group in split for s in group]
        vectors = self.embedder.embed_passages(flat)
        query_vector = self.embedder.embed_queries([query])[0]
        similarity = vectors @ query_vector
        scores = np.empty(len(passages), dtype=np.float32)
        start = 0
        for i, group in enumerate(split):
            scores[i] = float(similarity[start : start + len(group)].max())
            start += len(group)
        return scores
