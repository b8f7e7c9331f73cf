"""Reranking: which reranker the settings name, and the cross-encoders (Sleuth's trained one, or the hub's).

The default (setting ``bundled``) is the bundled SmolLM2 read as a query-likelihood reranker
(:mod:`core.search.query_likelihood`). ``bundled-minilm`` is the cross-encoder Sleuth trained: the bundled
all-MiniLM-L6-v2 weights read as a BERT cross-encoder (``[CLS] query [SEP] passage [SEP]`` -> one relevance
logit) with a LoRA adapter and a scoring head from ``resources/rerankers/minilm-l6-v2`` (trained by
``scripts/train_default_reranker.py``), merged into the weights on load. A folder ``sleuth adapt`` trained, or a
hub cross-encoder, is read the same way.

Each candidate is cut to the window around its best-matching words (:func:`core.search.window.passage_window`),
as in training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from core.errors import ModelUnavailable
from core.search.window import passage_window

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.settings import Settings

BUNDLED = "bundled"
#: Rescoring by each candidate's best sentence, with the index's own embedder (core.search.sentence_rerank).
SENTENCES = "sentences"
#: The cross-encoder Sleuth trained, the bundled reranker until the query-likelihood one ranked better.
BUNDLED_MINILM = "bundled-minilm"
BUNDLED_MINILM_TITLE = "Sleuth's trained cross-encoder (MiniLM-L6)"
#: Cross-encoders from the hub the settings offer beside the bundled one (downloaded once, on first use).
HUB_RERANKERS = (
    "cross-encoder/ms-marco-MiniLM-L-6-v2",
    "mixedbread-ai/mxbai-rerank-xsmall-v1",
    "BAAI/bge-reranker-base",
)
#: The adapter and head of the bundled reranker, shipped with Sleuth.
BUNDLED_DIR = Path(__file__).resolve().parents[2] / "resources" / "rerankers" / "minilm-l6-v2"
#: Query and passage window together, in the cross-encoder's tokens (its training length).
MAX_TOKENS = 128
#: Words of a passage the cross-encoder reads: the window around the best-matching span.
WINDOW_WORDS = 80


def _cpu_bf16(device: str, precision: str) -> bool:
    from core.embedding.device import cpu_has_fast_bf16

    return device.split(":")[0] == "cpu" and (precision == "bf16" or (precision == "auto" and cpu_has_fast_bf16()))


def _autocast(device: str, precision: str) -> AbstractContextManager[Any]:
    import torch

    if precision == "fp32":
        return nullcontext()
    if device.split(":")[0] == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    if _cpu_bf16(device, precision):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


class Reranker(Protocol):
    """What search needs of a reranker: a name, a title to show, the window it reads, and scores."""

    name: str

    @property
    def title(self) -> str: ...

    def window(self, query: str, text: str) -> str: ...

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray: ...


class CrossEncoderReranker:
    """Scores (query, passage) pairs jointly; slower than vectors, so only the top candidates are rescored."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        max_length: int = MAX_TOKENS,
        batch_size: int = 32,
        precision: str = "auto",
        window_words: int | None = WINDOW_WORDS,
    ) -> None:
        """``model``: ``bundled-minilm``, a folder or a hub id of a sequence-classification cross-encoder."""
        import torch

        self.name = model
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        self.precision = precision
        self.window_words = window_words
        self._torch = torch
        try:
            if model == BUNDLED_MINILM:
                self.tokenizer, self.model = load_bundled(device)
            elif (Path(model).expanduser() / "adapter_config.json").is_file():  # one Sleuth trained
                self.tokenizer, self.model = load_bundled(device, Path(model).expanduser())
            else:
                from transformers import AutoModelForSequenceClassification, AutoTokenizer

                from core.embedding.loading import cached_first

                self.tokenizer = cached_first(AutoTokenizer.from_pretrained, model)
                loaded = cached_first(AutoModelForSequenceClassification.from_pretrained, model)
                self.model = loaded.to(device).eval()
        except (OSError, ValueError) as exc:
            where = "bundled" if model == BUNDLED_MINILM else "folder" if Path(model).exists() else "model id"
            raise ModelUnavailable(
                f"Cannot load the reranker {model!r} ({where}): {exc.__class__.__name__}: {exc}. "
                "Check the path, or connect to the internet once so the model can be downloaded."
            ) from exc

    @property
    def title(self) -> str:
        return reranker_title(self.name)

    def window(self, query: str, text: str) -> str:
        return passage_window(query, text, self.window_words) if self.window_words else text

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One relevance score per passage, higher is better."""
        from core.embedding.device import PAD_MULTIPLE

        scores: list[np.ndarray] = []
        texts = [self.window(query, p) for p in passages]
        # In bf16 on a CPU, whole widths (core.embedding.device.PAD_MULTIPLE), where they stay within the limit.
        whole = _cpu_bf16(self.device, self.precision) and self.max_length % PAD_MULTIPLE == 0
        bucket = PAD_MULTIPLE if whole else None
        with self._torch.inference_mode(), _autocast(self.device, self.precision):
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                encoded = self.tokenizer(
                    [query] * len(batch),
                    batch,
                    padding=True,
                    truncation="only_second",
                    max_length=self.max_length,
                    pad_to_multiple_of=bucket,
                    return_tensors="pt",
                ).to(self.device)
                logits = self.model(**encoded).logits.float()
                # One logit is a relevance score; two or more are classes whose last one means "relevant".
                column = logits[:, 0] if logits.shape[1] == 1 else logits.log_softmax(-1)[:, -1]
                scores.append(column.cpu().numpy())
        return np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)


def load_bundled(device: str, adapter_dir: Path = BUNDLED_DIR) -> tuple[Any, Any]:
    """The bundled MiniLM weights with a reranker adapter (by default the shipped one) merged in: (tokenizer, model)."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.embedding.bundled_encoder import bundled_encoder_dir

    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelUnavailable(f"No reranker adapter in {adapter_dir}; reinstall Sleuth or train it again.")
    base = bundled_encoder_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    return tokenizer, merged.to(device).eval()


