"""The search service: the one way anything answers a person's search, the read-side twin of WriteService.

The window (``app.reader``, on its search thread), a running Sleuth's query server, ``sleuth search`` in its
own process and ``sleuth mcp`` all ask a :class:`SearchService`. A typed :class:`SearchRequest` goes in; the
answer comes in two steps: :meth:`SearchService.search` returns the fused ranking (keywords and meaning)
at once, and where a reranker is set and the caller wants the answer early, :meth:`SearchService.rerank`
then returns the reranked order, unless a newer request made it stale first. :meth:`SearchService.answer`
takes both steps in one call::

    service = SearchService(db_path, QueryModels(load_embedder, load_reranker))
    answer = service.answer(SearchRequest("lighthouse keepers"), settings)
    for document in answer.documents: ...

The service decides everything a search depends on in one place: the mode and depth the settings ask for,
the index profile's query model (:class:`QueryModels`, the one cache that decides which model fits an
index), the reranker, the fallback to keywords while dense search cannot run, and the notes that say so
(typed: :class:`core.vocabulary.Note`). It only reads: its own read connection sees the writer's commits.
Not thread-safe: one thread asks (the window's search thread, or the query server's).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelUnavailable, SleuthError, describe
from core.search.lines import LineFinder
from core.vocabulary import Mode, Note, NoteKind, Sort

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.index.store import IndexProfile, ProfileIndex, Store
    from core.search.grouping import DocumentHits
    from core.search.hits import Hit
    from core.search.rerank import Reranker
    from core.search.searcher import Searcher, SearchResponse
    from core.settings import Settings

log = logging.getLogger("sleuth.search")

EmbedderLoader = Callable[["IndexProfile", "Settings"], "Embedder"]
RerankerLoader = Callable[["Settings"], "Reranker | None"]
#: The most documents one request may ask for.
MAX_K = 1000


@dataclass(frozen=True)
class SearchRequest:
    """One search: ``mode`` and ``k`` None mean the settings' (``search_mode``, ``results_per_page``);
    ``k`` counts documents; ``rerank`` False leaves the fused order (the window while typing)."""

    query: str
    k: int | None = None
    mode: Mode | None = None
    rerank: bool = True
    sort: Sort = Sort.RELEVANCE

    def __post_init__(self) -> None:  # a caller's plain "bm25" or "date" becomes its member (ValueError if none)
        if self.mode is not None:
            object.__setattr__(self, "mode", Mode(self.mode))
        object.__setattr__(self, "sort", Sort(self.sort))

    def to_json(self) -> dict[str, Any]:
        mode = str(self.mode) if self.mode is not None else None
        return {"query": self.query, "k": self.k, "mode": mode, "rerank": self.rerank, "sort": str(self.sort)}

    @classmethod
    def from_json(cls, data: Any) -> SearchRequest:
        """Raises ValueError for anything but a well-formed request."""
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            raise ValueError("a request is an object with a string 'query'")
        k, mode, rerank, sort = data.get("k"), data.get("mode"), data.get("rerank", True), data.get("sort", "relevance")
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K):
            raise ValueError(f"'k' must be a number from 1 to {MAX_K}")
        if mode is not None and mode not in set(Mode):
            raise ValueError(f"'mode' must be one of {', '.join(Mode)}")
        if not isinstance(rerank, bool):
            raise ValueError("'rerank' must be true or false")
        if sort not in set(Sort):
            raise ValueError(f"'sort' must be one of {', '.join(Sort)}")
        return cls(data["query"], k, Mode(mode) if mode is not None else None, rerank, Sort(sort))


@dataclass
class SearchAnswer:
    """A search's answer: ``documents`` (one per file, its passages best first) and ``hits`` (the same
    passages in ranking order). ``rerank_pending``: the reranked order follows (:meth:`SearchService.rerank`)."""

    request: SearchRequest
    mode: Mode
    hits: list[Hit] = field(default_factory=list)
    documents: list[DocumentHits] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    corrected: str = ""  # the query searched instead of a misspelt one
    reranked: bool = False
    rerank_pending: bool = False
    _pending: _Pending | None = field(default=None, repr=False, compare=False)

    def to_json(self, lines: dict[str, int]) -> dict[str, Any]:
        """What ``sleuth search --json`` prints: ``documents``, one per file with its passages best first, and
        ``results``, the same passages in ranking order, each with its ``document`` (an index into
        ``documents``). ``line`` is a passage's line in a text file (``lines``, by hit id), else null;
        ``corrected`` the query searched instead of a misspelt one, else empty."""
        rank = {hit.id: i for i, document in enumerate(self.documents) for hit in document.hits}
        return {
            "query": self.request.query.strip(),
            "mode": str(self.mode),
            "corrected": self.corrected,
            "notes": [str(note) for note in self.notes],
            "documents": [document.to_dict(lines) for document in self.documents],
            "results": [
                {**hit.to_dict(), "line": lines.get(hit.id), "document": rank.get(hit.id)} for hit in self.hits
            ],
        }


@dataclass
class _Pending:
    """What the second step needs: the fused answer's candidates and the searcher that found them."""

    searcher: Searcher
    response: SearchResponse
    k: int
    top_n: int
    sort: Sort


