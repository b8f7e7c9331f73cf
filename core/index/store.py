"""The embedded LanceDB index: folders, one files table and one chunks table per index profile.

A profile is what produced the vectors (model, dimension, chunking). Each profile has its own
tables, so a re-index with new settings builds beside the old one, which keeps answering
searches until the new one is complete and becomes active.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lancedb.index import FTS

from core.embedding.matryoshka import ROTATION_MIN_ROWS, principal_axes, project
from core.embedding.registry import describe_model, prior_dense_weight
from core.errors import StoreError
from core.heap import release_free
from core.index.cjk import bigrams, glued
from core.index.failures import store_error
from core.index.names import stored, unstored
from core.index.rows import (
    CJK_COLUMN,
    GLUED_COLUMN,
    HASH_COLUMN,
    ChunkRow,
    chunk_id,
    chunk_id_prefix,
    text_digest,
)
from core.vocabulary import FileStatus

META_TABLE = "meta"
WRITE_RETRIES = 5
#: What the tables hold, stored in the meta table: 1 before it was recorded; 2 adds ``text_cjk``; 3 adds
#: ``text_glued`` (and counts 々〆〇 as CJK); 4 adds ``text_hash``. An index from a later Sleuth opens too
#: (unknown columns are ignored); an older one is brought up to date when the writer opens it, and searched as
#: before until then.
SCHEMA_VERSION = 4
#: Old table versions are kept this long: enough for a search that started on one to finish. A commit is
#: atomic, so a crash needs none of them; the default (7 days) made a watched index grow without bound.
VERSION_RETENTION = timedelta(seconds=10)
#: Compaction (and the FTS index update that comes with it) waits until writes have left this many small
#: fragments, or this many rows outside the FTS index: rows outside it are still found, by a slower scan.
COMPACT_FRAGMENTS = 16
UNINDEXED_ROWS = 5000
#: A text phase optimizes once the rows outside the keyword index are this share of those in it (and at least
#: ``UNINDEXED_ROWS``), whatever its small fragments: an optimize's time grows with the whole table (4.9 s at
#: 45,000 rows, 11.6 s at 205,000, for the same 40,000 new ones), so a folder of half a million passages
#: optimized every few thousand rows spent most of its text phase there. Growing by a share, a run optimizes a
#: number of times that grows with the log of its size; its batches come seconds apart, and what they leave
#: is compacted by the optimize at its end (``index_text``).
TEXT_PHASE_GROWTH = 1.0
#: LanceDB's caches, shared by every connection in the process (the writer's and the reader's read the same
#: immutable versions): opened indexes, and table metadata (manifests, fragment and file metadata). Their
#: defaults, 6 GB and 1 GB, are as good as unbounded for a window left open: each write is a new version
#: whose metadata is cached beside the old ones, about 0.5 MB a write on a small index, so a watched folder's
#: edits grew the window by 2 MB each (docs/benchmarks.md, "Memory").
INDEX_CACHE_BYTES = 512 << 20
METADATA_CACHE_BYTES = 64 << 20
#: The temporary name a new search column is written under.
NEW_SEARCH_COLUMN = "vector_search_new"
#: The search column's field metadata names (by digest) the rotation its vectors were turned by before truncation
#: (core.embedding.matryoshka); the matrix itself is kept in the meta table, written before any column uses it.
ROTATION_FIELD = b"rotation"
#: The meta table's key of a profile's rotation, before the profile's key.
ROTATION_META = "rotation:"
#: The passages a rotation is fitted on: a seeded random sample of the index's own vectors.
ROTATION_SAMPLE = 4096
#: The fusion method (core.search.fusion) that stored dense-weight measurements must have been made for.
FUSION_METHOD = "zscore"
#: How the dense weight is measured (core.search.calibration); raised when the probes change, so a stored
#: measurement made the older way is measured again (version 2: 300 probes instead of 150; version 3: dense
#: scores divided by at least core.search.fusion.DENSE_MIN_SPREAD).
FUSION_MEASUREMENT = 3


def sql_str(value: str) -> str:
    """A SQL string literal for LanceDB filters (a path in its stored form, core.index.names)."""
    return "'" + stored(value).replace("'", "''") + "'"


def fts_config() -> FTS:
    """How passages are tokenised for keyword search (the index and the fusion probes share it)."""
    return FTS(with_position=False, stem=True, remove_stop_words=True, ascii_folding=True)


def cjk_fts_config() -> FTS:
    """The bigram column is already split into terms; none of them is a stop word or has a stem."""
    return FTS(
        with_position=False, base_tokenizer="whitespace", stem=False, remove_stop_words=False, ascii_folding=False
    )


def sql_in(values: Iterable[str]) -> str:
    return "(" + ", ".join(sql_str(v) for v in values) + ")"


@dataclass(frozen=True)
class IndexProfile:
    """What produced an index's vectors; a change to any field means re-indexing."""

    model: str
    adapter: str
    embedder_name: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    depth: int = 0  # decoder layers the embedder ran (0: all); set for an early exit only

    @property
    def key(self) -> str:
        # A field at its default is left out, so adding one never renames an existing index.
        data = {k: v for k, v in asdict(self).items() if not (k == "depth" and v == 0)}
        raw = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha1(raw).hexdigest()[:12]

    def describe(self) -> str:
        """For people: "SmolLM2-135M, Sleuth's bundled adapter, 576 dimensions; passages of 256 tokens…"."""
        return (
            f"{describe_model(self.embedder_name, self.dimension)}; passages of {self.chunk_size} tokens "
            f"with {self.chunk_overlap} overlap"
        )

    @property
    def identity(self) -> str:
        """The exact model identity, for tooltips, ``--json`` and ``--verbose``: names the adapter's digest."""
        return f"{self.embedder_name} ({self.dimension} d)"


