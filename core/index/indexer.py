"""Orchestrates scan → extract → chunk → store (keyword-searchable) → embed, incrementally and resumably.

``Indexer.run`` (whole folders) and ``Indexer.apply`` (the paths a watcher saw change) are generators of
``Progress`` events: callers (CLI progress bar, the window's worker) render them and may cancel or pause
between batches. Both share one pipeline: survey what is on disk against the stored records (size and
mtime first, the content hash only when they differ), settle renames (same hash: the chunks and vectors
move, nothing is re-embedded) and deletions, read and chunk what changed, embed what is pending. Each
stage writes idempotently, so a run killed at any point is completed by the next one with no duplicate
and no orphan chunks.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.embedding import Embedder, load_embedder
from core.embedding.background import BackgroundEmbedder, describe_settings_embedder
from core.embedding.loading import StatusSink
from core.embedding.registry import chosen_model
from core.heap import release_free
from core.index.priority import embedding_order
from core.index.reading import (
    POOL_MIN_FILES,
    FileText,
    OffsetTokenizer,
    Readers,
    ReadJob,
    read_file,
    serialised_tokenizer,
)
from core.index.store import FileRecord, IndexProfile, ProfileIndex, Store, chunk_id_prefix
from core.index.vector_index import BUILDING, build_vector_index, needs_vector_index
from core.ingest.documents import problem_kind
from core.ingest.scanning import Exclusions, FileInfo, content_hash, scan, scan_under
from core.jobs import KEYWORD_READY, CancelToken, Phase, Problem, Progress, Report
from core.settings import Settings
from core.vocabulary import FileStatus, ProblemKind

#: A write batch ends at whichever comes first. Each costs LanceDB a commit, a merge of the files' records and a
#: look at the keyword indexes (about 70 ms on a 2-core EPYC): 16 files a batch made 28 of them for 446 files,
#: whose text phase 64 files a batch made 0.3 s shorter (benchmarks/keyword_ready.py). Keyword search sees a
#: file at most WRITE_BATCH_SECONDS after it is read either way.
WRITE_BATCH_FILES = 64
WRITE_BATCH_SECONDS = 3.0
WRITE_BATCH_CHUNKS = 2000
EMBED_FETCH = 256
EMBED_BATCH = 32
#: The mtime a file's record holds while its pictures of text wait for the OCR pass, which reads the file again
#: whole: a run stopped before that pass reads it again, as it would a changed file.
AWAITING_OCR = -1.0
READING_PICTURES = "Reading pictures of text (OCR); every other file is searchable already"


@dataclass
class _Survey:
    """What a scan found against the stored records, before anything is written."""

    work: list[tuple[FileInfo, FileRecord | None]] = field(default_factory=list)
    new_files: list[FileInfo] = field(default_factory=list)
    gone: dict[str, FileRecord] = field(default_factory=dict)


def settings_embedder(settings: Settings, progress: StatusSink | None = None) -> Embedder:
    """The embedder the settings name: model, adapter, device, precision and depth."""
    return load_embedder(
        settings.model,
        adapter=settings.adapter or None,
        device=settings.device,
        precision=settings.precision,
        progress=progress,
        depth=settings.depth,
    )


def settings_embedder_in_background(
    settings: Settings, progress: StatusSink | None = None, *, before_load: Callable[[], object] | None = None
) -> Embedder | BackgroundEmbedder:
    """:func:`settings_embedder`, loading on a background thread where the embedder can be described without
    loading it (``core.embedding.background``), else loaded here and now. ``before_load`` runs first, on the
    thread that loads."""
    description = describe_settings_embedder(settings)

    def load() -> Embedder:
        if before_load is not None:
            before_load()
        return settings_embedder(settings, progress)

    return load() if description is None else BackgroundEmbedder(description, load)


def profile_for(settings: Settings, embedder: Embedder | BackgroundEmbedder) -> IndexProfile:
    """The profile the settings' embedder writes. It names the model an ``auto`` setting chose on this machine, so
    searches load the model the index was built with."""
    if isinstance(embedder, BackgroundEmbedder):
        model = embedder.description.model
    else:
        model = chosen_model(settings.model, settings.adapter, settings.depth, settings.device)
    return IndexProfile(
        model=model,
        adapter=settings.adapter,
        embedder_name=embedder.name,
        dimension=embedder.dimension,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        depth=embedder.early_exit,
    )


#: Measures how much dense search helps on an index (``core.search.calibration.measure``). The indexer runs
#: it after embedding and stores the result; it is handed in so that indexing does not depend on search.
Measure = Callable[[ProfileIndex, Embedder], dict[str, object]]


class Indexer:
    """Brings one index profile up to date. Writes only under ``core.service.writer.WriteService``'s lock."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        embedder: Embedder | BackgroundEmbedder,
        *,
        measure: Measure | None = None,
        readers: Readers | None = None,
    ) -> None:
        """``embedder``: loaded, or loading in the background (the text phase does not wait for it);
        ``measure``: how to measure fusion after embedding; None leaves the stored measurement alone;
        ``readers``: reader processes started ahead (:meth:`Readers.start`), which the first run's text phase
        reads with where they chunk as it does (and closes)."""
        self.store = store
        self.readers = readers
        self.measure = measure
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
        # What a crash or an older Sleuth left behind is finished before anything else is written.
        self.repaired = self.index.repair()
        self.exclusions = Exclusions.of(settings.exclude, settings.max_file_mb, settings.respect_gitignore)
        self.report = Report()
        self._too_large: list[Path] = []
        self._hashes: dict[str, str] = {}  # new files hashed while looking for renames
        self._fresh = False  # the text phase writes into a chunks table that was empty when it began
        self._text_layers: set[str] = set()  # files left for OCR whose text layer the text phase wrote
        self._ocr_pass = False

    def run(self, roots: Sequence[Path] | None = None, cancel: CancelToken | None = None) -> Iterator[Progress]:
        """Bring whole folders up to date (all added folders by default): the full, start-up and periodic scan."""
        cancel = cancel or CancelToken()
        self.report = Report()
        self._hashes.clear()
        folders = [Path(f) for f in self.store.folders()]
        if roots is None or self.rebuilding:
            roots = folders
        yield Progress(Phase.SCAN, message="Looking for new, changed and deleted files…")
        survey = _Survey()
        for root in roots:
            cancel.check()
            root = root.resolve()
            if self._available(root):
                found = scan(root, self.exclusions, self._too_large)
                self._survey(root, found, self.index.file_records(str(root)), survey)
        yield from self._process(survey, cancel, measure=True)
        if self._wrote():
            self.index.optimize()  # a whole-folder run ends compacted, whatever its batches left
        if self.rebuilding and not cancel.cancelled:
            self.store.set_active_profile(self.profile)
            self.store.drop_profiles_except(self.profile)
            self.report.switched_profile = True
            self.rebuilding = False
        yield Progress(Phase.DONE, message=self.summary(), report=self.report)

    def apply(self, paths: Iterable[str | Path], cancel: CancelToken | None = None) -> Iterator[Progress]:
        """Bring these paths up to date: files or folders, created, changed, moved or gone.

        Events are only hints: each path is looked at afresh (a folder is walked), so applying a path
        twice, late, or after a crash is harmless. A path outside every added folder (a folder that was
        removed) has its files forgotten. A move whose source and destination arrive together keeps its
        vectors.
        """
        cancel = cancel or CancelToken()
        self.report = Report()
        self._hashes.clear()
        yield Progress(Phase.SCAN, message="Looking at changed files…")
        roots = sorted((Path(f) for f in self.store.folders()), key=lambda r: len(r.parts), reverse=True)
        scopes: dict[Path, list[Path]] = {}
        outside: list[str] = []
        for path in _outermost(Path(p) for p in paths):
            if not self._storable(str(path)):
                continue
            root = next((r for r in roots if path == r or path.is_relative_to(r)), None)
            if root is None:
                outside.append(str(path))
            else:
                scopes.setdefault(root, []).append(path)
        survey = _Survey()
        for root, under in scopes.items():
            cancel.check()
            if not self._available(root):
                continue
            found = (info for scope in under for info in scan_under(root, scope, self.exclusions, self._too_large))
            self._survey(root, found, self.index.file_records_under([str(p) for p in under]), survey)
        if outside:
            # Forget what no added folder covers any more (a nested added folder keeps its own files).
            known = self.index.file_records_under(outside)
            survey.gone.update(
                {p: r for p, r in known.items() if not any(Path(p).is_relative_to(root) for root in roots)}
            )
        yield from self._process(survey, cancel, measure=self.store.fusion(self.profile) is None, look_up_twins=True)
        yield Progress(Phase.DONE, message=self.summary(), report=self.report)

    def _process(
        self, survey: _Survey, cancel: CancelToken, measure: bool, look_up_twins: bool = False
    ) -> Iterator[Progress]:
        work = self._settle(survey, look_up_twins)
        # OCR takes seconds a picture, against milliseconds a page of text: every file's text is searchable
        # first, and the pictures of text (images, scanned pages) are read after it.
        later = yield from self._text_phase(work, cancel)
        if later:
            yield from self._text_phase(later, cancel, ocr=True)
        yield from self._embed_phase(cancel, measure)

    # --- scan ------------------------------------------------------------------------------
    def _available(self, root: Path) -> bool:
        """A folder that is gone (unplugged drive, unmounted share) or unreadable keeps its files for now."""
        if not root.exists():
            reason = "folder not found (an unplugged drive or a network share?); its files stay searchable "
            reason += "until it is back or you remove it"
        elif root.is_dir() and not os.access(root, os.R_OK | os.X_OK):
            reason = "no permission to read this folder; its files stay searchable until you fix that or remove it"
        else:
            return True
        self.report.problems.append(Problem(str(root), reason))
        return False

    def _survey(self, root: Path, found: Iterable[FileInfo], known: dict[str, FileRecord], survey: _Survey) -> None:
        """Sort what is on disk against the records, by size and mtime only (no hashing, no reading)."""
        seen: set[str] = set()
        for info in found:
            key = str(info.path)
            if not self._storable(key):
                continue
            seen.add(key)
            record = known.get(key)
            if record and record.size == info.size and record.mtime == info.mtime and _same_verdict(record, info):
                self.report.unchanged += 1
                if record.status == FileStatus.ERROR:
                    self.report.problems.append(Problem(key, record.error, True, problem_kind(record.error)))
            elif record is None:
                survey.new_files.append(info)
            else:
                survey.work.append((info, record))
        survey.gone.update({path: rec for path, rec in known.items() if path not in seen})

    def _storable(self, path: str) -> bool:
        """Whether the index can hold this path; a name that is not UTF-8 may not be, and then only it is skipped."""
        try:
            chunk_id_prefix(path, "")
        except UnicodeEncodeError:
            shown = os.fsencode(path).decode("utf-8", "backslashreplace")
            self.report.problems.append(
                Problem(shown, "the file name is not valid UTF-8, and the index cannot store it; rename it to index it")
            )
            return False
        return True

    def _settle(self, survey: _Survey, look_up_twins: bool = False) -> list[tuple[FileInfo, FileRecord | None]]:
        """Apply renames and deletions at once; return the files to (re)read.

        A new file whose content matches a vanished one is a rename: its chunks and vectors move. The
        vanished one is looked for among this survey's gone files and, with ``look_up_twins`` (the
        watcher's batches, where a move's source may not have arrived yet), among every stored file
        with the same hash whose path no longer exists.
        """
        work = list(survey.work)
        gone = dict(survey.gone)
        moves: list[tuple[str, str, str]] = []
        moved: list[FileRecord] = []
        by_hash = {rec.hash: rec for rec in gone.values() if rec.status == FileStatus.INDEXED}
        if by_hash or (look_up_twins and survey.new_files):
            for info in survey.new_files:
                if not info.skipped:  # a skipped file is no indexed file's new name
                    self._hashes[str(info.path)] = _safe_hash(info.path)
        if look_up_twins:
            found = {str(info.path) for info in survey.new_files}
            wanted = {h for h in (self._hashes.get(str(info.path)) for info in survey.new_files) if h}
            for rec in self.index.files_with_hashes(sorted(wanted - set(by_hash))):
                if rec.status == FileStatus.INDEXED and rec.path not in found and not Path(rec.path).exists():
                    by_hash.setdefault(rec.hash, rec)
        for info in survey.new_files:
            file_hash = self._hashes.get(str(info.path), "")
            twin = by_hash.pop(file_hash, None) if file_hash else None
            if twin is not None:
                self._hashes.pop(str(info.path), None)
                moves.append((twin.path, str(info.path), str(info.root)))
                gone.pop(twin.path, None)
                twin.path, twin.root, twin.size, twin.mtime = str(info.path), str(info.root), info.size, info.mtime
                moved.append(twin)
                self.report.renamed += 1
            else:
                work.append((info, None))
        if moves:
            self.index.rename_files(moves)
            self.index.upsert_files(moved)
        if gone:
            self.index.remove_files(sorted(gone))
            self.report.removed += len(gone)
        self.report.too_large.extend(str(p) for p in self._too_large)
        self._too_large.clear()
        return work

    # --- text phase ------------------------------------------------------------------------
    def _text_phase(
        self, work: list[tuple[FileInfo, FileRecord | None]], cancel: CancelToken, *, ocr: bool = False
    ) -> Generator[Progress, None, list[tuple[FileInfo, FileRecord | None]]]:
        """Read, chunk and store ``work``; return the files whose pictures of text are left for OCR.

        ``ocr``: the OCR pass, which reads those files again, whole (``Phase.OCR``).
        """
        total = len(work)
        started = last_flush = time.monotonic()
        pending: list[tuple[FileRecord, list[dict[str, Any]] | None]] = []
        later: list[tuple[FileInfo, FileRecord | None]] = []
        # A first run into an empty table adds rows instead of merging them (nothing is there to replace). So does
        # its OCR pass: the only rows under its files are the text layers its text phase wrote, which it deletes
        # first (a merge looks at every row of the table: seconds and gigabytes a batch at 780,000 passages).
        self._fresh = (ocr and self._fresh) or (bool(work) and not self.index.chunks.count_rows())
        self._ocr_pass = ocr
        if not ocr:
            self._text_layers.clear()
        phase = Phase.OCR if ocr else Phase.TEXT
        reading = READING_PICTURES if ocr else "Reading files (keyword search works as they arrive)"
        rows = 0
        for done, (info, record, text) in enumerate(self._read(work, ocr)):
            cancel.check()
            yield Progress(
                phase,
                done,
                total,
                current=str(info.path),
                rate=_rate(done, started),
                eta_s=_eta(done, total, started),
                message=reading,
            )
            pending.append(self._file_result(info, record, text))
            if text is not None and text.awaiting_ocr:
                later.append((info, record))  # counted in the report when the OCR pass has read it
                if text.rows:
                    self._text_layers.add(str(info.path))
            rows += len(pending[-1][1] or ())
            if (
                len(pending) >= WRITE_BATCH_FILES
                or rows >= WRITE_BATCH_CHUNKS
                or time.monotonic() - last_flush > WRITE_BATCH_SECONDS
            ):
                self._flush(pending)
                rows, last_flush = 0, time.monotonic()
        self._flush(pending)
        if total:
            self.index.index_text()
            if isinstance(self.embedder, BackgroundEmbedder) and not ocr:
                self.embedder.start()
            release_free()
            message = f"{KEYWORD_READY}: {total:,} file{'s' if total != 1 else ''} read"
            if ocr:
                message = f"Pictures of text read in {total:,} file{'s' if total != 1 else ''}"
            elif later:
                message += f"; OCR reads the pictures of text in {len(later):,} of them next"
            yield Progress(phase, total, total, rate=_rate(total, started), message=message)
        return later

    def _read(
        self, work: list[tuple[FileInfo, FileRecord | None]], ocr: bool
    ) -> Iterator[tuple[FileInfo, FileRecord | None, FileText | None]]:
        """Each file with what reading it gave (None: skipped by the scan, not read): the skipped first, then
        the others as they are read; ``ocr``: with its pictures of text.

        Many files are read in worker processes (``core.index.reading``); a few, or with a tokenizer a worker
        cannot rebuild, here.
        """
        jobs: dict[str, ReadJob] = {}
        for info, record in work:
            path = str(info.path)
            known = self._hashes.pop(path, "")  # hashed already when it was looked at as a possible rename
            if not info.skipped:
                reusable = (
                    record is not None
                    and record.status in (FileStatus.INDEXED, FileStatus.TEXT)
                    and record.mtime != AWAITING_OCR
                )
                stored_hash = record.hash if record is not None and reusable else ""
                jobs[path] = ReadJob(path, known, stored_hash, info.size, info.mtime, ocr)
        size, overlap = self.settings.chunk_size, self.settings.chunk_overlap
        early, self.readers = self.readers, None
        if early is not None and not (
            jobs
            and isinstance(self.embedder, BackgroundEmbedder)
            and early.reads_as(self.embedder.description.tokenizer, size, overlap)
        ):
            early.close()
            early = None
        pooled = early is not None or len(jobs) >= POOL_MIN_FILES  # started already, or worth starting
        tokenizer: Any
        if isinstance(self.embedder, BackgroundEmbedder):  # the model's own tokenizer, without the model
            serialised: str | None = self.embedder.description.tokenizer
            tokenizer = None if pooled else OffsetTokenizer(self.embedder.description.tokenizer)
        else:
            serialised = serialised_tokenizer(self.embedder.tokenizer) if pooled else None
            tokenizer = self.embedder.tokenizer
        texts: Iterator[tuple[ReadJob, FileText]] = (
            (early or Readers(serialised, size, overlap)).read(jobs.values())
            if pooled and serialised is not None
            else ((job, read_file(job, tokenizer, size, overlap)) for job in jobs.values())
        )
        waiting: dict[str, tuple[FileInfo, FileRecord | None]] = {}
        try:
            for info, record in work:
                if str(info.path) in jobs:
                    waiting[str(info.path)] = (info, record)
                else:
                    yield info, record, None
            for job, text in texts:
                info, record = waiting.pop(job.path)
                yield info, record, text
        finally:
            close = getattr(texts, "close", None)
            if close is not None:
                close()

    def _file_result(
        self, info: FileInfo, record: FileRecord | None, text: FileText | None
    ) -> tuple[FileRecord, list[dict[str, Any]] | None]:
        """The file's new record and rows; ``None`` rows: the stored ones are still right."""
        path = str(info.path)
        if text is None:  # listed with its reason; never hashed (a disk image or a video need not be read)
            return self._failed(info, "", info.skipped)
        if text.error:
            return self._failed(info, text.file_hash, text.error)
        if text.unchanged and record is not None:
            # Touched but unchanged, or resuming a file whose chunks are already written.
            record.size, record.mtime = info.size, info.mtime
            self.report.unchanged += 1
            return record, None
        # Parts that could not be read (a page OCR gave up on) are listed; the rest is indexed.
        mtime = AWAITING_OCR if text.awaiting_ocr else info.mtime
        if not text.awaiting_ocr:  # else the OCR pass counts it
            self.report.problems.extend(Problem(path, reason) for reason in text.problems)
            self.report.chunks_written += len(text.rows)
            if record is None:
                self.report.added += 1
            else:
                self.report.updated += 1
        record = FileRecord(path, str(info.root), info.size, mtime, text.file_hash, FileStatus.TEXT, "", len(text.rows))
        record.encoding = text.encoding
        return record, text.rows

    def _failed(self, info: FileInfo, file_hash: str, reason: str) -> tuple[FileRecord, list[dict[str, Any]]]:
        self.report.problems.append(Problem(str(info.path), reason, kind=problem_kind(reason)))
        # Its old chunks (if any) describe content that no longer reads: no chunks replace them.
        path, root = str(info.path), str(info.root)
        record = FileRecord(path, root, info.size, info.mtime, file_hash, FileStatus.ERROR, reason, 0)
        return record, []

    def _flush(self, pending: list[tuple[FileRecord, list[dict[str, Any]] | None]]) -> None:
        """Chunks first, then the records that point to them: a crash in between is redone, not lost."""
        if pending:
            if self._ocr_pass and self._fresh:
                stale = [r.path for r, chunks in pending if chunks is not None and r.path in self._text_layers]
                self.index.drop_chunks(stale)  # a crash after this reads them again: their records await OCR
            self.index.replace_chunks_many(
                [(record.path, record.hash or "-", chunks) for record, chunks in pending if chunks is not None],
                fresh=self._fresh,
            )
            self.index.upsert_files([record for record, _chunks in pending])
            pending.clear()
            self.index.maintain(text_phase=True)
            release_free()  # what the write's buffers held, which the next batch mostly does not reuse

    # --- embed phase -----------------------------------------------------------------------
    def loaded_embedder(self) -> Embedder:
        """The embedder, waiting for its model where it loads in the background."""
        if isinstance(self.embedder, BackgroundEmbedder):
            self.embedder = self.embedder.loaded()
        return self.embedder

    def _embed_phase(self, cancel: CancelToken, measure: bool = True) -> Iterator[Progress]:
        self.index.fill_search_vectors()
        passages, missing = self.index.passages_by_file()
        pending = sum(missing.values())
        # Count the whole piece of work, not what is left of it: a run that continues a cancelled one
        # goes on from "96 of 220" instead of starting again at "0 of 124". Files stay "text" until
        # all their passages have vectors, so their chunks are the work begun and not yet finished.
        texts = self.index.file_records(status=FileStatus.TEXT) if pending else {}
        begun = sum(record.chunks for record in texts.values())
        total = max(pending, begun)
        done = before = total - pending
        files_total = len(passages)
        searchable = files_total - len(missing)
        started = time.monotonic()

        def progress(current: str = "", eta_s: float | None = None, message: str = "") -> Progress:
            return Progress(
                Phase.EMBED,
                files_done=searchable,
                files_total=files_total,
                chunks_done=done,
                chunks_total=total,
                current=current,
                rate=_rate(done - before, started),
                eta_s=eta_s,
                message=message,
            )

        # Termination: every fetched passage lowers its file's count, and a fetch is never empty.
        for group in _groups(embedding_order(missing, self.index.file_records()), missing):
            while any(missing[path] > 0 for path in group):
                batch = self.index.pending_chunks(EMBED_FETCH, group)
                if not batch:
                    break
                batch.sort(key=lambda row: row["n_tokens"])  # similar lengths together: less padding
                # Each distinct text is embedded once: a text with a stored vector (a copied file, the same
                # paragraph in another document) reuses it, and so does a repeat within the batch.
                copies = Counter(row["text"] for row in batch)
                known = self.index.vectors_for_texts(copies)
                done += sum(copies[text] for text in known)
                first = {row["text"]: row for row in reversed(batch)}  # the first row of each text
                todo = [row for row in batch if first[row["text"]] is row and row["text"] not in known]
                try:
                    for start in range(0, len(todo), EMBED_BATCH):
                        cancel.check()
                        part = todo[start : start + EMBED_BATCH]
                        loading = isinstance(self.embedder, BackgroundEmbedder) and not self.embedder.ready
                        if loading:
                            yield progress(current=part[0]["path"], message="Waiting for the model to load")
                        embedder = self.loaded_embedder()
                        if loading:
                            started = time.monotonic()  # the rate counts embedding, not the wait
                        yield progress(
                            current=part[0]["path"],
                            eta_s=_eta(done - before, total - before, started),
                            message=f"Embedding passages on {embedder.device}",
                        )
                        vectors = embedder.embed_passages([row["text"] for row in part])
                        known.update(zip((row["text"] for row in part), vectors, strict=True))
                        self.report.chunks_embedded += len(part)
                        done += sum(copies[row["text"]] for row in part)
                finally:
                    # Vectors already computed are kept even when the run is cancelled.
                    ready = [row for row in batch if row["text"] in known]
                    if ready:
                        self.index.set_vectors(
                            [row["id"] for row in ready], np.stack([known[r["text"]] for r in ready])
                        )
                for row in batch:
                    missing[row["path"]] -= 1
                    searchable += missing[row["path"]] == 0
        if pending:
            self.index.maintain()
            yield progress(message="Embedded")
        if self.index.rotation_due():
            yield Progress(Phase.EMBED, message="Turning the search vectors so their first dimensions say the most")
            self.index.rotate()
        if needs_vector_index(self.index):
            yield Progress(Phase.EMBED, message=BUILDING)
            build_vector_index(self.index)
        waiting = list(self.index.file_records(status=FileStatus.TEXT).values())
        for record in waiting:
            record.status = FileStatus.INDEXED
        self.index.upsert_files(waiting)
        if measure and self.measure is not None and (done > before or self.store.fusion(self.profile) is None):
            yield Progress(Phase.MEASURE, message="Measuring how much dense search helps on your documents")
            self.measure_fusion()

    def _wrote(self) -> bool:
        r = self.report
        return bool(r.added or r.updated or r.removed or r.renamed or r.chunks_embedded or r.problems)

    def measure_fusion(self) -> dict[str, object] | None:
        if self.measure is None:
            return None
        estimate = self.measure(self.index, self.loaded_embedder())
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
        skipped = sum(problem.kind is ProblemKind.SKIPPED for problem in r.problems)
        if len(r.problems) > skipped:
            text += f"; {len(r.problems) - skipped} could not be read"
        if skipped:
            text += f"; {skipped} skipped (not documents Sleuth reads)"
        return text + "."


