"""The words the read and write sides share, as types: search modes and orders, file states, why a file was
not indexed, the notes a search answers with, and an embedder's identity.

Each is a ``StrEnum`` (or a ``str``), so an index, a settings file or ``--json`` written before keeps
meaning the same, while code compares members, never spellings. Importing this module loads nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    """How a search finds passages."""

    BM25 = "bm25"  # keywords only
    DENSE = "dense"  # meaning only
    HYBRID = "hybrid"  # both, fused


class Sort(StrEnum):
    """How a search orders its documents."""

    RELEVANCE = "relevance"
    DATE = "date"  # newest first


class FileStatus(StrEnum):
    """Where a file is in the index."""

    TEXT = "text"  # keyword-searchable; vectors pending
    INDEXED = "indexed"  # keyword- and meaning-searchable
    ERROR = "error"  # not indexed: its ``error`` says why (a failure or a skip, see ``ProblemKind``)


class ProblemKind(StrEnum):
    """Why a file is not in the index."""

    FAILED = "failed"  # Sleuth reads this kind of file, but not this one (damaged, encrypted, too big, …)
    SKIPPED = "skipped"  # a verdict on the file's type: not a document Sleuth reads (a later Sleuth may)


class NoteKind(StrEnum):
    """What a note on a search answer is about; the window and ``--json`` show its text."""

    QUERY = "query"  # the query's syntax: an unknown filter, a lone quote
    CORRECTED = "corrected"  # a misspelt word was searched as its nearest indexed spelling
    NO_MODEL = "no-model"  # no embedding model: keyword results only
    MODEL_LOADING = "model-loading"  # the embedding model is loading: keyword results only for now
    DENSE_SKIPPED = "dense-skipped"  # the search vectors are being rebuilt, or dense search failed this time
    KEYWORDS_LEAD = "keywords-lead"  # dense search has no weight in fusion on this index
    PENDING = "pending"  # passages still without vectors
    NO_RERANKER = "no-reranker"  # reranking was asked for, and none is configured
    RERANKER = "reranker"  # the reranker could not be loaded, or failed: the fused order stands
    EMPTY = "empty"  # nothing to search: no words, or nothing indexed yet
    OTHER = "other"


class Note(str):
    """A note on a search answer: its text (a ``str``, as the window, the CLI and ``--json`` show it) and its
    ``kind``, which code compares instead of the wording."""

    kind: NoteKind

    def __new__(cls, kind: NoteKind, text: str) -> Note:
        note = super().__new__(cls, text)
        note.kind = kind
        return note

    def __reduce__(self) -> tuple[type[Note], tuple[NoteKind, str]]:
        return (Note, (self.kind, str(self)))


def note_kind(note: str) -> NoteKind:
    """The kind of a note; a plain string (from an older caller) is ``OTHER``."""
    return note.kind if isinstance(note, Note) else NoteKind.OTHER


ADAPTER_MARK = "+adapter:"
DEPTH_MARK = "+depth:"
INT8_MARK = "+int8"


@dataclass(frozen=True)
class EmbedderIdentity:
    """What made a set of vectors, as an index profile records it (``Embedder.name``).

    ``model`` is ``backend:source`` (``llara:smollm2-135m``, ``encoder:minilm-l6-v2``) or a bare source;
    ``adapter`` names a merged LoRA adapter and its digest; ``depth`` the decoder layers run where the model
    exits early (0: all); ``int8`` whether Linear layers run in int8. ``str()`` is the recorded form
    (``llara:smollm2-135m+adapter:bundled@6848c0f44efe+depth:12+int8``), which :meth:`parse` reads back.
    """

    model: str
    adapter: str = ""
    depth: int = 0
    int8: bool = False

    def __str__(self) -> str:
        name = self.model
        if self.adapter:
            name += ADAPTER_MARK + self.adapter
        if self.depth:
            name += f"{DEPTH_MARK}{self.depth}"
        if self.int8:
            name += INT8_MARK
        return name

    @classmethod
    def parse(cls, name: str) -> EmbedderIdentity:
        int8 = name.endswith(INT8_MARK)
        rest = name.removesuffix(INT8_MARK)
        rest, _, depth = rest.partition(DEPTH_MARK)
        model, _, adapter = rest.partition(ADAPTER_MARK)
        return cls(model, adapter, int(depth) if depth.isdigit() else 0, int8)

    @property
    def backend(self) -> str:
        """``llara``, ``encoder``, or empty for a bare source."""
        backend, _, _source = self.model.partition(":")
        return backend if backend in ("llara", "encoder") else ""

    @property
    def source(self) -> str:
        """The model's own name or folder, without the backend."""
        return self.model.partition(":")[2] if self.backend else self.model

    def with_adapter(self, adapter: str) -> EmbedderIdentity:
        return EmbedderIdentity(self.model, adapter, self.depth, self.int8)

    def with_depth(self, depth: int) -> EmbedderIdentity:
        return EmbedderIdentity(self.model, self.adapter, depth, self.int8)

    def quantised(self) -> EmbedderIdentity:
        return EmbedderIdentity(self.model, self.adapter, self.depth, True)
