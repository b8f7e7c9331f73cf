"""The log file a user can find: ``core.paths.log_path()``, kept to a few megabytes.

The window and ``sleuth watch`` run for hours, often with no terminal to print to (the window started from
the applications menu): what they log goes to this file, rotated at 1 MB with three older files kept.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler

from core.paths import log_path

LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
#: The process id tells the window's lines from a ``sleuth watch``'s when both write to the file.
FORMAT = "%(asctime)s [%(process)d] %(name)s %(levelname)s: %(message)s"

log = logging.getLogger("sleuth")


def add_log_file(level: int = logging.INFO) -> logging.Handler | None:
    """Send the root logger's records from ``level`` up to the log file too; None when it cannot be written.

    A folder that cannot be made or a read-only file is said once in the other logs and never stops Sleuth.
    """
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the log file %s: %s", path, exc)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.getEffectiveLevel() > level:
        root.setLevel(level)
    return handler


def remove_log_file(handler: logging.Handler | None) -> None:
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()
