"""Open the Sleuth window: ``sleuth`` with no arguments, ``python -m app`` or ``make run``."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from app import messages
from app.handover import NotAnswering, hand_over
from app.instance import InstanceServer
from app.qt import QApplication, QIcon, QTimer
from app.window import MainWindow
from core.errors import ConfigError
from core.heap import limit_arenas
from core.log_file import FORMAT, add_log_file
from core.paths import default_db_path
from core.settings import Settings, load_settings

log = logging.getLogger("sleuth")
RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def resource(name: str) -> Path | None:
    path = RESOURCES / name
    return path if path.exists() else None


def style(app: QApplication) -> None:
    """Icon and a small palette-aware style sheet (it names palette roles, never fixed colours)."""
    icon = resource("sleuth.svg")
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    sheet = resource("style.qss")
    if sheet is not None:
        app.setStyleSheet(sheet.read_text(encoding="utf-8"))


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """A bug in a slot reaches the user as one line in the status bar, never as a dialog or a crash."""
    log.error("unhandled error:\n%s", "".join(traceback.format_exception(kind, exc, tb)))
    if QApplication.instance() is not None:
        messages.error(f"Something went wrong: {messages.describe(exc)}. {messages.details_in_log()}")


def start_logging() -> logging.Handler | None:
    """The log on stderr (for a window started from a terminal) and in the log file (core.paths.log_path),
    which a window started from the applications menu has as its only log."""
    logging.basicConfig(level=logging.INFO, format=FORMAT)
    return add_log_file()


def main(argv: Sequence[str] | None = None, folders: Sequence[str] = ()) -> int:
    """Open the window on the default index, adding ``folders``; where a window is already open on it, bring
    that one forward instead (adding them there) and return 0."""
    limit_arenas()
    start_logging()
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv))
    assert isinstance(app, QApplication)
    app.setApplicationName("Sleuth")
    app.setOrganizationName("Sleuth")
    app.setDesktopFileName("sleuth")
    style(app)
    messages.bus()  # created on the GUI thread
    sys.excepthook = _excepthook
    problem = ""
    try:
        settings = load_settings()
    except ConfigError as exc:
        settings, problem = Settings(), f"{exc} Using the default settings."
    db_path = default_db_path()
    instance = InstanceServer(db_path)
    for _attempt in range(3):
        if instance.claim():
            break
        try:
            reply = hand_over(db_path, folders)
        except NotAnswering as exc:
            log.error("%s Close it, or end its process, then start Sleuth again.", exc)
            return 1
        if reply is not None and reply.get("shown"):
            log.info("Sleuth is already open on this index (pid %s): brought its window forward", reply.get("pid"))
            return 0
        if reply is not None:
            log.error("The open Sleuth window refused to come forward: %s", reply.get("error"))
            return 1
        # No answer: that window closed between the two looks. Claim again.
    window = MainWindow(settings, db_path)
    close_on_sigterm(window)  # before anything can announce the window: a SIGTERM from then on closes it
    instance.showRequested.connect(window.bring_forward)
    window.show()
    window.start()
    log.info("window open")  # how a test of an installed Sleuth (tests/test_linux_package.py) sees it came up
    for folder in folders:
        window.add_folder(folder)
    if problem:
        messages.error(problem)
    code = int(app.exec())
    instance.close()
    clean = window.shutdown(timeout_ms=5000)
    if window.settings.keep_watching:  # it waits for this process to let go of the index, then takes over
        from core.service import background

        try:
            log.info("started Sleuth's background watch (pid %s)", background.start(db_path))
        except OSError as exc:
            log.error("could not start Sleuth's background watch: %s", exc)
    if not clean:
        # The writer is inside a long batch; every write is resumable, so leaving now loses nothing.
        log.warning("indexing did not stop in time; exiting anyway (the next start continues it)")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def close_on_sigterm(window: MainWindow) -> None:
    """A logout or ``kill`` (SIGTERM) closes the window as its close button does: state saved, index let go.

    The handler only posts the close to the event loop. It can run before the loop has started (a SIGTERM
    as the window opens), and a window closed then leaves ``app.exec()`` with nothing to end it: Qt quits
    on the last window closed only while the loop runs. Python runs a signal handler only between
    bytecodes, so a timer gives the interpreter a turn while the loop waits."""
    if threading.current_thread() is not threading.main_thread():
        return

    def close() -> None:
        window.close()
        QApplication.quit()  # a dialog left open does not keep Sleuth running past a logout

    signal.signal(signal.SIGTERM, lambda _signum, _frame: QTimer.singleShot(0, close))
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(250)
