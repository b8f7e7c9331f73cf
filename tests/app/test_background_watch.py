"""The window and Sleuth's background watch take turns on the index (keep_watching): the watch stands aside
when the window opens, and the window starts it again when it closes. Real processes throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.cli import main
from core.service import background
from core.service.writer import WriterLock
from tests.conftest import private_sleuth

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with private_sleuth(tmp_path, monkeypatch, home=True) as environment:
        for key, value in (("model", str(tiny_llama_dir)), ("chunk_size", "48"), ("keep_watching", "true")):
            assert main(["config", "set", key, value]) == 0
        yield environment


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _search(env: dict[str, str], word: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "search", word, "--mode", "bm25", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(done.stdout) if done.returncode == 0 else {}


def test_the_background_watch_stands_aside_for_the_window_and_takes_over_when_it_closes(
    env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "db"
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "kites.txt").write_text("A box kite flies steadily in a strong wind.\n")
    assert main(["index", str(folder)]) == 0
    started: list[int] = []
    try:
        started.append(background.start(db, env))
        _wait_for(lambda: background.background_pid(db) == started[0], "the background watch to hold the index")

        window = subprocess.Popen(
            [sys.executable, "-m", "app.launch"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            window_holds = f"the Sleuth window (pid {window.pid})"
            _wait_for(lambda: WriterLock.holder(db) == window_holds or window.poll() is not None, "the window")
            assert window.poll() is None
            log = (tmp_path / "state" / "sleuth.log").read_text(encoding="utf-8")
            assert "background watch stood aside for the window" in log
            assert "only one Sleuth may write" not in log
        finally:
            window.send_signal(signal.SIGTERM)  # closes it as its close button does
            _out, err = window.communicate(timeout=120)
        assert window.returncode == 0, err.decode(errors="replace")

        # Closed: a new background watch keeps the folder current.
        _wait_for(lambda: background.background_pid(db) not in (None, started[0]), "a new background watch")
        pid = background.background_pid(db)
        assert pid is not None
        started.append(pid)
        (folder / "gliders.txt").write_text("Gliders ride thermals without an engine.\n")

        def served() -> bool:
            data = _search(env, "thermals")
            return data.get("served_by") == f"Sleuth's background watch (pid {pid})" and bool(data.get("results"))

        _wait_for(served, "the background watch to index the new file and answer")
    finally:
        running = background.background_pid(db)  # only a watch this test started can hold this index
        if running in started:
            os.kill(running, signal.SIGTERM)
        _wait_for(lambda: WriterLock.holder(db) is None, "every background watch to stop", timeout=120)
