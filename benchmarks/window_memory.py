"""The window's resident memory across a sequence of jobs, in a process of its own (``benchmarks.memory --window``).

The real window runs offscreen (``QT_QPA_PLATFORM=offscreen``) with the settings it is given and is
driven as a user would: add a folder and let it index, search, change the chunk size (a new index is
built beside the old one), start "Adapt to my documents" and cancel it after a few steps, search again.
VmRSS is read after each job once the window has been idle for a moment; ``fresh`` is a second window,
started on the finished index, after one search: what the sequence should come back to.

With ``searches``, the sequence goes on as a window left open all day: that many searches of the
dataset's queries, one after another, with a file of the folder edited every ``edit_every`` searches
(the window's live watch re-indexes it), VmRSS read every ``READ_EVERY`` searches.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SETTLE_S = 5.0  # idle time before a reading: late frees, the reader's model load
READ_EVERY = 100  # searches between readings in the long session


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def wait_for(signal: Any, accept: Callable[..., bool] = lambda *_a: True, timeout_s: float = 600) -> tuple[Any, ...]:
    """Run the event loop until ``signal`` fires with arguments ``accept`` takes; returns them."""
    from app.qt import QEventLoop, QTimer

    loop = QEventLoop()
    got: list[tuple[Any, ...]] = []

    def on(*args: Any) -> None:
        if not got and accept(*args):
            got.append(args)
            loop.quit()

    signal.connect(on)
    timer = QTimer()  # stopped after: a pending single shot per wait would pile up over a long session
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    timer.start(int(timeout_s * 1000))
    loop.exec()
    timer.stop()
    signal.disconnect(on)
    if not got:
        raise TimeoutError(f"no {signal} within {timeout_s} s")
    return got[0]


def settle(seconds: float = SETTLE_S) -> None:
    from app.qt import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def search(window: Any, query: str) -> Any:
    """A full search, answered with the query model loaded (the first answers keyword-only meanwhile)."""
    window.search_box.setText(query)

    def with_model(result: Any) -> bool:
        print(f"result: full={result.request.full} mode={result.mode} notes={result.notes}", file=sys.stderr)
        return bool(result.request.full and result.request.query == query) and not any(
            "still loading" in note for note in result.notes
        )

    window.run_search(full=True)
    (result,) = wait_for(window.resultsShown, with_model)
    return result


def long_session(window: Any, folder: Path, queries: list[str], searches: int, edit_every: int) -> dict[str, Any]:
    """``searches`` searches, a file edited and re-indexed by the live watch every ``edit_every``; RSS readings."""
    readings: dict[str, Any] = {}
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    edits = 0
    for n in range(1, searches + 1):
        search(window, queries[n % len(queries)])
        if edit_every and n % edit_every == 0:
            with files[edits % len(files)].open("a", encoding="utf-8") as handle:
                handle.write(f"\nA line added during the long session, edit {edits + 1}.\n")
            edits += 1
            wait_for(window.writer.busy, lambda busy: busy, timeout_s=120)
            wait_for(window.writer.busy, lambda busy: not busy)
        if n % READ_EVERY == 0:
            settle(1.0)
            readings[f"{n} searches"] = rss_mb()
    readings["files edited"] = edits
    return readings


def sequence(
    settings_file: Path, db: Path, folder: Path, queries: list[str], adapt_steps: int, searches: int, edit_every: int
) -> dict[str, Any]:
    """The whole sequence in this process; the RSS after each job (MB)."""
    from app.qt import QApplication
    from app.window import MainWindow
    from core.settings import load_settings
    from core.training import AdaptOptions

    app = QApplication.instance() or QApplication([])
    settings = load_settings(settings_file)
    query = queries[0]
    readings: dict[str, Any] = {"python and Qt": rss_mb()}
    window = MainWindow(settings, db, state_file=settings_file.parent / "window.ini")
    window.resize(1200, 800)
    window.show()
    window.start()
    started = time.perf_counter()

    window.add_folder(str(folder))
    wait_for(window.indexingFinished, lambda outcome: outcome.report is not None)
    settle()
    readings["folder indexed"] = rss_mb()
    first = search(window, query)
    settle()
    readings["after one search"] = rss_mb()

    window.apply_settings(dataclasses.replace(window.settings, chunk_size=max(64, window.settings.chunk_size // 2)))
    wait_for(window.indexingFinished, lambda outcome: outcome.rebuilt)
    settle()
    readings["chunk size changed, index rebuilt"] = rss_mb()

    window.adapting.options = AdaptOptions(
        steps=adapt_steps, batch_size=4, max_tokens=64, estimate_steps=1, device=settings.device
    )
    window.adapt_action.trigger()
    (dialog,) = wait_for(window.adapting.asked)
    dialog.start_button.click()
    wait_for(window.adapting.progressShown, lambda event: event.phase == "ebae" and event.step >= 2)
    readings["adapting (step 2)"] = rss_mb()
    window.adapting.cancel()
    (outcome,) = wait_for(window.adapting.finished)
    assert outcome.cancelled, outcome
    settle()
    readings["adapting cancelled"] = rss_mb()

    last = search(window, query)
    settle()
    readings["searched again (final)"] = rss_mb()
    if searches:
        readings["long session"] = long_session(window, folder, queries, searches, edit_every)
        settle()
        readings["after the long session"] = rss_mb()
    readings["peak (VmHWM)"] = _hwm()
    readings["seconds"] = round(time.perf_counter() - started, 1)
    readings["hits"] = [len(first.hits), len(last.hits)]
    window.shutdown(timeout_ms=60_000)
    window.close()
    app.processEvents()
    return readings


def fresh(settings_file: Path, db: Path, query: str) -> dict[str, Any]:
    """A new window on the finished index, after one search."""
    from app.qt import QApplication
    from app.window import MainWindow
    from core.settings import load_settings

    app = QApplication.instance() or QApplication([])
    window = MainWindow(load_settings(settings_file), db, state_file=settings_file.parent / "window.ini")
    window.show()
    window.start()
    settle()
    result = search(window, query)
    settle()
    readings = {"fresh window after one search": rss_mb(), "peak (VmHWM)": _hwm(), "hits": len(result.hits)}
    window.shutdown(timeout_ms=60_000)
    window.close()
    app.processEvents()
    return readings


def _hwm() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def child(
    mode: str,
    settings_file: str,
    db: str,
    folder: str,
    queries_file: str,
    adapt_steps: int,
    searches: int,
    edit_every: int,
) -> None:
    """One window child; ``queries_file`` is a JSON list of queries, the first the one searched between jobs."""
    queries = json.loads(Path(queries_file).read_text(encoding="utf-8"))
    if mode == "sequence":
        result = sequence(Path(settings_file), Path(db), Path(folder), queries, adapt_steps, searches, edit_every)
    else:
        result = fresh(Path(settings_file), Path(db), queries[0])
    print(json.dumps(result))
