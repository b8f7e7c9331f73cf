"""Instant ``sleuth search``: a running Sleuth (the window or ``sleuth watch``) answers over a local socket.

Loading the model is most of a one-off search's time, and a running Sleuth has it loaded already. It
listens on a Unix socket in the user's runtime folder, named after the index it serves (two indexes never
share a socket). The protocol is one JSON request line (:class:`core.service.queries.Query`) and one JSON
response line: what ``sleuth search --json`` prints, plus ``served_by``, or ``{"error": message}``.

Privacy: the folder is 0700 and the socket 0600, and on Linux each connection's peer must be the same user
(``SO_PEERCRED``). The socket is removed when the server stops; one left by a crash refuses connections,
and the next server replaces it. Requests are answered one at a time on the server's own thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import stat
import struct
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import SleuthError
from core.service.queries import Query

log = logging.getLogger("sleuth.query_server")
Answer = Callable[[Query], dict[str, Any]]
MAX_REQUEST = 64 << 10
REQUEST_TIMEOUT_S = 5.0  # a client that connects and says nothing is dropped after this
_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS


def runtime_dir() -> Path:
    """``$SLEUTH_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/sleuth``, else platformdirs' runtime folder."""
    override = os.environ.get("SLEUTH_RUNTIME_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "sleuth"
    import platformdirs

    with warnings.catch_warnings():  # "XDG_RUNTIME_DIR is not set, falling back to /tmp/runtime-UID"
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir("sleuth"))


def socket_path(db_path: Path, role: str = "query") -> Path:
    """The socket of the Sleuth that serves the index at ``db_path``: its searches (``query``), or the
    window's own (``window``: a second launch hands over to the open window, app.instance)."""
    key = hashlib.sha256(str(Path(db_path).expanduser().resolve()).encode()).hexdigest()[:16]
    return runtime_dir() / f"{role}-{key}.sock"


def private_dir(path: Path) -> None:
    """Create ``path`` as 0700, or check that an existing one is this user's and private."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SleuthError(f"{path} is not a folder of this user's; instant searches are off.")
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)


def peer_uid(conn: socket.socket) -> int | None:
    """The connecting process's user id, where the platform says (Linux ``SO_PEERCRED``)."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def is_live(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


class QueryServer:
    """Serves ``answer`` on the index's socket from its own thread until :meth:`stop`."""

    def __init__(self, db_path: Path, answer: Answer, served_by: str) -> None:
        self.path = socket_path(db_path)
        self.answer = answer
        self.served_by = served_by
        self._sock: socket.socket | None = None
        self._inode: int | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> bool:
        """Listen; False (and a log line) when another Sleuth serves this index or the socket cannot be made."""
        try:
            if len(str(self.path)) > _PATH_MAX:
                raise SleuthError(f"the socket path {self.path} is too long")
            private_dir(self.path.parent)
            if self.path.exists() or self.path.is_symlink():
                if is_live(self.path):
                    log.info("another Sleuth already answers searches on %s", self.path)
                    return False
                self.path.unlink()  # left by a Sleuth that crashed
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(str(self.path))
                self.path.chmod(0o600)
                sock.listen(16)
            except OSError:
                sock.close()
                raise
        except (OSError, SleuthError) as exc:
            log.warning("instant searches are off: %s", exc)
            return False
        self._sock, self._inode = sock, self.path.stat().st_ino
        self._thread = threading.Thread(target=self._serve, name="sleuth-query-server", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop listening and remove the socket (only if it is still ours)."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        if self._thread is not None:
            self._thread.join(timeout=10)
        sock.close()
        try:
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()
        except OSError:
            pass

    def __enter__(self) -> QueryServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        sock.settimeout(1.0)  # where shutdown() does not wake accept(), stop() is noticed within a second
        while not self._stopping.is_set():
            try:
                conn, _addr = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                log.exception("query socket failed")
                return
            with conn:
                try:
                    self._handle(conn)
                except OSError as exc:  # the client went away
                    log.info("search client dropped: %s", exc)

    def _handle(self, conn: socket.socket) -> None:
        uid = peer_uid(conn)
        if uid is not None and uid != os.getuid():
            log.warning("refused a search from user id %s", uid)
            return
        conn.settimeout(REQUEST_TIMEOUT_S)
        line = _read_line(conn, MAX_REQUEST)
        try:
            request = Query.from_json(json.loads(line))
        except ValueError as exc:  # JSONDecodeError is a ValueError
            reply: dict[str, Any] = {"error": f"bad request: {exc}"}
        else:
            try:
                reply = {**self.answer(request), "served_by": self.served_by}
            except SleuthError as exc:
                reply = {"error": str(exc), "served_by": self.served_by}
            except Exception as exc:
                log.exception("search failed")
                reply = {"error": f"the search failed: {exc}", "served_by": self.served_by}
        conn.settimeout(30.0)
        conn.sendall(json.dumps(reply, ensure_ascii=False).encode() + b"\n")


def _read_line(conn: socket.socket, limit: int) -> bytes:
    data = bytearray()
    while b"\n" not in data:
        block = conn.recv(65536)
        if not block:
            break
        data += block
        if len(data) > limit:
            raise OSError("request too long")
    return bytes(data.split(b"\n", 1)[0])


def exchange(path: Path, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """One JSON line to the Unix socket at ``path`` and its one-line JSON reply: None when nobody listens there (no
    socket, or one left by a crash) or the reply is not an object. Once connected, raises OSError
    (``TimeoutError``: no answer within ``timeout``)."""
    if not path.exists():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(2.0)
        try:
            conn.connect(str(path))
        except OSError:
            return None  # left by a crash: nobody listens
        conn.settimeout(timeout)
        conn.sendall(json.dumps(payload, ensure_ascii=False).encode() + b"\n")
        line = _read_line(conn, 1 << 30)
    finally:
        conn.close()
    try:
        reply = json.loads(line)
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def ask(db_path: Path, request: Query, timeout: float = 120.0) -> dict[str, Any] | None:
    """The running Sleuth's answer, or None when none serves this index (no socket, or a stale one)."""
    try:
        return exchange(socket_path(db_path), request.to_json(), timeout)
    except OSError:
        return None
