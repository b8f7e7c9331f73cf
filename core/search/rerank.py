"""Cross-encoder reranking: the bundled reranker Sleuth trains and ships, or any Hugging Face cross-encoder.

The bundled reranker (setting ``bundled``) is the bundled all-MiniLM-L6-v2 weights read as a BERT cross-encoder
(``[CLS] query [SEP] passage [SEP]`` -> one relevance logit) with a LoRA adapter and a scoring head from
``resources/rerankers/minilm-l6-v2`` (trained by ``scripts/train_default_reranker.py``). The adapter is merged
into the weights on load, so reranking costs one plain forward pass.

Each candidate is cut to the window around its best-matching words (:func:`passage_window`), as in training:
a cross-encoder reads about 128 tokens in the time budget of a search, and the words that match the query are
what it has to judge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ModelUnavailable

if TYPE_CHECKING:
    from core.settings import Settings

BUNDLED = "bundled"
BUNDLED_TITLE = "Sleuth's reranker (MiniLM-L6)"
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
_WORD = re.compile(r"\w+", re.UNICODE)


def _stem(word: str) -> str:
    return word.lower()[:5]


def passage_window(query: str, text: str, words: int = WINDOW_WORDS) -> str:
    """The ``words``-word stretch of ``text`` that holds the most distinct query words (the first such).

    Text of ``words`` words or fewer is returned whole; so is text without spaces (CJK), which the
    tokenizer's truncation cuts instead.
    """
    tokens = text.split()
    if len(tokens) <= words:
        return text
    wanted = {_stem(w) for w in _WORD.findall(query) if len(w) > 1}
    if not wanted:
        return " ".join(tokens[:words])
    stems = [{_stem(w) for w in _WORD.findall(token)} & wanted for token in tokens]
    step = max(1, words // 8)
    starts = sorted({min(start, len(tokens) - words) for start in range(0, len(tokens), step)})
    coverage = [len(set().union(*stems[start : start + words])) for start in starts]
    best = max(coverage)
    if best == 0:
        return " ".join(tokens[:words])
    # The first run of windows that cover the most query words, and of those the middle one: the matches
    # then sit in the window's centre, with context on both sides.
    first = coverage.index(best)
    last = first
    while last + 1 < len(coverage) and coverage[last + 1] == best:
        last += 1
    best_start = starts[(first + last) // 2]
    return " ".join(tokens[best_start : best_start + words])


def _autocast(device: str, precision: str) -> AbstractContextManager[Any]:
    import torch

    from core.embedding.device import cpu_has_fast_bf16

    kind = device.split(":")[0]
    if precision == "fp32":
        return nullcontext()
    if kind == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    if kind == "cpu" and (precision == "bf16" or (precision == "auto" and cpu_has_fast_bf16())):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


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
        """``model``: ``bundled``, a folder or a hub id of a sequence-classification cross-encoder."""
        import torch

        self.name = model
        self.device = device
        self.max_length = max_length
        self.batch_size = batch_size
        self.precision = precision
        self.window_words = window_words
        self._torch = torch
        try:
            if model == BUNDLED:
                self.tokenizer, self.model = load_bundled(device)
            elif (Path(model).expanduser() / "adapter_config.json").is_file():  # one Sleuth trained
                self.tokenizer, self.model = load_bundled(device, Path(model).expanduser())
            else:
                from transformers import AutoModelForSequenceClassification, AutoTokenizer

                self.tokenizer = AutoTokenizer.from_pretrained(model)
                self.model = AutoModelForSequenceClassification.from_pretrained(model).to(device).eval()
        except (OSError, ValueError) as exc:
            where = "bundled" if model == BUNDLED else "folder" if Path(model).exists() else "model id"
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
        scores: list[np.ndarray] = []
        texts = [self.window(query, p) for p in passages]
        with self._torch.inference_mode(), _autocast(self.device, self.precision):
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
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


def settings_reranker(settings: Settings) -> CrossEncoderReranker | None:
    """The reranker the settings name, on their device and precision; None when reranking is off.

    The one loader of the search box, ``sleuth search`` and ``sleuth eval``; raises ModelUnavailable.
    """
    if not settings.reranker:
        return None
    from core.embedding.device import select_device

    precision = settings.precision if settings.precision in ("fp32", "bf16") else "auto"
    return CrossEncoderReranker(settings.reranker, device=select_device(settings.device), precision=precision)


def reranker_title(name: str) -> str:
    """How the window and the CLI name a reranker setting."""
    return BUNDLED_TITLE if name == BUNDLED else name
