"""How long adapting will take, said before anything heavy runs: no model load, no timed steps.

Steps come from the passages (and the pairs mined from them) exactly as the trainer counts them; the
seconds per step come from the last run on this computer (``data_dir()/training/step-costs.json``,
written by :func:`record_step_cost`), else from the bundled adapter's training report
(``resources/adapters/smollm2-135m/training.json``), scaled by the work in one step and the CPU
threads — and said to be a rough guess.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.embedding import bundled
from core.paths import data_dir
from core.training.data import Passage, contrastive_pairs, fingerprint

COSTS_FILE = "step-costs.json"
BUNDLED_REPORT = bundled.ADAPTER_DIR / "training.json"
#: SmolLM2-135M's layers: what ``train_layers`` is a share of.
MODEL_LAYERS = 30
#: How much faster than this CPU a device without a measurement is taken to be (a guess, and said so).
DEVICE_SPEEDUP = {"cuda": 15.0, "mps": 3.0}
MEASURED = "measured on this computer"
GUESSED = "a rough guess from the bundled adapter's training; the next run is timed on this computer"


@dataclass(frozen=True)
class Plan:
    """What an adaptation run will do and about how long it takes."""

    steps: dict[str, int]  # steps still to run, per stage, in order
    seconds: float
    device: str
    basis: str  # where the time per step comes from, for people
    passages: int
    resumed: str = ""  # "Continuing from the checkpoint at ebae step 12." when it will
    totals: dict[str, int] = field(default_factory=dict)  # every step of each stage
    # Where the index's model is not the one adapting trains (an encoder): what changes afterwards, for people.
    model_change: str = ""

    @property
    def total_steps(self) -> int:
        return sum(self.steps.values())

    def describe(self) -> str:
        """For example "600 steps, about 25 minutes on cpu"."""
        return f"{self.total_steps:,} steps, {minutes(self.seconds)} on {self.device}"


def minutes(seconds: float) -> str:
    rounded = round(seconds / 60)
    if rounded < 1:
        return "under a minute"
    return "about 1 minute" if rounded == 1 else f"about {rounded} minutes"


def stage_steps(steps: int | None, epochs: float, batch_size: int, examples: int) -> int:
    """Steps of one stage: ``steps`` when given, else ``epochs`` passes over its examples."""
    if steps is not None:
        return steps
    return max(1, math.ceil(epochs * examples / batch_size))


def work_per_step(options: Any) -> float:
    """Tokens through the model per step, weighted by how deep backpropagation goes (``train_layers``)."""
    share = 1.0 if options.train_layers is None else min(1.0, options.train_layers / MODEL_LAYERS)
    return options.batch_size * options.max_tokens * (1.0 + share) / 2.0


def cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def device_kind(device: str) -> str:
    return device.split(":")[0]


def _costs_path() -> Path:
    return data_dir() / "training" / COSTS_FILE


def _load_costs() -> dict[str, Any]:
    try:
        data = json.loads(_costs_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_step_cost(device: str, stage: str, options: Any, seconds_per_step: float) -> None:
    """Keep how long a step took on this device, per unit of work, for the next estimate."""
    if seconds_per_step <= 0:
        return
    costs = _load_costs()
    kind = device_kind(device)
    entry = costs.get(kind) if isinstance(costs.get(kind), dict) else {}
    entry = dict(entry or {})
    entry[stage] = seconds_per_step / work_per_step(options)
    entry["threads"] = cpu_threads()
    costs[kind] = entry
    path = _costs_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(costs, indent=1), encoding="utf-8")
        temporary.replace(path)
    except OSError:  # an estimate is a courtesy: failing to keep one never stops training
        pass


def _bundled_cost() -> tuple[float, int]:
    """(seconds per unit of work, CPU threads) of the bundled adapter's last training run."""
    report = json.loads(BUNDLED_REPORT.read_text(encoding="utf-8"))
    trained = report["options"]
    steps = trained["steps"]

    class _Options:
        batch_size = trained["batch_size"]
        max_tokens = trained["max_tokens"]
        train_layers = trained.get("train_layers")

    return report["seconds"] / steps / work_per_step(_Options), int(report["hardware"]["cpu_threads"])


def seconds_per_step(stage: str, options: Any, device: str) -> tuple[float, str]:
    """(seconds one step of ``stage`` takes on ``device``, where that figure comes from)."""
    kind = device_kind(device)
    entry = _load_costs().get(kind)
    if isinstance(entry, dict):
        per_unit = entry.get(stage) or next((entry[s] for s in ("ebae", "contrastive") if entry.get(s)), None)
        if isinstance(per_unit, float | int) and per_unit > 0:
            threads = int(entry.get("threads") or cpu_threads())
            scale = threads / cpu_threads() if kind == "cpu" else 1.0
            return float(per_unit) * scale * work_per_step(options), MEASURED
    per_unit, threads = _bundled_cost()
    scale = threads / cpu_threads() if kind == "cpu" else 1.0 / DEVICE_SPEEDUP.get(kind, 1.0)
    return per_unit * scale * work_per_step(options), GUESSED


def checkpoint_at(run_dir: Path, key: dict[str, Any]) -> tuple[str, int] | None:
    """(stage, step) of the run's checkpoint when the trainer will continue it (same options and data)."""
    try:
        progress = json.loads((run_dir / "checkpoint" / "progress.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    saved = progress.get("key") if isinstance(progress, dict) else None
    if not isinstance(saved, dict) or any(saved.get(name) != value for name, value in key.items()):
        return None
    return str(progress["stage"]), int(progress["step"])


def plan(passages: Sequence[Passage], options: Any, device: str, run_dir: Path) -> Plan:
    """The run :class:`core.training.trainer.Adaptation` would do on ``passages``, and its time."""
    totals = {
        "ebae": stage_steps(options.steps, options.epochs, options.batch_size, len(passages)),
        "contrastive": stage_steps(
            options.steps,
            options.epochs,
            options.batch_size,
            len(contrastive_pairs(passages, options.next_chunk_pairs)),
        ),
    }
    stages = options.stages()
    first_stage, first_step, resumed = stages[0], 0, ""
    key = {"options": json.loads(json.dumps(options.resume_key(), default=str)), "data": fingerprint(passages)}
    at = checkpoint_at(run_dir, key)
    if at is not None and at[0] in stages:
        first_stage, first_step = at
        resumed = f"Continuing from the checkpoint at {first_stage} step {first_step}."
    steps = {
        stage: totals[stage] - (first_step if stage == first_stage else 0)
        for stage in stages[stages.index(first_stage) :]
    }
    seconds, bases = 0.0, set()
    for stage, count in steps.items():
        per_step, basis = seconds_per_step(stage, options, device)
        seconds += per_step * count
        bases.add(basis)
    basis = GUESSED if GUESSED in bases else MEASURED
    return Plan(steps, seconds, device, basis, len(passages), resumed, {s: totals[s] for s in stages})
