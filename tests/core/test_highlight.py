"""Highlights light up the words a keyword search matched: whole words and their stems, CJK phrases."""

from __future__ import annotations

from core.search.highlight import highlight_spans


def lit(text: str, query: str) -> list[str]:
    return [text[a:b] for a, b in highlight_spans(text, query)]


def test_a_short_word_lights_up_itself_and_its_inflections_only() -> None:
    text = "Do it now: he doesn't go down, but doing it does help. Undo nothing."
    assert lit(text, "do") == ["Do", "doing"]


def test_a_word_does_not_light_up_longer_words_it_begins() -> None:
    text = "Rootless containers need root; the roots of rooted trees."
    assert lit(text, "root") == ["root", "roots", "rooted"]  # one stem; "Rootless" is another word
    assert lit("Indexing indexes the index; indexer.", "indexes") == ["Indexing", "indexes", "index", "indexer"]


def test_accents_fold_as_in_the_index_and_stop_words_stay_dark() -> None:
    assert lit("Un café crème, the Cafe.", "cafe the") == ["café", "Cafe"]


def test_cjk_phrases_light_up_where_they_occur_and_mixed_queries_light_both() -> None:
    text = "縦書きの本を作るときは、pLaTeX 2ε について知っておくと便利です。"
    assert lit(text, "縦書きの本") == ["縦書きの本"]
    assert lit(text, "platex について") == ["pLaTeX", "について"]
    assert lit(text, "縦書きを作る") == ["縦書き", "を作る"]  # not the whole phrase: its bigrams