def model_key(profile: IndexProfile, settings: Settings) -> tuple[str, str, str]:
    """Which query model fits an index: the identity its vectors were made with (model, adapter, depth,
    int8; ``IndexProfile.embedder_name``) and the device and precision it runs with here."""
    return (profile.embedder_name, settings.device, settings.precision)


class QueryModels:
    """The query model and the reranker a service searches with, loaded once and kept while they fit.

    ``load_embedder`` loads a profile's model (blocking, raising ``ModelUnavailable``); ``load_reranker`` the
    settings' reranker, or None when reranking is off. ``embedder``: a model the process already has loaded
    (``sleuth watch``), used while the active profile's vectors were made by it. ``background``: a load
    runs on a side thread and a search meanwhile goes on with keywords (the window; ``on_loaded`` then
    hears of it), instead of waiting for it (the CLI).
    """

    def __init__(
        self,
        load_embedder: EmbedderLoader,
        load_reranker: RerankerLoader,
        *,
        embedder: tuple[tuple[str, str, str], Embedder] | None = None,
        background: bool = False,
        on_loaded: Callable[[], None] | None = None,
        on_failed: Callable[[ModelUnavailable], None] | None = None,
    ) -> None:
        self._load_embedder = load_embedder
        self._load_reranker = load_reranker
        self._embedder = embedder
        self._loading: tuple[str, str, str] | None = None
        self._lock = threading.Lock()
        self.background = background
        self._on_loaded = on_loaded
        self._on_failed = on_failed
        self._rerankers: dict[str, Reranker | ModelUnavailable] = {}

    @property
    def loading(self) -> bool:
        """A model is loading, or has loaded: a search that ran without it runs again (the window)."""
        with self._lock:
            return self._loading is not None or self._embedder is not None

    def embedder(self, profile: IndexProfile, settings: Settings) -> Embedder | None:
        """The query model for ``profile``; None while it loads in the background. Raises ModelUnavailable
        where it cannot be had and the caller waits for it."""
        key = model_key(profile, settings)
        with self._lock:
            if self._embedder is not None and self._embedder[0] == key:
                return self._embedder[1]
            if self.background and self._loading == key:
                return None
            self._embedder = None  # the old model goes before the new one comes
            if self.background:
                self._loading = key
        if not self.background:
            embedder = self._load_embedder(profile, settings)
            with self._lock:
                self._embedder = (key, embedder)
            return embedder
        chosen = dataclasses.replace(settings)
        threading.Thread(target=self._load, args=(key, profile, chosen), name="sleuth-query-model", daemon=True).start()
        return None

    def _load(self, key: tuple[str, str, str], profile: IndexProfile, settings: Settings) -> None:
        try:
            embedder = self._load_embedder(profile, settings)
        except ModelUnavailable as exc:
            with self._lock:
                self._loading = None
            if self._on_failed is not None:
                self._on_failed(exc)
            return
        with self._lock:
            self._embedder, self._loading = (key, embedder), None
        if self._on_loaded is not None:
            self._on_loaded()

    def reranker(self, settings: Settings) -> Reranker | None:
        """The settings' reranker, None when reranking is off; raises ModelUnavailable (remembered until
        :meth:`forget_failures`) where it cannot be loaded."""
        if not settings.reranker:
            return None
        cached = self._rerankers.get(settings.reranker)
        if cached is None:
            try:
                cached = self._load_reranker(settings) or ModelUnavailable("Reranking is off.")
            except ModelUnavailable as exc:
                cached = exc
            self._rerankers = {settings.reranker: cached}  # one reranker at a time
        if isinstance(cached, ModelUnavailable):
            raise cached
        return cached

    def forget_failures(self) -> None:
        """Settings changed: a model that failed may load now."""
        self._rerankers = {k: v for k, v in self._rerankers.items() if not isinstance(v, ModelUnavailable)}


