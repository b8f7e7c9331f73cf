"""Read-only workers: searches, index statistics, and passage previews, each on its own thread.

They open their own read connections to the index (LanceDB readers see the writer's commits at
once) and never write. A request superseded by a newer one before it starts is skipped, so typing
fast never builds a queue of stale searches.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import messages, passages, tables
from app.models import ModelCache
from app.qt import QObject, Signal, Slot
from core.errors import ExtractionError, SleuthError
from core.index.stats import IndexStats, index_stats
from core.search.calibration import describe_estimate
from core.search.lines import LineFinder, line_in, wants_line
from core.service.search import QueryModels, SearchAnswer, SearchService
from core.service.search import SearchRequest as ServiceRequest
from core.settings import Settings
from core.vocabulary import Mode, Note, Sort

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.index.store import IndexProfile, ProfileIndex, Store
    from core.ingest.documents import Document
    from core.search.grouping import DocumentHits
    from core.search.hits import Hit
    from core.search.rerank import Reranker

log = logging.getLogger("sleuth.reader")


class Latest:
    """The newest request id, shared between the GUI (writes) and a worker (reads)."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._value += 1
            return self._value

    def is_stale(self, request_id: int) -> bool:
        with self._lock:
            return request_id < self._value


@dataclass(frozen=True)
class SearchRequest:
    id: int
    query: str
    mode: Mode  # BM25 while typing; the configured mode on Enter
    full: bool  # Enter: the configured mode with reranking
    k: int = 0  # documents; 0: the results_per_page setting
    sort: Sort = Sort.RELEVANCE  # or DATE: newest documents first


@dataclass
class SearchResult:
    request: SearchRequest
    hits: list[Hit] = field(default_factory=list)  # the documents' passages, in ranking order
    documents: list[DocumentHits] = field(default_factory=list)
    corrected: str = ""  # the query searched instead of a misspelt one
    notes: list[Note] = field(default_factory=list)
    mode: Mode = Mode.HYBRID
    elapsed_ms: float = 0.0
    error: str = ""
    rerank_pending: bool = False  # the reranked order follows as a second result for the same request
    reranked: bool = False  # this is that second result


class _Reader(QObject):
    """A read connection and the active profile's index, reopened when the profile changes."""

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        self.db_path = db_path
        self._store: Store | None = None
        self._index: ProfileIndex | None = None

    @Slot()
    def refresh(self) -> None:
        """The writer changed the index: reopen the profile's tables at the next request."""
        self._index = None

    def store(self) -> Store:
        if self._store is None:
            self._store = tables.open_store(self.db_path)
        return self._store

    def index(self) -> ProfileIndex | None:
        profile = self.store().active_profile()
        if profile is None:
            self._index = None
        elif self._index is None or self._index.profile != profile:
            self._index = tables.open_profile(self.store(), profile)
        return self._index


class SearchWorker(QObject):
    """The window's searches, on this worker's thread: a Qt adapter of :class:`core.service.search.SearchService`.

    Typing searches keywords only; Enter searches the configured mode, and where a reranker is set, the
    reranked order follows the fused one as a second result. The query model loads on a side thread, so a
    search never waits for it; the last full search runs again once it is there.
    """

    finished = Signal(object)  # SearchResult
    statsReady = Signal(object)  # IndexStats
    status = Signal(str)
    _modelLoaded = Signal()
    _served = Signal(object, object)  # core.service.search.SearchRequest, a Future of its answer

    def __init__(self, db_path: Path, settings: Settings, latest: Latest) -> None:
        super().__init__()
        self.db_path = db_path
        self.settings = dataclasses.replace(settings)
        self.latest = latest
        self.models = ModelCache()
        query_models = QueryModels(
            self._load_embedder,
            self._load_reranker,
            background=True,
            on_loaded=self._modelLoaded.emit,
            on_failed=lambda exc: messages.warning(f"{exc} Search uses keywords only."),
        )
        self.service = SearchService(db_path, query_models, open_store=tables.open_store)
        self._last_full: SearchRequest | None = None
        self._modelLoaded.connect(self._rerun_last)
        self._served.connect(self._serve)

    @Slot()
    def refresh(self) -> None:
        """The writer changed the index: reopen the profile's tables at the next request."""
        self.service.refresh()

    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        self.settings = dataclasses.replace(settings)
        self.models.forget_failures()
        self.service.models.forget_failures()

    def _load_embedder(self, profile: IndexProfile, settings: Settings) -> Embedder:
        return self.models.embedder(
            profile.model, profile.adapter, settings, self.status.emit, depth=profile.depth, retry=False
        )

    def _load_reranker(self, settings: Settings) -> Reranker | None:
        return self.models.reranker(settings.reranker, settings, self.status.emit)

    @Slot(object)
    def search(self, request: SearchRequest) -> None:
        """The fused results at once; where a reranker is set, the reranked order follows as a second result.

        A newer request (a keystroke, another query) makes the pending rerank stale: it is dropped.
        """
        if self.latest.is_stale(request.id):
            return
        if request.full:
            self._last_full = request
        started = time.perf_counter()
        result = SearchResult(request, mode=request.mode)
        answer: SearchAnswer | None = None
        try:
            answer = self.service.search(_asked(request), self.settings, rerank_later=True)
        except Exception as exc:
            log.exception("search failed")
            self.service.refresh()
            result.error = messages.describe(exc)
        else:
            _fill(result, answer)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        self.finished.emit(result)
        if answer is not None and answer.rerank_pending and not self.latest.is_stale(request.id):
            second = SearchResult(request, mode=request.mode, reranked=True)
            _fill(second, self.service.rerank(answer))
            second.elapsed_ms = (time.perf_counter() - started) * 1000
            self.finished.emit(second)

    def answer(self, query: ServiceRequest) -> dict[str, Any]:
        """A ``sleuth search`` from the query server's thread, searched on this worker's thread (never the GUI's)."""
        reply: Future[SearchAnswer] = Future()
        self._served.emit(query, reply)
        answer = reply.result(timeout=120)
        lines = self.service.lines.lines(answer.hits)  # re-reads files: on the server's thread, not the searches'
        return answer.to_json(lines)

    @Slot(object, object)
    def _serve(self, query: ServiceRequest, reply: Future[SearchAnswer]) -> None:
        if not reply.set_running_or_notify_cancel():
            return
        try:
            answer = self.service.answer(dataclasses.replace(query, query=query.query.strip()), self.settings)
        except Exception as exc:
            log.exception("served search failed")
            self.service.refresh()
            reply.set_exception(SleuthError(messages.describe(exc)))
        else:
            reply.set_result(answer)

    @Slot()
    def _rerun_last(self) -> None:
        request = self._last_full
        if request is not None and not self.latest.is_stale(request.id):
            self.search(request)

    @Slot()
    def compute_stats(self) -> None:
        try:
            self.statsReady.emit(self._stats())
        except Exception as exc:  # the index may be mid-switch; the next refresh catches up
            log.warning("stats failed: %s", exc)
            self.service.refresh()

    def _stats(self) -> IndexStats:
        stats = index_stats(self.service.store)
        stats.fusion = describe_estimate(stats.estimate, stats.prior) if stats.profile else ""
        return stats


