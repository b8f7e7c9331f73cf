"""Split text into overlapping token windows, cut at paragraph or sentence boundaries where possible."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# A break before a token makes a better place to cut the higher its score.
_BREAKS: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"\n[ \t]*\n\s*(?=\S)"), 3.0),  # paragraph
    (re.compile(r"[.!?…。！？][\"'”’)\]]*\s+(?=\S)"), 2.0),  # sentence
    (re.compile(r"[;:]\s+(?=\S)|\n\s*(?=\S)"), 1.0),  # clause or line
    (re.compile(r"\s+(?=\S)"), 0.5),  # word: never cut inside a word when a space is near
)


class Tokenizer(Protocol):
    def __call__(self, text: str, **kwargs: object) -> object: ...


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str
    char_start: int
    char_end: int
    n_tokens: int


def _token_offsets(tokenizer: Tokenizer, text: str) -> list[tuple[int, int]]:
    encoding = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, verbose=False, split_special_tokens=True
    )
    offsets = encoding["offset_mapping"]  # type: ignore[index]
    # Some tokenizers report zero-width offsets for pieces of a multi-byte character; drop them.
    return [(int(a), int(b)) for a, b in offsets if b > a]


def _break_scores(text: str) -> dict[int, float]:
    scores: dict[int, float] = {}
    for pattern, score in _BREAKS:
        for match in pattern.finditer(text):
            pos = match.end()
            if scores.get(pos, 0.0) < score:
                scores[pos] = score
    return scores


def _token_score(text: str, start: int, end: int, scores: dict[int, float]) -> float:
    """Score of the break just before a token; the token's own leading spaces belong to the break."""
    pos = start
    while pos < end and text[pos].isspace():
        pos += 1
    return scores.get(pos, 0.0)


def chunk_text(text: str, tokenizer: Tokenizer, size: int, overlap: int) -> list[Chunk]:
    """Token windows of at most ``size`` tokens, consecutive windows sharing about ``overlap`` tokens.

    Offsets index into ``text``, so a hit can be shown in its document and mapped to a page.
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError("need size >= 1 and 0 <= overlap < size")
    offsets = _token_offsets(tokenizer, text)
    n = len(offsets)
    if n == 0:
        return []
    scores = _break_scores(text)
    token_scores = [_token_score(text, a, b, scores) for a, b in offsets]
    chunks: list[Chunk] = []
    start = 0
    while start < n:
        end = min(start + size, n)
        if end < n:
            end = _best_cut(token_scores, start + max(1, size // 2), end)
        char_start, char_end = offsets[start][0], offsets[end - 1][1]
        chunks.append(Chunk(len(chunks), text[char_start:char_end], char_start, char_end, end - start))
        if end >= n:
            break
        start = _next_start(token_scores, end, overlap, start)
    return chunks


def _best_cut(token_scores: list[float], low: int, high: int) -> int:
    """The token index in (low, high] with the strongest break before it; the latest among equals."""
    best, best_score = high, 0.0
    for i in range(high, low, -1):
        if i < len(token_scores) and token_scores[i] > best_score:
            best, best_score = i, token_scores[i]
            if best_score >= 3.0:
                break
    return best


def _next_start(token_scores: list[float], end: int, overlap: int, previous: int) -> int:
    """Start the overlap at a sentence start inside the overlap window where there is one."""
    if overlap == 0:
        return end
    low = max(end - overlap, previous + 1)
    for i in range(low, end):
        if token_scores[i] >= 2.0:
            return i
    return low
