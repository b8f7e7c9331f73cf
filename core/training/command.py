"""``sleuth adapt``: the command-line face of :func:`core.training.adapt_index`.

Only :func:`add_arguments` is imported when the CLI starts (it needs argparse alone); torch loads when the
command runs. Ctrl+C cancels between two steps after writing a checkpoint; a second Ctrl+C stops at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any

from core.settings import Settings
from core.training import DEFAULT_RUN_NAME

if TYPE_CHECKING:
    from core.index.store import Store
    from core.training.trainer import AdaptProgress

#: Runs a training job while holding the index's writer lock (``core.service.writer.WriteService.adapt``).
UnderLock = Callable[
    [Callable[["Store"], Generator["AdaptProgress", None, None]]], Generator["AdaptProgress", None, None]
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train a LoRA adapter on the indexed passages (EBAE/EBAR, then contrastive with a Matryoshka loss), "
        "set it as the 'adapter' setting and re-embed. The time it will take is stated before training "
        "starts. Ctrl+C stops after the current step with a checkpoint; the same command continues."
    )
    parser.add_argument(
        "--stage",
        choices=("ebae", "contrastive", "both", "rerank"),
        default="both",
        help="the adapter's stages, or rerank: the MiniLM reranker alone (default: %(default)s)",
    )
    parser.add_argument(
        "--reranker",
        action="store_true",
        help="also train the MiniLM reranker (reranker = bundled-minilm) on your documents, after the adapter",
    )
    parser.add_argument("--rerank-steps", type=int, default=None, help="reranker steps (default: one pass)")
    parser.add_argument("--steps", type=int, default=None, help="training steps per stage (default: --epochs)")
    parser.add_argument("--epochs", type=float, default=1.0, help="passes over each stage's examples (default: 1)")
    parser.add_argument("--batch-size", type=int, default=8, help="default: %(default)s")
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate (default: %(default)g)")
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank (default: %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=128, help="tokens of each passage seen in training")
    parser.add_argument("--device", default=None, help="auto, cpu, gpu, cuda, mps (default: the 'device' setting)")
    parser.add_argument("--hard-negatives", action="store_true", help="add a BM25 hard negative from another file")
    parser.add_argument(
        "--exits",
        type=_layers,
        default=(),
        metavar="L1,L2,…",
        help="also train early exits at these layers (e.g. 8,16,20), for a faster 'depth' setting later",
    )
    parser.add_argument("--name", default=DEFAULT_RUN_NAME, help="run and adapter name; the same name resumes")
    parser.add_argument("--no-reindex", action="store_true", help="only train and set the adapter; index later")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def options_from(args: argparse.Namespace, settings: Settings) -> Any:
    from core.training.trainer import AdaptOptions

    return AdaptOptions(
        stage=args.stage,
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        rank=args.rank,
        alpha=2 * args.rank,
        max_tokens=args.max_tokens,
        device=args.device or settings.device,
        hard_negatives=args.hard_negatives,
        exits=args.exits,
    )


def _layers(text: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer numbers like 8,16,20, got {text!r}") from None


def run(
    args: argparse.Namespace,
    settings: Settings,
    under_lock: UnderLock,
    log: Callable[[str], None],
    reindex: Callable[[Settings], int],
) -> int:
    import os

    from core.jobs import CancelToken
    from core.training.adapt import activate_adapter, adapt_index

    cancel = CancelToken()
    disabled = args.no_progress or (not sys.stderr.isatty() and os.environ.get("SLEUTH_PROGRESS") != "1")

    def on_interrupt(_signum: int, _frame: Any) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        log("Stopping after this step (Ctrl+C again to stop at once)…")
        cancel.cancel()

    if args.reranker:  # before the adapter trains: a reranker stage that cannot run says so at once
        from core.training.rerank_adapt import reranker_start

        reranker_start(settings)
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        if args.stage == "rerank":
            return _train_reranker(args, settings, under_lock, log, cancel, disabled)
        options = options_from(args, settings)
        train = under_lock(lambda store: adapt_index(store, settings, options, cancel, name=args.name))
        adapter_dir = _render(train, log, disabled)
        if adapter_dir is None:  # pragma: no cover - the generator always ends with "done"
            return 1
        activate_adapter(settings, adapter_dir)
        print(f"Adapter saved to {adapter_dir} and set as the 'adapter' setting.")
        if args.reranker:
            status = _train_reranker(args, settings, under_lock, log, cancel, disabled)
            if status:
                return status
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.no_reindex:
        print("Run 'sleuth index' to re-embed your documents with it (the current index serves until then).")
        return 0
    log("Re-embedding your documents with the adapter; the current index keeps serving until this completes.")
    return reindex(settings)


def _train_reranker(
    args: argparse.Namespace,
    settings: Settings,
    under_lock: UnderLock,
    log: Callable[[str], None],
    cancel: Any,
    disabled: bool,
) -> int:
    """The reranker stage: mine with the current search, train, set the 'reranker' setting."""
    from core.embedding.device import select_device
    from core.training.rerank_adapt import activate_reranker, adapt_reranker
    from core.training.reranker import RerankOptions

    options = RerankOptions(steps=args.rerank_steps, device=select_device(args.device or settings.device))
    train = under_lock(lambda store: adapt_reranker(store, settings, options, cancel, name=args.name))
    out = _render(train, log, disabled)
    if out is None:  # pragma: no cover - the generator always ends with "done"
        return 1
    activate_reranker(settings, out)
    print(f"Reranker saved to {out} and set as the 'reranker' setting.")
    return 0


BAR_NAMES = {"ebae": "EBAE/EBAR", "contrastive": "Contrastive", "rerank": "Reranker"}


def _render(events: Iterable[AdaptProgress], log: Callable[[str], None], disabled: bool) -> str | None:
    """A progress bar per training stage (or a line every 50 steps); returns the folder the run saved."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}
    saved = None
    try:
        for event in events:
            if event.phase in BAR_NAMES:
                bar = bars.get(event.phase)
                if bar is None:
                    bar = bars[event.phase] = tqdm(
                        total=event.total,
                        initial=event.step - 1,
                        unit="step",
                        desc=BAR_NAMES[event.phase],
                        disable=disabled,
                        file=sys.stderr,
                    )
                bar.update(event.step - bar.n)
                bar.set_postfix_str(f"loss {event.loss:.3f}", refresh=False)
                if disabled and (event.step % 50 == 0 or event.step == event.total):
                    log(f"{event.phase} step {event.step}/{event.total}, loss {event.loss:.4f}")
            elif event.phase == "estimate" and event.eta_s is not None:
                log(f"Adapting: {event.message} (Ctrl+C pauses; rerun to continue).")
            elif event.phase == "done":
                saved = event.adapter_dir
            elif event.message:
                log(event.message)
    finally:
        for bar in bars.values():
            bar.close()
    return saved
