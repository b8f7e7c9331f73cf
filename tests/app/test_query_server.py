"""The open window answers ``sleuth search`` over its socket, on its search worker's thread."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.window import MainWindow
from core.service.queries import Query
from core.service.query_server import ask, socket_path
from core.vocabulary import NoteKind, note_kind
from tests.app.test_results import settled
from tests.app.test_window import TIMEOUT, add_and_index
from tests.conftest import child_pythonpath

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sleuth-rt-"))
    monkeypatch.setenv("SLEUTH_RUNTIME_DIR", str(path / "sleuth"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_window_serves_searches_once_it_has_an_index(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    sock = socket_path(window.db_path)
    assert window.query_server is None and not sock.exists(), "nothing indexed: nothing to serve"
    add_and_index(qtbot, window, docs)
    qtbot.waitUntil(lambda: window.query_server is not None, timeout=TIMEOUT)
    assert sock.exists()

    replies: list[dict[str, Any] | None] = []
    asker = threading.Thread(target=lambda: replies.append(ask(window.db_path, Query("sourdough starter", 3, "bm25"))))
    asker.start()
    qtbot.waitUntil(lambda: not asker.is_alive(), timeout=TIMEOUT)  # the GUI thread keeps running meanwhile
    reply = replies[0]
    assert reply is not None, "the window answered"
    assert reply["served_by"].startswith("the Sleuth window (pid ")
    assert reply["mode"] == "bm25" and len(reply["results"]) <= 3
    assert Path(reply["results"][0]["path"]).name == "sourdough.md"
    assert reply["results"][0]["line"] is not None, "a Markdown file: its line"
    assert window.model.rowCount() == 0, "a served search is not shown in the window"

    assert window.shutdown(timeout_ms=30_000)
    assert not sock.exists(), "the socket goes when the window closes"
    assert ask(window.db_path, Query("sourdough")) is None


def test_the_window_and_sleuth_search_answered_by_it_show_the_same_passages(
    qtbot: QtBot, window: MainWindow, docs: Path
) -> None:
    """One search path: what the window shows for a query is what `sleuth search` prints, passage for passage."""
    (docs / "kitchen" / "bread.txt").write_text(
        "Rye bread wants a sourdough starter too.\n\n\n\nFeed the starter twice.\n\n\n"
        + "Flour, water and salt are all a loaf needs.\n" * 30
        + "\n\nA starter kept in the fridge is fed weekly; a sourdough starter left out is fed daily.\n"
    )
    add_and_index(qtbot, window, docs)
    qtbot.waitUntil(lambda: window.query_server is not None, timeout=TIMEOUT)
    query = "sourdough starter fed"
    shown = settled(qtbot, window, query)  # with the query model loaded, as `sleuth search` will be answered
    assert all(note_kind(n) is not NoteKind.MODEL_LOADING for n in shown.notes)
    assert len(shown.documents) >= 2 and any(len(d.hits) > 1 for d in shown.documents), "several passages to order"
    wanted = {h.id for h in shown.hits if h.path.endswith((".md", ".txt"))}
    qtbot.waitUntil(lambda: wanted <= set(window.model.lines), timeout=TIMEOUT)

    env = {**os.environ, "PYTHONPATH": child_pythonpath(ROOT), "HF_HUB_OFFLINE": "1"}
    done: list[subprocess.CompletedProcess[str]] = []
    cli = threading.Thread(
        target=lambda: done.append(
            subprocess.run(
                [sys.executable, "-m", "core.cli", "--db", str(window.db_path), "--verbose", "search", "--json", query],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
        )
    )
    cli.start()
    qtbot.waitUntil(lambda: not cli.is_alive(), timeout=300_000)  # the window answers it meanwhile
    printed = done[0]
    assert printed.returncode == 0, printed.stderr
    assert "answered by the Sleuth window" in printed.stderr
    data = json.loads(printed.stdout)

    in_window = [
        [(Path(h.path).name, h.char_start, h.char_end, window.model.lines.get(h.id)) for h in d.hits]
        for d in shown.documents
    ]
    in_cli = [
        [(Path(p["path"]).name, p["char_start"], p["char_end"], p["line"]) for p in d["passages"]]
        for d in data["documents"]
    ]
    assert in_cli == in_window
    assert data["mode"] == shown.mode and [str(n) for n in shown.notes] == data["notes"]
