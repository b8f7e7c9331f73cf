"""One window per user and index: a second launch hands over to the open window and exits.

Real processes throughout: the window is ``sleuth`` (app.launch) on the offscreen platform, in a private
home, config, state, runtime and index folder, with the tiny real model.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.cli import main
from core.service.query_server import socket_path
from tests.conftest import private_sleuth

ROOT = Path(__file__).resolve().parents[2]


def sleuth(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.launch", *args]


@pytest.fixture
def env(tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A user of their own: home, XDG folders, Sleuth's folders and a short runtime folder (socket paths)."""
    with private_sleuth(tmp_path, monkeypatch, home=True) as environment:
        assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
        assert main(["config", "set", "chunk_size", "48"]) == 0
        assert main(["config", "set", "dense_weight", "0"]) == 0
        yield environment


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 300.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def _log(tmp_path: Path) -> str:
    path = tmp_path / "state" / "sleuth.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _start_window(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        sleuth(*args), env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _stop(window: subprocess.Popen[str]) -> str:
    if window.poll() is None:
        window.send_signal(signal.SIGTERM)
    _out, err = window.communicate(timeout=60)
    return err


def test_a_second_launch_brings_the_open_window_forward_and_hands_it_the_folder(
    env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "db"
    window = _start_window(env)
    try:
        _wait_for(lambda: socket_path(db, "window").exists() or window.poll() is not None, "the window to listen")
        assert window.poll() is None

        second = subprocess.run(sleuth(), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        # Answered by the launcher itself, before Qt: no second window was ever built.
        assert f"Sleuth is already open (pid {window.pid}): brought its window forward." in second.stderr
        _wait_for(lambda: "raised the window for another launch" in _log(tmp_path), "the window to come forward")
        assert "another launch handed over" in _log(tmp_path)
        assert "only one Sleuth may write" not in _log(tmp_path)
        assert window.poll() is None, "the first window stays"

        # sleuth FOLDER: the open window adds the folder and indexes it.
        folder = tmp_path / "ferns"
        folder.mkdir()
        (folder / "spores.txt").write_text("Ferns reproduce by spores carried on the underside of each frond.\n")
        third = subprocess.run(sleuth(str(folder)), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert third.returncode == 0, third.stderr
        assert f"adding {folder.resolve()}" in third.stderr

        def indexed() -> bool:
            done = subprocess.run(
                [sys.executable, "-m", "core.cli", "status", "--json"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            data = json.loads(done.stdout) if done.returncode == 0 else {}
            return str(folder.resolve()) in data.get("folders", []) and data.get("files") == 1

        _wait_for(indexed, "the first window to add and index the folder", every=1.0)

        def served() -> dict[str, object]:
            done = subprocess.run(
                [sys.executable, "-m", "core.cli", "search", "spores", "--json", "--mode", "bm25"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            data = json.loads(done.stdout) if done.returncode == 0 else {}
            return data if data.get("served_by") == f"the Sleuth window (pid {window.pid})" else {}

        _wait_for(served, "the first window to answer searches", every=1.0)
        assert [Path(str(r["path"])).name for r in served()["results"]] == ["spores.txt"]  # type: ignore[index,union-attr]
        assert window.poll() is None
    finally:
        err = _stop(window)  # SIGTERM: closed as by its close button
    assert window.returncode == 0 and "Traceback" not in err, err
    assert not socket_path(db, "window").exists(), "a closed window leaves no socket behind"


def test_two_launches_at_once_leave_one_window_and_a_crashed_ones_socket_is_taken_over(
    env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "db"
    launches = [_start_window(env), _start_window(env)]
    try:
        _wait_for(lambda: any(launch.poll() is not None for launch in launches), "one launch to hand over")
        gone = next(launch for launch in launches if launch.poll() is not None)
        stays = next(launch for launch in launches if launch is not gone)
        assert gone.returncode == 0, gone.communicate()[1]
        assert stays.poll() is None, "exactly one window stays"
    finally:
        for launch in launches:
            if launch.poll() is None:
                launch.kill()  # a crash: nothing is cleaned up
            launch.communicate(timeout=60)
    # The window crashed: its socket is left behind, and the next launch opens a window over it.
    assert socket_path(db, "window").exists()
    again = _start_window(env)
    try:
        _wait_for(lambda: _listening(db) or again.poll() is not None, "the new window to listen")
        assert again.poll() is None
        handed = subprocess.run(sleuth(), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert f"already open (pid {again.pid})" in handed.stderr
    finally:
        _stop(again)


def _listening(db: Path) -> bool:
    from core.service.query_server import is_live

    return is_live(socket_path(db, "window"))
