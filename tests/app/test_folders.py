"""Folders: drop to add, pause and resume reading one folder, remove; the sidebar tells the truth."""

from __future__ import annotations

import time
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.folders import PathRole
from app.qt import QDropEvent, QMimeData, QPointF, Qt, QUrl
from app.window import MainWindow
from app.writer import IndexJob
from tests.app.conftest import write_docs
from tests.app.test_window import TIMEOUT, add_and_index, search


def folder_rows(window: MainWindow) -> dict[str, str]:
    panel = window.folders.list
    return {panel.item(i).data(PathRole): panel.item(i).text() for i in range(panel.count())}


def refresh_stats(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.statsShown, timeout=TIMEOUT):
        window.statsRequested.emit()


def test_dropping_a_folder_adds_and_indexes_it(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(docs))])
    event = QDropEvent(
        QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.indexingFinished, timeout=TIMEOUT, check_params_cb=lambda o: o.report is not None):
        window.dropEvent(event)
    refresh_stats(qtbot, window)
    rows = folder_rows(window)
    assert str(docs.resolve()) in rows
    assert "5 files" in rows[str(docs.resolve())]


def test_pause_resume_and_remove_a_folder(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    first = write_docs(tmp_path / "first")
    second = write_docs(tmp_path / "second", {"cats.txt": "Cats purr when they are content and sleep in the sun."})
    add_and_index(qtbot, window, first)
    add_and_index(qtbot, window, second, new_files=1)
    first_key = str(first.resolve())

    with qtbot.waitSignal(window.indexingFinished, timeout=TIMEOUT):
        window.set_folder_paused(first_key, True)  # the writer follows the new set of folders with a job
    (first / "airship.txt").write_text("The zeppelin floated over the lake at dawn.", encoding="utf-8")
    with qtbot.waitSignal(window.indexingFinished, timeout=TIMEOUT):
        window.writer.submit(IndexJob(None))  # a rescan of every folder that is not paused
    assert not [h for h in search(qtbot, window, "zeppelin").hits if h.path.endswith("airship.txt")]
    refresh_stats(qtbot, window)
    assert "paused" in folder_rows(window)[first_key]

    with qtbot.waitSignal(window.indexingFinished, timeout=TIMEOUT, check_params_cb=lambda o: o.report is not None):
        window.set_folder_paused(first_key, False)  # resuming reads what changed meanwhile
    # The live writer may report an earlier pass first; the file must become the top hit soon after.
    deadline = time.monotonic() + TIMEOUT / 1000
    hits = search(qtbot, window, "zeppelin").hits
    while not (hits and Path(hits[0].path).name == "airship.txt") and time.monotonic() < deadline:
        qtbot.wait(250)
        hits = search(qtbot, window, "zeppelin").hits
    assert hits and Path(hits[0].path).name == "airship.txt"
    refresh_stats(qtbot, window)
    assert "paused" not in folder_rows(window)[first_key]

    with qtbot.waitSignal(
        window.statsShown, timeout=TIMEOUT, check_params_cb=lambda stats: str(second.resolve()) not in stats.folders
    ):
        window.remove_folder(str(second.resolve()))
    assert not [h for h in search(qtbot, window, "cats purr").hits if h.path.endswith("cats.txt")]
    assert (second / "cats.txt").exists()  # forgotten by Sleuth, never deleted