def _asked(request: SearchRequest) -> ServiceRequest:
    """The window's request as the service's: while typing, keywords only and no reranking."""
    return ServiceRequest(request.query, request.k or None, Mode(request.mode), request.full, Sort(request.sort))


def _fill(result: SearchResult, answer: SearchAnswer) -> None:
    result.hits, result.documents, result.mode = answer.hits, answer.documents, answer.mode
    result.corrected, result.notes = answer.corrected, list(answer.notes)
    result.rerank_pending, result.reranked = answer.rerank_pending, answer.reranked


@dataclass(frozen=True)
class PreviewRequest:
    id: int
    hit: Hit
    query: str


class PreviewWorker(_Reader):
    """Re-reads the selected passage's file (never on the GUI thread) to show it in context."""

    ready = Signal(object)  # passages.Preview
    linesReady = Signal(int, object)  # search request id, {hit id: line}

    def __init__(self, db_path: Path, latest: Latest) -> None:
        super().__init__(db_path)
        self.latest = latest
        self._docs: OrderedDict[str, tuple[tuple[int, float], Document, str | None]] = OrderedDict()
        self.lines = LineFinder()  # the same lines `sleuth search` prints

    @Slot(object)
    def preview(self, request: PreviewRequest) -> None:
        if self.latest.is_stale(request.id):
            return
        hit = request.hit
        try:
            result = self._from_file(hit, request.query)
        except ExtractionError as exc:
            result = self._from_index(hit, request.query, f"Showing the indexed text: the file {exc.reason}.")
        except Exception as exc:
            log.exception("preview failed")
            result = self._from_index(hit, request.query, f"Showing the indexed text ({messages.describe(exc)}).")
        if result is None:
            result = self._from_index(
                hit, request.query, "The file has changed since it was indexed; showing the indexed text."
            )
        self.ready.emit(result)

    @Slot(int, object)
    def locate(self, search_id: int, hits: list[Hit]) -> None:
        """Line numbers for hits in text files, after the results are already on screen."""
        lines = self.lines.lines(hits)
        if lines:
            self.linesReady.emit(search_id, lines)

    def _from_file(self, hit: Hit, query: str) -> passages.Preview | None:
        doc, raw = self._document(Path(hit.path))
        line = line_in(doc.text, raw, hit.char_start, hit.text) if wants_line(hit.path) else None
        return passages.from_document(hit, query, doc, line)

    def _from_index(self, hit: Hit, query: str, note: str) -> passages.Preview:
        rows: list[dict[str, Any]] = []
        try:
            index = self.index()
            if index is not None:
                from core.index.store import sql_str

                where = f"path = {sql_str(hit.path)} AND ordinal >= {hit.ordinal - 2} AND ordinal <= {hit.ordinal + 2}"
                rows = (
                    index.chunks.search()
                    .where(where)
                    .select(["ordinal", "text", "char_start", "char_end"])
                    .limit(10)
                    .to_list()
                )
        except Exception as exc:
            log.warning("neighbour passages unavailable: %s", exc)
        return passages.from_chunks(hit, query, rows, note)

    def _document(self, path: Path) -> tuple[Document, str | None]:
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime)
        cached = self._docs.get(str(path))
        if cached is not None and cached[0] == stamp:
            self._docs.move_to_end(str(path))
            return cached[1], cached[2]
        from core.ingest.documents import extract

        doc = extract(path, timeout=30.0)
        raw = _raw_text(path) if wants_line(str(path)) else None
        self._docs[str(path)] = (stamp, doc, raw)
        while len(self._docs) > 8:
            self._docs.popitem(last=False)
        return doc, raw


def _raw_text(path: Path) -> str | None:
    from core.ingest.textdecode import decode_text

    try:
        return decode_text(path.read_bytes(), path)
    except (OSError, SleuthError, ValueError):
        return None
