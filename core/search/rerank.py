"""Cross-encoder reranking with any Hugging Face sequence-classification model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import ModelUnavailable


class CrossEncoderReranker:
    """Scores (query, passage) pairs jointly; slower than vectors, so only the top candidates are rescored."""

    def __init__(self, model: str, *, device: str = "cpu", max_length: int = 512, batch_size: int = 16) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.name = model
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForSequenceClassification.from_pretrained(model).to(device).eval()
        except (OSError, ValueError) as exc:
            where = "folder" if Path(model).exists() else "model id"
            raise ModelUnavailable(
                f"Cannot load the reranker {model!r} ({where}): {exc.__class__.__name__}. "
                "Check the path, or connect to the internet once so the model can be downloaded."
            ) from exc
        self._torch = torch

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        scores: list[np.ndarray] = []
        with self._torch.inference_mode():
            for start in range(0, len(passages), self.batch_size):
                batch = list(passages[start : start + self.batch_size])
                encoded = self.tokenizer(
                    [query] * len(batch),
                    batch,
                    padding=True,
                    truncation="only_second",
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                logits = self.model(**encoded).logits.float()
                # One logit is a relevance score; two or more are classes whose last one means "relevant".
                column = logits[:, 0] if logits.shape[1] == 1 else logits.log_softmax(-1)[:, -1]
                scores.append(column.cpu().numpy())
        return np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)
