"""The window end to end: add a folder, search, preview, errors — real engine, real files, real LanceDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app import opener
from app.jobs import IndexOutcome
from app.messages import Level
from app.qt import Qt
from app.reader import SearchResult
from app.window import MainWindow
from tests.app.conftest import Posted, with_reranker

TIMEOUT = 60_000


def add_and_index(qtbot: QtBot, window: MainWindow, folder: Path, new_files: int = 0) -> None:
    """Add ``folder`` and wait for a finished run; with ``new_files``, one that added at least that many.

    A run the writer started by itself (after adapting, say) can finish first and report nothing new.
    """

    def indexed(outcome: IndexOutcome) -> bool:
        return outcome.report is not None and outcome.report.added >= new_files

    with qtbot.waitSignal(window.indexingFinished, timeout=TIMEOUT, check_params_cb=indexed):
        window.add_folder(str(folder))


def search(qtbot: QtBot, window: MainWindow, query: str) -> SearchResult:
    """Type the query and press Enter, as a user would; returns the full search's result."""
    window.focus_search()
    window.search_box.clear()
    with qtbot.waitSignal(
        window.resultsShown,
        timeout=TIMEOUT,
        check_params_cb=lambda r: r.request.full and r.request.query == query and not r.rerank_pending,
    ) as blocker:
        qtbot.keyClicks(window.search_box, query)
        qtbot.keyClick(window.search_box, Qt.Key.Key_Return)
    result: SearchResult = blocker.args[0]
    return result


