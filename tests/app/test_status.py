"""The status bar's indexing line: what it says while running, pausing and paused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.status import StatusArea
from core.errors import Cancelled
from core.jobs import CancelToken, Phase, Progress
from core.settings import Settings
from tests.app.conftest import DOCS, Posted, write_docs


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


def test_the_window_goes_on_counting_where_a_cancelled_run_stopped(
    qtbot: QtBot, sleuth_dirs: Path, settings: Settings, posted: Posted, tmp_path: Path
) -> None:
    """Indexing cancelled at "32 of 120": the window's next run shows "… of 120", never "0 of 88"."""
    from app.window import MainWindow
    from core.embedding import load_embedder
    from core.index.indexer import Indexer
    from core.index.store import Store

    # Every passage distinct (each word carries its note's number): identical passages are embedded once, and a
    # run that embeds little has no step to be cancelled at.
    text = DOCS["kitchen/sourdough.md"]
    docs = write_docs(
        tmp_path / "docs",
        {f"notes/n{i}.txt": f"Note {i}. " + " ".join(f"{word}{i}" for word in text.split()) for i in range(40)},
    )
    db = sleuth_dirs / "index.lancedb"
    store = Store(db)
    store.add_folder(docs.resolve())
    embedder = load_embedder(settings.model, device="cpu", precision="fp32")
    token = CancelToken()
    stopped: list[Progress] = []
    with pytest.raises(Cancelled):
        for event in Indexer(store, settings, embedder).run([docs], token):
            if event.phase == Phase.EMBED and event.chunks_done:
                stopped.append(event)
                token.cancel()
    total = stopped[-1].chunks_total
    del store

    window = MainWindow(settings, db, state_file=sleuth_dirs / "config" / "window.ini")
    qtbot.addWidget(window)
    shown: list[tuple[int, int, str]] = []

    def seen(event: Progress) -> None:
        if event.phase == Phase.EMBED and event.chunks_total:
            shown.append((event.chunks_done, event.chunks_total, window.status.progress_label.text()))

    window.progressShown.connect(seen)
    window.show()
    with qtbot.waitSignal(window.indexingFinished, timeout=60_000):
        window.start()
    assert window.shutdown(timeout_ms=30_000)
    assert shown, "the window showed no embedding progress"
    assert all(t == total for _done, t, _text in shown)
    assert shown[0][0] >= stopped[-1].chunks_done
    assert [done for done, _t, _text in shown] == sorted(done for done, _t, _text in shown)
    assert any(f"of {total:,}" in text for _d, _t, text in shown)


def shown_while_indexing(qtbot: QtBot, settings: Settings, docs: Path, db: Path) -> list[tuple[Phase, str]]:
    """Each event of a real run of ``docs`` into a new index, with what the status bar says at it."""
    from core.embedding import load_embedder
    from core.index.indexer import Indexer
    from core.index.store import Store

    store = Store(db)
    store.add_folder(docs.resolve())
    status = StatusArea()
    qtbot.addWidget(status)
    status.set_busy(True)
    shown: list[tuple[Phase, str]] = []
    for event in Indexer(store, settings, load_embedder(settings.model, device="cpu")).run([docs.resolve()]):
        status.show_progress(event)
        shown.append((event.phase, status.progress_label.text()))
    return shown


def test_the_status_bar_says_keyword_search_is_ready_once_every_file_is_read(
    qtbot: QtBot, settings: Settings, tmp_path: Path
) -> None:
    """A real run's events, as the window shows them: "Keyword search ready" when the text phase ends, and on
    through embedding; never while files are still being read."""
    from core.jobs import KEYWORD_READY

    shown = shown_while_indexing(qtbot, settings, write_docs(tmp_path / "docs"), tmp_path / "db")
    reading = [text for phase, text in shown if phase == Phase.TEXT]
    assert reading[-1] == f"{KEYWORD_READY}: 5 files read"
    assert not any(KEYWORD_READY in text for text in reading[:-1])
    embedding = [text for phase, text in shown if phase == Phase.EMBED]
    assert embedding and all(text.startswith(KEYWORD_READY) for text in embedding)


def test_while_ocr_reads_pictures_the_status_bar_says_keyword_search_is_ready(
    qtbot: QtBot, settings: Settings, tmp_path: Path
) -> None:
    """A folder with a picture of text: the text phase ends with "Keyword search ready", and the OCR pass that
    follows says so too, with its own count of files."""
    from core.jobs import KEYWORD_READY
    from tests.core.test_ocr import picture

    docs = write_docs(tmp_path / "docs")
    picture("Invoice from Zanzibarco").save(docs / "receipt.png")
    shown = shown_while_indexing(qtbot, settings, docs, tmp_path / "db")
    phases = [phase for phase, _text in shown]
    assert phases.index(Phase.OCR) > max(i for i, phase in enumerate(phases) if phase == Phase.TEXT)
    reading = [text for phase, text in shown if phase == Phase.TEXT]
    assert reading[-1] == f"{KEYWORD_READY}: 6 files read; OCR reads the pictures of text in 1 of them next"
    ocr = [text for phase, text in shown if phase == Phase.OCR]
    assert ocr[0] == f"{KEYWORD_READY}; reading pictures of text (OCR) — 0 of 1 files"
    assert ocr[-1] == f"{KEYWORD_READY}; reading pictures of text (OCR) — 1 of 1 files"
