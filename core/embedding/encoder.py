"""Bi-encoder backend: sentence-transformers models (MiniLM, BGE, E5, GTE, nomic) with mean or CLS pooling.

It is the baseline the LLaRA default is measured against, and a choice for users who prefer a
small, well-trained encoder. Pooling, normalisation, query/passage prefixes and the sequence
limit come from the model's own sentence-transformers files where it has them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from core.embedding.device import pad_multiple, precision_name
from core.embedding.loading import StatusSink, cached_first, cached_snapshot, load_step, quiet
from core.errors import ModelUnavailable

# Families whose model cards ask for prefixes but whose files do not always say so.
KNOWN_PREFIXES: tuple[tuple[str, str, str], ...] = (
    ("e5", "query: ", "passage: "),
    ("bge-", "Represent this sentence for searching relevant passages: ", ""),
    ("nomic-embed", "search_query: ", "search_document: "),
)


@dataclass(frozen=True)
class EncoderConfig:
    pooling: str = "mean"  # "mean" or "cls"
    query_prefix: str = ""
    passage_prefix: str = ""
    max_length: int = 512


class EncoderEmbedder:
    """Embeds with a bi-encoder; see :class:`core.embedding.base.Embedder`."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        config: EncoderConfig,
        *,
        name: str,
        device: str,
        batch_size: int | None = None,
    ) -> None:
        if not tokenizer.is_fast:
            raise ModelUnavailable(f"Model {name} has no fast tokenizer; chunking needs offset mappings.")
        self.name = name
        self.early_exit = 0
        self.device = device
        self.config = config
        self.max_length = config.max_length
        self.tokenizer = tokenizer
        self.model = model.eval()
        self.dimension = int(model.config.hidden_size)
        self.dtype = next(model.parameters()).dtype
        self.precision = precision_name(self.dtype)
        self.pad_multiple = pad_multiple(device, self.dtype)
        self.batch_size = batch_size or (32 if device == "cpu" else 128)

    def __repr__(self) -> str:
        return f"EncoderEmbedder({self.name!r}, dimension={self.dimension}, {self.config.pooling}, {self.device})"

    def count_tokens(self, text: str) -> int:
        ids = self.tokenizer(text, add_special_tokens=False, split_special_tokens=True, verbose=False)["input_ids"]
        return len(ids)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.config.query_prefix + t for t in texts], self.batch_size)

    def embed_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return self._embed([self.config.passage_prefix + t for t in texts], batch_size or self.batch_size)

    def _embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._forward([texts[i] for i in rows])
        return out

    @torch.inference_mode()
    def _forward(self, texts: list[str]) -> np.ndarray:
        # Whole widths (core.embedding.device.PAD_MULTIPLE), where the rounding cannot pass the model's limit.
        bucket = self.pad_multiple if self.max_length % self.pad_multiple == 0 else None
        encoded = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            pad_to_multiple_of=bucket,
            return_tensors="pt",
            split_special_tokens=True,
        ).to(self.device)
        hidden = self.model(**encoded).last_hidden_state.float()
        if self.config.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()


def read_encoder_config(source: str, label: str) -> EncoderConfig:
    """Pooling, prefixes and length limit from a sentence-transformers directory (or hub repo)."""
    modules = _json(source, "modules.json")
    pooling_dir = next(
        (m.get("path", "") for m in modules or [] if str(m.get("type", "")).endswith("Pooling")), "1_Pooling"
    )
    pooling_config = _json(source, f"{pooling_dir}/config.json".lstrip("/")) or {}
    pooling = "cls" if pooling_config.get("pooling_mode_cls_token") else "mean"
    bert_config = _json(source, "sentence_bert_config.json") or {}
    st_config = _json(source, "config_sentence_transformers.json") or {}
    prompts = st_config.get("prompts") or {}
    query_prefix = str(prompts.get("query", ""))
    passage_prefix = str(prompts.get("document", prompts.get("passage", "")))
    if not prompts:
        lowered = label.lower()
        for family, query, passage in KNOWN_PREFIXES:
            if family in lowered:
                query_prefix, passage_prefix = query, passage
                break
    return EncoderConfig(pooling, query_prefix, passage_prefix, int(bert_config.get("max_seq_length", 512)))


def _json(source: str, filename: str) -> Any:
    """A JSON file from a local directory, or from the hub cache/download for a hub id; None if absent."""
    source = cached_snapshot(source) or source
    path = Path(source) / filename
    if not path.is_file() and not Path(source).is_dir():
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(source, filename))
        except Exception:  # absent file, or no network: fall back to defaults
            return None
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_encoder(
    source: str,
    *,
    label: str,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    max_length: int | None = None,
    progress: StatusSink = quiet,
) -> EncoderEmbedder:
    progress(f"Loading model {label}…")
    config = read_encoder_config(source, label)
    if max_length is not None:
        config = EncoderConfig(
            config.pooling, config.query_prefix, config.passage_prefix, min(max_length, config.max_length)
        )
    tokenizer = load_step("the tokenizer of", source, lambda: cached_first(AutoTokenizer.from_pretrained, source))
    model: PreTrainedModel = load_step(
        "model", source, lambda: cached_first(AutoModel.from_pretrained, source, dtype=dtype)
    )
    cast(torch.nn.Module, model).to(device)
    return EncoderEmbedder(model, tokenizer, config, name=f"encoder:{label}", device=device)
