"""A SIGTERM (a logout, ``kill``, a service manager) closes the window as its close button does, whenever it comes.

Real processes: the window is ``app.main`` on the offscreen platform, in a private home and index folder, with the
tiny real model.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli import main
from tests.conftest import private_sleuth

ROOT = Path(__file__).resolve().parents[2]
#: Only a failure guard for a window that never ends: never a measure of speed.
HANG = 120

#: The window, with the SIGTERM delivered after its handler is in place and before the event loop starts.
EARLY_SIGTERM = textwrap.dedent(
    """
    import os, signal, sys
    import app.main as window_main

    class SignalledFirst(window_main.QApplication):
        def exec(self):
            os.kill(os.getpid(), signal.SIGTERM)  # Python runs its handler before the loop below starts
            return super().exec()

    window_main.QApplication = SignalledFirst
    sys.exit(window_main.main([]))
    """
)


@pytest.fixture
def env(tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with private_sleuth(tmp_path, monkeypatch, home=True) as environment:
        assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
        yield environment


def test_a_sigterm_before_the_event_loop_starts_still_closes_the_window(env: dict[str, str], tmp_path: Path) -> None:
    window = subprocess.Popen(
        [sys.executable, "-c", EARLY_SIGTERM], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _out, err = window.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        window.kill()
        _out, err = window.communicate()
        pytest.fail("closed before its event loop started, the window left the loop running:\n" + err.decode())
    log = err.decode()
    assert window.returncode == 0, log  # closed, not killed by the signal
    assert "window open" in log and "Traceback" not in log, log
    state = (tmp_path / "config" / "window.ini").read_text(encoding="utf-8")
    assert "geometry" in state  # closed as by its close button: the window saved where it was


def test_a_sigterm_as_the_window_opens_closes_it(env: dict[str, str]) -> None:
    """The moment it says it is open, a SIGTERM closes it gracefully (the handler is in place by then)."""
    window = subprocess.Popen(
        [sys.executable, "-m", "app.launch"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert window.stderr is not None
    seen = []
    try:
        for raw in window.stderr:
            seen.append(raw.decode().rstrip("\n"))
            if seen[-1].endswith("window open"):
                window.send_signal(signal.SIGTERM)
                break
        _out, rest = window.communicate(timeout=HANG)
    finally:
        if window.poll() is None:
            window.kill()
    log = "\n".join(seen) + rest.decode()
    assert window.returncode == 0, log  # -15 would be the signal's default: ended, not closed
