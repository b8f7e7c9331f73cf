"""Hybrid search: BM25 and dense candidates, dense rescored at full dimension, fused (core.search.fusion), reranked."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lancedb.query import FullTextOperator, MatchQuery

from core.embedding import Embedder, project
from core.index.cjk import latin_part, query_bigrams, spaced
from core.index.names import stored, unstored
from core.index.store import CJK_COLUMN, GLUED_COLUMN, ProfileIndex
from core.index.vector_index import NPROBES, REFINE_FACTOR
from core.search import fuzzy, narrowing
from core.search.fusion import METHOD, NORM_DEPTH, ScoreFusion, WeightedRRF
from core.search.grouping import PASSAGES_PER_DOCUMENT, DocumentHits, group_by_document
from core.search.highlight import highlight_spans
from core.search.hits import Hit
from core.search.query import parse
from core.search.rerank import Reranker, weight_for
from core.vocabulary import Mode, Note, NoteKind, Sort

if TYPE_CHECKING:
    from core.index.store import Store
    from core.settings import Settings

MODES = tuple(Mode)
SORTS = tuple(Sort)
NO_RERANKER = Note(NoteKind.NO_RERANKER, "No reranker is configured; results are not reranked.")
#: How many passages an excluded word is looked up in, to drop the documents that hold it.
EXCLUDE_DEPTH = 10_000
COLUMNS = ["id", "path", "ordinal", "text", "page", "char_start", "char_end"]

_keyword_pool: ThreadPoolExecutor | None = None
_keyword_pool_lock = threading.Lock()


def keyword_pool() -> ThreadPoolExecutor:
    """Threads that run a hybrid query's keyword search while the calling thread embeds the query."""
    global _keyword_pool
    with _keyword_pool_lock:
        if _keyword_pool is None:
            _keyword_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sleuth-keyword")
        return _keyword_pool


@dataclass
class SearchResponse:
    query: str
    mode: str
    hits: list[Hit]
    notes: list[Note] = field(default_factory=list)
    documents: list[DocumentHits] = field(default_factory=list)  # search_documents: one entry per file
    corrected: str = ""  # the query searched instead, where a word had no exact hit
    reranked: bool = False  # the cross-encoder has ordered the top candidates
    searched: str = ""  # search_documents: the words searched (syntax removed, typos corrected)
    candidates: list[Hit] = field(default_factory=list, repr=False)  # search_documents: the narrowed ranking


