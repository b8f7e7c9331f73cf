"""The C heap of a Sleuth process: how many malloc arenas glibc keeps, and giving back what was freed (Linux with
glibc only)."""

from __future__ import annotations

import ctypes
import os
import sys

#: glibc's ``mallopt`` parameter for the most arenas a process may have.
M_ARENA_MAX = -8
#: Arenas a Sleuth process keeps. glibc's default is eight per core, and each of LanceDB's and Arrow's
#: threads takes one and keeps what was freed in it: a text phase of 40,000 passages held 630 MB resident
#: with the default and 424 MB with two (docs/benchmarks.md, "Memory").
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas; True where the cap was set. Call at start-up, before threads start (an
    arena already made stays). A ``MALLOC_ARENA_MAX`` set by the user wins; off glibc nothing changes."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and other C libraries
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))


def release_free() -> bool:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``); True where some were.

    glibc keeps what LanceDB and Arrow free after a write for the next allocation, and much of it is never
    asked for again: a text phase of 40,582 passages held 386 MB resident at its last file without this after
    each write, 311 MB with it (docs/benchmarks.md, "Memory"). Off glibc nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl and other C libraries
        return False
    return bool(malloc_trim(0))
