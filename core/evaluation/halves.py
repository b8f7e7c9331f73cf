"""Every evaluation set, split once into a dev half (for choosing) and a test half (for reporting).

A query's half is fixed by a hash of its id, so it never depends on the order of a file, on a sample or on
who runs the evaluation: ideas are tried and weights chosen on the dev half, and the figures reported for a
default come from the test half, which nothing was tuned on. ``sleuth eval`` and the benchmarks measure the
test half unless asked for the dev half (``--half dev``) or both (``--half all``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class Half(StrEnum):
    DEV = "dev"
    TEST = "test"
    ALL = "all"


def half_of(query_id: str) -> Half:
    """The half a query belongs to: the first bit of the SHA-256 of its id."""
    return Half.DEV if hashlib.sha256(query_id.encode("utf-8")).digest()[0] < 128 else Half.TEST


def in_half(query_id: str, half: Half) -> bool:
    return half is Half.ALL or half_of(query_id) is half


def keep_half(items: Iterable[T], half: Half, key: Callable[[T], str]) -> list[T]:
    """The items whose id (``key``) is in ``half``, in their order."""
    return [item for item in items if in_half(key(item), half)]
