"""Matryoshka truncation: search a short prefix of each vector, keep the full one for rescoring.

LLaRA was not trained with a Matryoshka loss, so what truncation costs must be
measured (see DESIGN.md); this module only does the arithmetic.
"""

from __future__ import annotations

import numpy as np

from core.embedding.base import l2_normalize


def truncate(vectors: np.ndarray, dim: int) -> np.ndarray:
    """First ``dim`` columns, re-normalised, as a new float32 array (rows or a single vector)."""
    array = np.asarray(vectors)
    if array.ndim not in (1, 2):
        raise ValueError(f"expected a vector or a 2-D array of vectors, got shape {array.shape}")
    full = array.shape[-1]
    if not 0 < dim <= full:
        raise ValueError(f"cannot truncate {full}-dimensional vectors to {dim} dimensions")
    return l2_normalize(array[..., :dim])
