"""Folders stay current while the window is closed: ``sleuth watch --background``.

With the ``keep_watching`` setting on, Sleuth keeps one background ``sleuth watch`` per index: an XDG
autostart entry starts it at login, and the window starts it when it closes. Only one Sleuth may write to
an index, so the background watch stands aside when the window opens: the window asks it to stop (SIGTERM,
its graceful stop; changes not yet applied stay queued on disk) and takes the writer lock once it is free.
A ``sleuth watch`` started by hand is never stopped: only one whose lock names it
:data:`BACKGROUND_HOLDER`. ``sleuth status`` names whichever holds the lock.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.service.writer import WriterLock

#: The writer-lock holder name of a background watch (what ``sleuth status`` shows, with its pid).
BACKGROUND_HOLDER = "Sleuth's background watch"
AUTOSTART_NAME = "sleuth-watch.desktop"
#: How long the window waits for a background watch to reach a checkpoint and let go of the index.
STAND_ASIDE_TIMEOUT_S = 120.0
#: How long a background watch waits for the index's writer lock (the window that started it is closing).
TAKE_OVER_TIMEOUT_S = 60.0


def autostart_path() -> Path:
    """``$XDG_CONFIG_HOME/autostart/sleuth-watch.desktop`` (the XDG autostart folder)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "autostart" / AUTOSTART_NAME


def sleuth_command() -> list[str]:
    """The ``sleuth`` command of this installation (the script beside the interpreter), else the module."""
    script = Path(sys.executable).with_name("sleuth")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "core.cli"]


def watch_command() -> list[str]:
    return [*sleuth_command(), "watch", "--background"]


def set_autostart(on: bool) -> Path:
    """Install or remove the autostart entry that starts the background watch at login; its path."""
    path = autostart_path()
    if not on:
        path.unlink(missing_ok=True)
        return path
    exec_line = " ".join(_desktop_quote(arg) for arg in watch_command())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Sleuth background watch\n"
        "Comment=Keeps Sleuth's folders up to date while its window is closed\n"
        f"Exec={exec_line}\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        "X-GNOME-Autostart-enabled=true\n",
        encoding="utf-8",
    )
    return path


def _desktop_quote(arg: str) -> str:
    """An Exec argument as the desktop entry spec quotes it (double quotes; no field codes)."""
    if re.fullmatch(r"[A-Za-z0-9_./:=+-]+", arg):
        return arg
    return '"' + re.sub(r'([\\"`$])', r"\\\1", arg).replace("%", "%%") + '"'


def background_pid(db_path: Path) -> int | None:
    """The pid of the background watch that keeps this index now, else None."""
    holder = WriterLock.holder(db_path) or ""
    found = re.fullmatch(re.escape(BACKGROUND_HOLDER) + r" \(pid (\d+)\)", holder)
    return int(found.group(1)) if found else None


def start(db_path: Path, env: dict[str, str] | None = None) -> int:
    """Start a background watch of the index at ``db_path`` in a session of its own; its pid.

    It logs to Sleuth's log file; what it prints goes nowhere."""
    environment = {**(env or os.environ), "SLEUTH_DB": str(db_path)}
    process = subprocess.Popen(
        watch_command(),
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    return process.pid


def stand_aside(db_path: Path, timeout: float = STAND_ASIDE_TIMEOUT_S) -> bool:
    """Ask the background watch of this index, if one runs, to stop; True once the index's lock is free of it.

    False when it did not let go in time (or is not this user's)."""
    pid = background_pid(db_path)
    if pid is None:
        return True
    if not _ours(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while background_pid(db_path) == pid:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _ours(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}").stat().st_uid == os.getuid()
    except OSError:
        return sys.platform != "linux"  # no /proc to ask: the lock file is in this user's folder