def test_search_shows_the_matching_passage_highlighted(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    assert window.focusWidget() is window.search_box  # search first
    add_and_index(qtbot, window, docs)

    with qtbot.waitSignal(window.previewShown, timeout=TIMEOUT) as shown:
        result = search(qtbot, window, "heirloom tomatoes staking")
    assert not result.error
    assert result.hits, result.notes
    first = result.hits[0]
    assert Path(first.path).name == "tomatoes.md"
    assert "staking" in first.text
    # The list shows it first, and the preview shows it in its document with terms marked.
    assert window.model.hit(0) is first
    assert window.current_hit() is first
    preview = shown.args[0]
    assert preview.hit.id == first.id
    assert preview.source == "document"
    start, end = preview.passage
    assert preview.text[start:end] == first.text
    marked = {preview.text[a:b].lower() for a, b in preview.terms}
    assert {"heirloom", "tomatoes", "staking"} <= marked
    html = window.preview.text.toHtml()
    assert "background-color" in html and "Heirloom" in html
    assert window.preview.title.text() == "tomatoes.md"
    assert "line" in window.preview.where.text()  # a text file: its line, not a page


def test_a_mailbox_hit_says_which_message_and_opens_the_file(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    from tests.core import formats

    padding = " ".join(["Field notes from the station, written each evening."] * 30)
    mails = [
        formats.message("Weather", "a@example.org", padding),
        formats.message("Sighting", "b@example.org", f"{padding} A lyrebird mimicked a chainsaw.", day=2),
    ]
    formats.write_mbox(docs / "station.mbox", mails)
    add_and_index(qtbot, window, docs)
    with qtbot.waitSignal(window.previewShown, timeout=TIMEOUT):
        result = search(qtbot, window, "lyrebird chainsaw")
    first = result.hits[0]
    assert Path(first.path).name == "station.mbox" and first.page == 2, first
    assert "message 2" in window.preview.where.text()
    assert window.preview.open_button.text() == "Open"  # only a PDF viewer is handed a page


def test_typing_searches_by_keywords_and_arrows_move(
    qtbot: QtBot, window: MainWindow, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[str, int | None]] = []

    def fake_open(path: str, page: int | None = None) -> bool:  # the desktop's viewer is not ours to test
        opened.append((path, page))
        return True

    monkeypatch.setattr(opener, "open_file", fake_open)
    add_and_index(qtbot, window, docs)
    window.focus_search()
    with qtbot.waitSignal(window.resultsShown, timeout=TIMEOUT) as blocker:
        qtbot.keyClicks(window.search_box, "sourdough starter water")
    result = blocker.args[0]
    assert not result.request.full and result.mode == "bm25"
    assert Path(result.hits[0].path).name == "sourdough.md"
    assert window.model.rowCount() > 1
    qtbot.keyClick(window.search_box, Qt.Key.Key_Down)
    assert window.results.currentIndex().row() == 1
    qtbot.keyClick(window.search_box, Qt.Key.Key_Up)
    assert window.results.currentIndex().row() == 0
    qtbot.keyClick(window.search_box, Qt.Key.Key_Down)
    # Enter after moving through the results opens the selected passage's file.
    qtbot.keyClick(window.search_box, Qt.Key.Key_Return)
    assert opened == [(window.model.hits[1].path, window.model.hits[1].page)]
    qtbot.keyClick(window.search_box, Qt.Key.Key_Escape)
    assert window.search_box.text() == "" and window.model.rowCount() == 0


def test_failed_files_are_listed_with_reasons(qtbot: QtBot, window: MainWindow, docs: Path, posted: Posted) -> None:
    (docs / "broken.docx").write_bytes(b"this is not a zip archive at all")
    (docs / "scan.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< garbage")
    with qtbot.waitSignal(window.statsShown, timeout=TIMEOUT, check_params_cb=lambda stats: len(stats.failures) >= 2):
        add_and_index(qtbot, window, docs)
    tree = window.folders.failed
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    rows = {item.text(0): item.text(1) for item in items if item is not None}
    assert set(rows) >= {"broken.docx", "scan.pdf"}
    assert all(reason.strip() for reason in rows.values())
    folder = window.stats.folders[str(docs.resolve())]
    assert folder.errors == 2 and folder.files == 5 and folder.chunks >= 5
    assert any("could not be read" in text for text in posted.texts(Level.INFO))


def test_a_narrow_window_keeps_the_results_readable(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    from app.window import RESULTS_MIN_WIDTH

    add_and_index(qtbot, window, docs)
    search(qtbot, window, "heirloom tomatoes staking")
    wide = window.splitter.sizes()
    assert all(wide), wide
    assert window.folders.add_button.text() == "Add…"  # labelled, as the README names it
    assert window.folders.add_button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon

    def narrowed() -> bool:
        # Asked again until it holds: a preview still being filled in may widen the minimum for a moment.
        window.resize(640, 420)
        return window.width() == 640 and window.height() == 420

    qtbot.waitUntil(narrowed, timeout=30_000)
    qtbot.waitUntil(lambda: window.splitter.sizes()[1] >= min(RESULTS_MIN_WIDTH, sum(window.splitter.sizes())))
    folders, results, preview = window.splitter.sizes()
    assert folders == 0, "the folders pane folds away before the results shrink"
    assert results >= RESULTS_MIN_WIDTH and preview > 0  # the results, and the preview beside them
    assert window.results.viewport().width() >= RESULTS_MIN_WIDTH - 40  # the list itself, not only its pane
    assert window.model.rowCount() > 0
    preview = window.preview
    for button in (preview.open_button, preview.folder_button, preview.copy_button):
        assert button.width() >= button.sizeHint().width(), f"{button.text()!r} is cut off"

    window.resize(1400, 860)
    qtbot.waitUntil(lambda: all(window.splitter.sizes()))  # with room again, both come back
    qtbot.waitUntil(lambda: preview.folder_button.text() == "Show in folder")
    assert window.splitter.sizes()[0] >= window.folders.minimumWidth()


def test_skipped_files_are_listed_with_their_type_and_counted_apart(
    qtbot: QtBot, window: MainWindow, docs: Path, posted: Posted
) -> None:
    (docs / "song.mp3").write_bytes(b"ID3\x04" + bytes(range(256)) * 8)
    (docs / "dump").write_bytes(bytes(range(256)) * 8)
    (docs / "notes.txt.swp").write_bytes(bytes(range(256)) * 8)  # a dropping: neither read nor listed
    with qtbot.waitSignal(window.statsShown, timeout=TIMEOUT, check_params_cb=lambda stats: stats.skipped >= 2):
        add_and_index(qtbot, window, docs)
    tree = window.folders.failed
    items = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    rows = {item.text(0): item.text(1) for item in items if item is not None}
    assert rows == {"song.mp3": "unsupported file type (.mp3)", "dump": "not a document (binary content)"}
    assert window.folders.failed_title.text() == "Files not read (2)"
    folder = window.stats.folders[str(docs.resolve())]
    assert (folder.errors, folder.skipped, folder.files) == (0, 2, 5)
    row = window.folders.list.item(0).text()
    assert "2 skipped" in row and "error" not in row
    assert any("2 skipped, not documents Sleuth reads" in text for text in posted.texts(Level.INFO))


def test_the_reranked_order_follows_the_fused_results_and_keeps_the_selection(
    qtbot: QtBot, window: MainWindow, docs: Path
) -> None:
    with_reranker(window)
    add_and_index(qtbot, window, docs)
    shown: list[SearchResult] = []
    window.resultsShown.connect(shown.append)
    result = search(qtbot, window, "when should I water the tomato plants")
    pair = [r for r in shown if r.request.id == result.request.id]
    assert [(r.rerank_pending, r.reranked) for r in pair] == [(True, False), (False, True)]
    assert "reranked" in window.pane.info.text()
    assert {"rerank", "fused"} <= set(result.hits[0].scores)
    assert "reranking…" not in window.pane.info.text()
    # The reranked answer replaces the fused one in place: the document the user picked stays picked.
    window.pane.show_result(pair[0], enter_hint=True)
    assert window.model.rowCount() >= 2
    window.results.setCurrentIndex(window.model.index(1))
    picked = window.pane.current_hit()
    assert picked is not None
    window.pane.show_result(result, enter_hint=True, keep_place=True)
    current = window.pane.current_hit()
    assert current is not None and current.path == picked.path


def test_a_new_query_drops_the_pending_rerank(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    with_reranker(window)
    add_and_index(qtbot, window, docs)
    search(qtbot, window, "sourdough starter")  # the models are loaded
    shown: list[SearchResult] = []
    window.resultsShown.connect(shown.append)
    window.search_box.setText("volcano eruption")
    first = window.run_search(full=True)
    window.search_box.setText("lisbon tram")
    with qtbot.waitSignal(
        window.resultsShown, timeout=TIMEOUT, check_params_cb=lambda r: r.request.query == "lisbon tram" and r.reranked
    ):
        second = window.run_search(full=True)
    assert second > first
    assert not any(r.reranked for r in shown if r.request.id == first)  # never reordered after the new query
    assert window.model.documents and "lisbon" in window.model.documents[0].path
