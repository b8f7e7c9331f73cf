"""Open the Sleuth window: ``sleuth`` with no arguments, ``python -m app`` or ``make run``."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from app import messages
from app.qt import QApplication, QIcon
from app.window import MainWindow
from core.errors import ConfigError
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


def main(argv: Sequence[str] | None = None) -> int:
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
    window = MainWindow(settings, default_db_path())
    window.show()
    window.start()
    log.info("window open")  # how a test of an installed Sleuth (tests/test_linux_package.py) sees it came up
    if problem:
        messages.error(problem)
    code = int(app.exec())
    if not window.shutdown(timeout_ms=5000):
        # The writer is inside a long batch; every write is resumable, so leaving now loses nothing.
        log.warning("indexing did not stop in time; exiting anyway (the next start continues it)")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
