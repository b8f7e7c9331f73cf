"""One result per document: a query's ranked passages gathered under their files.

A document ranks by its best passage (the first of its passages in the ranking), and keeps its other
matched passages in ranking order, so one long file shows once with "3 more passages" instead of
filling the list. Ranks, not scores, decide: after reranking, the head of the ranking carries the
reranker's scores and the tail the fused ones, which are not comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.index.names import display

if TYPE_CHECKING:
    from core.search.hits import Hit

#: Candidate passages fetched per wanted document, so ~k documents remain after grouping and filtering.
PASSAGES_PER_DOCUMENT = 8
#: Passages kept under one document; more only repeat the file.
MAX_PASSAGES = 20


@dataclass
class DocumentHits:
    path: str
    hits: list[Hit]  # best first, in ranking order
    mtime: float | None = None  # the file's modification time as last indexed
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Hit:
        return self.hits[0]

    def in_file_order(self) -> list[Hit]:
        """The matched passages as they come in the file: what "next match" steps through."""
        return sorted(self.hits, key=lambda h: (h.char_start, h.ordinal))

    def to_dict(self, lines: dict[str, int]) -> dict[str, Any]:
        return {
            "path": display(self.path),
            "modified": self.mtime,
            "score": self.best.score,
            "passages": [{**hit.to_dict(), "line": lines.get(hit.id)} for hit in self.hits],
        }


def group_by_document(hits: list[Hit], limit: int) -> list[DocumentHits]:
    """The first ``limit`` documents of a ranking, each with up to ``MAX_PASSAGES`` of its passages."""
    documents: dict[str, DocumentHits] = {}
    for hit in hits:
        document = documents.get(hit.path)
        if document is None:
            if len(documents) >= limit:
                continue
            documents[hit.path] = DocumentHits(hit.path, [hit])
        elif len(document.hits) < MAX_PASSAGES:
            document.hits.append(hit)
    return list(documents.values())
