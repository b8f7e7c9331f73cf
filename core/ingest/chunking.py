"""Split text into overlapping token windows, cut at paragraph or sentence boundaries where possible.

The text is tokenized a slice at a time (``WINDOW_CHARS``, cut at a line or word boundary), never whole:
a tokenizer's offsets take about 250 bytes per input character, so a 20 MB log tokenized at once needs
gigabytes. A document shorter than one slice is chunked exactly as if it were tokenized whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain
from typing import Protocol

import numpy as np

# A break before a token makes a better place to cut the higher its score.
_BREAKS: tuple[tuple[re.Pattern[str], float], ...] = (
    (re.compile(r"\n[ \t]*\n\s*(?=\S)"), 3.0),  # paragraph
    (re.compile(r"[.!?…。！？][\"'”’)\]]*\s+(?=\S)"), 2.0),  # sentence
    (re.compile(r"[;:]\s+(?=\S)|\n\s*(?=\S)"), 1.0),  # clause or line
    (re.compile(r"\s+(?=\S)"), 0.5),  # word: never cut inside a word when a space is near
)
_WORD_BREAK = _BREAKS[-1][1]


#: How much text is tokenized at a time; the next slice starts where the next chunk starts.
WINDOW_CHARS = 128 * 1024
#: How far before a slice its break scores look (the whitespace and punctuation before a token).
_LOOKBACK = 256


class Tokenizer(Protocol):
    def __call__(self, text: str, **kwargs: object) -> object: ...


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str
    char_start: int
    char_end: int
    n_tokens: int


def _token_offsets(tokenizer: Tokenizer, text: str) -> np.ndarray:
    """Each token's (start, end) in ``text``, one row per token, in one array (a list of pairs per token cost
    more than tokenizing did)."""
    encoding = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, verbose=False, split_special_tokens=True
    )
    pairs = encoding["offset_mapping"]  # type: ignore[index]
    # Flattened as it is read: half the time of np.asarray over the list of pairs.
    offsets = np.fromiter(chain.from_iterable(pairs), dtype=np.int64, count=2 * len(pairs)).reshape(-1, 2)
    # Some tokenizers report zero-width offsets for pieces of a multi-byte character; drop them.
    solid = offsets[:, 1] > offsets[:, 0]
    return offsets if solid.all() else offsets[solid]


#: The characters ``str.isspace()`` and the regular expressions' ``\s`` call white space.
_SPACES = np.array(
    [9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, *range(8192, 8203), 8232, 8233, 8239, 8287, 12288],
    dtype=np.uint32,
)


def _token_scores(text: str, low: int, high: int, offsets: np.ndarray | list[tuple[int, int]]) -> list[float]:
    """The score of the break before each token (offsets inside ``text[low:high]``), in array operations.

    A break ends where a non-space follows white space; the patterns of ``_BREAKS`` score it, the strongest
    winning. A token's own leading spaces belong to the break: it takes the score at its first non-space
    character (at its end, for a token of spaces only). Per word this was Python; per token it still would be.
    """
    if not len(offsets):
        return []
    window = text[low:high]
    space = np.isin(np.frombuffer(window.encode("utf-32-le", "surrogatepass"), dtype=np.uint32), _SPACES)
    score = np.zeros(len(window) + 1)
    score[np.flatnonzero(space[:-1] & ~space[1:]) + 1] = _WORD_BREAK  # the last of _BREAKS, the commonest
    for pattern, value in _BREAKS[:-1]:
        for match in pattern.finditer(text, low, high):
            position = match.end() - low
            score[position] = max(score[position], value)
    bounds = np.asarray(offsets, dtype=np.int64) - low
    solid = np.flatnonzero(~space)
    if not len(solid):  # a window of white space only (a tokenizer may make tokens of it)
        return score[np.minimum(len(window), bounds[:, 1])].tolist()
    found = np.searchsorted(solid, bounds[:, 0])
    first = np.where(found < len(solid), solid[np.minimum(found, len(solid) - 1)], len(window))
    scores: list[float] = score[np.minimum(first, bounds[:, 1])].tolist()
    return scores


@dataclass
class _Slice:
    """The tokens of ``text[begin:end]``, with offsets into the whole text."""

    offsets: np.ndarray  # (start, end) of each token, a row each
    scores: list[float]
    last: bool  # it reaches the end of the text


def _slice_end(text: str, begin: int, width: int) -> int:
    """Where a slice of about ``width`` characters from ``begin`` ends: after a line break or a space."""
    high = begin + width
    if high >= len(text):
        return len(text)
    low = begin + width // 2
    for separators in ("\n", " \t"):
        cut = max(text.rfind(sep, low, high) for sep in separators)
        if cut >= 0:
            return cut + 1
    return high


def _tokenize_slice(text: str, tokenizer: Tokenizer, begin: int, min_tokens: int) -> _Slice:
    """At least ``min_tokens`` tokens from ``begin`` (or all that are left), a slice at a time."""
    width = WINDOW_CHARS
    while True:
        end = _slice_end(text, begin, width)
        last = end >= len(text)
        part = text if begin == 0 and last else text[begin:end]
        offsets = _token_offsets(tokenizer, part)
        if begin:
            offsets = offsets + begin
        if last or len(offsets) >= min_tokens:
            break
        width *= 2
    return _Slice(offsets, _token_scores(text, max(0, begin - _LOOKBACK), end, offsets), last)


def chunk_text(text: str, tokenizer: Tokenizer, size: int, overlap: int) -> list[Chunk]:
    """Token windows of at most ``size`` tokens, consecutive windows sharing about ``overlap`` tokens.

    Offsets index into ``text``, so a hit can be shown in its document and mapped to a page.
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError("need size >= 1 and 0 <= overlap < size")
    if text.isspace():  # nothing to find: the blank pages of a scan whose pictures are not read yet
        return []
    # A cut looks one token past the window (_best_cut's high end), hence size + 1.
    window = _tokenize_slice(text, tokenizer, 0, size + 1)
    chunks: list[Chunk] = []
    start = 0
    while True:
        offsets, token_scores = window.offsets, window.scores
        n = len(offsets)
        if not window.last and start + size + 1 > n:
            # The next chunk reaches past this slice: tokenize on from where it begins.
            window = _tokenize_slice(text, tokenizer, int(offsets[start, 0]), size + 1)
            start = 0
            continue
        if start >= n:
            break
        end = min(start + size, n)
        if end < n:
            end = _best_cut(token_scores, start + max(1, size // 2), end)
        char_start, char_end = int(offsets[start, 0]), int(offsets[end - 1, 1])
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
