"""File names that are not valid UTF-8, kept losslessly in the index's UTF-8 columns.

On POSIX a file name is bytes; Python decodes the undecodable ones to lone surrogates
(``os.fsdecode(b"caf\\xe9.txt") == "caf\\udce9.txt"``), which Arrow, LanceDB and SQLite refuse. In the
index each surrogate is written as NUL plus its four hex digits: no real path holds a NUL, so the form
reads back exactly, equals the plain name for every valid name (older indexes stay as they are), and
escaping an already escaped name changes nothing.
"""

from __future__ import annotations

import os
import re

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED = re.compile("\x00([0-9a-f]{4})")


def stored(path: str) -> str:
    """The form a path takes in the index (the path itself unless it holds undecodable bytes)."""
    if not _SURROGATE.search(path):
        return path
    return _SURROGATE.sub(lambda m: f"\x00{ord(m.group()):04x}", path)


def unstored(value: str) -> str:
    """The real path (what ``open`` and ``os.stat`` need) back from its stored form."""
    if "\x00" not in value:
        return value
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), value)


def path_bytes(path: str) -> bytes:
    """The name's bytes on disk: what chunk ids hash (the UTF-8 bytes for every valid name)."""
    return os.fsencode(path)


def display(path: str) -> str:
    r"""A printable form for people: undecodable bytes shown as ``\xe9``, everything else unchanged."""
    if not _SURROGATE.search(path):
        return path
    return os.fsencode(path).decode("utf-8", "backslashreplace")