@dataclass
class FileRecord:
    path: str
    root: str
    size: int
    mtime: float
    hash: str
    status: FileStatus  # TEXT (keyword-searchable, vectors pending), INDEXED, ERROR
    error: str = ""
    chunks: int = 0
    indexed_at: float = field(default_factory=time.time)
    encoding: str = ""  # the codec a text file was read with, so a wrong guess can be seen

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FileRecord:
        """A record from a stored row: columns a later Sleuth added are ignored, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in row.items() if k in known and v is not None}
        values["path"], values["root"] = unstored(values.get("path", "")), unstored(values.get("root", ""))
        if values.get("status") in set(FileStatus):
            values["status"] = FileStatus(values["status"])
        return cls(**values)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["path"], row["root"], row["status"] = stored(self.path), stored(self.root), str(self.status)
        return row


FILES_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("root", pa.string()),
        pa.field("size", pa.int64()),
        pa.field("mtime", pa.float64()),
        pa.field("hash", pa.string()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
        pa.field("chunks", pa.int32()),
        pa.field("indexed_at", pa.float64()),
        pa.field("encoding", pa.string()),  # added later: nullable, and added to older tables on open
    ]
)


def chunks_schema(dimension: int, search_dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("path", pa.string()),
            pa.field("file_hash", pa.string()),
            pa.field("ordinal", pa.int32()),
            pa.field("text", pa.string()),
            pa.field("page", pa.int32()),
            pa.field("char_start", pa.int32()),
            pa.field("char_end", pa.int32()),
            pa.field("n_tokens", pa.int32()),
            pa.field("vector", pa.list_(pa.float32(), dimension)),
            pa.field("vector_search", pa.list_(pa.float32(), search_dim)),
            pa.field(CJK_COLUMN, pa.string()),  # added in schema 2: filled on open for older tables
            pa.field(GLUED_COLUMN, pa.string()),  # added in schema 3: filled on open for older tables
            pa.field(HASH_COLUMN, pa.string()),  # added in schema 4: filled on open for older tables
        ]
    )


def _retry(action: Any, *args: Any, **kwargs: Any) -> Any:
    """Writes are optimistic in LanceDB; a commit conflict is retried rather than lost."""
    for attempt in range(WRITE_RETRIES):
        try:
            return action(*args, **kwargs)
        except (OSError, RuntimeError, ValueError) as exc:
            if "onflict" not in str(exc) or attempt == WRITE_RETRIES - 1:
                error = store_error(exc)
                if error is not None:
                    raise error from exc
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


@functools.cache
def lancedb_session() -> lancedb.Session:
    """The process's LanceDB caches, bounded (``INDEX_CACHE_BYTES``, ``METADATA_CACHE_BYTES``)."""
    return lancedb.Session(index_cache_size_bytes=INDEX_CACHE_BYTES, metadata_cache_size_bytes=METADATA_CACHE_BYTES)


