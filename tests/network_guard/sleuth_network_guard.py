"""The test suite's network guard: any connection to an address off this machine fails, naming its caller.

Installed as an audit hook (PEP 578) in the pytest process by ``tests/conftest.py`` and, through the
``sitecustomize.py`` beside this file (its folder is put first on ``PYTHONPATH``), in every Python process a
test starts: the CLI, the window, the PDF/OCR worker. Loopback addresses, Unix sockets and lookups of
``localhost`` stay allowed. Each attempt is refused with :class:`NetworkBlocked` and written as a JSON line
to the file named by ``SLEUTH_NETWORK_GUARD_LOG``, so an attempt that a library catches and ignores (a
telemetry thread, say) still fails the test that caused it.

Native code that opens sockets without Python (ONNX Runtime's telemetry is C++) is out of an audit hook's
sight; tests/test_privacy.py runs the real entry points under ``strace`` for that.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import traceback
from typing import Any

LOG_VARIABLE = "SLEUTH_NETWORK_GUARD_LOG"
#: Set to 1 by a test of Sleuth's installer: pip, and only pip, may then reach the package registries.
INSTALLER_VARIABLE = "SLEUTH_NETWORK_GUARD_ALLOW_PIP"
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
HERE = os.path.dirname(os.path.abspath(__file__))


class NetworkBlocked(ConnectionRefusedError):
    """Raised in place of a connection or name lookup that would leave the machine."""


def is_local(host: object) -> bool:
    """Whether ``host`` (an address or a name, str or bytes; None or "" for any) stays on this machine."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().rstrip(".").lower().split("%", 1)[0]  # "fe80::1%eth0" -> "fe80::1"
    if name == "" or name in LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _caller() -> str:
    """Who asked for the network: the innermost frames, then the innermost one of the project's own code."""
    frames = [
        f
        for f in traceback.extract_stack()
        if not f.filename.startswith(HERE) and os.path.basename(f.filename) not in ("socket.py", "ssl.py")
    ]
    shown = [f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(frames[-4:])]
    own = [f for f in frames[:-4] if "site-packages" not in f.filename and "/lib/python" not in f.filename]
    if own:
        shown.append(f"… {own[-1].filename}:{own[-1].lineno} in {own[-1].name}")
    return " <- ".join(shown)


def _target(event: str, args: tuple[Any, ...]) -> str | None:
    """The remote end of a network event, or None when it is local or not a network event."""
    if event in ("socket.connect", "socket.sendto"):
        sock, address = args[0], args[1]
        if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
            return None  # Unix sockets, netlink, …
        return None if is_local(address[0]) else f"{address[0]}:{address[1]}"
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
        host = args[0] if args else None
        return None if is_local(host) else f"lookup of {host!r}"
    return None


def _is_allowed_installer() -> bool:
    """pip in a test of the installer: installing is the one step where downloads are the point."""
    if os.environ.get(INSTALLER_VARIABLE) != "1":
        return False
    argv = getattr(sys, "orig_argv", sys.argv)
    return any(
        a.replace("\\", "/").endswith(("pip/__main__.py", "pip/__pip-runner__.py", "/pip", "/pip3")) or a == "pip"
        for a in argv[:4]
    )


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not event.startswith("socket.") or _is_allowed_installer():
        return
    target = _target(event, args)
    if target is None:
        return
    caller = _caller()
    record = {"pid": os.getpid(), "argv": sys.argv[:3], "event": event, "target": target, "caller": caller}
    path = os.environ.get(LOG_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    raise NetworkBlocked(f"network access off this machine is not allowed in Sleuth's tests: {target} by {caller}")


_installed = False


def install() -> None:
    """Add the audit hook once per process (audit hooks cannot be removed)."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
