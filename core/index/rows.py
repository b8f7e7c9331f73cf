"""A passage as the chunks table stores it: its id and the keyword columns derived from its text.

Light to import (no LanceDB): the text phase's reader processes (``core.index.reading``) build rows with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from core.index.cjk import bigrams, glued
from core.index.names import path_bytes, stored

#: The column of CJK/Thai bigrams (core.index.cjk).
CJK_COLUMN = "text_cjk"
#: Latin words written against a CJK/Thai run, split off it (core.index.cjk.glued): "" where there are none,
#: NULL in a row without such runs that an older Sleuth wrote. Its FTS index exists once a row has a word.
GLUED_COLUMN = "text_glued"
#: A digest of the passage's text (:func:`text_digest`): a passage whose text already has a vector reuses it.
HASH_COLUMN = "text_hash"


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def chunk_id_prefix(path: str, file_hash: str) -> str:
    """From the name's bytes on disk, so a name that is not valid UTF-8 has an id too."""
    return f"{hashlib.sha1(path_bytes(path)).hexdigest()[:16]}-{file_hash[:16]}-"


def chunk_id(path: str, file_hash: str, ordinal: int) -> str:
    """Deterministic, so writing the same chunk twice (a resumed run) replaces it instead of duplicating it."""
    return f"{chunk_id_prefix(path, file_hash)}{ordinal}"


@dataclass(frozen=True)
class ChunkRow:
    path: str
    file_hash: str
    ordinal: int
    text: str
    page: int | None
    char_start: int
    char_end: int
    n_tokens: int

    @property
    def id(self) -> str:
        return chunk_id(self.path, self.file_hash, self.ordinal)

    def to_row(self) -> dict[str, Any]:
        text = self.text
        return {
            "id": self.id,
            "path": stored(self.path),
            "file_hash": self.file_hash,
            "ordinal": self.ordinal,
            "text": text,
            "page": self.page,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "n_tokens": self.n_tokens,
            "vector": None,
            "vector_search": None,
            CJK_COLUMN: bigrams(text),
            GLUED_COLUMN: glued(text),
            HASH_COLUMN: text_digest(text),
        }
