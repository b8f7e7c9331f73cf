"""Background indexing: re-indexing after a chunking change, pause, and a GUI that never stalls."""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.qt import Qt, QTimer
from app.window import MainWindow
from core.index.store import Store
from tests.app.conftest import DOCS, write_docs
from tests.app.test_window import TIMEOUT, add_and_index, search

WORDS = (
    "river mountain lantern copper harbor meadow signal orchard winter ledger canvas pepper violin "
    "glacier thunder marble saddle cotton falcon basket anchor pillow garden candle puzzle rocket"
).split()


def filler(root: Path, count: int, seed: int = 0) -> Path:
    """``count`` small text files of random words (a few paragraphs each)."""
    rng = random.Random(seed)
    for i in range(count):
        paragraphs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 70))) + "." for _ in range(3)]
        path = root / f"batch{i // 50}" / f"note-{i:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(paragraphs), encoding="utf-8")
    return root


def active_profile(window: MainWindow):  # type: ignore[no-untyped-def]
    profile = Store(window.db_path).active_profile()
    assert profile is not None
    return profile


def test_chunk_size_change_rebuilds_in_the_background(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = filler(write_docs(tmp_path / "docs", DOCS), 40)
    add_and_index(qtbot, window, folder)
    old = active_profile(window)
    assert old.chunk_size == 48

    # Stop the rebuild at its first step (from the writer thread itself, so it cannot run past it).
    def hold(event: object) -> None:
        if getattr(event, "phase", "") == "text":
            window.writer.set_paused(True)

    window.writer.progress.connect(hold, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(window.pausedAt, timeout=TIMEOUT, check_params_cb=lambda paused: paused):
        window.apply_settings(dataclasses.replace(window.settings, chunk_size=32, chunk_overlap=4))
    window.writer.progress.disconnect(hold)
    window.set_paused(True)
    assert window.rebuilding
    assert "paused" in window.status.progress_label.text().lower()
    assert "New index" in window.status.progress_label.text()

    # Mid-rebuild: the old index still answers.
    during = search(qtbot, window, "heirloom tomatoes staking")
    assert Path(during.hits[0].path).name == "tomatoes.md"
    assert active_profile(window) == old

    with qtbot.waitSignal(
        window.indexingFinished,
        timeout=TIMEOUT,
        check_params_cb=lambda outcome: outcome.rebuilt and outcome.report is not None,
    ):
        window.set_paused(False)
    new = active_profile(window)
    assert (new.chunk_size, new.chunk_overlap) == (32, 4)
    after = search(qtbot, window, "heirloom tomatoes staking")
    assert Path(after.hits[0].path).name == "tomatoes.md"
    assert len(after.hits[0].text) < len(during.hits[0].text) or after.hits[0].text != during.hits[0].text


def test_gui_never_stalls_while_indexing(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, capsys: pytest.CaptureFixture[str], record_property: object
) -> None:
    folder = filler(tmp_path / "many", 300, seed=1)
    # Warm up: the first run loads the model once; what we measure is indexing itself.
    add_and_index(qtbot, window, write_docs(tmp_path / "warm", DOCS))

    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    started = time.perf_counter()
    searched: list[int] = []
    window.resultsShown.connect(lambda result: searched.append(len(result.hits)))
    with qtbot.waitSignal(
        window.indexingFinished, timeout=300_000, check_params_cb=lambda outcome: outcome.report is not None
    ):
        window.add_folder(str(folder))
        # Search while indexing: typing triggers keyword searches that must not freeze anything.
        qtbot.waitUntil(lambda: window.busy, timeout=TIMEOUT)
        window.focus_search()
        qtbot.keyClicks(window.search_box, "copper lantern")
        qtbot.keyClick(window.search_box, Qt.Key.Key_Return)
    elapsed = time.perf_counter() - started
    timer.stop()
    worst = max(gaps) * 1000
    record_property("max_event_loop_stall_ms", round(worst, 1))  # type: ignore[operator]
    with capsys.disabled():
        print(
            f"\n[stall] indexing 300 files took {elapsed:.1f} s; longest GUI event-loop gap {worst:.1f} ms "
            f"over {len(gaps)} ticks (10 ms timer)"
        )
    assert searched, "a search made during indexing got an answer"
    # Work on the GUI thread would freeze it for a large share of the run; a busy machine only delays ticks.
    # (The measured gap is printed and recorded; the figure for this machine is in docs/benchmarks.md.)
    assert worst / 1000 < 0.05 * elapsed, f"the GUI froze for {worst:.0f} ms of a {elapsed:.1f} s run"
    stats = window.stats
    assert sum(f.files for f in stats.folders.values()) >= 300
