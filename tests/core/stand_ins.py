"""Stand-ins for the parts a test sets by hand."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class FixedQuery:
    """An embedder stand-in whose query vector is set by the test (passages come with vectors already)."""

    name = "fixed"

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.vector = np.zeros(dimension, np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.vector for _ in texts])
