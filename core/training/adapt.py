"""Adapt the embedder to the documents of the current index: the entry point the CLI and the window use."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator, Iterator
from pathlib import Path

from core.errors import ConfigError, SleuthError
from core.index.store import Store
from core.jobs import CancelToken
from core.paths import data_dir
from core.settings import Settings, save_settings
from core.training import DEFAULT_RUN_NAME
from core.training.data import Passage, contrastive_pairs, passages_from_index
from core.training.estimate import Plan, plan, record_step_cost
from core.training.trainer import STAGES, Adaptation, AdaptOptions, AdaptProgress

DEFAULT_NAME = DEFAULT_RUN_NAME


def training_dir(name: str) -> Path:
    """Checkpoints of the run called ``name``: rerunning with the same name continues it."""
    return data_dir() / "training" / name


def adapter_dir_for(name: str, in_use: set[str]) -> Path:
    """``data_dir()/adapters/<name>``, or ``<name>-2``, ``-3``… when that one serves the current index.

    An adapter that is in use is never overwritten: the old profile keeps answering queries with it
    until the re-embedded one is complete.
    """
    root = data_dir() / "adapters"
    candidate, n = root / name, 1
    while str(candidate) in in_use or str(candidate.resolve()) in in_use:
        n += 1
        candidate = root / f"{name}-{n}"
    return candidate


def plan_adaptation(
    store: Store, settings: Settings, options: AdaptOptions | None = None, *, name: str = DEFAULT_NAME
) -> Plan:
    """What adapting would do and about how long it takes, from the index alone: no model is loaded.

    The window asks with it before anything heavy runs; ``adapt_index`` states the same estimate first.
    """
    return _plan(store, settings, options or AdaptOptions(device=settings.device), name)[0]


def _plan(store: Store, settings: Settings, options: AdaptOptions, name: str) -> tuple[Plan, list[Passage]]:
    from core.embedding.device import select_device

    options.validate()
    profile = store.active_profile()
    if profile is None:
        raise SleuthError("Nothing is indexed yet. Run: sleuth index FOLDER")
    passages = passages_from_index(store.profile_index(profile))
    if not passages:
        raise SleuthError("Nothing to learn from: there are no indexed passages. Run: sleuth index FOLDER")
    if "contrastive" in options.stages() and not contrastive_pairs(passages, options.next_chunk_pairs):
        raise SleuthError("Too little text to mine query-passage pairs for the contrastive stage.")
    estimate = plan(passages, options, select_device(options.device), training_dir(name))
    return dataclasses.replace(estimate, model_change=_model_change(profile.embedder_name)), passages


def _model_change(indexed_with: str) -> str:
    """What adapting changes beyond the adapter, where the index was embedded by an encoder (the default on a
    CPU): ``indexed_with`` is the profile's embedder identity."""
    from core.embedding.registry import display_name

    if not indexed_with.startswith("encoder:"):
        return ""
    return (
        f"Your documents are indexed with {display_name(indexed_with)}. The adapter is for Sleuth's SmolLM2 "
        "(LLaRA) model, so afterwards they are embedded with that model, which takes about seven times as long "
        "on a CPU."
    )


def adapt_index(
    store: Store,
    settings: Settings,
    options: AdaptOptions | None = None,
    cancel: CancelToken | None = None,
    *,
    name: str = DEFAULT_NAME,
) -> Generator[AdaptProgress, None, None]:
    """Train an adapter for ``settings.model`` on the active profile's chunks; see :mod:`core.training`.

    Training continues the adapter in use (the bundled one by default), so a short run on the user's own
    documents starts from what that adapter already learned rather than from the untrained backbone.
    The first events state the estimate (:func:`plan_adaptation`); the time each step really took is
    kept for the next one.
    """
    from core.embedding import load_embedder
    from core.embedding.bundled import resolve_adapter
    from core.embedding.llara import LlaraEmbedder
    from core.embedding.loading import resolve_source
    from core.embedding.registry import adapter_depth, llara_model

    options = options or AdaptOptions(device=settings.device)
    yield AdaptProgress("prepare", message="Reading the indexed passages…")
    estimate, passages = _plan(store, settings, options, name)
    yield AdaptProgress(
        "estimate",
        total=estimate.total_steps,
        eta_s=estimate.seconds,
        message=f"{estimate.describe()}; {estimate.basis}"
        + (f". {estimate.model_change}" if estimate.model_change else ""),
    )
    profile = store.active_profile()
    assert profile is not None  # _plan checked
    # Adapting trains a LoRA adapter for the LLaRA model: with the default ``auto`` model that is the bundled one,
    # which the trained adapter then selects (core.embedding.registry.chosen_model), on a CPU as on a GPU.
    model = llara_model(settings.model)
    yield AdaptProgress("prepare", message=f"Loading {model} for training ({len(passages)} passages)…")
    start = resolve_adapter(model, settings.adapter, settings.depth)
    # The adapter in use is continued at the depth it runs at (an adapter for the first K layers holds no others).
    embedder = load_embedder(
        model,
        device=options.device,
        precision="fp32",
        max_length=options.max_tokens,
        depth=settings.depth or adapter_depth(start),
    )
    if not isinstance(embedder, LlaraEmbedder):
        raise ConfigError("Adapting works with LLaRA models only; the current model is a bi-encoder.")
    in_use = {a for a in (settings.adapter, profile.adapter) if a}
    adaptation = Adaptation(
        embedder,
        passages,
        options,
        run_dir=training_dir(name),
        adapter_dir=adapter_dir_for(name, in_use),
        index=store.profile_index(profile),
        start_adapter=resolve_source(start, "adapter") if start else None,
    )
    yield from _timed(adaptation.run(cancel), adaptation.device, options)


def _timed(events: Iterator[AdaptProgress], device: str, options: AdaptOptions) -> Iterator[AdaptProgress]:
    """Pass the run's events on, and keep the seconds per step of each stage (cancelled runs too)."""
    steps: dict[str, list[float]] = {}
    try:
        for event in events:
            if event.phase in STAGES:
                steps.setdefault(event.phase, []).append(time.monotonic())
            yield event
    finally:
        for stage, times in steps.items():
            if len(times) >= 2:  # the first step of a run also warms up: time the ones after it
                record_step_cost(device, stage, options, (times[-1] - times[0]) / (len(times) - 1))


def activate_adapter(settings: Settings, adapter_dir: str | Path, path: Path | None = None) -> None:
    """Make the adapter the setting and save; the next index run re-embeds in a new profile beside the old one."""
    settings.adapter = str(adapter_dir)
    save_settings(settings, path)
