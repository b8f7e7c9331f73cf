"""The adaptation run: a generator of progress events that trains a LoRA adapter in two stages.

Stage ``ebae`` (EBAE/EBAR bag-of-words prediction) then stage ``contrastive`` (InfoNCE with a
Matryoshka loss); or stage ``distill`` alone, where a shallower embedder learns a deeper teacher's
vectors for the same pairs (:mod:`core.training.distill`). Between steps the run checks its cancel
token; every ``checkpoint_every`` steps, at the end of a stage and on cancel it writes a checkpoint
(trainable weights, optimizer state, stage and step) to its run folder, and the same call later
continues from there.
"""

from __future__ import annotations

import json
import math
import pickle
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from core.embedding.device import cpu_has_fast_bf16
from core.embedding.llara import LlaraEmbedder, layer_count, load_projection, new_projection, save_projection
from core.embedding.loading import ADAPTER_FACTS, adapter_identity
from core.errors import Cancelled, ConfigError, SleuthError
from core.jobs import CancelToken
from core.training.data import Pair, Passage, add_hard_negatives, contrastive_pairs, fingerprint, following_passages
from core.training.distill import TeacherTargets, check_teacher, distillation_loss, fit_projection
from core.training.objectives import (
    MATRYOSHKA_DIMS,
    ebae_ebar_loss,
    encode,
    encode_exits,
    exit_layers,
    info_nce,
    joint_batch,
)

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
STAGES = ("ebae", "contrastive")
#: Runs on its own (``stage="distill"``), with a teacher: never part of "both".
DISTILL = "distill"
STATE_FILE = "state.pt"


@dataclass
class AdaptOptions:
    """How to train; ``steps`` (per stage) wins over ``epochs`` (passes over each stage's examples)."""

    stage: str = "both"  # "ebae", "contrastive", "both" or "distill" (needs a teacher)
    steps: int | None = None
    epochs: float = 1.0
    batch_size: int = 8
    lr: float = 1e-4
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    max_tokens: int = 128
    temperature: float = 0.05
    dims: tuple[int, ...] = MATRYOSHKA_DIMS
    # Matryoshka over depth: the contrastive loss is averaged over these exit layers and the last one, so
    # the embedder can stop early (the ``depth`` setting) and stay a good embedding. Empty: the last only.
    exits: tuple[int, ...] = ()
    # A trained linear map on the read-out (core.embedding.llara.PROJECTION_FILE): what lets a shallow
    # student reach the teacher's vector space in the distill stage.
    projection: bool = False
    hard_negatives: bool = False
    next_chunk_pairs: bool = True  # chunk -> next chunk pairs beside the heading/first-sentence ones
    # Train only the LoRA weights of the top N layers (None: all, and the <sN> rows): backpropagation then
    # stops N layers down (a CPU timing run with 10 of 30 layers: 50.5 s against 84.5 s for all of them).
    train_layers: int | None = None
    warmup_steps: int = 10
    checkpoint_every: int = 50
    # Timed probe steps before training (0: none; the estimate comes from core.training.estimate instead).
    estimate_steps: int = 0
    precision: str = "auto"  # "auto" (bf16 autocast on CUDA and on CPUs with native bf16), "fp32", "bf16"
    device: str = "auto"
    seed: int = 0

    def stages(self) -> list[str]:
        return list(STAGES) if self.stage == "both" else [self.stage]

    def validate(self) -> None:
        if self.stage not in (*STAGES, "both", DISTILL):
            raise ConfigError("The stage must be ebae, contrastive, both or distill.")
        if self.steps is not None and self.steps < 1:
            raise ConfigError("--steps must be at least 1.")
        if self.train_layers is not None and self.train_layers < 1:
            raise ConfigError("--train-layers must be at least 1.")
        if self.epochs <= 0 or self.batch_size < 1 or self.lr <= 0 or self.rank < 1 or self.max_tokens < 8:
            raise ConfigError("Epochs, batch size, learning rate and rank must be positive; max tokens at least 8.")
        if any(k < 1 for k in self.exits):
            raise ConfigError("Exit layers must be at least 1.")
        if self.projection and self.exits:
            raise ConfigError("A read-out map is trained for one exit: train it without early exits.")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError("Training precision must be auto, fp32 or bf16.")

    def resume_key(self) -> dict[str, Any]:
        """What must match for a checkpoint to be continued (not the device, nor how often to save)."""
        data = asdict(self)
        for key in ("checkpoint_every", "estimate_steps", "device", "precision"):
            data.pop(key)
        return data


