"""Text to vectors: the Embedder protocol, the LLaRA embedder, Matryoshka truncation.

torch and transformers take seconds to import, so the names that need them are
loaded on first use; ``truncate``, ``project`` and ``Embedder`` stay cheap for the store and CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from core.embedding.base import Embedder, l2_normalize
from core.embedding.matryoshka import project, truncate

if TYPE_CHECKING:
    from core.embedding.device import select_device, select_dtype
    from core.embedding.encoder import EncoderEmbedder
    from core.embedding.llara import LlaraEmbedder
    from core.embedding.registry import load_embedder

__all__ = [
    "Embedder",
    "EncoderEmbedder",
    "LlaraEmbedder",
    "l2_normalize",
    "load_embedder",
    "project",
    "select_device",
    "select_dtype",
    "truncate",
]

_LAZY = {
    "LlaraEmbedder": "core.embedding.llara",
    "load_embedder": "core.embedding.registry",
    "EncoderEmbedder": "core.embedding.encoder",
    "select_device": "core.embedding.device",
    "select_dtype": "core.embedding.device",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