class Store:
    """Connection to the index database plus the small key/value table of global state."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.mkdir(parents=True, exist_ok=True)
            # Readers (the window) see writes from the indexer thread or another process at once.
            self.db = lancedb.connect(str(path), read_consistency_interval=timedelta(0), session=lancedb_session())
        except OSError as exc:
            raise StoreError(f"Cannot open the index at {path}: {exc}") from exc
        self._meta = self._open_or_create(
            META_TABLE, pa.schema([pa.field("key", pa.string(), nullable=False), pa.field("value", pa.string())])
        )

    def schema_version(self) -> int:
        """What the tables were last brought up to (1: an index from before versions were recorded)."""
        return int(self.get_meta("schema_version", 1))

    def disk_bytes(self) -> int:
        """The index's size on disk: every table, index and not yet pruned old version."""
        total = 0
        for folder, _dirs, files in os.walk(self.path):
            for name in files:
                with contextlib.suppress(OSError):  # pruned meanwhile
                    total += os.lstat(os.path.join(folder, name)).st_size
        return total

    def tidy_meta(self) -> None:
        """Every setting written adds a version to the small meta table; prune them now and then."""
        if self._meta.stats()["fragment_stats"]["num_fragments"] >= COMPACT_FRAGMENTS:
            _retry(self._meta.optimize, cleanup_older_than=VERSION_RETENTION)

    def _table_names(self) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            try:
                page = self.db.list_tables(page_token=token)
            except (OSError, RuntimeError) as exc:
                raise store_error(exc) or StoreError(f"Cannot read the index at {self.path}: {exc}") from exc
            names.extend(page.tables)
            token = page.page_token
            if not token:
                return names

    def _open_or_create(self, name: str, schema: pa.Schema) -> Any:
        if name in self._table_names():
            return self.db.open_table(name)
        try:
            return self.db.create_table(name, schema=schema)
        except ValueError:
            # Created meanwhile by another thread or process; its first commit may not be visible yet.
            for attempt in range(WRITE_RETRIES):
                try:
                    return self.db.open_table(name)
                except ValueError:
                    if attempt == WRITE_RETRIES - 1:
                        raise
                    time.sleep(0.05 * 2**attempt)
            raise AssertionError("unreachable") from None

    # --- key/value state -------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        try:
            rows = self._meta.search().where(f"key = {sql_str(key)}").limit(1).to_list()
        except (OSError, RuntimeError) as exc:
            raise store_error(exc) or StoreError(f"Cannot read the index at {self.path}: {exc}") from exc
        return json.loads(rows[0]["value"]) if rows else default

    def set_meta(self, key: str, value: Any) -> None:
        row = pa.table({"key": [key], "value": [json.dumps(value)]})
        _retry(
            lambda: self._meta.merge_insert("key").when_matched_update_all().when_not_matched_insert_all().execute(row)
        )

    # --- folders ---------------------------------------------------------------------------
    def folders(self) -> list[str]:
        return list(self.get_meta("folders", []))

    def add_folder(self, folder: Path) -> None:
        folders = self.folders()
        if str(folder) not in folders:
            self.set_meta("folders", [*folders, str(folder)])

    def remove_folder(self, folder: Path) -> None:
        self.set_meta("folders", [f for f in self.folders() if f != str(folder)])

    # --- profiles --------------------------------------------------------------------------
    def active_profile(self) -> IndexProfile | None:
        data = self.get_meta("active_profile")
        return IndexProfile(**data) if data else None

    def set_active_profile(self, profile: IndexProfile) -> None:
        self.set_meta("active_profile", asdict(profile))

    def profile_index(self, profile: IndexProfile, search_dim: int = 0) -> ProfileIndex:
        return ProfileIndex(self, profile, search_dim)

    def forget_root(self, folder: Path) -> int:
        """Remove every file under a folder from all profiles; returns how many the active profile had."""
        count = 0
        active = self.active_profile()
        for name in self._table_names():
            if not name.startswith("files_"):
                continue
            key = name.removeprefix("files_")
            files = self.db.open_table(name)
            paths = (
                [
                    r["path"]
                    for r in files.search()
                    .where(f"root = {sql_str(str(folder))}")
                    .select(["path"])
                    .limit(None)
                    .to_list()
                ]
                if files.count_rows()
                else []
            )
            if active is not None and key == active.key:
                count = len(paths)
            if f"chunks_{key}" in self._table_names():
                chunks = self.db.open_table(f"chunks_{key}")
                for start in range(0, len(paths), 500):
                    _retry(chunks.delete, f"path IN {sql_in(paths[start : start + 500])}")
            _retry(files.delete, f"root = {sql_str(str(folder))}")
        return count

    def fusion(self, profile: IndexProfile) -> dict[str, Any] | None:
        """How much dense search helped on this index's own probe queries (see core.search.fusion); None until
        it is measured, and where an older Sleuth measured it another way (so the next indexing run measures
        it again)."""
        value = self.last_fusion(profile)
        return value if value and value.get("measurement") == FUSION_MEASUREMENT else None

    def last_fusion(self, profile: IndexProfile) -> dict[str, Any] | None:
        """The last measurement for this fusion method, current or made the older way (the weight in use)."""
        value = self.get_meta(f"fusion:{profile.key}")
        # A measurement made for another fusion method is no guide to this one's weight.
        return dict(value) if value and value.get("method") == FUSION_METHOD else None

    def set_fusion(self, profile: IndexProfile, estimate: dict[str, Any]) -> None:
        self.set_meta(f"fusion:{profile.key}", estimate | {"measurement": FUSION_MEASUREMENT})

    def dense_weight(self, profile: IndexProfile) -> float:
        """The measured dense weight (an older measurement's until it is measured again). Until the documents
        give a measurement, the model's prior from the evaluation sets (core.embedding.registry) if it has
        one; else keyword search leads."""
        estimate = self.last_fusion(profile)
        if estimate and estimate.get("gain") is not None:
            return float(estimate["dense_weight"])
        return prior_dense_weight(profile.model, profile.adapter) or 0.0

    def drop_profiles_except(self, keep: IndexProfile) -> None:
        """Remove the tables of profiles that are no longer active, and their search-vector rotations."""
        for name in self._table_names():
            if name.startswith(("files_", "chunks_")) and not name.endswith(keep.key):
                self.db.drop_table(name)
        kept = sql_str(f"{ROTATION_META}{keep.key}")
        _retry(lambda: self._meta.delete(f"key LIKE '{ROTATION_META}%' AND key != {kept}"))