def _groups(order: Sequence[str], missing: Mapping[str, int]) -> Iterator[list[str]]:
    """Consecutive files of the embedding order, at most ``EMBED_FETCH`` passages a group.

    One fetch then holds a whole group, so no file waits behind a later one; a file with more passages
    than that is a group of its own, fetched until it has none left.
    """
    group: list[str] = []
    size = 0
    for path in order:
        if group and size + missing[path] > EMBED_FETCH:
            yield group
            group, size = [], 0
        group.append(path)
        size += missing[path]
    if group:
        yield group


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Distinct paths, leaving out those inside another one (a folder is walked whole anyway)."""
    kept: set[Path] = set()
    for path in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(parent in kept for parent in path.parents):
            kept.add(path)
    return sorted(kept)


def _same_verdict(record: FileRecord, info: FileInfo) -> bool:
    """Whether a file unchanged on disk stays as it is: read (and embedded), failed, or skipped for the same reason.

    A file skipped for its type is looked at again when this Sleuth reads that type, and a file read
    before is looked at again if this one would skip it; a failure is retried only once the file changes.
    """
    if record.status == FileStatus.TEXT:
        return False  # its vectors are pending
    skipped = record.status == FileStatus.ERROR and problem_kind(record.error) is ProblemKind.SKIPPED
    verdict = record.error if skipped else ""
    return verdict == info.skipped


def _safe_hash(path: Path) -> str:
    try:
        return content_hash(path)
    except OSError:
        return ""


def _rate(done: int, started: float) -> float:
    elapsed = time.monotonic() - started
    return done / elapsed if elapsed > 0 else 0.0


def _eta(done: int, total: int, started: float) -> float | None:
    rate = _rate(done, started)
    return (total - done) / rate if done and rate > 0 else None
