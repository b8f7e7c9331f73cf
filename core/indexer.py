"""Orchestrates scan → extract → chunk → store (keyword-searchable) → embed, incrementally and resumably.

``Indexer.run`` is a generator of ``Progress`` events: callers (CLI progress bar, the window's worker)
render them and may cancel between batches. Each stage writes idempotently, so a run killed at any
point is completed by the next one with no duplicate and no orphan chunks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.chunking import chunk_text
from core.documents import extract
from core.embedding import Embedder
from core.errors import Cancelled, ExtractionError
from core.scanning import Exclusions, FileInfo, content_hash, scan
from core.settings import Settings
from core.store import ChunkRow, FileRecord, IndexProfile, ProfileIndex, Store

WRITE_BATCH_FILES = 16
WRITE_BATCH_SECONDS = 3.0
EMBED_FETCH = 256
EMBED_BATCH = 32


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("Indexing was cancelled; the next run continues where this one stopped.")


@dataclass
class Problem:
    path: str
    reason: str


@dataclass
class Progress:
    phase: str  # "scan", "text", "embed", "measure", "done"
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    current: str = ""
    rate: float = 0.0  # files/s in the text phase, chunks/s in the embed phase
    eta_s: float | None = None
    message: str = ""


@dataclass
class Report:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    renamed: int = 0
    removed: int = 0
    chunks_written: int = 0
    chunks_embedded: int = 0
    problems: list[Problem] = field(default_factory=list)
    too_large: list[str] = field(default_factory=list)
    switched_profile: bool = False
    fusion: dict[str, object] | None = None


def profile_for(settings: Settings, embedder: Embedder) -> IndexProfile:
    return IndexProfile(
        model=settings.model,
        adapter=settings.adapter,
        embedder_name=embedder.name,
        dimension=embedder.dimension,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
    )


class Indexer:
    """The single writer of an index profile."""

    def __init__(self, store: Store, settings: Settings, embedder: Embedder) -> None:
        self.store = store
        self.settings = settings
        self.embedder = embedder
        self.profile = profile_for(settings, embedder)
        active = store.active_profile()
        if active is None:
            store.set_active_profile(self.profile)
            active = self.profile
        # A new profile is built beside the active one, which keeps serving searches until this one is complete.
        self.rebuilding = active != self.profile
        self.index = ProfileIndex(store, self.profile, settings.search_dim)
        self.exclusions = Exclusions(settings.exclude, int(settings.max_file_mb * 1024 * 1024))
        self.report = Report()

    def run(self, roots: Sequence[Path] | None = None, cancel: CancelToken | None = None) -> Iterator[Progress]:
        cancel = cancel or CancelToken()
        folders = [Path(f) for f in self.store.folders()]
        if roots is None or self.rebuilding:
            roots = folders
        yield Progress("scan", message="Looking for new, changed and deleted files…")
        work: list[tuple[FileInfo, FileRecord | None]] = []
        for root in roots:
            cancel.check()
            work.extend(self._reconcile(root.resolve()))
        yield from self._text_phase(work, cancel)
        yield from self._embed_phase(cancel)
        if self.rebuilding and not cancel.cancelled:
            self.store.set_active_profile(self.profile)
            self.store.drop_profiles_except(self.profile)
            self.report.switched_profile = True
        yield Progress("done", message=self.summary())

    # --- scan ------------------------------------------------------------------------------
    def _reconcile(self, root: Path) -> list[tuple[FileInfo, FileRecord | None]]:
        """Files to (re)extract; applies deletions, renames and touch-only changes at once."""
        known = self.index.file_records(str(root))
        too_large: list[Path] = []
        seen: set[str] = set()
        work: list[tuple[FileInfo, FileRecord | None]] = []
        touched: list[FileRecord] = []
        new_files: list[FileInfo] = []
        for info in scan(root, self.exclusions, too_large):
            key = str(info.path)
            seen.add(key)
            record = known.get(key)
            if record and record.size == info.size and record.mtime == info.mtime and record.status != "text":
                self.report.unchanged += 1
                if record.status == "error":
                    self.report.problems.append(Problem(key, record.error))
            elif record is None:
                new_files.append(info)
            else:
                work.append((info, record))
        gone = {path: rec for path, rec in known.items() if path not in seen}
        # A new file whose content matches a vanished one is a rename: keep its chunks and vectors.
        by_hash = {rec.hash: rec for rec in gone.values() if rec.status == "indexed"}
        for info in new_files:
            twin = by_hash.pop(_safe_hash(info.path), None) if by_hash else None
            if twin is not None:
                self.index.rename_file(twin.path, str(info.path), str(root))
                gone.pop(twin.path, None)
                twin.path, twin.size, twin.mtime = str(info.path), info.size, info.mtime
                touched.append(twin)
                self.report.renamed += 1
            else:
                work.append((info, None))
        if gone:
            self.index.remove_files(sorted(gone))
            self.report.removed += len(gone)
        self.index.upsert_files(touched)
        self.report.too_large.extend(str(p) for p in too_large)
        return work

    # --- text phase ------------------------------------------------------------------------
    def _text_phase(self, work: list[tuple[FileInfo, FileRecord | None]], cancel: CancelToken) -> Iterator[Progress]:
        total = len(work)
        started = last_flush = time.monotonic()
        pending_records: list[FileRecord] = []
        for done, (info, record) in enumerate(work):
            cancel.check()
            yield Progress(
                "text",
                done,
                total,
                current=str(info.path),
                rate=_rate(done, started),
                eta_s=_eta(done, total, started),
                message="Reading files (keyword search works as they arrive)",
            )
            new_record = self._process_file(info, record)
            if new_record is not None:
                pending_records.append(new_record)
            if len(pending_records) >= WRITE_BATCH_FILES or time.monotonic() - last_flush > WRITE_BATCH_SECONDS:
                self._flush(pending_records)
                last_flush = time.monotonic()
        self._flush(pending_records)
        if total:
            yield Progress("text", total, total, rate=_rate(total, started), message="All files read")

    def _process_file(self, info: FileInfo, record: FileRecord | None) -> FileRecord | None:
        path = str(info.path)
        try:
            file_hash = content_hash(info.path)
        except OSError as exc:
            return self._failed(info, "", _os_reason(exc))
        if record is not None and record.hash == file_hash and record.status in ("indexed", "text"):
            # Touched but unchanged, or resuming a file whose chunks are already written.
            record.size, record.mtime = info.size, info.mtime
            self.report.unchanged += 1
            return record
        try:
            document = extract(info.path)
        except ExtractionError as exc:
            return self._failed(info, file_hash, exc.reason)
        chunks = chunk_text(
            document.text, self.embedder.tokenizer, self.settings.chunk_size, self.settings.chunk_overlap
        )
        rows = [
            ChunkRow(
                path, file_hash, c.ordinal, c.text, document.page_at(c.char_start), c.char_start, c.char_end, c.n_tokens
            )
            for c in chunks
        ]
        self.index.replace_chunks(path, file_hash, rows)
        self.report.chunks_written += len(rows)
        if record is None:
            self.report.added += 1
        else:
            self.report.updated += 1
        return FileRecord(path, str(info.root), info.size, info.mtime, file_hash, "text", "", len(rows))

    def _failed(self, info: FileInfo, file_hash: str, reason: str) -> FileRecord:
        self.report.problems.append(Problem(str(info.path), reason))
        # Its old chunks (if any) describe content that no longer reads; drop them.
        self.index.replace_chunks(str(info.path), file_hash or "-", [])
        return FileRecord(str(info.path), str(info.root), info.size, info.mtime, file_hash, "error", reason, 0)

    def _flush(self, records: list[FileRecord]) -> None:
        if records:
            self.index.upsert_files(records)
            records.clear()
            self.index.optimize()

    # --- embed phase -----------------------------------------------------------------------
    def _embed_phase(self, cancel: CancelToken) -> Iterator[Progress]:
        total = self.index.count_pending()
        done = 0
        started = time.monotonic()
        while total:
            batch = self.index.pending_chunks(EMBED_FETCH)
            if not batch:
                break
            batch.sort(key=lambda row: row["n_tokens"])  # similar lengths together: less padding
            ids: list[str] = []
            vectors: list[np.ndarray] = []
            try:
                for start in range(0, len(batch), EMBED_BATCH):
                    cancel.check()
                    part = batch[start : start + EMBED_BATCH]
                    yield Progress(
                        "embed",
                        chunks_done=done,
                        chunks_total=total,
                        current=part[0]["path"],
                        rate=_rate(done, started),
                        eta_s=_eta(done, total, started),
                        message=f"Embedding passages on {self.embedder.device}",
                    )
                    vectors.append(self.embedder.embed_passages([row["text"] for row in part]))
                    ids.extend(row["id"] for row in part)
                    done += len(part)
            finally:
                # Vectors already computed are kept even when the run is cancelled.
                if ids:
                    self.index.set_vectors(ids, np.concatenate(vectors))
                    self.report.chunks_embedded += len(ids)
        if total:
            self.index.optimize()
            yield Progress("embed", chunks_done=done, chunks_total=total, rate=_rate(done, started), message="Embedded")
        waiting = [r for r in self.index.file_records().values() if r.status == "text"]
        for record in waiting:
            record.status = "indexed"
        self.index.upsert_files(waiting)
        if done or self.store.fusion(self.profile) is None:
            yield Progress("measure", message="Measuring how much dense search helps on your documents")
            self.measure_fusion()

    def measure_fusion(self) -> dict[str, object]:
        from core.fusion import estimate_fusion
        from core.search import Searcher

        estimate = estimate_fusion(Searcher(self.index, self.embedder))
        self.store.set_fusion(self.profile, estimate)
        self.report.fusion = estimate
        return estimate

    def summary(self) -> str:
        r = self.report
        parts = [f"{r.added} new", f"{r.updated} changed", f"{r.unchanged} unchanged"]
        if r.renamed:
            parts.append(f"{r.renamed} moved")
        if r.removed:
            parts.append(f"{r.removed} removed")
        text = ", ".join(parts) + f"; {r.chunks_written} chunks written, "
        text += f"{r.chunks_embedded} embedded" if r.chunks_embedded else "nothing to embed"
        if r.problems:
            text += f"; {len(r.problems)} could not be read"
        return text + "."


def _safe_hash(path: Path) -> str:
    try:
        return content_hash(path)
    except OSError:
        return ""


def _os_reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else exc.__class__.__name__


def _rate(done: int, started: float) -> float:
    elapsed = time.monotonic() - started
    return done / elapsed if elapsed > 0 else 0.0


def _eta(done: int, total: int, started: float) -> float | None:
    rate = _rate(done, started)
    return (total - done) / rate if done and rate > 0 else None
