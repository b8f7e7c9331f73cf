"""Adapt the LLaRA embedder to the user's own documents with a LoRA adapter (no labels needed).

Two stages, both on the exact prompts and read-out of :class:`core.embedding.llara.LlaraEmbedder`:

1. ``ebae``: EBAE/EBAR (the LLaRA paper). One pass over ``prefix + text + passage suffix + query
   suffix``; a 4-D mask keeps the query suffix from seeing the passage suffix and it reuses that
   suffix's position ids. Logits at <s1>..<s8> predict the chunk's own bag of words, at <s9>..<s16>
   the bag of words of the next chunk of the same file.
2. ``contrastive``: in-batch-negative InfoNCE (temperature 0.05, symmetric) on pairs mined from the
   documents (heading or first sentence -> rest of the chunk; chunk -> next chunk), summed over the
   Matryoshka truncations full, 512, 256, 128, 64; optional BM25 hard negatives from other files.

LoRA on q, k, v, o, gate, up, down; the 16 <sN> embedding rows train as a small delta (peft
``trainable_token_indices``, tied heads included). The adapter holds no embedding matrix.

API (all long work is a generator; render the events, cancel between steps)::

    from core.jobs import CancelToken
    from core.training import AdaptOptions, adapt_index, activate_adapter

    cancel = CancelToken()                      # cancel.cancel() from any thread; pause()/resume() work too
    for event in adapt_index(store, settings, AdaptOptions(steps=300, device=settings.device), cancel):
        ...                                     # AdaptProgress: phase, step, total, loss, rate, eta_s, message
    activate_adapter(settings, event.adapter_dir)   # then run the Indexer: a new profile is built beside the old

Events (:class:`AdaptProgress`): ``prepare`` (loading, resuming), ``estimate`` (``eta_s`` for the whole
run with a message like "600 steps, about 25 minutes on cpu; measured on this computer", before the model
loads: :func:`plan_adaptation` gives the same without training, from the seconds per step the last run
kept, see :mod:`core.training.estimate`), ``ebae``/``contrastive`` after every step (``step`` of
``total``, ``loss``, ``rate`` steps/s, ``eta_s``, ``details``), ``checkpoint``, ``save``, ``done``
(``adapter_dir``). Cancelling raises
:class:`core.errors.Cancelled` after writing a checkpoint; calling again with the same run name
continues from it (weights, optimizer state, stage and step) if the options and passages are unchanged.

Files: checkpoints in ``data_dir()/training/<name>/`` (also ``after-ebae/``, the adapter after stage 1);
the adapter in ``data_dir()/adapters/<name>/`` (peft files + tokenizer), never overwriting the adapter
the current index uses. :class:`Adaptation` trains on any list of :class:`Passage` (see
``scripts/train_default_adapter.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.training.adapt import activate_adapter, adapt_index, adapter_dir_for, plan_adaptation, training_dir
    from core.training.data import Pair, Passage, contrastive_pairs, passages_from_index, passages_from_texts
    from core.training.estimate import Plan
    from core.training.trainer import Adaptation, AdaptOptions, AdaptProgress

#: The run (and adapter) name ``sleuth adapt`` and the window use: either one resumes the other's run.
DEFAULT_RUN_NAME = "my-documents"

# torch takes seconds to import: names load on first use, so ``sleuth --help`` stays fast.
_LAZY = {
    "activate_adapter": "core.training.adapt",
    "adapt_index": "core.training.adapt",
    "adapter_dir_for": "core.training.adapt",
    "plan_adaptation": "core.training.adapt",
    "Plan": "core.training.estimate",
    "training_dir": "core.training.adapt",
    "Pair": "core.training.data",
    "Passage": "core.training.data",
    "contrastive_pairs": "core.training.data",
    "passages_from_index": "core.training.data",
    "passages_from_texts": "core.training.data",
    "AdaptOptions": "core.training.trainer",
    "AdaptProgress": "core.training.trainer",
    "Adaptation": "core.training.trainer",
}
__all__ = [
    "AdaptOptions",
    "AdaptProgress",
    "Adaptation",
    "Pair",
    "Passage",
    "Plan",
    "activate_adapter",
    "adapt_index",
    "adapter_dir_for",
    "contrastive_pairs",
    "passages_from_index",
    "passages_from_texts",
    "plan_adaptation",
    "training_dir",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
