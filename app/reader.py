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
from core.errors import ExtractionError, ModelUnavailable, SleuthError
from core.index.stats import IndexStats, index_stats
from core.search.calibration import describe_estimate
from core.search.lines import LineFinder
from core.search.rerank import top_n_for
from core.search.searcher import Searcher, SearchResponse, searcher_for
from core.service.queries import Query, response_dict
from core.settings import Settings

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.index.store import IndexProfile, ProfileIndex, Store
    from core.ingest.documents import Document
    from core.search.grouping import DocumentHits
    from core.search.searcher import Hit

log = logging.getLogger("sleuth.reader")
_NO_MODEL_NOTE = "No embedding model is loaded; dense search is skipped."


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
    mode: str  # "bm25" while typing; the configured mode on Enter
    full: bool  # Enter: the configured mode with reranking
    k: int = 0  # documents; 0: the results_per_page setting
    sort: str = "relevance"  # or "date": newest documents first


@dataclass
class SearchResult:
    request: SearchRequest
    hits: list[Hit] = field(default_factory=list)  # the documents' passages, in ranking order
    documents: list[DocumentHits] = field(default_factory=list)
    corrected: str = ""  # the query searched instead of a misspelt one
    notes: list[str] = field(default_factory=list)
    mode: str = ""
    elapsed_ms: float = 0.0
    error: str = ""
    rerank_pending: bool = False  # the reranked order follows as a second result for the same request
    reranked: bool = False  # this is that second result


@dataclass
class _PendingRerank:
    """What the second step of a search needs: the fused answer and its searcher."""

    searcher: Searcher
    response: SearchResponse
    k: int
    top_n: int
    sort: str


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


