"""The approximate-nearest-neighbour index on the search vectors, built once a table is large.

Exact (flat) dense search reads every search vector: about 1 ms per thousand 576-d chunks on one
core, which keeps a hybrid query within its latency budget only to some tens of thousands of chunks
(docs/benchmarks.md, "Query latency"). Above ``MIN_ROWS`` embedded chunks an IVF_PQ index is built
(dot product, partitions of about ``ROWS_PER_PARTITION`` rows); LanceDB's ``optimize`` (run after
every write batch) then adds new rows to it, and rows not yet in it are still searched exactly.
Queries probe ``NPROBES`` partitions and re-score ``REFINE_FACTOR`` times the candidates they need
with the exact vectors, so an index costs little recall (measured: recall@10 against exact search).
"""

from __future__ import annotations

from typing import Any

from lancedb.index import IvfPq

from core.index.store import ProfileIndex

COLUMN = "vector_search"
MIN_ROWS = 50_000
ROWS_PER_PARTITION = 4096
NPROBES = 50
REFINE_FACTOR = 20
#: What a writer says while it builds the index.
BUILDING = "Building the vector index (large collections search faster with one)"


def has_vector_index(table: Any) -> bool:
    return any(COLUMN in item.columns for item in table.list_indices())


def sub_vectors(dim: int) -> int:
    """Product-quantisation sub-vectors of 4 dimensions (fewer dimensions per code, better recall)."""
    for width in (4, 2, 1):
        if dim % width == 0:
            return dim // width
    return dim


def needs_vector_index(index: ProfileIndex, min_rows: int | None = None) -> bool:
    """True once ``min_rows`` (default ``MIN_ROWS``) chunks have search vectors and no index covers them."""
    table = index.chunks
    if has_vector_index(table):
        return False
    return int(table.count_rows(f"{COLUMN} IS NOT NULL")) >= (MIN_ROWS if min_rows is None else min_rows)


def build_vector_index(index: ProfileIndex) -> None:
    """IVF_PQ on the search vectors (minutes for a million chunks on two cores; replaces any older one)."""
    rows = int(index.chunks.count_rows(f"{COLUMN} IS NOT NULL"))
    config = IvfPq(
        distance_type="dot",
        num_partitions=max(1, round(rows / ROWS_PER_PARTITION)),
        num_sub_vectors=sub_vectors(index.search_dim),
    )
    index.chunks.create_index(COLUMN, config=config, replace=True)
