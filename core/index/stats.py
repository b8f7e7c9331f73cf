"""What an index holds, per folder and in all: the one query behind ``sleuth status`` and the window's counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.embedding.registry import prior_dense_weight
from core.index.store import Store
from core.ingest.documents import problem_kind
from core.vocabulary import FileStatus, ProblemKind


@dataclass
class FolderStats:
    path: str
    files: int = 0
    chunks: int = 0
    errors: int = 0  # files that could not be read
    skipped: int = 0  # files not read for their type (``documents.skip_reason``)


@dataclass
class IndexStats:
    folders: dict[str, FolderStats] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), sorted; skipped files too
    skipped: int = 0  # how many of the failures are files not read for their type
    files: int = 0
    chunks: int = 0
    pending: int = 0  # passages waiting for vectors
    files_waiting: int = 0  # files with passages waiting for vectors: not yet semantically searchable
    profile: str = ""  # the active profile, described for people ("" before the first index)
    model_id: str = ""  # its exact model identity (IndexProfile.identity), for tooltips and --json
    embedder: str = ""  # the embedder that made its vectors (IndexProfile.embedder_name)
    dimension: int = 0
    search_dim: int = 0
    search_rotated: bool = False  # the search vectors are turned by the index's principal axes before truncation
    estimate: dict[str, Any] | None = None  # the fusion measurement (core.search.calibration)
    prior: float | None = None  # the model's dense weight from the evaluation sets, used until measured
    fusion: str = ""  # the estimate in words, where a caller filled it in (describe_estimate)
    disk_bytes: int = 0  # the whole index folder: tables, their indexes, old versions not yet pruned


def describe_search_dim(stats: IndexStats) -> str:
    """ "search dimension 64 (turned by the index's principal axes)", for the status line and the window."""
    turned = " (turned by the index's principal axes)" if stats.search_rotated else ""
    return f"search dimension {stats.search_dim}{turned}"


def describe_size(size: int) -> str:
    """Bytes for people: 912 KB, 17.4 MB, 2.1 GB."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("bytes", "KB") else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def index_stats(store: Store) -> IndexStats:
    """Counts of the active profile, by folder; only folders, before anything is indexed."""
    stats = IndexStats(folders={f: FolderStats(f) for f in store.folders()}, disk_bytes=store.disk_bytes())
    profile = store.active_profile()
    if profile is None:
        return stats
    index = store.profile_index(profile)
    stats.profile, stats.dimension = profile.describe(), profile.dimension
    stats.search_dim, rotation = index.search_space()
    stats.search_rotated = rotation is not None
    stats.model_id, stats.embedder = profile.identity, profile.embedder_name
    stats.estimate = store.last_fusion(profile)  # the weight in use, until it is measured again
    stats.prior = prior_dense_weight(profile.model, profile.adapter)
    for record in index.file_records().values():
        folder = stats.folders.get(record.root)
        failed = record.status == FileStatus.ERROR
        skipped = failed and problem_kind(record.error) is ProblemKind.SKIPPED
        if failed:
            stats.failures.append((record.path, record.error))
            stats.skipped += skipped
        else:
            stats.files += 1
            stats.chunks += record.chunks
        if folder is not None:
            folder.errors += failed and not skipped
            folder.skipped += skipped
            folder.files += not failed
            folder.chunks += record.chunks
    stats.failures.sort()
    _passages, missing = index.passages_by_file()
    stats.pending, stats.files_waiting = sum(missing.values()), len(missing)
    return stats


def describe_vectors(stats: IndexStats) -> str:
    """How much of the index dense search covers, for people ("" once every file has its vectors)."""
    if not stats.pending:
        return ""
    searchable = max(0, stats.files - stats.files_waiting)
    return f"vectors for {searchable:,} of {stats.files:,} files ({stats.pending:,} passages waiting)"