class SearchWorker(_Reader):
    finished = Signal(object)  # SearchResult
    statsReady = Signal(object)  # IndexStats
    status = Signal(str)
    _modelLoaded = Signal()
    _served = Signal(object, object)  # core.service.queries.Query, a Future of its answer

    def __init__(self, db_path: Path, settings: Settings, latest: Latest) -> None:
        super().__init__(db_path)
        self.settings = dataclasses.replace(settings)
        self.latest = latest
        self.models = ModelCache()
        self._embedder: tuple[tuple[str, ...], Embedder] | None = None
        self._loading: tuple[str, ...] | None = None
        self._load_lock = threading.Lock()
        self._last_full: SearchRequest | None = None
        self._modelLoaded.connect(self._rerun_last)
        self._served.connect(self._serve)
        self._lines = LineFinder()

    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        self.settings = dataclasses.replace(settings)
        self.models.forget_failures()

    @Slot(object)
    def search(self, request: SearchRequest) -> None:
        """The fused results at once; where a reranker is set, the reranked order follows as a second result.

        A newer request (a keystroke, another query) makes the pending rerank stale: it is dropped.
        """
        if self.latest.is_stale(request.id):
            return
        started = time.perf_counter()
        result = SearchResult(request, mode=request.mode)
        pending: _PendingRerank | None = None
        try:
            pending = self._search(request, result, progressive=True)
        except Exception as exc:
            log.exception("search failed")
            self._index = None
            result.error = messages.describe(exc)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        result.rerank_pending = pending is not None
        self.finished.emit(result)
        if pending is not None and not self.latest.is_stale(request.id):
            self.finished.emit(self._reranked(result, pending, started))

    def _reranked(self, first: SearchResult, pending: _PendingRerank, started: float) -> SearchResult:
        result = dataclasses.replace(first, notes=list(first.notes), rerank_pending=False, reranked=True)
        try:
            response = pending.searcher.rerank_documents(pending.response, pending.k, pending.top_n, pending.sort)
        except Exception as exc:  # the fused order stays; say why it was not reranked
            if isinstance(exc, (RuntimeError, OSError)):  # e.g. a rebuild dropped the index's tables meanwhile
                log.warning("rerank failed: %s", str(exc))  # a string: a kept record must not keep the search alive
                self._index = None
            else:
                log.exception("rerank failed")
            result.reranked = False
            result.notes.append(f"Reranking failed ({messages.describe(exc)}); results are in the fused order.")
        else:
            result.hits, result.documents = response.hits, response.documents
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def _search(self, request: SearchRequest, result: SearchResult, progressive: bool = False) -> _PendingRerank | None:
        """Search into ``result``; with ``progressive``, a reranking still to do is returned, not done."""
        index = self.index()
        if index is None:
            result.notes.append("Nothing is indexed yet: add a folder to search it.")
            return None
        settings = self.settings
        if request.full:
            self._last_full = request
        embedder = self._query_embedder(index.profile) if request.mode != "bm25" else None
        reranker = None
        if request.full and settings.reranker:
            try:
                reranker = self.models.reranker(settings.reranker, settings, self.status.emit)
            except ModelUnavailable as exc:
                result.notes.append(f"{exc} Results are not reranked.")
        searcher = searcher_for(self.store(), settings, index, embedder, reranker)
        k = request.k or settings.results_per_page
        top_n = top_n_for(settings)
        later = progressive and reranker is not None
        try:
            response = searcher.search_documents(
                request.query,
                k=k,
                mode=request.mode,
                rerank=request.full and not later,
                rerank_top_n=top_n,
                sort=request.sort,
            )
        except (SleuthError, ValueError, RuntimeError, OSError) as exc:
            if request.mode == "bm25":
                raise
            # e.g. the writer is rewriting the search vectors this moment: keyword results still answer.
            log.warning("dense search failed, falling back to keywords: %s", exc)
            response = searcher.search_documents(request.query, k=k, mode="bm25", rerank=False, sort=request.sort)
            response.notes.append(f"Dense search failed this time ({messages.describe(exc)}); keyword results only.")
            later = False
        result.hits, result.documents, result.mode = response.hits, response.documents, response.mode
        result.corrected = response.corrected
        notes = [n for n in response.notes if n != _NO_MODEL_NOTE]
        if request.mode != "bm25" and embedder is None:
            notes.append(self._no_model_note())
        if not request.full:
            notes = [n for n in notes if "reranker" not in n]
        if request.mode != "bm25" and embedder is not None:
            pending = index.count_pending()
            if pending:
                notes.append(f"{pending:,} passages have no vectors yet; keyword search finds them meanwhile.")
        result.notes.extend(notes)
        if later and response.candidates:
            return _PendingRerank(searcher, response, k, top_n, request.sort)
        return None

    def answer(self, query: Query) -> dict[str, Any]:
        """A ``sleuth search`` from the query server's thread, searched on this worker's thread (never the GUI's)."""
        reply: Future[SearchResult] = Future()
        self._served.emit(query, reply)
        result = reply.result(timeout=120)
        if result.error:
            raise SleuthError(result.error)
        lines = self._lines.lines(result.hits)  # re-reads files: on the server's thread, not the searches'
        return response_dict(
            result.request.query, result.mode, result.notes, result.hits, lines, result.documents, result.corrected
        )

    @Slot(object, object)
    def _serve(self, query: Query, reply: Future[SearchResult]) -> None:
        if not reply.set_running_or_notify_cancel():
            return
        mode = query.mode or self.settings.search_mode
        request = SearchRequest(0, query.query.strip(), mode, query.rerank, k=query.k or 0, sort=query.sort)
        result = SearchResult(request, mode=mode)
        last_full = self._last_full  # a served search is never re-run into the window
        try:
            if request.query:
                self._search(request, result)
        except Exception as exc:
            log.exception("served search failed")
            self._index = None
            result.error = messages.describe(exc)
        finally:
            self._last_full = last_full
        reply.set_result(result)

    def _no_model_note(self) -> str:
        if self._loading is not None or self._embedder is not None:  # loaded since: the search runs again
            return "The embedding model is still loading: these results are keyword-only for now."
        return "The embedding model is not available: results are keyword-only."

    def _query_embedder(self, profile: IndexProfile) -> Embedder | None:
        """The query embedder for ``profile``; loads it on a side thread so a search never waits for it."""
        key = (profile.model, profile.adapter, self.settings.device, self.settings.precision)
        with self._load_lock:
            if self._embedder is not None and self._embedder[0] == key:
                return self._embedder[1]
            if self._loading == key:
                return None
            self._loading = key
            self._embedder = None  # the model cache lets the old one go before it loads the new one
        settings = dataclasses.replace(self.settings)
        threading.Thread(
            target=self._load, args=(key, profile, settings), name="sleuth-query-model", daemon=True
        ).start()
        return None

    def _load(self, key: tuple[str, ...], profile: IndexProfile, settings: Settings) -> None:
        try:
            embedder = self.models.embedder(
                profile.model, profile.adapter, settings, self.status.emit, depth=profile.depth, retry=False
            )
        except ModelUnavailable as exc:
            messages.warning(f"{exc} Search uses keywords only.")
            with self._load_lock:
                self._loading = None
            return
        with self._load_lock:
            self._embedder, self._loading = (key, embedder), None
        self._modelLoaded.emit()

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
            self._index = None

    def _stats(self) -> IndexStats:
        stats = index_stats(self.store())
        stats.fusion = describe_estimate(stats.estimate, stats.prior) if stats.profile else ""
        return stats


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
        lines: dict[str, int] = {}
        for hit in hits:
            if not passages.wants_line(hit.path):
                continue
            try:
                doc, raw = self._document(Path(hit.path))
            except Exception:
                continue
            if doc.text[hit.char_start : hit.char_end] == hit.text:
                line = passages.line_of(hit, doc, raw)
                if line is not None:
                    lines[hit.id] = line
        if lines:
            self.linesReady.emit(search_id, lines)

    def _from_file(self, hit: Hit, query: str) -> passages.Preview | None:
        doc, raw = self._document(Path(hit.path))
        line = passages.line_of(hit, doc, raw) if passages.wants_line(hit.path) else None
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
        raw = _raw_text(path) if passages.wants_line(str(path)) else None
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
