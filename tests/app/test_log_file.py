"""The window's log file: where it is, that the window writes it, and that the user is told where to look."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app import opener
from app.main import _excepthook, start_logging
from app.messages import Level
from app.window import MainWindow
from core.paths import log_path
from tests.app.conftest import Posted


@pytest.fixture
def state(sleuth_dirs: Path) -> Iterator[Path]:
    """The test's private state folder (SLEUTH_STATE_DIR), and the root logger as it was once the test is over."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield sleuth_dirs / "state"
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_the_log_is_in_the_users_state_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SLEUTH_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    assert log_path() == tmp_path / "xdg-state" / "sleuth" / "sleuth.log"
    monkeypatch.setenv("SLEUTH_STATE_DIR", str(tmp_path / "mine"))
    assert log_path() == tmp_path / "mine" / "sleuth.log"


def test_the_window_writes_its_log_file_and_an_error_names_it(
    state: Path, qtbot: QtBot, window: MainWindow, posted: Posted
) -> None:
    handler = start_logging()
    assert isinstance(handler, RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (1_000_000, 3)
    posted.allow_errors = True
    try:
        raise RuntimeError("the widget fell over")
    except RuntimeError as exc:
        _excepthook(RuntimeError, exc, exc.__traceback__)  # a bug in a slot, as Qt would report it
    handler.flush()
    path = state / "sleuth.log"
    text = path.read_text(encoding="utf-8")
    assert "RuntimeError: the widget fell over" in text and "Traceback" in text
    error = posted.texts(Level.ERROR)[-1]
    assert "the widget fell over" in error and str(path) in error


def test_the_help_menu_opens_the_log(
    state: Path, qtbot: QtBot, window: MainWindow, posted: Posted, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def fake_open(path: str, page: int | None = None) -> bool:  # the desktop's viewer is not ours to test
        opened.append(path)
        return True

    monkeypatch.setattr(opener, "open_file", fake_open)
    menus = {action.text(): action.menu() for action in window.menuBar().actions()}
    assert "&Help" in menus
    help_menu = menus["&Help"]
    assert help_menu is not None
    action = next(a for a in help_menu.actions() if a.text() == "Open the log")
    assert action is window.open_log_action

    action.trigger()  # nothing logged yet: said, not opened
    assert not opened and str(state / "sleuth.log") in posted.texts(Level.INFO)[-1]

    start_logging()
    logging.getLogger("sleuth").info("something worth reading")
    action.trigger()
    assert opened == [str(state / "sleuth.log")]
