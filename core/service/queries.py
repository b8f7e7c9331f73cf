"""Answering one search the way ``sleuth search --json`` prints it, for the CLI and for a running Sleuth.

``sleuth search`` answers either here, in its own process (loading the model first), or from a running
Sleuth over its query socket (core.service.query_server). Both ask a :class:`core.service.search.SearchService`
and print :meth:`SearchAnswer.to_json`, as the window's own searches do, so a served answer, a direct
one and the window's cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import SleuthError
from core.service.search import EmbedderLoader, QueryModels, SearchRequest, SearchService

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.index.store import IndexProfile
    from core.search.rerank import Reranker
    from core.settings import Settings

#: The query socket's request; the search service's own type.
Query = SearchRequest


def quiet_loader(profile: IndexProfile, settings: Settings) -> Embedder:
    from core.embedding import load_embedder

    return load_embedder(
        profile.model,
        adapter=profile.adapter or None,
        device=settings.device,
        precision=settings.precision,
        depth=profile.depth,
    )


def settings_reranker(settings: Settings) -> Reranker | None:
    from core.search.rerank import settings_reranker as load

    return load(settings)


class Answerer:
    """Answers requests as ``sleuth search --json`` prints them, from a search service over ``db_path``.

    ``embedder`` is a model the process already has loaded (``sleuth watch``); it is used while the active
    profile's vectors were made by it, otherwise ``load`` gets the profile's model once.
    Not thread-safe: one thread asks (the query server answers one request at a time).
    """

    def __init__(
        self,
        db_path: Path,
        settings: Callable[[], Settings],
        embedder: Embedder | None = None,
        load: EmbedderLoader = quiet_loader,
    ) -> None:
        self._settings = settings
        known = None
        if embedder is not None:
            now = settings()
            known = ((embedder.name, now.device, now.precision), embedder)
        self.service = SearchService(db_path, QueryModels(load, settings_reranker, embedder=known))

    @property
    def db_path(self) -> Path:
        return self.service.db_path

    def answer(self, request: SearchRequest) -> dict[str, Any]:
        if self.service.index() is None:
            raise SleuthError("Nothing is indexed yet. Run: sleuth index FOLDER")
        answer = self.service.answer(request, self._settings())
        return answer.to_json(self.service.lines.lines(answer.hits))


def with_own_tokenizer(embedder: Embedder) -> Embedder:
    """``embedder`` for a second thread: the weights are shared (inference only reads them), the tokenizer is
    not (a fast tokenizer used by two threads at once fails with "Already borrowed")."""
    import copy

    twin = copy.copy(embedder)
    twin.tokenizer = copy.deepcopy(embedder.tokenizer)
    return twin
