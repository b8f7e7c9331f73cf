"""Train the reranker on the documents of the current index: the optional stage of ``sleuth adapt``.

Queries are mined from the indexed passages as for the adapter; the hard negatives come from the search the
user has (the active profile's own embedder and fusion). Training continues the MiniLM cross-encoder in use
(``bundled-minilm``, or a folder Sleuth trained) and writes ``data_dir()/rerankers/<name>``, never overwriting
the reranker in use; the ``reranker`` setting then names the new folder. The default reranker, the bundled
language model, is not adapted: MiniLM cross-encoders adapted this way ranked below it on three of the four
evaluation sets, and below hybrid search alone on three (docs/benchmarks.md), so the stage is not offered
while it is in use. The estimate comes first, from the bundled reranker's training report (seconds per step,
scaled by the CPU threads and the work in a step).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from core.errors import SleuthError
from core.index.store import IndexProfile, ProfileIndex, Store
from core.jobs import CancelToken
from core.paths import data_dir
from core.settings import Settings, save_settings
from core.training.data import Pair, Passage, contrastive_pairs, passages_from_index
from core.training.estimate import GUESSED, minutes
from core.training.reranker import RerankOptions
from core.training.trainer import AdaptProgress

#: Query groups mined from the user's documents (at most); mining searches once per group.
MAX_GROUPS = 2000


def reranker_dir_for(name: str, in_use: str) -> Path:
    """``data_dir()/rerankers/<name>``, or ``<name>-2``… when that one is the reranker in use."""
    root = data_dir() / "rerankers"
    candidate, n = root / name, 1
    while in_use and str(candidate) in (in_use, str(Path(in_use).expanduser().resolve())):
        n += 1
        candidate = root / f"{name}-{n}"
    return candidate


def reranker_start(settings: Settings) -> str:
    """The reranker adapter the stage continues: the MiniLM cross-encoder's (the shipped one, or a folder Sleuth
    trained). Raises SleuthError when reranking is off, for the rerankers adapting does not train (the bundled
    language model, the best-sentence reranker) and for a hub model."""
    from core.search.rerank import BUNDLED, BUNDLED_DIR, BUNDLED_MINILM, SENTENCES

    anyway = f"To adapt the MiniLM cross-encoder anyway, set the reranker to '{BUNDLED_MINILM}' first."
    if not settings.reranker:
        raise SleuthError(
            "Reranking is off (the default: no reranker ranked reliably better than hybrid search alone on "
            f"Sleuth's evaluation sets; docs/benchmarks.md). {anyway}"
        )
    if settings.reranker == BUNDLED:
        raise SleuthError(
            "Sleuth's reranker is the bundled language model, which adapting does not train: the MiniLM "
            "cross-encoder trained on a collection's own passages ranked below it on Sleuth's evaluation sets "
            f"(docs/benchmarks.md). {anyway}"
        )
    if settings.reranker == SENTENCES:
        raise SleuthError(f"The best-sentence reranker reads with the embedding model, which adapting trains. {anyway}")
    if settings.reranker == BUNDLED_MINILM:
        return str(BUNDLED_DIR)
    folder = Path(settings.reranker).expanduser()
    if (folder / "adapter_config.json").is_file():
        return str(folder)
    raise SleuthError(
        f"The reranker {settings.reranker!r} is a downloaded model; Sleuth trains its own reranker only "
        f"(set the reranker to '{BUNDLED_MINILM}' first)."
    )


def estimate_seconds(steps: int, options: RerankOptions) -> float:
    """Seconds for ``steps`` from the bundled reranker's report: per step, per group, per CPU thread."""
    from core.search.rerank import BUNDLED_DIR

    try:
        report = json.loads((BUNDLED_DIR / "training.json").read_text(encoding="utf-8"))
        per_step = report["seconds"] / report["steps"]
        threads = report["hardware"]["torch_threads"]
        batch = report["options"]["batch_size"] * (1 + report["options"]["negatives"])
    except (OSError, ValueError, KeyError, ZeroDivisionError):
        return 0.0
    work = options.batch_size * (1 + options.negatives) / batch
    return per_step * steps * work * threads / max(1, min(os.cpu_count() or 1, 8))


