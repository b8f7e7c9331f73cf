"""File names are shown as they are: markup in a name is text, a comma reaches the file manager whole."""

from __future__ import annotations

import html
import os
import re
import urllib.parse
from pathlib import Path

from PySide6 import QtGui  # Qt's own rich-text test, which app.qt does not re-export
from pytestqt.qtbot import QtBot

from app.folders import FoldersPanel
from app.opener import file_uri, show_items_args
from app.preview import PreviewPane
from app.qt import Qt
from app.status import StatusArea
from core.index.stats import FolderStats, IndexStats
from core.search.searcher import Hit

NAME = "<b>bold <i>x &amp; y.txt"


def shown(tip: str) -> str:
    """What a tooltip displays: rich text rendered down to its characters."""
    return html.unescape(re.sub(r"<[^>]+>", "", tip)) if QtGui.Qt.mightBeRichText(tip) else tip


def test_a_name_with_markup_is_shown_as_text(qtbot: QtBot, tmp_path: Path) -> None:
    path = str(tmp_path / NAME)
    pane = PreviewPane()
    qtbot.addWidget(pane)
    pane.show_hit(Hit("id", path, 0, "some text", None, 0, 9, 1.0))
    assert pane.title.textFormat() == Qt.TextFormat.PlainText and pane.title.text() == NAME
    assert shown(pane.where.toolTip()) == path

    panel = FoldersPanel()
    qtbot.addWidget(panel)
    folder = str(tmp_path / "<h1>docs</h1>")
    panel.set_stats(IndexStats(folders={folder: FolderStats(folder, 1)}, failures=[(path, "<b>bad</b> file")]))
    assert shown(panel.list.item(0).toolTip()).splitlines()[0] == folder
    failure = panel.failed.topLevelItem(0)
    assert (
        failure.text(0) == NAME and shown(failure.toolTip(0)) == path and shown(failure.toolTip(1)) == "<b>bad</b> file"
    )

    status = StatusArea()
    qtbot.addWidget(status)
    status.set_summary(NAME)
    assert status.summary.textFormat() == Qt.TextFormat.PlainText
    assert status.progress_label.textFormat() == Qt.TextFormat.PlainText


def test_show_in_folder_sends_a_name_with_commas_as_one_uri(tmp_path: Path) -> None:
    path = str(tmp_path / "Smith, John, CV.pdf")
    argument = next(a for a in show_items_args(path) if a.startswith("array:string:"))
    items = argument.removeprefix("array:string:").split(",")  # how dbus-send reads it
    assert len(items) == 1
    assert urllib.parse.unquote(items[0].removeprefix("file://")) == path
    raw = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.txt")
    assert urllib.parse.unquote_to_bytes(file_uri(raw).removeprefix("file://")) == os.fsencode(raw)