class ProfileIndex:
    """The files and chunks tables of one profile. Only the indexer's single writer calls the write methods."""

    def __init__(self, store: Store, profile: IndexProfile, search_dim: int = 0) -> None:
        self.store = store
        self.profile = profile
        self.files = store._open_or_create(f"files_{profile.key}", FILES_SCHEMA)
        self._add_missing_file_columns()
        self._rotations: dict[str, np.ndarray] = {}
        # A new table starts at the requested search dimension; an existing one keeps its own.
        self._requested_dim = min(search_dim or profile.dimension, profile.dimension)
        self.chunks = store._open_or_create(
            f"chunks_{profile.key}", chunks_schema(profile.dimension, self._requested_dim)
        )
        # Known to hold no glued word (counted once, then kept up to date by the writes that add them), so that a
        # large table without CJK text is not scanned for one after every batch.
        self._no_glued_words = False

    @property
    def has_cjk_column(self) -> bool:
        """False on an index that an older Sleuth wrote and no writer has opened since (its bigrams come then)."""
        return CJK_COLUMN in self.chunks.schema.names

    @property
    def has_glued_words(self) -> bool:
        """Whether keyword search must look at words glued to CJK/Thai runs: their FTS index is made with the
        first such word, so an index without any (or not yet upgraded) costs no extra query."""
        return any(GLUED_COLUMN in index.columns for index in self.chunks.list_indices())

    def repair(self) -> list[str]:
        """Finish what a crash or an older Sleuth left behind; the writer calls it when it opens the index.

        Returns what was done, in words. A crash in a search-dimension change left the new column under its
        temporary name (renamed now) or no column at all (derived again from the full vectors); an index
        without the CJK bigram column or the glued-word column gets it filled.
        """
        done: list[str] = []
        names = self.chunks.schema.names
        if "vector_search" not in names:
            if NEW_SEARCH_COLUMN in names:
                _retry(self.chunks.alter_columns, {"path": NEW_SEARCH_COLUMN, "rename": "vector_search"})
            else:
                dim = self._requested_dim
                _retry(self.chunks.add_columns, self._search_field("vector_search", dim, self._rotation_for(dim)))
            done.append("finished a search dimension change that was interrupted")
        elif NEW_SEARCH_COLUMN in names:  # interrupted before the swap: the old column is whole
            _retry(self.chunks.drop_columns, [NEW_SEARCH_COLUMN])
        if self.fill_search_vectors():
            done.append("derived the missing search vectors")
        if not self.has_cjk_column:
            _retry(self.chunks.add_columns, pa.field(CJK_COLUMN, pa.string()))
        if self.fill_cjk():
            done.append("made Chinese, Japanese, Korean and Thai text searchable by keyword")
        if GLUED_COLUMN not in self.chunks.schema.names:
            _retry(self.chunks.add_columns, pa.field(GLUED_COLUMN, pa.string()))
        if self.fill_glued():
            done.append("made words written against Chinese, Japanese, Korean and Thai text searchable by keyword")
        if HASH_COLUMN not in self.chunks.schema.names:
            _retry(self.chunks.add_columns, pa.field(HASH_COLUMN, pa.string()))
        self.fill_text_hashes()
        if self.store.schema_version() < SCHEMA_VERSION:
            self.store.set_meta("schema_version", SCHEMA_VERSION)
        return done

    def fill_cjk(self) -> int:
        """Write the bigram column where it is empty (an index from before schema 2)."""
        return self._fill(f"{CJK_COLUMN} IS NULL", {CJK_COLUMN: bigrams})

    def fill_glued(self) -> int:
        """Split off the glued words of rows with CJK/Thai text where an older Sleuth wrote none (schema 3).

        Their bigrams are written again too: schema 3 counts 々, 〆 and 〇 as part of a run. Only rows with
        bigrams are read, so a Latin-only index is upgraded by one scan of that column.
        """
        return self._fill(f"{CJK_COLUMN} != '' AND {GLUED_COLUMN} IS NULL", {CJK_COLUMN: bigrams, GLUED_COLUMN: glued})

    def fill_text_hashes(self) -> int:
        """Digest the passages an older Sleuth wrote without one (schema 4), so that their vectors are reused."""
        return self._fill(f"{HASH_COLUMN} IS NULL", {HASH_COLUMN: text_digest})

    def _fill(self, missing: str, derived: Mapping[str, Callable[[str], str]], batch: int = 5000) -> int:
        """Write each ``derived`` column, computed from the passage text, in the rows ``missing`` selects."""
        if not self.chunks.count_rows(missing):
            return 0
        rows = self.chunks.search().where(missing).select(["id", "text"]).limit(None).to_arrow()
        for start in range(0, rows.num_rows, batch):
            part = rows.slice(start, batch)
            texts = [t or "" for t in part["text"].to_pylist()]
            columns = {name: pa.array([derive(t) for t in texts], pa.string()) for name, derive in derived.items()}
            table = pa.table({"id": part["id"], **columns})
            self._note_glued_words(table)
            _retry(lambda t=table: self.chunks.merge_insert("id").when_matched_update_all().execute(t))
        self.optimize()
        return rows.num_rows

    def _add_missing_file_columns(self) -> None:
        """An index written by an older Sleuth lacks the newer nullable columns: add them, empty."""
        for name in FILES_SCHEMA.names:
            if name not in self.files.schema.names:
                try:
                    self.files.add_columns(FILES_SCHEMA.field(name))
                except (OSError, RuntimeError, ValueError):
                    if name not in self.files.schema.names:  # not added meanwhile by another process
                        raise

    # --- files -----------------------------------------------------------------------------
    def file_records(self, root: str | None = None, status: FileStatus | None = None) -> dict[str, FileRecord]:
        conditions = []
        if root is not None:
            conditions.append(f"root = {sql_str(root)}")
        if status is not None:
            conditions.append(f"status = {sql_str(status)}")
        return self._records(" AND ".join(conditions) or None)

    def file_records_under(self, paths: Sequence[str]) -> dict[str, FileRecord]:
        """Records of these files and of everything below these folders, whatever their root."""
        records: dict[str, FileRecord] = {}
        for start in range(0, len(paths), 200):
            part = paths[start : start + 200]
            records.update(
                self._records(
                    " OR ".join(
                        f"path = {sql_str(p)} OR starts_with(path, {sql_str(p.rstrip(os.sep) + os.sep)})" for p in part
                    )
                )
            )
        return records

    def mtimes(self, paths: Sequence[str]) -> dict[str, float]:
        """Modification times of these files (in their stored form), as the last scan saw them."""
        found: dict[str, float] = {}
        for start in range(0, len(paths), 500):
            rows = (
                self.files.search()
                .where(f"path IN {sql_in(paths[start : start + 500])}")
                .select(["path", "mtime"])
                .limit(None)
                .to_list()
            )
            found.update({row["path"]: row["mtime"] for row in rows if row["mtime"] is not None})
        return found

    def paths_modified(self, after: float | None, before: float | None, limit: int) -> list[str] | None:
        """Stored paths of the files modified in [after, before); None when more than ``limit`` are."""
        conditions = [
            f"mtime >= {after!r}" if after is not None else "",
            f"mtime < {before!r}" if before is not None else "",
        ]
        where = " AND ".join(c for c in conditions if c) or None
        query = self.files.search()
        if where:
            query = query.where(where)
        rows = query.select(["path"]).limit(limit + 1).to_list()
        return None if len(rows) > limit else [row["path"] for row in rows]

    def files_with_hashes(self, hashes: Sequence[str]) -> list[FileRecord]:
        """Records whose content hash is one of these (a moved file's old record, say)."""
        records: list[FileRecord] = []
        for start in range(0, len(hashes), 500):
            records.extend(self._records(f"hash IN {sql_in(hashes[start : start + 500])}").values())
        return records

    def _records(self, where: str | None) -> dict[str, FileRecord]:
        if not self.files.count_rows():
            return {}
        query = self.files.search()
        if where:
            query = query.where(where)
        records = (FileRecord.from_row(row) for row in query.limit(None).to_arrow().to_pylist())
        return {record.path: record for record in records}

    def upsert_files(self, records: Sequence[FileRecord]) -> None:
        if not records:
            return
        table = pa.Table.from_pylist([r.to_row() for r in records], schema=FILES_SCHEMA)
        _retry(
            lambda: (
                self.files.merge_insert("path").when_matched_update_all().when_not_matched_insert_all().execute(table)
            )
        )

    def remove_files(self, paths: Sequence[str]) -> None:
        """Chunks first, then the record: a crash in between leaves a record that the next run removes again."""
        for start in range(0, len(paths), 500):
            batch = sql_in(paths[start : start + 500])
            _retry(self.chunks.delete, f"path IN {batch}")
            _retry(self.files.delete, f"path IN {batch}")

    def drop_chunks(self, paths: Sequence[str]) -> None:
        """Delete these files' chunks and keep their records: the rows a reading that comes next replaces."""
        for start in range(0, len(paths), 500):
            _retry(self.chunks.delete, f"path IN {sql_in(paths[start : start + 500])}")

    def rename_file(self, old: str, new: str, root: str) -> None:
        """A moved file with unchanged content keeps its chunks and vectors."""
        self.rename_files([(old, new, root)])

    def rename_files(self, moves: Sequence[tuple[str, str, str]]) -> None:
        """Move files' chunks (vectors included) and records to new paths: ``(old, new, new_root)`` each.

        Chunk ids are re-derived from the new path, so they always equal what a fresh index would hold,
        and a new file later created at the old path cannot collide with the moved chunks. Order makes a
        crash at any point harmless: new chunk rows, then old rows dropped, then the records.
        """
        for start in range(0, len(moves), 500):
            part = moves[start : start + 500]
            olds = [old for old, _new, _root in part]
            target = {stored(old): new for old, new, _root in part}
            where = f"path IN {sql_in(olds)}"
            rows = self.chunks.search().where(where).select(self.chunks.schema.names).limit(None).to_arrow()
            if rows.num_rows:
                paths = [target[p] for p in rows["path"].to_pylist()]
                ids = [
                    chunk_id(path, file_hash, ordinal)
                    for path, file_hash, ordinal in zip(
                        paths, rows["file_hash"].to_pylist(), rows["ordinal"].to_pylist(), strict=True
                    )
                ]
                rows = rows.set_column(rows.schema.get_field_index("id"), "id", pa.array(ids, pa.string()))
                column = pa.array([stored(p) for p in paths], pa.string())
                rows = rows.set_column(rows.schema.get_field_index("path"), "path", column)
                rows = rows.cast(self.chunks.schema)
                _retry(
                    lambda t=rows: (
                        self.chunks.merge_insert("id")
                        .when_matched_update_all()
                        .when_not_matched_insert_all()
                        .execute(t)
                    )
                )
                _retry(self.chunks.delete, where)
            records = self._records(where)
            moved = []
            for old, new, root in part:
                if old in records:
                    record = records[old]
                    record.path, record.root = new, root
                    moved.append(record)
            self.upsert_files(moved)
            _retry(self.files.delete, where)

    # --- chunks ----------------------------------------------------------------------------
    def replace_chunks(self, path: str, file_hash: str, rows: Sequence[ChunkRow]) -> None:
        """Write a file's new chunks, then drop its old ones; a resumed run rewrites the same ids."""
        self.replace_chunks_many([(path, file_hash, rows)])

    def replace_chunks_many(
        self, files: Sequence[tuple[str, str, Sequence[ChunkRow | dict[str, Any]]]], *, fresh: bool = False
    ) -> None:
        """``replace_chunks`` for several files in one commit: the new chunks in, every stale one out.

        Rows are ``ChunkRow``s or what their ``to_row()`` gave (in a reader process, ``core.index.reading``).
        One merge writes the new rows and deletes the rows under these paths that it did not write (older
        content, or rows written before a crash), so a search never sees a file's old and new text at once.
        ``fresh``: no row under these paths can exist (the table was empty when this writer's run began, and a
        run writes each file once), so the rows are simply added, without the merge's look at every stored row.
        """
        rows = [r for _path, _hash, file_rows in files for r in file_rows]
        if rows:
            table = pa.Table.from_pylist(
                [r if isinstance(r, dict) else r.to_row() for r in rows], schema=_chunk_write_schema(self.chunks.schema)
            )
            self._note_glued_words(table)
            if fresh:
                _retry(self.chunks.add, table)
                return
            stale = f"path IN {sql_in(sorted({path for path, _hash, _rows in files}))}"
            _retry(
                lambda: (
                    self.chunks.merge_insert("id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .when_not_matched_by_source_delete(stale)
                    .execute(table, on_bad_vectors="null")
                )
            )
            return
        if fresh:
            return
        # No new rows: everything under these paths is stale.
        for start in range(0, len(files), 100):
            stale = " OR ".join(
                f"(path = {sql_str(path)} AND id NOT LIKE {sql_str(chunk_id_prefix(path, file_hash) + '%')})"
                for path, file_hash, _rows in files[start : start + 100]
            )
            _retry(self.chunks.delete, stale)

    def pending_chunks(self, limit: int, paths: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Chunks that have text but no vector yet (of these files only, when ``paths`` is given)."""
        where = "vector IS NULL"
        if paths is not None:
            where += f" AND path IN {sql_in(stored(p) for p in paths)}"
        rows = self.chunks.search().where(where).select(["id", "path", "text", "n_tokens"]).limit(limit).to_list()
        for row in rows:
            row["path"] = unstored(row["path"])
        return rows

    def count_pending(self) -> int:
        return int(self.chunks.count_rows("vector IS NULL"))

    def passages_by_file(self) -> tuple[Counter[str], Counter[str]]:
        """(passages, passages still without a vector) per file: what the embedding order works from."""

        def count(where: str | None) -> Counter[str]:
            query = self.chunks.search().select(["path"]).limit(None)
            table = (query.where(where) if where else query).to_arrow()
            return Counter(unstored(p) for p in table.column("path").to_pylist())

        return count(None), count("vector IS NULL")

    def vectors_for_texts(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of passages with exactly these texts (a copied file, the same paragraph elsewhere).

        Every vector in this table came from this profile's embedder, so one made for the same text is the
        one embedding it again would give.
        """
        wanted = {text_digest(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        if HASH_COLUMN not in self.chunks.schema.names:
            return found
        digests = sorted(wanted)
        for start in range(0, len(digests), 500):
            part = ", ".join(f"'{d}'" for d in digests[start : start + 500])
            table = (
                self.chunks.search()
                .where(f"{HASH_COLUMN} IN ({part}) AND vector IS NOT NULL")
                .select([HASH_COLUMN, "text", "vector"])
                .limit(None)
                .to_arrow()
            )
            if not table.num_rows:
                continue
            flat = table["vector"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
            matrix = flat.reshape(table.num_rows, -1).astype(np.float32)
            for digest, text, vector in zip(
                table[HASH_COLUMN].to_pylist(), table["text"].to_pylist(), matrix, strict=True
            ):
                if wanted.get(digest) == text:  # the text itself, not only its digest
                    found[text] = vector
        return found

    def set_vectors(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim, rotation = self.search_space()
        table = pa.table(
            {
                "id": pa.array(list(ids), pa.string()),
                "vector": _fixed_list(vectors),
                "vector_search": _fixed_list(project(vectors, dim or vectors.shape[1], rotation)),
            }
        )
        _retry(lambda: self.chunks.merge_insert("id").when_matched_update_all().execute(table))

    @property
    def search_dim(self) -> int:
        """Read from the table, so readers see a dimension change made by the writer (0: no search column)."""
        return self.search_space()[0]

    def search_space(self) -> tuple[int, np.ndarray | None]:
        """The search dimension (0: no search column, while a dimension change is repaired) and the rotation the
        search vectors were turned by before truncation (None: a plain prefix). Read from the table's schema, so
        readers see the writer's changes; a query is projected the same way (core.embedding.matryoshka.project)."""
        schema = self.chunks.schema
        if "vector_search" not in schema.names:  # a dimension change was interrupted; the writer repairs it
            return 0, None
        field = schema.field("vector_search")
        return int(field.type.list_size), self._rotation_of(field)

    def _rotation_of(self, field: pa.Field) -> np.ndarray | None:
        digest = _digest_of(field)
        return self._rotation(digest) if digest else None

    def _rotation(self, digest: str) -> np.ndarray:
        """The matrix the meta table keeps under this digest (read once)."""
        if digest not in self._rotations:
            kept = self.store.get_meta(self._rotation_key())
            if not kept or kept.get("digest") != digest:
                raise StoreError(
                    "The index's search vectors were turned by a rotation it no longer holds; "
                    "set the search dimension again to rebuild them."
                )
            self._rotations[digest] = _matrix(kept)
        return self._rotations[digest]

    def _rotation_key(self) -> str:
        return f"{ROTATION_META}{self.profile.key}"

    def _rotation_for(self, dim: int) -> str | None:
        """The digest of the rotation that search vectors of ``dim`` dimensions are turned by: the index's own,
        fitted the first time one is wanted and kept from then on; None at the full dimension, or while fewer
        than ``ROTATION_MIN_ROWS`` passages have vectors."""
        full = self.profile.dimension
        if dim >= full:
            return None
        kept = self.store.get_meta(self._rotation_key())
        if kept:  # its matrix is read when first used (_rotation)
            return str(kept["digest"])
        rows = int(self.chunks.count_rows("vector IS NOT NULL"))
        if rows < self._rotation_min_rows():
            return None
        matrix = principal_axes(self._sample_vectors(rows))
        digest = hashlib.sha256(matrix.tobytes()).hexdigest()[:16]
        encoded = base64.b64encode(matrix.tobytes()).decode("ascii")
        self.store.set_meta(self._rotation_key(), {"digest": digest, "dimension": full, "matrix": encoded})
        self._rotations[digest] = matrix
        return digest

    def _sample_vectors(self, rows: int) -> np.ndarray:
        """About ``ROTATION_SAMPLE`` full vectors at random (seeded) of the ``rows`` passages that have one, read by
        offset: a large index is never read whole for it."""
        total = int(self.chunks.count_rows())
        size = min(total, -(-ROTATION_SAMPLE * total // max(1, rows)))
        offsets = np.random.default_rng(0).choice(total, size=size, replace=False)
        table = self.chunks.take_offsets(sorted(int(o) for o in offsets)).select(["vector"]).to_arrow()
        column = table["vector"].combine_chunks().drop_null()
        return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), -1).astype(np.float32)

    @staticmethod
    def _search_field(name: str, dim: int, rotation: str | None) -> pa.Field:
        metadata = {ROTATION_FIELD: rotation.encode()} if rotation else None
        return pa.field(name, pa.list_(pa.float32(), dim), metadata=metadata)

    def set_search_dim(self, dim: int) -> None:
        """Re-derive the search vectors from the stored full vectors; nothing is re-embedded. Below the full
        dimension they are turned by the index's rotation first (once enough passages have vectors to fit one).

        The new vectors are written under a temporary name first and swapped in afterwards, so a crash at
        any point leaves a whole search column (or a temporary one that ``repair`` renames). The column names
        its rotation, so its vectors and the queries searched against it are always projected alike.
        """
        dim = dim or self.profile.dimension
        if dim > self.profile.dimension:
            raise StoreError(f"The search dimension cannot exceed the model's {self.profile.dimension}.")
        self.repair()
        rotation = self._rotation_for(dim)
        field = self.chunks.schema.field("vector_search")
        if (dim, rotation) != (field.type.list_size, _digest_of(field)):
            self._rewrite_search_column(dim, rotation)
        self.fill_search_vectors()

    def rotation_due(self) -> bool:
        """Whether a truncated search column is still a plain prefix while enough passages have vectors to fit the
        index's rotation (the indexer asks after each embedding run, and then calls :meth:`rotate`)."""
        dim, rotation = self.search_space()
        if not dim or dim >= self.profile.dimension or rotation is not None:
            return False
        if self.store.get_meta(self._rotation_key()):
            return True
        return int(self.chunks.count_rows("vector IS NOT NULL")) >= self._rotation_min_rows()

    def rotate(self) -> None:
        """Turn the search column by the index's rotation (fitted now if it has none), at its dimension."""
        dim = self.search_dim
        rotation = self._rotation_for(dim)
        if rotation is not None:
            self._rewrite_search_column(dim, rotation)
            self.fill_search_vectors()

    def _rotation_min_rows(self) -> int:
        return max(ROTATION_MIN_ROWS, 2 * self.profile.dimension)

    def _rewrite_search_column(self, dim: int, rotation: str | None) -> None:
        _retry(self.chunks.add_columns, self._search_field(NEW_SEARCH_COLUMN, dim, rotation))
        matrix = self._rotation(rotation) if rotation else None
        for ids, full in self.iter_vectors():
            search = _fixed_list(project(full, dim, matrix))
            table = pa.table({"id": pa.array(ids, pa.string()), NEW_SEARCH_COLUMN: search})
            _retry(lambda t=table: self.chunks.merge_insert("id").when_matched_update_all().execute(t))
            release_free()
        _retry(self.chunks.drop_columns, ["vector_search"])
        _retry(self.chunks.alter_columns, {"path": NEW_SEARCH_COLUMN, "rename": "vector_search"})

    def fill_search_vectors(self) -> int:
        """Derive missing search vectors from full ones: finishes a dimension change that a crash interrupted."""
        missing = "vector IS NOT NULL AND vector_search IS NULL"
        dim, rotation = self.search_space()
        if not dim or not self.chunks.count_rows(missing):
            return 0
        done = 0
        for ids, full in self.iter_vectors(where=missing):
            search = _fixed_list(project(full, dim, rotation))
            table = pa.table({"id": pa.array(ids, pa.string()), "vector_search": search})
            _retry(lambda t=table: self.chunks.merge_insert("id").when_matched_update_all().execute(t))
            done += len(ids)
        self.optimize()
        return done

    def iter_vectors(
        self, batch_size: int = 20_000, where: str = "vector IS NOT NULL"
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        """The full vectors ``where`` says, ``batch_size`` rows at a time, streamed rather than read whole. The scan
        reads the table's version of when it began, so writing the rows it has passed is safe. (A search-dimension
        change at 100,000 passages peaks at about 1.46 GB all the same, LanceDB's merge of each batch into the
        table holding most of it; 1.61 GB reading whole, untrimmed: ``benchmarks/dim_change_memory.py``.)"""
        query = self.chunks.search().where(where).select(["id", "vector"]).limit(None)
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in query.to_batches(batch_size):
            pending.append(batch)
            rows += batch.num_rows
            if rows >= batch_size:
                yield _ids_and_vectors(pa.Table.from_batches(pending))
                pending, rows = [], 0
        if rows:
            yield _ids_and_vectors(pa.Table.from_batches(pending))

    def optimize(self) -> None:
        """Compact the tables, bring the FTS indexes up to date and prune the versions no search still reads."""
        self._ensure_fts()
        _retry(self.chunks.optimize, cleanup_older_than=VERSION_RETENTION)
        _retry(self.files.optimize, cleanup_older_than=VERSION_RETENTION)
        self.store.tidy_meta()

    def maintain(self, *, text_phase: bool = False) -> None:
        """After a write batch: ``optimize`` only once small writes have piled up.

        Each write adds a fragment and a version; compacting after every one rewrote the whole table each
        time. Rows written since the last optimize are still found by keyword search, by a scan.
        ``text_phase``: a batch of a run's text phase, which ends with :meth:`index_text`: the keyword indexes
        are created (keyword search works from the first batch on) and otherwise left for that one update,
        unless the rows waiting for it reach :data:`TEXT_PHASE_GROWTH` of those it holds (a large folder's run
        keeps most of its rows indexed, at a cost that grows with the log of its size).
        """
        if text_phase:
            if not self._ensure_fts() and self._text_phase_needs_optimize():
                self.optimize()
            return
        if self._ensure_fts() or self._needs_optimize():
            self.optimize()

    def index_text(self) -> None:
        """Bring the keyword indexes up to every row written: the end of a run's text phase, after which
        keyword search finds every file by its index rather than by a scan."""
        if not self._ensure_fts() and self._unindexed_rows():
            self.optimize()

    def _needs_optimize(self) -> bool:
        for table in (self.chunks, self.files):
            if table.stats()["fragment_stats"]["num_small_fragments"] >= COMPACT_FRAGMENTS:
                return True
        return self._unindexed_rows() >= UNINDEXED_ROWS

    def _text_phase_needs_optimize(self) -> bool:
        unindexed, indexed = self._keyword_backlog()
        return unindexed >= max(UNINDEXED_ROWS, TEXT_PHASE_GROWTH * indexed)

    def _unindexed_rows(self) -> int:
        """The most rows any keyword index lacks (written since it was last brought up to date)."""
        return self._keyword_backlog()[0]

    def _keyword_backlog(self) -> tuple[int, int]:
        """(rows it lacks, rows it holds) of the keyword index that lacks the most."""
        most = (0, 0)
        for index in self.chunks.list_indices():
            if index.index_type == "FTS":
                statistics = self.chunks.index_stats(index.name)
                if statistics is not None:
                    most = max(most, (statistics.num_unindexed_rows, statistics.num_indexed_rows))
        return most

    def _ensure_fts(self) -> bool:
        """Create the FTS indexes a table with rows lacks (an index made on an empty table is never updated).

        The glued-word index waits for the first glued word, so that searching an index without one never
        pays for a query on it (``has_glued_words``).
        """
        have = {column for index in self.chunks.list_indices() if index.index_type == "FTS" for column in index.columns}
        wanted = {"text": fts_config()}
        if self.has_cjk_column:
            wanted[CJK_COLUMN] = cjk_fts_config()
        glued_column = GLUED_COLUMN in self.chunks.schema.names and GLUED_COLUMN not in have
        if glued_column and not self._no_glued_words:
            if self.chunks.count_rows(f"{GLUED_COLUMN} != ''"):
                wanted[GLUED_COLUMN] = fts_config()  # tokenised, stemmed and folded as the text is
            else:
                self._no_glued_words = True
        missing = [column for column in wanted if column not in have]
        if not missing or not self.chunks.count_rows():
            return False
        for column in missing:
            _retry(self.chunks.create_index, column, config=wanted[column], replace=True)
        return True

    def _note_glued_words(self, rows: pa.Table) -> None:
        """Before ``rows`` are written: whether they bring the table its first glued word."""
        if self._no_glued_words and GLUED_COLUMN in rows.column_names:
            self._no_glued_words = not pc.any(pc.not_equal(rows[GLUED_COLUMN], "")).as_py()

    def stats(self) -> dict[str, int]:
        records = self.file_records()
        return {
            "files": sum(1 for r in records.values() if r.status != FileStatus.ERROR),
            "errors": sum(1 for r in records.values() if r.status == FileStatus.ERROR),
            "chunks": int(self.chunks.count_rows()),
            "pending": self.count_pending(),
        }


def _chunk_write_schema(schema: pa.Schema) -> pa.Schema:
    """The table's schema for new rows; a search column under its temporary name is not written."""
    return pa.schema([f for f in schema if f.name != NEW_SEARCH_COLUMN])


def _digest_of(field: pa.Field) -> str | None:
    """The digest of the rotation a search column's vectors were turned by (None: a plain prefix)."""
    return (field.metadata or {}).get(ROTATION_FIELD, b"").decode() or None


def _ids_and_vectors(table: pa.Table) -> tuple[list[str], np.ndarray]:
    ids = table["id"].to_pylist()
    flat = table["vector"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return ids, flat.reshape(len(ids), -1).astype(np.float32)


def _matrix(kept: Mapping[str, Any]) -> np.ndarray:
    """A rotation as the meta table keeps it (float32 bytes, base64), back as a square matrix."""
    dim = int(kept["dimension"])
    return np.frombuffer(base64.b64decode(kept["matrix"]), dtype=np.float32).reshape(dim, dim).copy()


def _fixed_list(matrix: np.ndarray) -> pa.FixedSizeListArray:
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1])