@dataclass(frozen=True)
class RerankPlan:
    """What training the reranker on the index would do, and about how long it takes."""

    groups: int
    steps: int
    seconds: float
    device: str

    def describe(self) -> str:
        return f"{self.steps:,} steps, {minutes(self.seconds)} on {self.device}"


@dataclass(frozen=True)
class _Inputs:
    """What the reranker stage reads from the index, once: its plan, the profile, the passages and the pairs."""

    plan: RerankPlan
    start: str
    profile: IndexProfile
    index: ProfileIndex
    passages: list[Passage]
    pairs: list[Pair]


def _inputs(store: Store, settings: Settings, options: RerankOptions) -> _Inputs:
    """Read the active profile's passages and mine the pairs; raises SleuthError when the stage cannot run."""
    start = reranker_start(settings)
    profile = store.active_profile()
    if profile is None:
        raise SleuthError("Nothing is indexed yet. Run: sleuth index FOLDER")
    index = store.profile_index(profile)
    passages = passages_from_index(index)
    pairs = contrastive_pairs(passages, next_chunk=False)
    if len({p.doc for p in passages}) < 2 or not pairs:
        raise SleuthError("Too little text to train the reranker: it needs queries from at least two documents.")
    groups = min(len(pairs), MAX_GROUPS)
    steps = options.steps or max(1, round(options.epochs * groups / options.batch_size))
    plan = RerankPlan(groups, steps, estimate_seconds(steps, options), options.device)
    return _Inputs(plan, start, profile, index, passages, pairs)


def plan_reranker(store: Store, settings: Settings, options: RerankOptions | None = None) -> RerankPlan:
    """The reranker stage's plan from the index alone (no model loaded); raises SleuthError when it cannot run."""
    return _inputs(store, settings, options or RerankOptions()).plan


def adapt_reranker(
    store: Store,
    settings: Settings,
    options: RerankOptions | None = None,
    cancel: CancelToken | None = None,
    *,
    name: str = "my-documents",
) -> Generator[AdaptProgress, None, None]:
    """Mine groups from the active profile with its own search, then train; the last event says where it went."""
    from core.embedding.bundled_encoder import bundled_encoder_dir
    from core.index.indexer import settings_embedder
    from core.search.searcher import searcher_for
    from core.training.rerank_data import mine_rerank_examples
    from core.training.reranker import RerankerTraining

    options = options or RerankOptions()
    cancel = cancel or CancelToken()
    read = _inputs(store, settings, options)
    plan, profile, index, groups = read.plan, read.profile, read.index, read.plan.groups
    yield AdaptProgress(
        "estimate",
        total=plan.steps,
        eta_s=plan.seconds or None,
        message=f"Reranker: {groups:,} queries, {plan.describe()}; {GUESSED}",
    )
    yield AdaptProgress("prepare", message=f"Finding hard negatives for {groups:,} queries with your search…")
    embedder = settings_embedder(
        dataclasses.replace(settings, model=profile.model, adapter=profile.adapter, depth=profile.depth)
    )
    searcher = searcher_for(store, settings, index, embedder)
    examples = mine_rerank_examples(searcher, read.pairs, read.passages, limit=groups, seed=options.seed, cancel=cancel)
    del searcher, embedder
    out = reranker_dir_for(name, settings.reranker)
    training = RerankerTraining(
        examples,
        options,
        base_dir=bundled_encoder_dir(),
        run_dir=data_dir() / "training" / f"reranker-{name}",
        out_dir=out,
        start=read.start,
    )
    yield from training.run(cancel)


def activate_reranker(settings: Settings, reranker_dir: str | Path, path: Path | None = None) -> None:
    """Make the trained reranker the setting and save; searches use it from the next query on."""
    settings.reranker = str(reranker_dir)
    save_settings(settings, path)
