"""The suite's network guard (tests/network_guard) catches what it must and lets local traffic through."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sleuth_network_guard as guard

# An address reserved for documentation (RFC 5737): nothing answers there, and the guard refuses it first.
OFF_MACHINE = ("192.0.2.1", 9)


@pytest.fixture
def guard_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own guard log, so that its deliberate attempts do not fail it."""
    log = tmp_path / "guard.jsonl"
    monkeypatch.setenv(guard.LOG_VARIABLE, str(log))
    return log


def _attempts(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def test_a_connection_off_the_machine_is_refused_and_names_its_caller(guard_log: Path) -> None:
    with socket.socket() as sock, pytest.raises(guard.NetworkBlocked):
        sock.connect(OFF_MACHINE)
    [attempt] = _attempts(guard_log)
    assert attempt["target"] == "192.0.2.1:9"
    assert "test_network_guard.py" in str(attempt["caller"])


def test_a_name_lookup_is_refused_even_when_the_caller_swallows_the_error(guard_log: Path) -> None:
    def telemetry_thread() -> None:
        with contextlib.suppress(OSError):  # what a background uploader does
            socket.getaddrinfo("telemetry.example.org", 443)

    worker = threading.Thread(target=telemetry_thread)
    worker.start()
    worker.join()
    [attempt] = _attempts(guard_log)
    assert attempt["target"] == "lookup of 'telemetry.example.org'"
    assert "telemetry_thread" in str(attempt["caller"])


def test_child_processes_carry_the_guard(guard_log: Path) -> None:
    code = "import socket\nsocket.getaddrinfo('example.org', 80)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "NetworkBlocked" in done.stderr
    [attempt] = _attempts(guard_log)
    assert attempt["pid"] != os.getpid()
    assert attempt["target"] == "lookup of 'example.org'"


def test_loopback_and_unix_sockets_stay_allowed(guard_log: Path, tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
        socket.getaddrinfo("localhost", server.getsockname()[1])
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX) as unix_server:
        unix_server.bind(path)
        unix_server.listen()
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
    assert _attempts(guard_log) == []


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.0.3", True),
        ("::1", True),
        ("localhost", True),
        ("", True),
        (None, True),
        ("0.0.0.0", True),
        ("10.255.255.53", False),
        ("192.168.1.2", False),
        ("huggingface.co", False),
        (b"example.org", False),
        ("<broadcast>", False),
    ],
)
def test_what_counts_as_this_machine(host: object, local: bool) -> None:
    assert guard.is_local(host) is local
