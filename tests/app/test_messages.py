"""The status bar tells how things stand now: a later outcome replaces an older error, icon included."""

from __future__ import annotations

import os
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.messages import Level
from app.status import ICONS
from app.window import MainWindow
from tests.app.conftest import Posted
from tests.app.test_window import add_and_index, search


def shows_icon(window: MainWindow, level: Level) -> bool:
    """Whether the messages button shows ``level``'s icon (compared by its pixels)."""
    want = window.style().standardIcon(ICONS[level]).pixmap(16).toImage()
    return window.status.messages_button.icon().pixmap(16).toImage() == want


def test_a_later_message_replaces_an_error_and_its_red_icon(
    qtbot: QtBot, window: MainWindow, docs: Path, posted: Posted, tmp_path: Path
) -> None:
    posted.allow_errors = True
    window.add_folder(str(tmp_path / "no-such-folder"))
    assert "is not a folder" in window.status.message.text()
    assert shows_icon(window, Level.ERROR)
    add_and_index(qtbot, window, docs)  # posts "Added …" and "Indexing done …"
    assert not shows_icon(window, Level.ERROR), "the red icon outlived the error it was for"
    assert "is not a folder" not in window.status.message.text()
    assert "1 error" in window.status.messages_button.toolTip()  # still in the history
    assert any("is not a folder" in action.text() for action in window.status.menu.actions())


def test_a_search_that_works_clears_the_last_ones_failure(
    qtbot: QtBot, window: MainWindow, docs: Path, posted: Posted, sleuth_dirs: Path
) -> None:
    add_and_index(qtbot, window, docs)
    posted.allow_errors = True
    db = sleuth_dirs / "index.lancedb"
    away = db.with_name("index-away")
    os.rename(db, away)  # the index is gone for a moment (an unmounted disk): searching fails
    try:
        failed = search(qtbot, window, "sourdough starter")
    finally:
        os.rename(away, db)
    assert failed.error and "Search failed" in window.status.message.text()
    assert shows_icon(window, Level.ERROR)
    worked = search(qtbot, window, "sourdough starter")
    assert not worked.error and worked.hits
    assert "Search failed" not in window.status.message.text()
    assert not shows_icon(window, Level.ERROR)
