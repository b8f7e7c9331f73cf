"""The open window answers ``sleuth search`` over its socket, on its search worker's thread."""

from __future__ import annotations

import shutil
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
from tests.app.test_window import TIMEOUT, add_and_index


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
