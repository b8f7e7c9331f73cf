"""Opening a file to read it, safely: only regular files, never blocking, never more than a limit.

A FIFO named ``pipe.txt`` blocks ``open()`` forever, a link to ``/dev/zero`` never ends, and a log
that grows while it is read never ends either. Every reader in ``core.ingest`` opens through
``open_regular``: the descriptor is opened non-blocking and checked with ``fstat`` (the file that is
read is the file that was checked, with no race), and reads stop at a limit.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


class NotRegularFile(OSError):
    """A FIFO, device or socket where a document was expected; ``strerror`` says which, for the user."""


def kind(mode: int) -> str:
    """What a non-regular entry is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def check_regular(path: Path | str, mode: int) -> None:
    """Raise the error ``open_regular`` would for an entry of this mode."""
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    if not stat.S_ISREG(mode):
        raise NotRegularFile(errno.EINVAL, f"not a regular file ({kind(mode)})", str(path))


@contextlib.contextmanager
def open_regular(path: Path | str) -> Iterator[BinaryIO]:
    """A binary handle on ``path``, which must be a regular file (a link to one is fine)."""
    fd = os.open(path, _FLAGS)
    try:
        check_regular(path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_head(path: Path | str, limit: int) -> bytes:
    """At most ``limit`` bytes from the start of a regular file."""
    with open_regular(path) as handle:
        return handle.read(limit)


def read_upto(handle: BinaryIO, limit: int, block: int = 1 << 20) -> Iterator[bytes]:
    """The handle's blocks, stopping after ``limit`` bytes in all (a file that grows is cut off)."""
    left = limit
    while left > 0:
        data = handle.read(min(block, left))
        if not data:
            return
        left -= len(data)
        yield data
