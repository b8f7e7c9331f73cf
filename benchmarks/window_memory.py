"""The window's resident memory across a sequence of jobs, in a process of its own (``benchmarks.memory --window``).

The real window runs offscreen (``QT_QPA_PLATFORM=offscreen``) with the settings it is given and is
driven as a user would: add a folder and let it index, search, change the chunk size (a new index is
built beside the old one), start "Adapt to my documents" and cancel it after a few steps, search again.
VmRSS is read after each job once the window has been idle for a moment; ``fresh`` is a second window,
started on the finished index, after one search: what the sequence should come back to.
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
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
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


def sequence(settings_file: Path, db: Path, folder: Path, query: str, adapt_steps: int) -> dict[str, Any]:
    """The whole sequence in this process; the RSS after each job (MB)."""
    from app.qt import QApplication
    from app.window import MainWindow
    from core.settings import load_settings
    from core.training import AdaptOptions

    app = QApplication.instance() or QApplication([])
    settings = load_settings(settings_file)
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


def child(mode: str, settings_file: str, db: str, folder: str, query: str, adapt_steps: int) -> None:
    if mode == "sequence":
        result = sequence(Path(settings_file), Path(db), Path(folder), query, adapt_steps)
    else:
        result = fresh(Path(settings_file), Path(db), query)
    print(json.dumps(result))
