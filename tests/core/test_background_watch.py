"""Folders stay current with no window open: ``sleuth watch`` in the background keeps the index up to date,
``sleuth search`` finds a file added meanwhile, and ``sleuth status`` says who keeps the index."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.cli import main
from tests.conftest import private_sleuth

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(
    tmp_path: Path, tiny_llama_dir: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The sample corpus indexed by ``sleuth index`` in private folders; no Sleuth runs beside it."""
    with private_sleuth(tmp_path, monkeypatch) as environment:
        assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
        assert main(["config", "set", "chunk_size", "48"]) == 0
        assert main(["index", str(corpus)]) == 0
        yield environment


def _sleuth(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "core.cli", *args]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _status(env: dict[str, str]) -> dict[str, Any]:
    done = _sleuth(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_a_background_watch_keeps_the_folders_current_and_status_names_it(env: dict[str, str], corpus: Path) -> None:
    assert _status(env)["kept_up_to_date_by"] is None
    plain = _sleuth(env, "status")
    assert "Kept up to date by: nothing now" in plain.stdout

    watch = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "watch", "--full-speed", "--quiet-seconds", "0.2"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # as a background service runs: no terminal, its own session
    )
    try:
        assert watch.stderr is not None
        seen = ""
        while "Checking your folders" not in seen and watch.poll() is None:
            seen += watch.stderr.readline()
        assert watch.poll() is None, seen
        assert _status(env)["kept_up_to_date_by"] == f"sleuth watch (pid {watch.pid})"
        assert f"Kept up to date by: sleuth watch (pid {watch.pid})" in _sleuth(env, "status").stdout

        (corpus / "lighthouse.txt").write_text("The lighthouse keeper logged a quasar of fog every night.\n")

        def found() -> bool:
            done = _sleuth(env, "search", "quasar", "--mode", "bm25", "--json")
            return done.returncode == 0 and Path(json.loads(done.stdout)["results"][0]["path"]).name == "lighthouse.txt"

        _wait_for(found, "the background watch to index the new file")
    finally:
        if watch.poll() is None:
            watch.send_signal(signal.SIGTERM)
        _out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    assert _status(env)["kept_up_to_date_by"] is None
    # What it indexed stays: a search with no Sleuth running finds it in the index.
    assert _sleuth(env, "search", "quasar", "--mode", "bm25").returncode == 0


def test_keep_watching_installs_and_removes_the_autostart_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg config"))
    entry = tmp_path / "xdg config" / "autostart" / "sleuth-watch.desktop"
    assert main(["config", "set", "keep_watching", "true"]) == 0
    assert "starts at login" in capsys.readouterr().out
    lines = entry.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]" and "Type=Application" in lines
    exec_line = next(line for line in lines if line.startswith("Exec="))
    assert exec_line.endswith(" watch --background")
    assert main(["config", "get", "keep_watching"]) == 0 and capsys.readouterr().out.strip() == "true"
    assert main(["config", "set", "keep_watching", "false"]) == 0
    assert not entry.exists()
