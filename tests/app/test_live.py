"""Live updates: with the window open, new, changed and deleted files reach search on their own."""

from __future__ import annotations

import time
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.messages import Level
from app.window import MainWindow
from core.jobs import Report
from tests.app.conftest import Posted
from tests.app.test_folders import folder_rows
from tests.app.test_window import TIMEOUT, add_and_index, search

LIVE_TIMEOUT = 15_000  # the watcher waits 1 s of quiet, then the writer applies the change


def found(qtbot: QtBot, window: MainWindow, query: str, name: str) -> bool:
    return any(Path(hit.path).name == name for hit in search(qtbot, window, query).hits)


def wait_for_change(qtbot: QtBot, window: MainWindow, seen: list[Report], what: str) -> float:
    """Seconds until the writer reports a batch that did ``what`` ("added" / "removed")."""
    started = time.monotonic()
    qtbot.waitUntil(lambda: any(getattr(report, what) for report in seen), timeout=LIVE_TIMEOUT)
    seen.clear()
    return time.monotonic() - started


def test_new_and_deleted_files_are_followed_live(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    add_and_index(qtbot, window, docs)
    key = str(docs.resolve())
    qtbot.waitUntil(lambda: "watching live" in folder_rows(window).get(key, ""), timeout=TIMEOUT)
    seen: list[Report] = []
    window.indexingFinished.connect(lambda outcome: outcome.report is not None and seen.append(outcome.report))

    note = docs / "travel" / "airship.txt"
    note.write_text("The zeppelin floated over the lake at dawn.", encoding="utf-8")
    assert wait_for_change(qtbot, window, seen, "added") < 10
    assert found(qtbot, window, "zeppelin lake", "airship.txt")

    note.unlink()
    assert wait_for_change(qtbot, window, seen, "removed") < 10
    assert not found(qtbot, window, "zeppelin lake", "airship.txt")


def test_pause_holds_live_changes_until_resumed(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    add_and_index(qtbot, window, docs)
    qtbot.waitUntil(lambda: "watching live" in folder_rows(window).get(str(docs.resolve()), ""), timeout=TIMEOUT)
    seen: list[Report] = []
    window.indexingFinished.connect(lambda outcome: outcome.report is not None and seen.append(outcome.report))

    with qtbot.waitSignal(window.pausedAt, timeout=TIMEOUT, check_params_cb=lambda paused: paused):
        window.set_paused(True)
    (docs / "notes" / "glacier.txt").write_text("The glacier calved an iceberg into the fjord.", encoding="utf-8")
    qtbot.wait(3000)  # long enough for the watcher to pass it on
    assert not seen
    assert not found(qtbot, window, "glacier iceberg fjord", "glacier.txt")

    window.set_paused(False)
    wait_for_change(qtbot, window, seen, "added")
    assert found(qtbot, window, "glacier iceberg fjord", "glacier.txt")


def test_a_folder_that_goes_away_is_reported_and_shown(
    qtbot: QtBot, window: MainWindow, docs: Path, posted: Posted
) -> None:
    add_and_index(qtbot, window, docs)
    key = str(docs.resolve())
    qtbot.waitUntil(lambda: "watching live" in folder_rows(window).get(key, ""), timeout=TIMEOUT)

    away = docs.rename(docs.with_name("docs-unplugged"))  # as if its drive were unplugged
    qtbot.waitUntil(lambda: "missing" in folder_rows(window).get(key, ""), timeout=LIVE_TIMEOUT)
    warnings = posted.texts(Level.WARNING)
    assert any("not available" in text and "remove the folder" in text for text in warnings), warnings
    assert "not available" in window.status.message.text()
    assert found(qtbot, window, "heirloom tomatoes staking", "tomatoes.md")  # its files stay searchable

    away.rename(docs)
    qtbot.waitUntil(lambda: "watching live" in folder_rows(window).get(key, ""), timeout=LIVE_TIMEOUT)
    assert any("available again" in text for text in posted.texts(Level.INFO))
