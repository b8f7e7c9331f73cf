"""Where a passage sits in its file, and its surroundings, without a window."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.passages import from_chunks, from_document
from core.ingest.documents import Document, Page
from core.search.lines import line_in
from core.search.searcher import Hit


def hit_at(doc: Document, needle: str, occurrence: int = 0, ordinal: int = 0) -> Hit:
    start = -1
    for _ in range(occurrence + 1):
        start = doc.text.index(needle, start + 1)
    return Hit("id", str(doc.path), ordinal, needle, None, start, start + len(needle), 0.0)


def test_line_counts_the_raw_file_even_where_extraction_dropped_blank_lines() -> None:
    raw = "title\n\n\n\nintro\nrepeat me\nmiddle\n   \nrepeat me\n"
    doc = Document(Path("notes.txt"), "title\n\nintro\nrepeat me\nmiddle\n\nrepeat me")
    first, second = hit_at(doc, "repeat me"), hit_at(doc, "repeat me", occurrence=1)
    assert line_in(doc.text, raw, first.char_start, first.text) == 6
    assert line_in(doc.text, raw, second.char_start, second.text) == 9
    assert line_in(doc.text, None, second.char_start, second.text) == 7  # without the file: extracted lines


def test_preview_from_the_document_marks_passage_terms_and_pages() -> None:
    text = "First page about apples.\n\nSecond page: pears and apples."
    doc = Document(Path("fruit.pdf"), text, (Page(1, 0), Page(2, text.index("Second"))))
    hit = hit_at(doc, "pears and apples")
    preview = from_document(hit, "apples", doc)
    assert preview is not None
    a, b = preview.passage
    assert preview.text[a:b] == "pears and apples"
    assert [preview.text[s:e] for s, e in preview.terms] == ["apples", "apples"]
    assert preview.page_breaks == [(text.index("Second"), 2)]
    changed = Document(doc.path, text.replace("pears", "plums"))
    assert from_document(hit, "apples", changed) is None  # the file changed since it was indexed


def test_preview_from_stored_passages_stitches_overlapping_neighbours() -> None:
    text = "one two three four five six seven eight nine ten"
    rows = [
        {"ordinal": 0, "text": text[0:18], "char_start": 0, "char_end": 18},
        {"ordinal": 1, "text": text[14:33], "char_start": 14, "char_end": 33},
        {"ordinal": 2, "text": text[40:], "char_start": 40, "char_end": len(text)},
    ]
    hit = Hit("id", "x.txt", 1, text[14:33], None, 14, 33, 0.0)
    preview = from_chunks(hit, "five", rows, note="from the index")
    assert preview.text.startswith(text[:33])
    a, b = preview.passage
    assert preview.text[a:b] == hit.text
    assert preview.text.endswith("\n\n" + text[40:])
    assert preview.source == "index" and preview.note == "from the index"


def test_preview_says_which_legacy_encoding_a_file_was_read_with(qtbot: QtBot) -> None:
    from app.preview import PreviewPane

    doc = Document(Path("/notes/readme.txt"), "日本語の説明です。", encoding="shift_jis")
    hit = hit_at(doc, "説明")
    preview = from_document(hit, "説明", doc)
    assert preview is not None and preview.encoding == "shift_jis"
    pane = PreviewPane()
    qtbot.addWidget(pane)
    pane.show_hit(hit)
    pane.show_preview(preview)
    assert "read as shift_jis" in pane.where.text()
    utf8 = Document(Path("/notes/plain.txt"), "plain words", encoding="utf-8")
    pane.show_hit(hit_at(utf8, "words"))
    plain = from_document(hit_at(utf8, "words"), "words", utf8)
    assert plain is not None
    pane.show_preview(plain)
    assert "read as" not in pane.where.text()
