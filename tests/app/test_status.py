"""The status bar's indexing line: what it says while running, pausing and paused."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.status import StatusArea
from core.jobs import Phase, Progress


def test_paused_indexing_shows_where_it_stands_without_a_rate_or_time_left(qtbot: QtBot) -> None:
    status = StatusArea()
    qtbot.addWidget(status)
    status.set_busy(True)
    status.show_progress(Progress(Phase.EMBED, chunks_done=96, chunks_total=220, rate=3.2, eta_s=40.0))
    running = status.progress_label.text()
    assert "96 of 220" in running and "passages/s" in running and "left" in running
    status.set_paused(True, acknowledged=False)
    assert status.progress_label.text().startswith("Pausing after the current step")
    status.set_paused(True, acknowledged=True)
    paused = status.progress_label.text()
    assert paused.startswith("Indexing paused") and "96 of 220" in paused
    assert "/s" not in paused and "left" not in paused
    status.set_paused(False, acknowledged=True)
    assert "left" in status.progress_label.text(), "the estimate comes back with the work"
