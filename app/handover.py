"""A second launch of the window hands over to the open one instead of opening beside it.

One window per user and index: the window listens on a private socket named after its index
(``core.service.query_server.socket_path(db, "window")``, in the same 0700 runtime folder as the query
socket; the listening side is :mod:`app.instance`). A launch asks that socket first; when a window
answers, it raises itself (and adds the folders the launch named) and the launch exits. This module is
the asking side and the protocol: it imports no Qt, so a launch that hands over is done in a moment.

Protocol: one JSON line ``{"request": "show", "folders": [absolute paths]}``; one JSON line back,
``{"shown": true, "pid": PID}`` or ``{"error": message}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.service.query_server import exchange, socket_path

#: How long a launch waits for the open window's answer: its GUI thread answers between events, and a window
#: that has just started may still be building itself on a busy machine.
ANSWER_TIMEOUT_S = 30.0
MAX_REQUEST = 64 << 10


class NotAnswering(Exception):
    """A window listens on the index's socket but did not answer in time."""


def show_request(folders: Sequence[str | Path]) -> dict[str, Any]:
    return {"request": "show", "folders": [str(Path(f).expanduser().resolve()) for f in folders]}


def parse_request(line: bytes) -> list[str]:
    """The folders a well-formed show request names; ValueError for anything else."""
    data = json.loads(line)
    if not isinstance(data, dict) or data.get("request") != "show":
        raise ValueError('a request is an object with "request": "show"')
    folders = data.get("folders", [])
    if not isinstance(folders, list) or not all(isinstance(f, str) and Path(f).is_absolute() for f in folders):
        raise ValueError('"folders" must be a list of absolute paths')
    return list(folders)


def hand_over(
    db_path: Path, folders: Sequence[str | Path] = (), timeout: float = ANSWER_TIMEOUT_S
) -> dict[str, Any] | None:
    """Ask the window open on ``db_path`` to come forward (adding ``folders``): its answer, or None when no
    window listens (no socket, or one left by a crash). Raises NotAnswering when one listens but is silent."""
    try:
        return exchange(socket_path(db_path, "window"), show_request(folders), timeout)
    except TimeoutError as exc:
        raise NotAnswering(f"The Sleuth window open on {db_path} did not answer within {timeout:.0f} s.") from exc
    except OSError:
        return None
