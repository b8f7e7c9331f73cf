"""Instant ``sleuth search``: a running ``sleuth watch`` answers over its private socket; without one the CLI loads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.cli import main
from core.service.queries import Query
from core.service.query_server import QueryServer, ask, socket_path
from tests.conftest import child_pythonpath

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private runtime folder (a Unix socket's path has ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="sleuth-rt-"))
    monkeypatch.setenv("SLEUTH_RUNTIME_DIR", str(path / "sleuth"))
    yield path / "sleuth"
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def env(tmp_path: Path, tiny_llama_dir: Path, runtime: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private config, database and runtime folder with the tiny real model, for both processes."""
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SLEUTH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SLEUTH_DB", str(tmp_path / "db"))
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["config", "set", "chunk_size", "48"]) == 0
    return {**os.environ, "PYTHONPATH": child_pythonpath(ROOT), "HF_HUB_OFFLINE": "1"}


def _search_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, Any], str]:
    assert main(["search", *args, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def _comparable(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(r["path"], r["char_start"], r["line"], round(r["score"], 4)) for r in data["results"]]


def _wait_for(condition: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_search_answers_from_a_running_watch_with_the_same_results_as_alone(
    env: dict[str, str], tmp_path: Path, corpus: Path, runtime: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    assert main(["index", str(corpus)]) == 0
    capsys.readouterr()
    # No Sleuth runs: the CLI loads the model itself, and says so.
    alone, err = _search_json(capsys, "Vesuvius buried Pompeii", "-k", "4")
    assert "No Sleuth is running; loading the model (about" in err and "sleuth watch" in err
    assert "served_by" not in alone
    assert alone["results"] and Path(alone["results"][0]["path"]).name == "volcano.txt"
    for result in alone["results"]:  # text files have lines; HTML does not
        if result["path"].endswith((".txt", ".md", ".rst")):
            assert result["line"] >= 1
        else:
            assert result["line"] is None

    watch = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "watch", "--full-speed"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    sock = socket_path(db)
    try:
        _wait_for(lambda: sock.exists() or watch.poll() is not None, "sleuth watch to listen")
        assert watch.poll() is None
        # Private: a 0600 socket in a 0700 folder of this user's.
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600 and stat.S_ISSOCK(sock.stat().st_mode)
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o700 and runtime.stat().st_uid == os.getuid()

        served, err = _search_json(capsys, "Vesuvius buried Pompeii", "-k", "4")
        assert served["served_by"] == f"sleuth watch (pid {watch.pid})"
        assert "No Sleuth is running" not in err
        assert _comparable(served) == _comparable(alone)
        assert served["mode"] == alone["mode"] and served["notes"] == alone["notes"]
        # Every mode and option goes over the wire the same way.
        keyword, _ = _search_json(capsys, "sourdough", "--mode", "bm25", "-k", "2", "--no-rerank")
        assert keyword["mode"] == "bm25" and len(keyword["results"]) <= 2
        assert Path(keyword["results"][0]["path"]).name == "bread.md"
        # The text output shows where: path:line.
        assert main(["search", "sourdough", "-k", "1"]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert first.startswith(" 1. ") and "bread.md:" in first
        # A bad request gets an error, and the server keeps serving.
        assert _raw_request(sock, b'{"query": 3}\n')["error"].startswith("bad request")
        again = ask(db, Query("Vesuvius buried Pompeii", 4, alone["mode"]))
        assert again is not None and _comparable(again) == _comparable(alone)
    finally:
        assert watch.stderr is not None
        seen = ""
        while "Checking your folders" not in seen and watch.poll() is None:
            seen += watch.stderr.readline()
        watch.send_signal(signal.SIGTERM)
        _out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, seen + err
    assert not sock.exists(), "the socket goes with the process"
    # And the CLI is on its own again.
    _data, err = _search_json(capsys, "Vesuvius buried Pompeii", "-k", "4")
    assert "No Sleuth is running" in err


def _raw_request(path: Path, line: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30)
        conn.connect(str(path))
        conn.sendall(line)
        data = b""
        while not data.endswith(b"\n"):
            block = conn.recv(65536)
            if not block:
                break
            data += block
    reply: dict[str, Any] = json.loads(data)
    return reply


def test_a_socket_left_by_a_crash_is_noticed_and_replaced(tmp_path: Path, runtime: Path) -> None:
    db = tmp_path / "db"
    path = socket_path(db)
    runtime.mkdir(mode=0o700, parents=True)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # bound, then the process "crashes": the file stays, nobody listens
    dead.close()
    assert path.exists()
    assert ask(db, Query("anything")) is None, "a stale socket means: nobody serves"

    seen: list[tuple[Query, str]] = []

    def answer(query: Query) -> dict[str, Any]:
        seen.append((query, threading.current_thread().name))
        return {"query": query.query, "mode": query.mode or "hybrid", "notes": [], "results": []}

    server = QueryServer(db, answer, "a test (pid 1)")
    assert server.start()
    try:
        reply = ask(db, Query("otters", 3, "bm25", rerank=False))
        assert reply == {"query": "otters", "mode": "bm25", "notes": [], "results": [], "served_by": "a test (pid 1)"}
        assert seen == [(Query("otters", 3, "bm25", False), "sleuth-query-server")]
        # A second server for the same index steps aside instead of stealing the socket.
        second = QueryServer(db, answer, "another")
        assert not second.start()
        # Another index has its own socket.
        assert socket_path(tmp_path / "other-db") != path
    finally:
        server.stop()
    assert not path.exists()
    assert ask(db, Query("otters")) is None


def test_a_runtime_folder_open_to_others_is_made_private(tmp_path: Path, runtime: Path) -> None:
    runtime.mkdir(parents=True)
    runtime.chmod(0o755)
    server = QueryServer(tmp_path / "db", lambda q: {"results": []}, "a test")
    assert server.start()
    try:
        assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    finally:
        server.stop()


def test_requests_are_checked_before_they_reach_the_engine() -> None:
    assert Query.from_json({"query": "x", "k": 5, "mode": "dense", "rerank": False}) == Query("x", 5, "dense", False)
    for bad in ({"query": 1}, {"query": "x", "k": 0}, {"query": "x", "k": True}, {"query": "x", "mode": "fuzzy"}, []):
        with pytest.raises(ValueError):
            Query.from_json(bad)


def test_library_noise_is_hidden_unless_verbose(
    env: dict[str, str], corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["index", str(corpus)]) == 0
    capsys.readouterr()
    _data, err = _search_json(capsys, "Vesuvius buried Pompeii")
    assert "No Sleuth is running" in err
    assert "Loading weights" not in err and "Warning" not in err
    assert main(["search", "Vesuvius buried Pompeii", "--json", "--verbose"]) == 0
    err = capsys.readouterr().err
    assert "Loading weights" in err, "--verbose shows transformers' own bars"
    import warnings

    with warnings.catch_warnings(record=True) as caught:  # the CLI put the caller's warning handling back
        warnings.simplefilter("always")
        warnings.warn("still shown", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["still shown"]
