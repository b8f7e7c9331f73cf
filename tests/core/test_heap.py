"""A Sleuth process keeps two malloc arenas, however many threads allocate, and gives freed heap pages back
(core.heap)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Sixteen threads allocate at once and hold what they got; glibc's ``malloc_stats`` then lists each arena
#: on stderr ("Arena 0:", "Arena 1:", …).
THREADS = """
import ctypes, sys, threading
from core.heap import limit_arenas
if sys.argv[1] == "limited":
    assert limit_arenas()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
barrier = threading.Barrier(16)
held = []

def work():
    barrier.wait()
    held.append([libc.malloc(64 * 1024) for _ in range(50)])
    barrier.wait()

threads = [threading.Thread(target=work) for _ in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc.malloc_stats()
"""


def arenas(mode: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", THREADS, mode], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return sum(line.startswith("Arena ") for line in result.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas")
def test_a_sleuth_process_keeps_two_malloc_arenas_however_many_threads_allocate() -> None:
    assert arenas("default") > 2  # the test can tell: without the cap, sixteen threads make more
    assert arenas("limited") <= 2


def test_the_command_line_caps_the_arenas_first() -> None:
    probe = (
        "import contextlib, core.cli\n"
        "seen = []\n"
        "core.cli.limit_arenas = lambda: seen.append('capped')\n"
        "with contextlib.suppress(SystemExit):\n"
        "    core.cli.main(['--version'])\n"
        "assert seen == ['capped'], seen\n"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, timeout=120, capture_output=True)


#: 200 MB in 4 KB blocks (below glibc's mmap threshold: they come from the heap), all freed but the last, which
#: keeps glibc from shrinking the heap by itself; resident memory is read before and after ``release_free``.
FREED = """
import ctypes
from core.heap import release_free
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))

blocks = [libc.malloc(4096) for _ in range(50_000)]
for block in blocks:
    ctypes.memset(block, 1, 4096)
for block in blocks[:-1]:
    libc.free(block)
freed = rss_mb()
released = release_free()
print(freed, rss_mb(), released)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_heap_pages_go_back_to_the_system() -> None:
    result = subprocess.run(
        [sys.executable, "-c", FREED], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    freed, after, released = result.stdout.split()
    assert int(freed) > 150, "the freed blocks are still resident before the release (the test can tell)"
    assert released == "True"
    assert int(after) < int(freed) - 150
