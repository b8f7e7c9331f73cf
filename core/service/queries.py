"""Answering one search the way ``sleuth search --json`` prints it, for the CLI and for a running Sleuth.

``sleuth search`` answers either here, in its own process (loading the model first), or from a running
Sleuth over its query socket (core.service.query_server); both build the same JSON with
:func:`response_dict`, so a served answer and a direct one cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import SleuthError
from core.search.lines import LineFinder

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.index.store import IndexProfile, ProfileIndex, Store
    from core.search.grouping import DocumentHits
    from core.search.rerank import Reranker
    from core.search.searcher import Hit
    from core.settings import Settings

EmbedderLoader = Callable[["IndexProfile", "Settings"], "Embedder"]


@dataclass(frozen=True)
class Query:
    """One search request: ``k`` and ``mode`` None mean the answering side's settings; ``k`` counts documents."""

    query: str
    k: int | None = None
    mode: str | None = None
    rerank: bool = True
    sort: str = "relevance"

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "k": self.k, "mode": self.mode, "rerank": self.rerank, "sort": self.sort}

    @classmethod
    def from_json(cls, data: Any) -> Query:
        """Raises ValueError for anything but a well-formed request."""
        from core.search.searcher import MODES, SORTS

        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            raise ValueError("a request is an object with a string 'query'")
        k, mode, rerank, sort = data.get("k"), data.get("mode"), data.get("rerank", True), data.get("sort", "relevance")
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 1000):
            raise ValueError("'k' must be a number from 1 to 1000")
        if mode is not None and mode not in MODES:
            raise ValueError(f"'mode' must be one of {', '.join(MODES)}")
        if not isinstance(rerank, bool):
            raise ValueError("'rerank' must be true or false")
        if sort not in SORTS:
            raise ValueError(f"'sort' must be one of {', '.join(SORTS)}")
        return cls(data["query"], k, mode, rerank, sort)


def response_dict(
    query: str,
    mode: str,
    notes: list[str],
    hits: list[Hit],
    lines: dict[str, int],
    documents: list[DocumentHits],
    corrected: str = "",
) -> dict[str, Any]:
    """What ``sleuth search --json`` prints: ``documents``, one per file with its passages best first, and
    ``results``, the same passages in ranking order, each with its ``document`` (an index into ``documents``).
    ``line`` is a passage's line in a text file, else null; ``corrected`` the query searched instead of a
    misspelt one, else empty."""
    rank = {hit.id: i for i, document in enumerate(documents) for hit in document.hits}
    return {
        "query": query,
        "mode": mode,
        "corrected": corrected,
        "notes": notes,
        "documents": [document.to_dict(lines) for document in documents],
        "results": [{**hit.to_dict(), "line": lines.get(hit.id), "document": rank.get(hit.id)} for hit in hits],
    }


def quiet_loader(profile: IndexProfile, settings: Settings) -> Embedder:
    from core.embedding import load_embedder

    return load_embedder(
        profile.model,
        adapter=profile.adapter or None,
        device=settings.device,
        precision=settings.precision,
        depth=profile.depth,
    )


class Answerer:
    """Answers queries with the engine's searcher over its own read connection; never writes the index.

    ``embedder`` is a model the process already has loaded; it is used while the active profile's vectors
    were made by it (``IndexProfile.embedder_name``), otherwise ``load`` gets the profile's model once.
    Not thread-safe: one thread asks (the query server answers one request at a time).
    """

    def __init__(
        self,
        db_path: Path,
        settings: Callable[[], Settings],
        embedder: Embedder | None = None,
        load: EmbedderLoader = quiet_loader,
    ) -> None:
        self.db_path = db_path
        self._settings = settings
        self._embedders: dict[str, Embedder] = {embedder.name: embedder} if embedder is not None else {}
        self._load = load
        self._store: Store | None = None
        self._index: ProfileIndex | None = None
        self._rerankers: dict[str, Reranker | str] = {}
        self.lines = LineFinder()

    def answer(self, request: Query) -> dict[str, Any]:
        from core.search.rerank import top_n_for
        from core.search.searcher import searcher_for

        settings = self._settings()
        index = self._profile_index()
        mode = request.mode or settings.search_mode
        notes: list[str] = []
        reranker = self._reranker(settings, notes) if request.rerank else None
        profile = index.profile

        def embedder() -> Embedder:
            if profile.embedder_name not in self._embedders:
                self._embedders[profile.embedder_name] = self._load(profile, settings)
            return self._embedders[profile.embedder_name]

        searcher = searcher_for(self.store, settings, index, embedder, reranker)
        response = searcher.search_documents(
            request.query,
            k=request.k or settings.results_per_page,
            mode=mode,
            rerank=request.rerank,
            rerank_top_n=top_n_for(settings),
            sort=request.sort,
        )
        return response_dict(
            response.query,
            response.mode,
            notes + response.notes,
            response.hits,
            self.lines.lines(response.hits),
            response.documents,
            response.corrected,
        )

    @property
    def store(self) -> Store:
        if self._store is None:
            from core.index.store import Store

            self._store = Store(self.db_path)
        return self._store

    def _profile_index(self) -> ProfileIndex:
        profile = self.store.active_profile()
        if profile is None:
            raise SleuthError("Nothing is indexed yet. Run: sleuth index FOLDER")
        if self._index is None or self._index.profile != profile:
            self._index = self.store.profile_index(profile)
        return self._index

    def _reranker(self, settings: Settings, notes: list[str]) -> Reranker | None:
        if not settings.reranker:
            return None
        if settings.reranker not in self._rerankers:
            from core.search.rerank import settings_reranker

            try:
                self._rerankers[settings.reranker] = settings_reranker(settings) or "Reranking is off."
            except SleuthError as exc:
                self._rerankers[settings.reranker] = f"{exc} Searching without reranking."
        cached = self._rerankers[settings.reranker]
        if isinstance(cached, str):
            notes.append(cached)
            return None
        return cached


def with_own_tokenizer(embedder: Embedder) -> Embedder:
    """``embedder`` for a second thread: the weights are shared (inference only reads them), the tokenizer is
    not (a fast tokenizer used by two threads at once fails with "Already borrowed")."""
    import copy

    twin = copy.copy(embedder)
    twin.tokenizer = copy.deepcopy(embedder.tokenizer)
    return twin
