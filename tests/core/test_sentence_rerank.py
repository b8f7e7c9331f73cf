"""The best-sentence reranker: passages cut into sentences, each read by the index's own embedder."""

from __future__ import annotations

import numpy as np
import pytest

from core.embedding import Embedder, load_embedder
from core.search.rerank import SENTENCES, reranker_title, settings_reranker
from core.search.sentence_rerank import SentenceReranker, sentences
from core.settings import Settings

PASSAGES = [
    "Undo and redo. Press Ctrl+Z to undo the last change to the text in the editor. Press Ctrl+Y to redo it "
    "again. The editor keeps a long history of changes.",
    "Settings. Choose a colour theme and a font. Recovery: when the program stops unexpectedly, the document you "
    "were working on is kept in a backup file and offered again the next time it starts. Printing: choose a printer.",
]


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    return load_embedder("minilm-l6-v2", device="cpu", precision="fp32")


def test_passages_are_cut_at_sentences_list_items_and_blank_lines() -> None:
    text = "Recovering lost text. If it crashes, the text is kept.\n\n- Undo: press Ctrl+Z.\n- Redo: Ctrl+Y.\n"
    text += "日本語の文です。"
    assert sentences(text) == [
        "Recovering lost text. If it crashes, the text is kept.",  # a heading joins the sentence after it
        "- Undo: press Ctrl+Z.",
        "- Redo: Ctrl+Y. 日本語の文です。",
    ]
    assert len(sentences(" ".join(f"Sentence number {i} is here." for i in range(40)))) == 12  # the first 12
    assert sentences("one") == ["one"]


def test_the_passage_whose_one_sentence_answers_ranks_first(minilm: Embedder) -> None:
    reranker = settings_reranker(Settings(reranker=SENTENCES), embedder=minilm)
    assert isinstance(reranker, SentenceReranker) and reranker.embedder is minilm  # no second model loaded
    assert reranker_title(SENTENCES) == reranker.title
    scores = reranker.score("how to get back an unsaved document after a crash", PASSAGES)
    assert int(np.argmax(scores)) == 1
    assert reranker.score("anything", []).shape == (0,)
    # A passage scores as its best sentence does: the answering sentence alone scores the same.
    alone = reranker.score("how to get back an unsaved document after a crash", [sentences(PASSAGES[1])[1]])
    assert scores[1] == pytest.approx(alone[0], abs=1e-5)