class Searcher:
    """Answers queries against one profile's index. Read-only: safe beside the indexer's writer."""

    def __init__(
        self,
        index: ProfileIndex,
        embedder: Embedder | Callable[[], Embedder] | None = None,
        reranker: Reranker | None = None,
        dense_weight: float = 0.5,
        fusion: str = METHOD,
        rerank_weight: float = 1.0,
    ) -> None:
        """``dense_weight`` is the dense share of the fused score, 0 to 1 (0: keyword hits lead); ``fusion`` is
        ``zscore`` (the engine's) or ``rrf`` (weighted reciprocal rank fusion, kept for comparisons)."""
        if fusion not in (METHOD, "rrf"):
            raise ValueError(f"fusion must be {METHOD} or rrf")
        self.index = index
        self._embedder = embedder
        self.reranker = reranker
        if not 0.0 <= rerank_weight <= 1.0:  # the settings' -1 ("the reranker's own") is resolved before here
            raise ValueError(f"rerank_weight must be between 0 and 1, not {rerank_weight}")
        self.rerank_weight = rerank_weight
        self.dense_weight = dense_weight
        self.fusion = fusion

    @property
    def embedder(self) -> Embedder | None:
        if callable(self._embedder) and not hasattr(self._embedder, "embed_queries"):
            self._embedder = self._embedder()
        return self._embedder  # type: ignore[return-value]

    def search(
        self, query: str, k: int = 10, mode: str = "hybrid", rerank: bool = True, rerank_top_n: int = 20
    ) -> SearchResponse:
        """The plain engine: ``query`` as words (no syntax, no typo correction), ``k`` passages."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        query = query.strip()
        response = SearchResponse(query, mode, [])
        if not query:
            return response
        pool = max(NORM_DEPTH, max(k, rerank_top_n if rerank and self.reranker else 0) * 3 + 20)
        hits = self._ranked(query, pool, mode, rerank, rerank_top_n, response)[:k]
        for hit in hits:
            hit.highlights = highlight_spans(hit.text, query)
        response.hits = hits
        return response

    def search_documents(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        rerank: bool = True,
        rerank_top_n: int = 20,
        sort: str = "relevance",
    ) -> SearchResponse:
        """The search box's search: the query syntax (core.search.query), typo correction, ``k`` documents.

        ``documents`` holds the first ``k`` files, each with its matched passages, best first; ``hits``
        the same passages in ranking order (its first ``k`` are the best ``k`` passages overall).
        ``sort="date"`` orders the documents newest first.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        parsed = parse(query)
        response = SearchResponse(query.strip(), mode, [])
        response.notes.extend(Note(NoteKind.QUERY, problem) for problem in parsed.problems)
        if not parsed.text.strip():
            if parsed.filters or parsed.excluded:
                response.notes.append(Note(NoteKind.EMPTY, "Add a word to search for; filters only narrow a search."))
            return response
        where, late_dates = narrowing.prefilter(self.index, parsed.filters)
        text = parsed.text
        corrected, fixes = fuzzy.correct(
            text, lambda word: self._has_exact(word, where), lambda term, edits: self._fuzzy_texts(term, edits, where)
        )
        if fixes:
            text = corrected
            response.corrected = corrected
            response.notes.append(Note(NoteKind.CORRECTED, f"Showing results for {corrected}"))
        pool = max(NORM_DEPTH, k * PASSAGES_PER_DOCUMENT + 20, rerank_top_n if rerank and self.reranker else 0)
        if late_dates or parsed.phrases or parsed.excluded:
            pool *= 4  # filters applied to the candidates: fetch more of them
        hits = self._ranked(text, pool, mode, False, rerank_top_n, response, where)
        hits = narrowing.narrow(hits, parsed, self.index, late_dates, lambda words: self._paths_holding(words, where))
        response.searched = text
        response.candidates = hits
        if rerank and self.reranker is not None and hits:
            return self.rerank_documents(response, k, rerank_top_n, sort)
        if rerank and self.reranker is None and mode != Mode.BM25:
            response.notes.append(NO_RERANKER)
        return self._grouped(response, hits, k, sort)

    def rerank_documents(
        self, response: SearchResponse, k: int = 10, rerank_top_n: int = 20, sort: str = "relevance"
    ) -> SearchResponse:
        """The documents of ``response`` (a ``search_documents(..., rerank=False)`` answer) reranked.

        The window shows the fused answer at once and this one when it is ready; the filters have already
        narrowed the candidates, so only passages the user can see are reranked. Returns a new response.
        """
        if self.reranker is None or not response.candidates:
            return response
        hits = [dataclasses.replace(h, scores=dict(h.scores)) for h in response.candidates]
        reranked = dataclasses.replace(response, notes=list(response.notes), reranked=True)
        return self._grouped(reranked, self._rerank(response.searched, hits, rerank_top_n), k, sort)

    def _grouped(self, response: SearchResponse, hits: list[Hit], k: int, sort: str) -> SearchResponse:
        documents = group_by_document(hits, k)
        mtimes = self.index.mtimes([stored(d.path) for d in documents]) if documents else {}
        for document in documents:
            document.mtime = mtimes.get(stored(document.path))
            for hit in document.hits:
                hit.highlights = highlight_spans(hit.text, response.searched)
        if sort == Sort.DATE:
            documents.sort(key=lambda d: -(d.mtime or 0.0))
        response.documents = documents
        kept = {id(h) for d in documents for h in d.hits}
        response.hits = [h for h in hits if id(h) in kept]
        return response

    def _paths_holding(self, words: list[str], where: str | None) -> set[str]:
        """The files with a passage holding one of ``words``: an excluded word drops the whole document."""
        paths: set[str] = set()
        for word in words:
            for column in self._word_columns():
                table = self._fts(word, column, EXCLUDE_DEPTH, where, ["path"])
                if table is not None:
                    paths.update(unstored(p) for p in table["path"].to_pylist())
        return paths

    def _has_exact(self, word: str, where: str | None) -> bool:
        for column in self._word_columns():
            table = self._fts(word, column, 1, where, ["path"])
            if table is not None and table.num_rows > 0:
                return True
        return False

    def _word_columns(self) -> list[str]:
        """Where a Latin word is written: the text, and where the index has any, the words glued to CJK runs."""
        return ["text", GLUED_COLUMN] if self.index.has_glued_words else ["text"]

    def _fuzzy_texts(self, term: str, edits: int, where: str | None) -> list[str]:
        near = MatchQuery(
            term,
            "text",
            boost=1.0,
            fuzziness=edits,
            max_expansions=50,
            operator=FullTextOperator.OR,
            prefix_length=0,
            document_granularity=None,
        )
        table = self._fts(near, "text", 20, where, ["text"])
        return table["text"].to_pylist() if table is not None else []

    def _ranked(
        self,
        query: str,
        pool: int,
        mode: str,
        rerank: bool,
        rerank_top_n: int,
        response: SearchResponse,
        where: str | None = None,
    ) -> list[Hit]:
        """Every fused candidate, best first; the first ``rerank_top_n`` reranked where asked."""
        fts = dense = None
        if mode == Mode.HYBRID:
            # Keyword search (LanceDB, outside the GIL) overlaps the query's forward pass, which is most of a
            # hybrid query's time on a CPU; the dense search itself has to wait for the vector.
            keyword = keyword_pool().submit(self.keyword_candidates, query, pool, where, True)
            try:
                vector = self.query_vector(query, response)
                dense = None if vector is None else self.dense_candidates(query, pool, response, where, vector)
            finally:
                fts = keyword.result()
            if dense is not None and vector is not None:
                dense = self.complete_dense(dense, fts, vector)
            fts = fts.drop_columns(["vector"]) if "vector" in fts.column_names else fts
        elif mode == Mode.BM25:
            fts = self.keyword_candidates(query, pool, where)
        else:
            dense = self.dense_candidates(query, pool, response, where)
        if mode == Mode.HYBRID and dense is not None and self.dense_weight == 0:
            response.notes.append(
                Note(
                    NoteKind.KEYWORDS_LEAD,
                    "Keyword search leads: dense search has no weight in fusion on this index (Settings › Dense "
                    "weight says why).",
                )
            )
        if dense is None and fts is None:
            return []  # dense search alone, and it could not run: its note says why
        fused = self.fuse(query, dense, fts)
        hits = [_hit(row) for row in fused.to_pylist()]
        if rerank and self.reranker is not None and hits:
            hits = self._rerank(query, hits, rerank_top_n)
        elif rerank and self.reranker is None and mode != Mode.BM25:
            response.notes.append(NO_RERANKER)
        return hits

    def keyword_candidates(self, query: str, limit: int, where: str | None = None, vectors: bool = False) -> pa.Table:
        """Keyword hits: the stemmed words of the text, plus the CJK/Thai bigrams of the query (core.index.cjk).

        A passage must hold every bigram of the query (nearly always: the phrase itself); a mixed query
        ("pLaTeX 2ε について") adds the two scores, as a search over two fields does. Where the index has
        Latin words glued to CJK runs ("由libpod库"), the query's Latin words are looked up among those too,
        and a query's own runs are word boundaries ("Dockerコンテナ" asks for ``docker``). ``vectors``: each
        hit's stored vector comes too, in a ``vector`` column (for :meth:`complete_dense`).
        """
        columns = [*COLUMNS, "vector"] if vectors else COLUMNS
        tables = [self._fts(spaced(query), "text", limit, where, columns)]
        latin = latin_part(query)
        if latin and self.index.has_glued_words:
            tables.append(self._fts(latin, GLUED_COLUMN, limit, where, columns))
        grams = query_bigrams(query)
        if grams and self.index.has_cjk_column:
            every = MatchQuery(
                grams,
                CJK_COLUMN,
                boost=1.0,
                fuzziness=0,
                max_expansions=50,
                operator=FullTextOperator.AND,
                prefix_length=0,
                document_granularity=None,
            )
            tables.append(self._fts(every, CJK_COLUMN, limit, where, columns))
        found = [table for table in tables if table is not None and table.num_rows]
        if not found:
            return pa.table({c: [] for c in [*columns, "_rowid", "_score"]})
        if len(found) == 1:
            return found[0]
        rows: dict[int, dict[str, Any]] = {}
        for row in (row for table in found for row in table.to_pylist()):
            seen = rows.setdefault(row["_rowid"], {**row, "_score": 0.0})
            seen["_score"] += row["_score"]
        ranked = sorted(rows.values(), key=lambda r: r["_score"], reverse=True)[:limit]
        return pa.Table.from_pylist(ranked, schema=found[0].schema)

    def _fts(
        self,
        query: str | MatchQuery,
        column: str,
        limit: int,
        where: str | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table | None:
        try:
            search = self.index.chunks.search(query, query_type="fts", fts_columns=column)
            if where:
                search = search.where(where, prefilter=True)
            return search.select([*(columns or COLUMNS), "_score"]).with_row_id(True).limit(limit).to_arrow()
        except (ValueError, RuntimeError):  # no FTS index yet (nothing indexed) or an empty token list
            return None

    def query_vector(self, query: str, response: SearchResponse) -> np.ndarray | None:
        """The query's full-dimension vector; None (with a note on ``response``) when no model is loaded."""
        embedder = self.embedder
        if embedder is None:
            response.notes.append(Note(NoteKind.NO_MODEL, "No embedding model is loaded; dense search is skipped."))
            return None
        return embedder.embed_queries([query])[0]

    def dense_candidates(
        self,
        query: str,
        limit: int,
        response: SearchResponse,
        where: str | None = None,
        vector: np.ndarray | None = None,
    ) -> pa.Table | None:
        """Dense hits: the truncated search vectors' nearest passages, rescored at full dimension; None (with
        a note on ``response``) when dense search cannot run. The second ranking hybrid search fuses.
        ``vector``: the query's, where :meth:`query_vector` has already made it."""
        full = vector if vector is not None else self.query_vector(query, response)
        if full is None:
            return None
        dim, rotation = self.index.search_space()
        if not dim:
            response.notes.append(
                Note(
                    NoteKind.DENSE_SKIPPED, "The search vectors are being rebuilt; dense search is skipped until then."
                )
            )
            return None
        vector = project(full, dim, rotation)
        search = (
            self.index.chunks.search(vector, vector_column_name="vector_search")
            .distance_type("dot")
            .nprobes(NPROBES)  # these two apply only where a vector index exists (core.index.vector_index)
            .refine_factor(REFINE_FACTOR)
        )
        if where:
            search = search.where(where, prefilter=True)
        table = search.select([*COLUMNS, "vector", "_distance"]).with_row_id(True).limit(limit).to_arrow()
        if table.num_rows == 0:
            return table.drop_columns(["vector"])
        # Rescore the truncated-dimension candidates at full dimension.
        vectors = table["vector"].combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(table.num_rows, -1)
        full_scores = vectors.astype(np.float32) @ full
        order = np.argsort(-full_scores, kind="stable")
        table = table.take(pa.array(order)).drop_columns(["vector"])
        return table.append_column("_dense_score", pa.array(full_scores[order], pa.float32()))

    def complete_dense(self, dense: pa.Table, fts: pa.Table, vector: np.ndarray) -> pa.Table:
        """Dense search's ranking with every keyword hit it left out scored too, from the hit's stored vector.

        Fusion gives a candidate missing from a list that list's lowest score; for a keyword hit that dense
        search did not fetch, its own similarity to the query is known at the cost of a dot product, and is
        what it deserves (docs/benchmarks.md, "Every keyword hit's own dense score"). ``fts`` is
        :meth:`keyword_candidates` with ``vectors=True``; passages not embedded yet stay out.
        """
        if "vector" not in fts.column_names or not fts.num_rows:
            return dense
        listed = set(dense["_rowid"].to_pylist())
        keep = [
            i
            for i, (row, stored_vector) in enumerate(
                zip(fts["_rowid"].to_pylist(), fts["vector"].to_pylist(), strict=True)
            )
            if row not in listed and stored_vector is not None
        ]
        if not keep:
            return dense
        extra = fts.take(pa.array(keep))
        vectors = extra["vector"].combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape(len(keep), -1)
        scores = vectors.astype(np.float32) @ vector
        columns = {name: extra[name] for name in [*COLUMNS, "_rowid"]}
        columns["_distance"] = pa.array(1.0 - scores, pa.float32())
        columns["_dense_score"] = pa.array(scores, pa.float32())
        added = pa.table({name: columns[name] for name in dense.column_names}).cast(dense.schema)
        merged = pa.concat_tables([dense, added])
        return merged.take(pc.sort_indices(merged, sort_keys=[("_dense_score", "descending")]))

    def fuse(self, query: str, dense: pa.Table | None, fts: pa.Table | None) -> pa.Table:
        """The two rankings as one, by the searcher's fusion method and dense weight (either may be None)."""
        if dense is None and fts is None:
            raise ValueError("nothing to fuse")
        if fts is None:
            assert dense is not None
            return dense.append_column("_relevance_score", dense["_dense_score"]) if dense.num_rows else dense
        if dense is None:
            return fts.append_column("_relevance_score", fts["_score"]) if fts.num_rows else fts
        if self.fusion == "rrf":
            return WeightedRRF(self.dense_weight).rerank_hybrid(query, dense, fts)
        return ScoreFusion(self.dense_weight).rerank_hybrid(query, dense, fts)

    def _rerank(self, query: str, hits: list[Hit], top_n: int) -> list[Hit]:
        """The first ``top_n`` passages in the order of :func:`mixed_scores`; the rest keep their fused order."""
        assert self.reranker is not None
        head, tail = hits[:top_n], hits[top_n:]
        scores = self.reranker.score(query, [h.text for h in head])
        fused = np.array([h.scores.get("fused", h.score) for h in head], dtype=np.float64)
        for hit, value, mixed in zip(head, scores, mixed_scores(fused, scores, self.rerank_weight), strict=True):
            hit.scores["rerank"] = float(value)
            hit.score = float(mixed)
        head.sort(key=lambda h: h.score, reverse=True)
        return head + tail


def _standardised(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


def mixed_scores(fused: np.ndarray, rerank: np.ndarray, weight: float) -> np.ndarray:
    """The reranked order's scores: ``weight`` of the reranker's standardised score, the rest the fused one's.

    Weight 1 trusts the reranker alone; below 1 a confident fused answer (one that stands out from the other
    candidates, as a decisive keyword hit does) needs a clearer reranker verdict to lose its place.
    """
    rerank = np.asarray(rerank, dtype=np.float64)
    if weight >= 1.0:
        return rerank
    return weight * _standardised(rerank) + (1.0 - weight) * _standardised(np.asarray(fused, dtype=np.float64))


def _hit(row: dict[str, Any]) -> Hit:
    scores: dict[str, float] = {}
    if row.get("_score") is not None:
        scores["bm25"] = float(row["_score"])
    if row.get("_dense_score") is not None:
        scores["dense"] = float(row["_dense_score"])
    if row.get("_relevance_score") is not None:
        scores["fused"] = float(row["_relevance_score"])
    return Hit(
        id=row["id"],
        path=unstored(row["path"]),
        ordinal=row["ordinal"],
        text=row["text"],
        page=row["page"],
        char_start=row["char_start"],
        char_end=row["char_end"],
        score=scores.get("fused", 0.0),
        scores=scores,
    )


def searcher_for(
    store: Store,
    settings: Settings,
    index: ProfileIndex,
    embedder: Embedder | Callable[[], Embedder] | None,
    reranker: Reranker | None = None,
) -> Searcher:
    """The searcher the settings ask for: the dense weight set by the user, else the one measured on the index."""
    weight = settings.dense_weight if settings.dense_weight >= 0 else store.dense_weight(index.profile)
    return Searcher(index, embedder, reranker, dense_weight=weight, rerank_weight=weight_for(settings))