class SearchService:
    """Answers searches over one index; never writes it. See the module's documentation."""

    def __init__(self, db_path: Path, models: QueryModels, open_store: Callable[[Path], Store] | None = None) -> None:
        self.db_path = db_path
        self.models = models
        self._open_store = open_store
        self._store: Store | None = None
        self._index: ProfileIndex | None = None
        self.lines = LineFinder()

    @property
    def store(self) -> Store:
        if self._store is None:
            if self._open_store is not None:
                self._store = self._open_store(self.db_path)
            else:
                from core.index.store import Store

                self._store = Store(self.db_path)
        return self._store

    def refresh(self) -> None:
        """The writer changed the index (or a search failed on it): reopen its tables at the next request."""
        self._index = None

    def index(self) -> ProfileIndex | None:
        """The active profile's index, or None when nothing is indexed yet."""
        profile = self.store.active_profile()
        if profile is None:
            self._index = None
        elif self._index is None or self._index.profile != profile:
            self._index = self.store.profile_index(profile)
        return self._index

    def answer(self, request: SearchRequest, settings: Settings) -> SearchAnswer:
        """Both steps: the fused ranking, reranked where a reranker is set and asked for."""
        return self.search(request, settings, rerank_later=False)

    def search(self, request: SearchRequest, settings: Settings, *, rerank_later: bool = True) -> SearchAnswer:
        """The fused answer. With ``rerank_later`` and a reranker to run, the answer says ``rerank_pending``
        and :meth:`rerank` gives the reranked order; otherwise any reranking is done here."""
        from core.search.rerank import top_n_for
        from core.search.searcher import searcher_for

        mode = request.mode or Mode(settings.search_mode)
        answer = SearchAnswer(request, mode)
        if not request.query.strip():
            return answer
        index = self.index()
        if index is None:
            answer.notes.append(Note(NoteKind.EMPTY, "Nothing is indexed yet: add a folder to search it."))
            return answer
        embedder = self._embedder(index.profile, settings, answer) if mode is not Mode.BM25 else None
        reranker = self._reranker(settings, answer) if request.rerank else None
        searcher = searcher_for(self.store, settings, index, embedder, reranker)
        k = request.k or settings.results_per_page
        top_n = top_n_for(settings)
        later = rerank_later and reranker is not None
        try:
            response = searcher.search_documents(
                request.query,
                k=k,
                mode=mode,
                rerank=request.rerank and not later,
                rerank_top_n=top_n,
                sort=request.sort,
            )
        except (SleuthError, ValueError, RuntimeError, OSError) as exc:
            if mode is Mode.BM25:
                raise
            # e.g. the writer is rewriting the search vectors this moment: keyword results still answer.
            log.warning("dense search failed, falling back to keywords: %s", exc)
            response = searcher.search_documents(request.query, k=k, mode=Mode.BM25, rerank=False, sort=request.sort)
            response.notes.append(
                Note(NoteKind.DENSE_SKIPPED, f"Dense search failed this time ({describe(exc)}); keyword results only.")
            )
            later = False
        answer.hits, answer.documents, answer.mode = response.hits, response.documents, Mode(response.mode)
        answer.corrected, answer.reranked = response.corrected, response.reranked
        for note in response.notes:
            if isinstance(note, Note) and note.kind is NoteKind.NO_MODEL and embedder is None:
                continue  # said below, with the reason
            answer.notes.append(note if isinstance(note, Note) else Note(NoteKind.OTHER, note))
        if mode is not Mode.BM25 and embedder is None and not any(n.kind is NoteKind.NO_MODEL for n in answer.notes):
            answer.notes.append(self._no_model_note())
        if mode is not Mode.BM25 and embedder is not None:
            pending = index.count_pending()
            if pending:
                answer.notes.append(
                    Note(
                        NoteKind.PENDING,
                        f"{pending:,} passages have no vectors yet; keyword search finds them meanwhile.",
                    )
                )
        if later and response.candidates:
            answer.rerank_pending = True
            answer._pending = _Pending(searcher, response, k, top_n, request.sort)
        return answer

    def rerank(self, answer: SearchAnswer) -> SearchAnswer:
        """The second step: ``answer`` (from :meth:`search`, ``rerank_pending``) in the reranked order, as a new
        answer. Where reranking fails, the fused order stands and a note says why."""
        result = dataclasses.replace(answer, notes=list(answer.notes), rerank_pending=False, _pending=None)
        pending = answer._pending
        if pending is None:
            return result
        try:
            response = pending.searcher.rerank_documents(pending.response, pending.k, pending.top_n, pending.sort)
        except Exception as exc:  # the fused order stays; say why it was not reranked
            if isinstance(exc, (RuntimeError, OSError)):  # e.g. a rebuild dropped the index's tables meanwhile
                log.warning("rerank failed: %s", str(exc))  # a string: a kept record must not keep the search alive
                self.refresh()
            else:
                log.exception("rerank failed")
            result.notes.append(
                Note(NoteKind.RERANKER, f"Reranking failed ({describe(exc)}); results are in the fused order.")
            )
            return result
        result.hits, result.documents, result.reranked = response.hits, response.documents, True
        return result

    def _embedder(self, profile: IndexProfile, settings: Settings, answer: SearchAnswer) -> Embedder | None:
        try:
            return self.models.embedder(profile, settings)
        except ModelUnavailable as exc:
            answer.notes.append(Note(NoteKind.NO_MODEL, f"{exc} Results are keyword-only."))
            return None

    def _reranker(self, settings: Settings, answer: SearchAnswer) -> Reranker | None:
        try:
            return self.models.reranker(settings)
        except ModelUnavailable as exc:
            answer.notes.append(Note(NoteKind.RERANKER, f"{exc} Results are not reranked."))
            return None

    def _no_model_note(self) -> Note:
        if self.models.loading:  # loaded since, or loading: the window runs the search again
            return Note(
                NoteKind.MODEL_LOADING, "The embedding model is still loading: these results are keyword-only for now."
            )
        return Note(NoteKind.NO_MODEL, "The embedding model is not available: results are keyword-only.")
