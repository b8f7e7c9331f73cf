"""The results list as a user meets it: one card per document, its further passages on demand, stepping
through a file's matches in the preview, the filter bar, and sorting — the real window over a real index."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.passages import Preview
from app.qt import QFontMetrics, QStyleOptionViewItem, Qt
from app.reader import SearchResult
from app.window import MainWindow
from core.search.query import parse
from core.vocabulary import NoteKind, note_kind
from tests.app.conftest import DOCS, write_docs
from tests.app.test_window import TIMEOUT, add_and_index, search

HANDBOOK = "\n\n".join(
    f"Chapter {n}. Tomatoes grown in the {place} need a stake, steady water and a warm sunny spot all summer."
    for n, place in enumerate(["greenhouse", "border", "pots", "tunnel", "allotment"], 1)
)


def folder(tmp_path: Path) -> Path:
    root = write_docs(tmp_path / "docs", {**DOCS, "garden/handbook.md": HANDBOOK})
    for age, name in enumerate(["travel/lisbon.txt", "garden/handbook.md", "garden/tomatoes.md"]):
        stamp = time.time() - 86400 * (3 + 40 * age)  # lisbon: 3 days old, handbook 43, tomatoes 83
        os.utime(root / name, (stamp, stamp))
    return root


def settled(qtbot: QtBot, window: MainWindow, query: str) -> SearchResult:
    """Search as on Enter, then wait for the search again with the query model loaded (it loads on first use)."""
    result = search(qtbot, window, query)
    if any(note_kind(note) is NoteKind.MODEL_LOADING for note in result.notes):
        with qtbot.waitSignal(
            window.resultsShown,
            timeout=TIMEOUT,
            check_params_cb=lambda r: (
                not r.rerank_pending and all(note_kind(n) is not NoteKind.MODEL_LOADING for n in r.notes)
            ),
        ) as shown:
            pass
        result = shown.args[0]
    return result


def names(window: MainWindow) -> list[str]:
    return [Path(d.path).name for d in window.model.documents]


def click_expander(qtbot: QtBot, window: MainWindow, row: int) -> None:
    index = window.model.index(row)
    option = QStyleOptionViewItem()
    option.rect = window.results.visualRect(index)
    option.font = window.results.font()
    rect = window.results.itemDelegate().expander_rect(option, index)
    assert not rect.isEmpty()
    qtbot.mouseClick(window.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_one_card_per_document_with_its_passages_and_matches(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    add_and_index(qtbot, window, folder(tmp_path))
    result = settled(qtbot, window, "tomatoes sunny spot")
    assert len(result.hits) > len(result.documents)  # several passages, fewer documents
    assert names(window)[0] == "handbook.md" and len(set(names(window))) == len(names(window))
    assert window.model.rowCount() == len(result.documents)
    handbook = window.model.documents[0]
    more = len(handbook.hits) - 1
    assert more >= 2
    assert f"{len(result.documents)} documents" in window.pane.info.text()

    # "N more passages in this file" opens beneath the card, in ranking order; Left closes it.
    click_expander(qtbot, window, 0)
    assert window.model.rowCount() == len(result.documents) + more
    assert [window.model.hit(r) for r in range(1, more + 1)] == handbook.hits[1:]
    assert Path(window.model.hit(more + 1).path).name != "handbook.md"
    window.results.setCurrentIndex(window.model.index(2))
    window.results.setFocus()
    qtbot.keyClick(window.results, Qt.Key.Key_Left)
    assert window.model.rowCount() == len(result.documents)
    assert window.results.currentIndex().row() == 0
    qtbot.keyClick(window.results, Qt.Key.Key_Right)
    assert window.model.rowCount() == len(result.documents) + more

    # F3 and Shift+F3 step through the file's matches in the order of the file; the preview says where.
    order = handbook.in_file_order()

    def shows(action: object, hit: object) -> Preview:
        with qtbot.waitSignal(window.previewShown, timeout=TIMEOUT, check_params_cb=lambda p: p.hit is hit) as shown:
            action()  # type: ignore[operator]
        assert window.current_hit() is hit
        preview: Preview = shown.args[0]
        return preview

    window.results.setCurrentIndex(window.model.index(len(window.model.rows) - 1))  # elsewhere first
    shows(lambda: window.results.setCurrentIndex(window.model.index(window.model.row_of(order[0]))), order[0])
    assert window.preview.match_label.text().endswith(f"match 1 of {len(order)}</span>")
    assert not window.preview.previous_button.isEnabled() and window.preview.next_button.isEnabled()
    for step in range(1, len(order)):
        shows(lambda: qtbot.keyClick(window, Qt.Key.Key_F3), order[step])
        assert f"match {step + 1} of {len(order)}" in window.preview.match_label.text()
    assert not window.preview.next_button.isEnabled()
    shows(window.preview.previous_button.click, order[-2])
    preview = shows(lambda: qtbot.keyClick(window, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier), order[-3])
    # The preview shows the passage's matched words on screen.
    first = min(a for a, _b in preview.terms if preview.passage[0] <= a < preview.passage[1])
    cursor = window.preview.text.textCursor()
    cursor.setPosition(first)
    top = window.preview.text.cursorRect(cursor).top()
    assert 0 <= top < window.preview.text.viewport().height()

    # Scores stay out of the list: only the tooltip has them.
    tip = window.model.data(window.model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert "keyword (BM25)" in tip


def test_a_misspelt_query_says_what_was_searched(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    add_and_index(qtbot, window, folder(tmp_path))
    result = settled(qtbot, window, "heirlom staking")
    assert result.corrected == "heirloom staking"
    assert names(window)[0] == "tomatoes.md"
    assert "Showing results for heirloom staking" in window.pane.info.text()


def filtered(qtbot: QtBot, window: MainWindow, action: object) -> SearchResult:
    with qtbot.waitSignal(
        window.resultsShown, timeout=TIMEOUT, check_params_cb=lambda r: r.request.full and not r.rerank_pending
    ) as shown:
        action()  # type: ignore[operator]
    result: SearchResult = shown.args[0]
    return result


def test_the_filter_bar_edits_the_query_and_narrows_the_results(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    add_and_index(qtbot, window, folder(tmp_path))
    bar = window.filters.bar
    assert not bar.isVisible()
    window.filters.toggle.click()
    assert bar.isVisible() and window.filters.toggle.text() == "Filters"
    settled(qtbot, window, "tomatoes water")
    assert {"handbook.md", "tomatoes.md", "sourdough.md"} <= set(names(window))

    # Type: Markdown only, written into the box as type:md.
    def pick_markdown() -> None:
        bar.type.setCurrentIndex(bar.type.findData("md"))
        bar.type.activated.emit(bar.type.currentIndex())

    result = filtered(qtbot, window, pick_markdown)
    assert window.search_box.text() == "tomatoes water type:md"
    assert window.filters.toggle.text() == "Filters (1)"
    assert result.documents and all(d.path.endswith(".md") for d in result.documents)

    # A folder typed in the bar.
    def type_folder() -> None:
        bar.folder.setText("garden")
        bar.folder.editingFinished.emit()

    result = filtered(qtbot, window, type_folder)
    assert parse(window.search_box.text()).filters.folders == ("garden",)
    assert set(names(window)) == {"handbook.md", "tomatoes.md"}

    # Modified in the past month: the handbook (43 days) and the tomatoes (83 days) are older.
    def past_month() -> None:
        bar.modified.setCurrentIndex(bar.modified.findData(31))
        bar.modified.activated.emit(bar.modified.currentIndex())

    result = filtered(qtbot, window, past_month)
    assert not result.documents and "after:" in window.search_box.text()
    assert window.filters.toggle.text() == "Filters (3)"

    # A filter typed into the box shows in the bar; Clear filters removes them all, words stay.
    window.search_box.setText("tomatoes in:kitchen after:2020-01")
    assert bar.folder.text() == "kitchen" and bar.modified.currentText() == "Since 2020-01"
    assert bar.type.currentData() == ""
    result = filtered(qtbot, window, bar.clear_button.click)
    assert window.search_box.text() == "tomatoes"
    assert bar.folder.text() == "" and bar.modified.currentIndex() == 0
    assert "handbook.md" in names(window)


def test_sort_by_date_puts_the_newest_document_first(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    add_and_index(qtbot, window, folder(tmp_path))
    first = settled(qtbot, window, "heirloom tomatoes staking Lisbon")
    by_relevance = names(window)
    assert window.pane.sort.isVisible() and window.pane.sort_key() == "relevance"
    result = filtered(qtbot, window, lambda: window.pane.sort.setCurrentIndex(window.pane.sort.findData("date")))
    assert result.request.sort == "date"
    assert sorted(by_relevance) == sorted(names(window)), first.notes
    stamps = [d.mtime or 0.0 for d in result.documents]
    assert stamps == sorted(stamps, reverse=True)
    order = names(window)
    assert order.index("lisbon.txt") < order.index("handbook.md") < order.index("tomatoes.md")
    assert by_relevance[0] == "tomatoes.md"  # the oldest, first by relevance


def test_the_preview_marks_the_searched_words_not_the_filters(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    add_and_index(qtbot, window, folder(tmp_path))
    with qtbot.waitSignal(window.previewShown, timeout=TIMEOUT) as shown:
        settled(qtbot, window, "heirlom -compost type:md")
    preview = shown.args[0]
    marked = {preview.text[a:b].lower() for a, b in preview.terms}
    assert "heirloom" in marked and not marked & {"type", "md", "compost"}


def test_three_lines_of_cjk_snippet_fit_the_row(qtbot: QtBot) -> None:
    """CJK text is drawn in a taller fallback font: the snippet's line height must be that font's, or the
    third line is clipped (seen with Noto Sans CJK beside a Latin UI font)."""
    from app.qt import QApplication, QTextDocument
    from app.results import line_height

    font = QApplication.font()
    text = "縦書きの本を組むには、縦書き用の文書クラスを使います。" * 6
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    doc.setDefaultFont(font)
    doc.setTextWidth(300)
    doc.setPlainText(text)
    doc.documentLayout().documentSize()  # lays the text out
    layout = doc.firstBlock().layout()
    assert layout.lineCount() >= 3
    third_line_bottom = layout.lineAt(2).rect().bottom()
    assert third_line_bottom <= 3 * line_height(font, text)
    assert line_height(font, "plain Latin text") == QFontMetrics(font).lineSpacing()
