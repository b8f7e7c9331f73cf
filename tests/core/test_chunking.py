from __future__ import annotations

import itertools

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from core.ingest.chunking import chunk_text


@pytest.fixture(scope="module")
def word_tokenizer() -> PreTrainedTokenizerFast:
    """One token per word or punctuation mark: easy to reason about in assertions."""
    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def _sentences(n: int, words: int = 9) -> str:
    return " ".join(f"Sentence {i} " + " ".join(f"w{i}x{j}" for j in range(words - 3)) + "." for i in range(n))


def test_short_text_is_one_chunk(word_tokenizer: PreTrainedTokenizerFast) -> None:
    chunks = chunk_text("Just a few words here.", word_tokenizer, size=64, overlap=8)
    assert len(chunks) == 1
    assert chunks[0].text == "Just a few words here."
    assert (chunks[0].char_start, chunks[0].char_end, chunks[0].n_tokens) == (0, 22, 6)


def test_empty_and_whitespace_text_give_no_chunks(word_tokenizer: PreTrainedTokenizerFast) -> None:
    assert chunk_text("", word_tokenizer, 64, 8) == []
    assert chunk_text(" \n\n\t ", word_tokenizer, 64, 8) == []


def test_windows_respect_size_cover_text_and_keep_offsets(word_tokenizer: PreTrainedTokenizerFast) -> None:
    text = _sentences(40)
    chunks = chunk_text(text, word_tokenizer, size=50, overlap=10)
    assert len(chunks) > 5
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.n_tokens <= 50
        assert text[chunk.char_start : chunk.char_end] == chunk.text
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(text)
    for before, after in itertools.pairwise(chunks):
        assert after.char_start < before.char_end, "consecutive chunks overlap"
        assert after.char_start > before.char_start


def test_cuts_fall_on_sentence_boundaries(word_tokenizer: PreTrainedTokenizerFast) -> None:
    text = _sentences(30)
    chunks = chunk_text(text, word_tokenizer, size=40, overlap=10)
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("."), chunk.text[-30:]
    for chunk in chunks:
        assert chunk.text.startswith("Sentence"), chunk.text[:30]


def test_paragraph_breaks_win_over_sentences(word_tokenizer: PreTrainedTokenizerFast) -> None:
    para = _sentences(3)
    text = para + "\n\n" + _sentences(3) + " " + _sentences(3)
    chunks = chunk_text(text, word_tokenizer, size=40, overlap=0)
    assert chunks[0].text == para


def test_no_overlap_partitions_the_tokens(word_tokenizer: PreTrainedTokenizerFast) -> None:
    text = " ".join(f"word{i}" for i in range(1000))  # no boundaries at all: hard cuts
    chunks = chunk_text(text, word_tokenizer, size=100, overlap=0)
    assert [c.n_tokens for c in chunks] == [100] * 10
    assert " ".join(c.text for c in chunks) == text


def test_overlap_shares_tokens_without_boundaries(word_tokenizer: PreTrainedTokenizerFast) -> None:
    text = " ".join(f"word{i}" for i in range(300))
    chunks = chunk_text(text, word_tokenizer, size=100, overlap=20)
    assert chunks[1].text.startswith("word80 ")
    assert chunks[-1].text.endswith("word299")


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_parameters_are_rejected(word_tokenizer: PreTrainedTokenizerFast, size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("some text", word_tokenizer, size, overlap)
