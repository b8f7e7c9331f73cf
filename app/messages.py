"""``error`` / ``warning`` / ``info`` for any code in app/, from any thread; the window shows them.

Emitting a Qt signal is thread-safe and crosses to the GUI thread as a queued call, so workers
report through here without touching a widget.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import Enum

from app.qt import QObject, Signal
from core.errors import describe as describe  # re-exported: app code says messages.describe

log = logging.getLogger("sleuth")


class Level(Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Message:
    """``topic`` groups messages about one thing ("search"): a newer outcome on it settles the older one."""

    level: Level
    text: str
    at: float = field(default_factory=time.time)
    topic: str = ""


class MessageBus(QObject):
    posted = Signal(object)  # Message


_bus: MessageBus | None = None


def bus() -> MessageBus:
    """The application's bus; create it on the GUI thread first (the window does)."""
    global _bus
    if _bus is None:
        _bus = MessageBus()
    return _bus


def _post(level: Level, text: str, topic: str) -> None:
    log.log({Level.INFO: logging.INFO, Level.WARNING: logging.WARNING, Level.ERROR: logging.ERROR}[level], text)
    bus().posted.emit(Message(level, text, topic=topic))


def info(text: str, topic: str = "") -> None:
    _post(Level.INFO, text, topic)


def warning(text: str, topic: str = "") -> None:
    _post(Level.WARNING, text, topic)


def error(text: str, topic: str = "") -> None:
    _post(Level.ERROR, text, topic)


def details_in_log() -> str:
    """The end of a message about an unexpected failure: which file holds its details."""
    from core.paths import log_path

    return f"Details are in the log, {log_path()}."
