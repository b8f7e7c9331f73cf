"""What every embedder offers, so indexing and search never depend on one model family."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@runtime_checkable
class Embedder(Protocol):
    """Turns text into unit vectors; queries and passages are embedded differently.

    ``name`` is recorded with every vector in the index, so a change of model or
    adapter is noticed and triggers re-embedding. ``tokenizer`` is exposed because
    chunking must count tokens exactly as the model will see them. ``early_exit``
    is the layer a LLaRA model is read out at when it stops before its last one
    (0: it runs every layer), recorded with the index profile for the same reason.
    """

    name: str
    dimension: int
    early_exit: int
    max_length: int
    tokenizer: PreTrainedTokenizerBase
    device: str

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 array (len(texts), dimension) of L2-normalised query vectors."""
        ...

    def embed_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Float32 array (len(texts), dimension) of L2-normalised passage vectors."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of the raw text, without any prompt or special tokens."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows as float32; all-zero rows stay zero instead of becoming NaN."""
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=-1, keepdims=True)
    return np.ascontiguousarray(out / np.maximum(norms, np.finfo(np.float32).tiny))
