"""Sleuth's bundled reranker: how likely the bundled language model finds the query, given the passage.

A query-likelihood reranker (the idea of UPR, Sachan et al. 2022, arXiv 2204.07496): the bundled SmolLM2-135M
reads ``Passage: <window>`` and a cue, and the score of a candidate is the mean log-probability the model gives
the query's tokens after it. The model is the one Sleuth already ships and converts for embedding, read as the
language model it was trained to be (no adapter), so it needs no download and no training of its own: on the
evaluation sets it ranks better than the MiniLM cross-encoder Sleuth trained (docs/benchmarks.md, "Reranking").

Every candidate is cut to the window around its best-matching words, as the cross-encoder's are; the model
runs each (passage, query) pair once, and the vocabulary projection only where the query's tokens are
predicted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from core.errors import ModelUnavailable
from core.search.window import passage_window

TITLE = "Sleuth's reranker (SmolLM2 query likelihood)"
#: Words of a passage the model reads: the window around the best-matching span. 40 ranked about as well as 80
#: on every evaluation set, at half the cost (docs/benchmarks.md, "Reranking").
WINDOW_WORDS = 40
#: At most this many of the window's tokens (text without spaces is not cut by words), and of the query's.
MAX_PASSAGE_TOKENS = 128
MAX_QUERY_TOKENS = 32
_PREFIX = "Passage:"
_CUE = "\nA search query this passage answers:"


class QueryLikelihoodReranker:
    """Scores each passage by the mean log-probability of the query's tokens, the passage read first."""

    def __init__(
        self,
        name: str,
        *,
        device: str = "cpu",
        precision: str = "auto",
        cache_dir: Path | None = None,
        window_words: int = WINDOW_WORDS,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from core.embedding.bundled import bundled_model_dir
        from core.embedding.device import pad_multiple, select_dtype

        self.name = name
        self.device = device
        self.window_words = window_words
        self._torch = torch
        folder = bundled_model_dir(cache_dir, progress)
        dtype = select_dtype(device, precision)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
            model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"Cannot load the bundled reranker from {folder}: {exc}") from exc
        cast(torch.nn.Module, model).to(device)  # transformers wraps .to() with a signature mypy misreads
        self.model: Any = model.eval()
        self._pad = int(self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0)
        self._pad_multiple = pad_multiple(device, dtype)
        self._prefix = self._ids(_PREFIX)
        self._cue = self._ids(_CUE)

    @property
    def title(self) -> str:
        return TITLE

    def window(self, query: str, text: str) -> str:
        return passage_window(query, text, self.window_words)

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One score per passage, higher is better: the query's mean token log-probability after it."""
        from core.embedding.device import padded_width

        if not passages:
            return np.zeros(0, dtype=np.float32)
        target = self._ids(" " + query.strip())[:MAX_QUERY_TOKENS] or [self._pad]
        rows = [
            self._prefix + self._ids(" " + self.window(query, p))[:MAX_PASSAGE_TOKENS] + self._cue for p in passages
        ]
        # Whole widths in bf16 on a CPU, as the embedders pad (core.embedding.device.pad_multiple).
        length = padded_width(max(len(row) for row in rows) + len(target), self._pad_multiple)
        torch = self._torch
        ids = torch.full((len(rows), length), self._pad, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        for i, row in enumerate(rows):  # right padding: each row's positions start at 0
            ids[i, : len(row) + len(target)] = torch.tensor(row + target)
            mask[i, : len(row) + len(target)] = 1
        # The hidden state before each query token predicts it.
        where = torch.tensor([len(row) - 1 + j for row in rows for j in range(len(target))], device=self.device)
        which = torch.arange(len(rows), device=self.device).repeat_interleave(len(target))
        wanted = torch.tensor(target * len(rows), device=self.device)
        with torch.inference_mode():
            states = self.model.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))
            logits = self.model.lm_head(states.last_hidden_state[which, where]).float()
            picked = logits.log_softmax(-1)[torch.arange(len(wanted), device=self.device), wanted]
        return picked.view(len(rows), len(target)).mean(1).cpu().numpy().astype(np.float32)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