#: Why reranking is off unless turned on, with what was measured (docs/benchmarks.md, "Reranking"); the settings
#: panel shows it under the reranker.
WHY_OFF = (
    "Off by default: on the test halves of Sleuth's five evaluation sets (247 queries) the bundled reranker added "
    "+0.008 MRR@10 to hybrid search (95% interval −0.005 … +0.021), below the +0.02 a default needs, and ranked "
    "questions lower; no other reranker that runs offline did better on the dev halves."
)


@dataclass(frozen=True)
class RerankDefaults:
    """How many candidates a kind of reranker reads, and its share of the order, where the settings leave it."""

    top_n: int
    weight: float


#: Measured on the evaluation sets (docs/benchmarks.md, "Reranking"). The language model: top 5 fits 0.3 s at
#: p95 on a 2-core CPU, and 0.5 kept it level with or above hybrid search on every set. A cross-encoder: at the
#: language model's numbers the MiniLM one fell below hybrid search on two sets; at 20 and 0.3 it did not.
QUERY_LIKELIHOOD_DEFAULTS = RerankDefaults(top_n=5, weight=0.5)
CROSS_ENCODER_DEFAULTS = RerankDefaults(top_n=20, weight=0.3)


def reranker_defaults(name: str) -> RerankDefaults:
    return QUERY_LIKELIHOOD_DEFAULTS if name == BUNDLED else CROSS_ENCODER_DEFAULTS


def top_n_for(settings: Settings) -> int:
    """The candidates to rerank: the setting, or (at 0) the reranker's own number."""
    return settings.rerank_top_n or reranker_defaults(settings.reranker).top_n


def weight_for(settings: Settings) -> float:
    """The reranker's share of the order: the setting, or (at -1) the reranker's own share."""
    return settings.rerank_weight if settings.rerank_weight >= 0 else reranker_defaults(settings.reranker).weight


def resolved_for(settings: Settings, name: str | None = None) -> Settings:
    """``settings`` with the top N and the share as numbers, for the reranker ``name`` (default: the setting's)."""
    import dataclasses

    named = dataclasses.replace(settings, reranker=settings.reranker if name is None else name)
    return dataclasses.replace(settings, rerank_top_n=top_n_for(named), rerank_weight=weight_for(named))


def settings_reranker(
    settings: Settings, progress: Callable[[str], None] | None = None, embedder: Embedder | None = None
) -> Reranker | None:
    """The reranker the settings name, on their device and precision; None when reranking is off.

    The one loader of the search box, ``sleuth search`` and ``sleuth eval``; raises ModelUnavailable.
    ``embedder``: the index's embedder, which the best-sentence reranker reads with (loaded when not given).
    """
    if not settings.reranker:
        return None
    if settings.reranker == SENTENCES:
        from core.search.sentence_rerank import SentenceReranker

        if embedder is None:
            from core.index.indexer import settings_embedder

            embedder = settings_embedder(settings)
        return SentenceReranker(embedder)
    from core.embedding.device import select_device

    precision = settings.precision if settings.precision in ("fp32", "bf16") else "auto"
    device = select_device(settings.device)
    if settings.reranker == BUNDLED:
        from core.search.query_likelihood import QueryLikelihoodReranker

        return QueryLikelihoodReranker(BUNDLED, device=device, precision=precision, progress=progress)
    return CrossEncoderReranker(settings.reranker, device=device, precision=precision)


def reranker_title(name: str) -> str:
    """How the window and the CLI name a reranker setting."""
    if name == BUNDLED:
        from core.search.query_likelihood import TITLE

        return TITLE
    if name == SENTENCES:
        from core.search.sentence_rerank import TITLE as SENTENCES_TITLE

        return SENTENCES_TITLE
    return BUNDLED_MINILM_TITLE if name == BUNDLED_MINILM else name
