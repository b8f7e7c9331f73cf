"""The open window's side of the handover (app.handover): it listens for later launches and comes forward.

The window claims its index's window socket at start-up (:meth:`InstanceServer.claim`); a launch that finds
it claimed hands over instead of opening a second window, which would only be refused the index's writer
lock. Claiming is serialised by a lock file, so two launches at the same moment still end with one window,
and a socket left by a crash is replaced. Requests are read on the GUI thread between events (Qt's local
socket), and come out as :attr:`InstanceServer.showRequested`; nothing here blocks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.handover import MAX_REQUEST, parse_request
from app.qt import QLocalServer, QLocalSocket, QObject, QTimer, Signal
from core.errors import SleuthError
from core.service.query_server import is_live, peer_uid, private_dir, socket_path

log = logging.getLogger("sleuth.instance")
#: A launch that connects and says nothing is dropped after this.
REQUEST_TIMEOUT_MS = 5000


@contextlib.contextmanager
def _claiming(lock_path: Path) -> Iterator[None]:
    """Held while one launch checks the socket and listens (milliseconds): two launches never both win."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    with lock_path.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


class InstanceServer(QObject):
    """Listens on the index's window socket; each valid request emits :attr:`showRequested` (its folders)."""

    showRequested = Signal(list)  # list[str]: folders the launch named (absolute), possibly none

    def __init__(self, db_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = socket_path(db_path, "window")
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)

    @property
    def listening(self) -> bool:
        return bool(self._server.isListening())

    def claim(self) -> bool:
        """Listen for later launches. False only when another window already does; any other failure is
        logged and the window opens without the handover (True)."""
        try:
            private_dir(self.path.parent)
            with _claiming(self.path.with_suffix(".lock")):
                if is_live(self.path):
                    return False
                QLocalServer.removeServer(str(self.path))  # one left by a window that crashed
                if not self._server.listen(str(self.path)):
                    log.warning("a second launch will open a second window: %s", self._server.errorString())
        except (OSError, SleuthError) as exc:
            log.warning("a second launch will open a second window: %s", exc)
        return True

    def close(self) -> None:
        """Stop listening; Qt removes the socket file."""
        self._server.close()

    def _accept(self) -> None:
        while (conn := self._server.nextPendingConnection()) is not None:
            if not _same_user(conn):
                log.warning("refused a handover from another user")
                conn.abort()
                continue
            buffer = bytearray()
            conn.readyRead.connect(lambda conn=conn, buffer=buffer: self._read(conn, buffer))
            conn.disconnected.connect(conn.deleteLater)
            QTimer.singleShot(REQUEST_TIMEOUT_MS, conn, conn.abort)

    def _read(self, conn: QLocalSocket, buffer: bytearray) -> None:
        if b"\n" in buffer:  # answered already
            return
        buffer += bytes(conn.readAll().data())
        if b"\n" not in buffer:
            if len(buffer) > MAX_REQUEST:
                conn.abort()
            return
        reply: dict[str, Any]
        try:
            folders = parse_request(bytes(buffer.split(b"\n", 1)[0]))
        except ValueError as exc:  # JSONDecodeError is a ValueError
            reply = {"error": f"bad request: {exc}"}
        else:
            reply = {"shown": True, "pid": os.getpid()}
            log.info("another launch handed over%s", f" (folders: {', '.join(folders)})" if folders else "")
            self.showRequested.emit(folders)
        conn.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
        conn.flush()
        conn.disconnectFromServer()


def _same_user(conn: QLocalSocket) -> bool:
    """The peer is this user (Linux ``SO_PEERCRED``), or the platform cannot say (the folder is 0700)."""
    descriptor = int(conn.socketDescriptor())
    if descriptor < 0:
        return False
    try:
        with socket.fromfd(descriptor, socket.AF_UNIX, socket.SOCK_STREAM) as view:  # a duplicate descriptor
            uid = peer_uid(view)
    except OSError:
        return False
    return uid is None or uid == os.getuid()