@dataclass
class AdaptProgress:
    """One event of an adaptation run.

    phase: "prepare" (loading, mining examples), "estimate" (``eta_s`` for the whole run, stated before
    training starts), "ebae" / "contrastive" (after each step: ``step`` of ``total``, ``loss``),
    "checkpoint", "save", "done" (``adapter_dir`` holds the adapter).
    """

    phase: str
    step: int = 0
    total: int = 0
    loss: float | None = None
    rate: float = 0.0  # steps/s
    eta_s: float | None = None
    message: str = ""
    adapter_dir: str | None = None
    details: dict[str, float] = field(default_factory=dict)


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"


def _autocast(device: str, precision: str) -> AbstractContextManager[Any]:
    kind = device.split(":")[0]
    if precision == "fp32":
        return nullcontext()
    if kind == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if kind == "cpu" and (precision == "bf16" or cpu_has_fast_bf16()):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def wrap_with_lora(embedder: LlaraEmbedder, options: AdaptOptions, start: str | None = None) -> torch.nn.Module:
    """Inject LoRA layers into the embedder's model in place and make the 16 <sN> rows trainable.

    The rows are trained as a small delta (peft ``trainable_token_indices``, tied LM heads included),
    so the adapter never holds the embedding matrix. With ``start`` (an adapter folder), training
    continues that adapter, with its own rank and target modules, instead of a fresh one.
    """
    from peft import LoraConfig, PeftModel, get_peft_model

    if start is not None:
        return PeftModel.from_pretrained(embedder.model, start, is_trainable=True)

    vocab = embedder.tokenizer.get_vocab()
    tokens = [vocab[f"<s{i}>"] for i in range(1, 17)]
    present = {name.rsplit(".", 1)[-1] for name, _module in embedder.model.named_modules()}
    targets = [t for t in options.target_modules if t in present]
    if not targets:
        raise ConfigError(f"None of the LoRA target modules {', '.join(options.target_modules)} is in this model.")
    config = LoraConfig(
        r=options.rank,
        lora_alpha=options.alpha,
        lora_dropout=options.dropout,
        target_modules=targets,
        trainable_token_indices=tokens,
    )
    return get_peft_model(embedder.model, config)


_LAYER = re.compile(r"\.layers\.(\d+)\.")


def freeze_below(model: torch.nn.Module, top_layers: int) -> None:
    """Freeze every trainable weight outside the top ``top_layers`` decoder layers."""
    numbers = [int(m.group(1)) for name, _p in model.named_parameters() if (m := _LAYER.search(name))]
    if not numbers:
        raise ConfigError("This model has no numbered layers to train selectively.")
    lowest = max(numbers) + 1 - top_layers
    for name, param in model.named_parameters():
        match = _LAYER.search(name)
        if param.requires_grad and (match is None or int(match.group(1)) < lowest):
            param.requires_grad_(False)


