"""Which files are embedded first: what people look for before bulk data.

Keyword search covers a folder within a minute, the dense vectors take far longer on a CPU. Embedding
prose documents first makes most of a folder semantically searchable early: short and recently changed
documents come first, long ones next, and bulk data (tables, logs, minified or generated files, single
files of thousands of passages) last, so one 20 MB log cannot hold every letter and note back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import IntEnum
from pathlib import PurePath

from core.index.store import FileRecord

#: Passages above which a document counts as long (about 40 pages of prose).
LONG_DOCUMENT_CHUNKS = 64
#: Passages above which one file is bulk whatever its kind (a book, a dump, an export).
BULK_FILE_CHUNKS = 1_000
#: Data, logs and machine-written text: searched by keyword first, embedded last.
BULK_SUFFIXES = frozenset(".csv .tsv .log .json .jsonl .ndjson .xml .yaml .yml .sql .xlsx .xlsm .ods .mbox".split())
_GENERATED_NAME = re.compile(r"\.min\.[a-z]+$|[-.]lock(\.json)?$|\.map$|\.bundle\.[a-z]+$", re.IGNORECASE)


class Tier(IntEnum):
    """Embedding order, lowest first."""

    SHORT = 0  # short documents: most of a person's notes, letters and how-tos
    LONG = 1  # manuals, reports, books
    BULK = 2  # tables, logs, generated files, huge single files


def tier(path: str, chunks: int) -> Tier:
    """Where a file with ``chunks`` passages goes in the embedding order."""
    name = PurePath(path).name
    suffix = PurePath(name.removesuffix(".gz")).suffix.lower()
    if suffix in BULK_SUFFIXES or _GENERATED_NAME.search(name) or chunks > BULK_FILE_CHUNKS:
        return Tier.BULK
    return Tier.LONG if chunks > LONG_DOCUMENT_CHUNKS else Tier.SHORT


def embedding_order(pending: Mapping[str, int], records: Mapping[str, FileRecord]) -> list[str]:
    """The paths of ``pending`` (path → passages without a vector) in the order they should be embedded.

    Short documents by most recent change first (what a person just wrote is what they look for);
    long documents and bulk files smallest first, so each finished file makes the most text searchable.
    A path without a file record (the record is written with its passages) sorts as just modified.
    """

    def key(path: str) -> tuple[int, float, str]:
        record = records.get(path)
        count = record.chunks if record is not None and record.chunks else pending[path]
        rank = tier(path, count)
        if rank is Tier.SHORT:
            return rank, -(record.mtime if record is not None else float("inf")), path
        return rank, float(count), path

    return sorted(pending, key=key)