def _trainable(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def _schedule(n: int, batch: int, steps: int, seed: int) -> list[list[int]]:
    """Batches of example indices for every step: seeded shuffles, epoch after epoch; identical on resume."""
    rng = random.Random(seed)
    order: list[int] = []
    while len(order) < steps * batch:
        epoch = list(range(n))
        rng.shuffle(epoch)
        order.extend(epoch)
    return [order[i * batch : (i + 1) * batch] for i in range(steps)]


def _stage_steps(options: AdaptOptions, examples: int) -> int:
    if options.steps is not None:
        return options.steps
    return max(1, math.ceil(options.epochs * examples / options.batch_size))


def _lr_at(options: StepOptions, step: int, total: int) -> float:
    warmup = min(options.warmup_steps, total // 10)
    scale = (step + 1) / (warmup + 1) if step < warmup else 1.0
    return options.lr * scale * max(0.1, 1.0 - step / total)


def save_adapter(model: torch.nn.Module, embedder: LlaraEmbedder, directory: Path, exits: Sequence[int] = ()) -> None:
    """peft adapter files, the tokenizer (it has the <sN> tokens) and what the adapter was trained for (the
    layers it runs, its early exits: core.embedding.registry.adapter_facts); written beside, then moved into
    place."""
    tmp = directory.with_name(directory.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), save_embedding_layers=False)  # type: ignore[operator]
    embedder.tokenizer.save_pretrained(str(tmp))
    facts: dict[str, Any] = {"depth": embedder.early_exit, "exits": sorted(exits)}
    if embedder.projection is not None:
        save_projection(embedder.projection, tmp)
        facts["projection"] = True
    (tmp / ADAPTER_FACTS).write_text(json.dumps(facts) + "\n", encoding="utf-8")
    if directory.exists():
        shutil.rmtree(directory)
    tmp.rename(directory)


class Checkpoints:
    """``run_dir/checkpoint/state.pt``; replaced via a sibling folder so a crash never leaves half a checkpoint."""

    def __init__(self, run_dir: Path, key: dict[str, Any]) -> None:
        self.dir = run_dir / "checkpoint"
        self.key = key

    def load(self) -> dict[str, Any] | None:
        for folder in (self.dir, self.dir.with_name("checkpoint-old")):
            path = folder / STATE_FILE
            if path.is_file():
                try:
                    # Tensors and plain containers only: a checkpoint file cannot run code when it is read.
                    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
                except (pickle.UnpicklingError, RuntimeError, EOFError):  # an older Sleuth's, or damaged
                    return None
                return state if state.get("key") == self._key_text() else None
        return None

    def _key_text(self) -> str:
        """The run's key as JSON text, which ``weights_only`` loading accepts whatever the options hold."""
        return json.dumps(self.key, sort_keys=True, default=str)

    def save(self, model: torch.nn.Module, stage: str, step: int, optimizer: torch.optim.Optimizer | None) -> None:
        new, old = self.dir.with_name("checkpoint-new"), self.dir.with_name("checkpoint-old")
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        weights = {name: p.detach().cpu().clone() for name, p in _trainable(model).items()}
        state = {
            "key": self._key_text(),
            "stage": stage,
            "step": step,
            "weights": weights,
            "optimizer": optimizer.state_dict() if optimizer is not None else None,
        }
        torch.save(state, new / STATE_FILE)
        # Readable without torch: the estimate (core.training.estimate) sees where a rerun would continue.
        progress = {"stage": stage, "step": step, "key": json.loads(self._key_text())}
        (new / "progress.json").write_text(json.dumps(progress), encoding="utf-8")
        shutil.rmtree(old, ignore_errors=True)
        if self.dir.exists():
            self.dir.rename(old)
        new.rename(self.dir)
        shutil.rmtree(old, ignore_errors=True)


class Adaptation:
    """One adaptation run over a list of passages; iterate :meth:`run` to train."""

    def __init__(
        self,
        embedder: LlaraEmbedder,
        passages: Sequence[Passage],
        options: AdaptOptions,
        *,
        run_dir: Path,
        adapter_dir: Path,
        index: Any = None,
        start_adapter: str | None = None,
        teacher: LlaraEmbedder | None = None,
    ) -> None:
        options.validate()
        if (options.stage == DISTILL) != (teacher is not None):
            raise ConfigError("The distill stage needs a teacher embedder, and only it uses one.")
        if teacher is not None:
            check_teacher(embedder, teacher)
        self.teacher = teacher
        self._targets: tuple[torch.Tensor, torch.Tensor] | None = None
        if not passages:
            raise SleuthError("Nothing to learn from: there are no indexed passages. Run: sleuth index FOLDER")
        self.embedder = embedder
        self.options = options
        self.passages = list(passages)
        self.following = following_passages(self.passages)
        self.pairs: list[Pair] = contrastive_pairs(self.passages, options.next_chunk_pairs)
        if {"contrastive", DISTILL} & set(options.stages()) and not self.pairs:
            raise SleuthError("Too little text to mine query-passage pairs for the contrastive stage.")
        self.index = index if options.hard_negatives else None
        self.run_dir = run_dir
        self.adapter_dir = adapter_dir
        self.device = embedder.device
        self.exits = self._exits(options, layer_count(embedder.model))
        torch.manual_seed(options.seed)
        self.model = wrap_with_lora(embedder, options, start_adapter)
        if options.train_layers is not None:
            freeze_below(self.model, options.train_layers)
        self._fit_projection = self._add_projection(start_adapter)
        self.totals = {
            "ebae": _stage_steps(options, len(self.passages)),
            "contrastive": _stage_steps(options, len(self.pairs)),
            DISTILL: _stage_steps(options, len(self.pairs)),
        }
        key = {"options": options.resume_key(), "data": fingerprint(self.passages), "model": embedder.name}
        if teacher is not None:
            key["teacher"] = teacher.name
        if start_adapter is not None:
            key["start"] = adapter_identity(start_adapter)
        self.checkpoints = Checkpoints(run_dir, key)
        self._batch_cache: dict[str, list[list[int]]] = {}

    def _add_projection(self, start_adapter: str | None) -> bool:
        """Give the embedder a trainable read-out map (the start adapter's, or a new one); True: a new one."""
        embedder = self.embedder
        loaded = load_projection(start_adapter, embedder.dimension, torch.float32) if start_adapter else None
        if loaded is None and not self.options.projection:
            return False
        projection = (loaded or new_projection(embedder.dimension)).float().to(self.device).requires_grad_(True)
        self.model.add_module("sleuth_projection", projection)  # its weights train, checkpoint and resume
        embedder.projection = projection
        return loaded is None

    @staticmethod
    def _exits(options: AdaptOptions, layers: int) -> list[int]:
        if not options.exits:
            return []
        if max(options.exits) > layers:
            raise ConfigError(f"Exit layers must be at most the model's {layers} layers.")
        exits = exit_layers(layers, options.exits)
        if options.train_layers is not None and exits[0] <= layers - options.train_layers:
            raise ConfigError(
                f"An exit at layer {exits[0]} learns nothing when only the top {options.train_layers} layers train: "
                f"train at least {layers - exits[0] + 1} layers, or exit higher."
            )
        return exits

    # --- steps -----------------------------------------------------------------------------
    def _loss(self, stage: str, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = self._batches(stage)[step]
        with _autocast(self.device, self.options.precision):
            if stage == "ebae":
                joint = joint_batch(
                    self.embedder, [self.passages[i].text for i in batch], [self.following[i] for i in batch]
                ).to(self.device)
                loss, ebae, ebar = ebae_ebar_loss(self.embedder, joint)
                return loss, {"ebae": ebae, "ebar": ebar}
            if stage == DISTILL:
                return self._distill_loss(batch)
            pairs = [self.pairs[i] for i in batch]
            if self.index is not None:
                pairs = add_hard_negatives(self.index, pairs)
            passages = [p.passage for p in pairs] + [p.negative for p in pairs if p.negative is not None]
            query_ids = self.embedder.query_input_ids([p.query for p in pairs])
            passage_ids = self.embedder.passage_input_ids(passages)
            # Another passage of the same document (or the same text) is no negative: chunks overlap,
            # and a heading pair and a first-sentence pair of one chunk share most of their text.
            docs = [p.doc for p in pairs] + [""] * (len(passages) - len(pairs))
            same = torch.tensor(
                [
                    [j != i and (docs[j] == pair.doc or passages[j] == pair.passage) for j in range(len(passages))]
                    for i, pair in enumerate(pairs)
                ],
                device=self.device,
            )
            temperature, dims = self.options.temperature, self.options.dims
            if not self.exits:
                queries, vectors = encode(self.embedder, query_ids), encode(self.embedder, passage_ids)
                return info_nce(queries, vectors, temperature=temperature, dims=dims, same=same), {}
            at_query = encode_exits(self.embedder, query_ids, self.exits)
            at_passage = encode_exits(self.embedder, passage_ids, self.exits)
            losses = {
                k: info_nce(at_query[k], at_passage[k], temperature=temperature, dims=dims, same=same)
                for k in self.exits
            }
            loss = torch.stack(list(losses.values())).mean()
            return loss, {f"exit{k}": float(value.detach()) for k, value in losses.items()}

    def _distill_loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        if self._targets is None:
            raise SleuthError("The teacher's vectors were not computed before the distill stage.")
        pairs = [self.pairs[i] for i in batch]
        queries = encode(self.embedder, self.embedder.query_input_ids([p.query for p in pairs]))
        passages = encode(self.embedder, self.embedder.passage_input_ids([p.passage for p in pairs]))
        rows = torch.tensor(batch)
        teacher_queries, teacher_passages = (t[rows].to(self.device) for t in self._targets)
        return distillation_loss(
            queries,
            passages,
            teacher_queries,
            teacher_passages,
            temperature=self.options.temperature,
            dims=self.options.dims,
        )

    def _teacher_targets(self, cancel: CancelToken) -> Iterator[AdaptProgress]:
        """The teacher's vectors for every pair, once (kept in the run folder), before the distill stage."""
        if self.teacher is None or self._targets is not None:
            return
        targets = TeacherTargets(self.teacher, self.pairs, self.run_dir)
        if not targets.load():
            total = len(self.pairs)
            message = "The teacher embeds the training pairs"
            yield AdaptProgress("prepare", 0, total, message=f"{message}…")
            for done in targets.compute():
                cancel.check()  # nothing is lost: the vectors are computed again next time
                yield AdaptProgress("prepare", done, total, message=message)
        assert targets.vectors is not None
        self._targets = (torch.from_numpy(targets.vectors[0]), torch.from_numpy(targets.vectors[1]))
        if self._fit_projection and self.embedder.projection is not None:
            yield AdaptProgress("prepare", message="Fitting the read-out map to the teacher's vectors…")
            fit_projection(self.embedder, self.embedder.projection, self.pairs, targets.vectors)
            self._fit_projection = False

    def _batches(self, stage: str) -> list[list[int]]:
        if stage not in self._batch_cache:
            n = len(self.passages) if stage == "ebae" else len(self.pairs)
            seed = self.options.seed + {"ebae": 0, "contrastive": 1, DISTILL: 2}[stage]
            self._batch_cache[stage] = _schedule(n, min(self.options.batch_size, n), self.totals[stage], seed)
        return self._batch_cache[stage]

    def _estimate(self, stages: list[tuple[str, int]], cancel: CancelToken) -> float:
        """Seconds for the remaining steps, from timed forward+backward passes that change no weight."""
        total = 0.0
        self.model.train()
        for stage, start in stages:
            timings = []
            for probe in range(self.options.estimate_steps):
                if cancel.cancelled:
                    raise Cancelled("Adapting was cancelled before training started.")
                began = time.perf_counter()
                loss, _details = self._loss(stage, min(start + probe, self.totals[stage] - 1))
                loss.backward()
                self.model.zero_grad(set_to_none=True)
                if self.device.startswith("cuda"):
                    torch.cuda.synchronize()  # kernels run asynchronously: time them, not their launch
                timings.append(time.perf_counter() - began)
            seconds = min(timings[1:] or timings)
            total += seconds * (self.totals[stage] - start)
        return total

    # --- the run ---------------------------------------------------------------------------
    def run(self, cancel: CancelToken | None = None) -> Iterator[AdaptProgress]:
        cancel = cancel or CancelToken()
        stages = self.options.stages()
        start_stage, start_step, optimizer_state = stages[0], 0, None
        state = self.checkpoints.load()
        if state is not None and state["stage"] in stages:
            for name, param in _trainable(self.model).items():
                param.data.copy_(state["weights"][name].to(param.device))
            start_stage, start_step, optimizer_state = state["stage"], int(state["step"]), state["optimizer"]
            self._fit_projection = False
            yield AdaptProgress(
                "prepare", message=f"Continuing from the checkpoint at {start_stage} step {start_step}."
            )
        remaining = [(s, start_step if s == start_stage else 0) for s in stages[stages.index(start_stage) :]]
        yield from self._teacher_targets(cancel)
        if self.options.estimate_steps > 0:
            steps = sum(self.totals[s] - first for s, first in remaining)
            yield AdaptProgress("estimate", total=steps, message="Timing a few training steps…")
            eta = self._estimate(remaining, cancel)
            yield AdaptProgress(
                "estimate",
                total=steps,
                eta_s=eta,
                message=f"{steps} steps, {_minutes(eta)} on {self.device}",
            )
        for stage, first in remaining:
            yield from self._run_stage(stage, first, optimizer_state if stage == start_stage else None, cancel)
            if stage == "ebae":
                save_adapter(self.model, self.embedder, self.run_dir / "after-ebae", self.options.exits)
            following = stages[stages.index(stage) + 1] if stage != stages[-1] else stage
            self.checkpoints.save(self.model, following, 0 if following != stage else self.totals[stage], None)
        yield AdaptProgress("save", message=f"Saving the adapter to {self.adapter_dir}")
        self.adapter_dir.parent.mkdir(parents=True, exist_ok=True)
        save_adapter(self.model, self.embedder, self.adapter_dir, self.options.exits)
        self.model.eval()
        yield AdaptProgress("done", adapter_dir=str(self.adapter_dir), message=f"Adapter saved to {self.adapter_dir}")

    def _run_stage(
        self, stage: str, first: int, optimizer_state: dict[str, Any] | None, cancel: CancelToken
    ) -> Iterator[AdaptProgress]:
        message = {
            "ebae": "Learning to summarise your passages",
            "contrastive": "Learning to match queries",
            DISTILL: "Learning the teacher's vectors",
        }[stage]
        yield from train_steps(
            self.model,
            self._loss,
            StageRun(stage, first, self.totals[stage], message, "Adapting"),
            self.options,
            self.checkpoints,
            optimizer_state,
            cancel,
        )


class StepOptions(Protocol):
    """What the step loop needs of a run's options (AdaptOptions, RerankOptions)."""

    lr: float
    warmup_steps: int
    checkpoint_every: int


@dataclass(frozen=True)
class StageRun:
    """One stage of a run as the step loop sees it: steps ``first`` to ``total``; ``what`` names the run."""

    stage: str
    first: int
    total: int
    message: str
    what: str


def train_steps(
    model: torch.nn.Module,
    loss_at: Callable[[str, int], tuple[torch.Tensor, dict[str, float]]],
    run: StageRun,
    options: StepOptions,
    checkpoints: Checkpoints,
    optimizer_state: dict[str, Any] | None,
    cancel: CancelToken,
) -> Iterator[AdaptProgress]:
    """AdamW over the trainable weights, with warm-up and linear decay, clipping, checkpoints and cancelling.

    The loop every training run of Sleuth shares: the adapter's stages and the reranker's.
    """
    stage, total = run.stage, run.total
    params = list(_trainable(model).values())
    optimizer = torch.optim.AdamW(params, lr=options.lr, weight_decay=0.0)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    model.train()
    started = time.monotonic()
    for step in range(run.first, total):
        try:
            cancel.check()
        except Cancelled:
            checkpoints.save(model, stage, step, optimizer)
            raise Cancelled(
                f"{run.what} was cancelled at {stage} step {step} of {total}; run it again to continue."
            ) from None
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(options, step, total)
        loss, details = loss_at(stage, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        done = step + 1 - run.first
        elapsed = time.monotonic() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        yield AdaptProgress(
            stage,
            step + 1,
            total,
            loss=float(loss.detach()),
            rate=rate,
            eta_s=(total - step - 1) / rate if rate > 0 else None,
            message=run.message,
            details=details,
        )
        if options.checkpoint_every and (step + 1) % options.checkpoint_every == 0 and step + 1 < total:
            checkpoints.save(model, stage, step + 1, optimizer)
            yield AdaptProgress("checkpoint", step + 1, total, message=f"Checkpoint at {stage} step {step + 1}")
