"""``sleuth``: the command line over the engine. With no command it opens the window."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import __version__
from core.errors import Cancelled, SleuthError
from core.index.names import display
from core.index.stats import describe_size
from core.index.store import Store
from core.jobs import Phase, drain
from core.paths import default_db_path
from core.search.calibration import describe_estimate
from core.settings import Cost, Settings, load_settings, save_settings

if TYPE_CHECKING:
    from core.service.live import LiveIndexer
    from core.service.writer import WriteService

#: What ``sleuth config set`` says after a change, by what it costs (core.settings.Cost).
COST_NOTES = {
    Cost.REBUILD: "This change takes effect at the next 'sleuth index' (a new index is built beside the old one).",
    Cost.RESCAN: "This change takes effect at the next 'sleuth index' (the folders are scanned again).",
    Cost.RESTART: "This change takes effect the next time Sleuth loads the model.",
    Cost.IMMEDIATE: "",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sleuth", description="Semantic search over your own documents.")
    parser.add_argument("--version", action="version", version=f"sleuth {__version__}")
    parser.add_argument("--db", type=Path, help="index database folder (default: $SLEUTH_DB or the user data folder)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("index", help="add folders (or files) and index them")
    p.add_argument("paths", nargs="*", type=Path, help="folders or files; none = every folder already added")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("watch", help="keep the index up to date as files change, until Ctrl+C")
    p.add_argument("paths", nargs="*", type=Path, help="folders or files to add; none = every folder already added")
    p.add_argument(
        "--quiet-seconds",
        type=float,
        default=1.0,
        help="how long a file must stay unchanged before it is read (default: 1)",
    )
    p.add_argument("--full-speed", action="store_true", help="normal priority on every core (default: low priority)")

    p = sub.add_parser("search", help="search the index")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=None, help="number of results (default: results_per_page)")
    p.add_argument("--mode", choices=("bm25", "dense", "hybrid"), default=None)
    p.add_argument("--no-rerank", action="store_true", help="skip cross-encoder reranking")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    sub.add_parser("status", help="what is indexed, and which files could not be read")

    p = sub.add_parser("remove", help="stop indexing a folder and forget its files")
    p.add_argument("paths", nargs="+", type=Path)

    p = sub.add_parser("config", help="show or change settings")
    p.add_argument("action", choices=("get", "set", "list"))
    p.add_argument("key", nargs="?")
    p.add_argument("value", nargs="?")

    from core.evaluation.command import add_arguments as add_eval_arguments

    p = sub.add_parser("eval", help="measure retrieval quality on a BEIR-format data set (in a private index)")
    add_eval_arguments(p)

    from core.training.command import add_arguments as add_adapt_arguments

    p = sub.add_parser("adapt", help="train an adapter on your indexed documents, then re-embed them with it")
    add_adapt_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.command is None:
        # The window is started by the ``sleuth`` launcher in app/; the engine alone has only commands.
        _parser().print_help()
        return 0
    try:
        settings = load_settings()
        handler = {
            "index": cmd_index,
            "watch": cmd_watch,
            "search": cmd_search,
            "status": cmd_status,
            "remove": cmd_remove,
            "config": cmd_config,
            "eval": cmd_eval,
            "adapt": cmd_adapt,
        }[args.command]
        return handler(args, settings)
    except (Cancelled, KeyboardInterrupt):
        print("sleuth: cancelled; run the same command again to continue.", file=sys.stderr)
        return 130
    except SleuthError as exc:
        print(f"sleuth: error: {exc}", file=sys.stderr)
        return 1


def _store(args: argparse.Namespace) -> Store:
    return Store(args.db or default_db_path())


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _writer(args: argparse.Namespace, command: str) -> WriteService:
    """The write service for this command: every CLI write goes through it (one writer per index)."""
    from core.service.writer import WriteService

    return WriteService(_store(args), f"sleuth {command}")


def _add_folders(writer: WriteService, paths: Sequence[Path], command: str) -> list[Path]:
    """Add the folders named on the command line; at least one folder must be known."""
    drain(writer.add_folders(paths))
    if not writer.store.folders():
        raise SleuthError(f"No folders to {command}. Run: sleuth {command} FOLDER")
    return [path.expanduser().resolve() for path in paths]


def _load_settings_embedder(settings: Settings) -> Any:
    from core.embedding import load_embedder

    return load_embedder(
        settings.model,
        adapter=settings.adapter or None,
        device=settings.device,
        precision=settings.precision,
        progress=_log,
    )


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    with _writer(args, "index") as writer:
        roots = _add_folders(writer, args.paths, "index")
        return _index(writer, settings, roots, args.no_progress)


def _index(writer: WriteService, settings: Settings, roots: Sequence[Path], no_progress: bool) -> int:
    indexer = writer.indexer(settings, _load_settings_embedder(settings))
    if indexer.rebuilding:
        _log(
            f"Settings changed: building a new index ({indexer.profile.describe()}); the old one serves searches "
            "until it is complete."
        )
    with _progress_bar(disabled=no_progress) as render:
        report = drain(writer.index(settings, indexer.embedder, roots or None, indexer=indexer), render)
    for problem in report.problems:
        print(f"  could not read {display(problem.path)}: {problem.reason}")
    for path in report.too_large:
        print(f"  skipped {display(path)}: larger than {settings.max_file_mb:g} MB (setting max_file_mb)")
    print(indexer.summary())
    if report.fusion is not None:
        print(describe_estimate(report.fusion))
    return 0


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from core.service.live import lower_priority

    with _writer(args, "watch") as writer:
        folders = _add_folders(writer, args.paths, "watch")
        embedder = _load_settings_embedder(settings)
        if not args.full_speed:
            lower_priority()
        live = writer.follow(
            settings, embedder, folders=folders or None, quiet_s=args.quiet_seconds, on_notice=lambda n: _log(str(n))
        )
        return _follow(live)


def _follow(live: LiveIndexer) -> int:
    import signal
    import threading
    import time

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:  # a service manager's stop is a Ctrl+C too

        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, interrupt)
    _log("Checking your folders, then following their changes (Ctrl+C to stop)…")
    events = live.run()
    try:
        for event in events:
            if event.phase == Phase.DONE and event.report is not None and event.report.changed:
                _log(f"{time.strftime('%H:%M:%S')} {event.message}")
            elif event.phase == Phase.IDLE:
                _log(event.message)
            elif _long_phase_starts(event):
                _log(
                    f"Reading {event.files_total} files…"
                    if event.phase == Phase.TEXT
                    else f"Embedding {event.chunks_total} passages…"
                )
    except KeyboardInterrupt:
        live.stop()
        events.close()
        _log("Stopped. Changes not applied yet are kept and applied at the next start.")
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _long_phase_starts(event: Any) -> bool:
    """The first event of a text or embed phase big enough to take a while."""
    if event.phase == Phase.TEXT:
        return bool(event.files_done == 0 and event.files_total >= 50)
    return bool(event.phase == Phase.EMBED and event.chunks_done == 0 and event.chunks_total >= 50)


@contextmanager
def _progress_bar(disabled: bool) -> Iterator[Any]:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}
    disabled = disabled or (not sys.stderr.isatty() and os.environ.get("SLEUTH_PROGRESS") != "1")

    def render(event: Any) -> None:
        if event.phase in (Phase.SCAN, Phase.MEASURE, Phase.DONE):
            if event.phase != Phase.DONE:
                _log(event.message + "…" if not event.message.endswith("…") else event.message)
            return
        unit, done, total = (
            ("file", event.files_done, event.files_total)
            if event.phase == Phase.TEXT
            else ("chunk", event.chunks_done, event.chunks_total)
        )
        bar = bars.get(event.phase)
        if bar is None:
            desc = "Reading" if event.phase == Phase.TEXT else "Embedding"
            bar = bars[event.phase] = tqdm(total=total, unit=unit, desc=desc, disable=disabled, file=sys.stderr)
            if disabled:
                _log(f"{desc} {total} {unit}s…")
        bar.update(done - bar.n)
        if event.current:
            bar.set_postfix_str(Path(event.current).name[:40], refresh=False)

    try:
        yield render
    finally:
        for bar in bars.values():
            bar.close()


def _searcher(store: Store, settings: Settings) -> tuple[Any, list[str]]:
    from core.embedding import load_embedder
    from core.search.rerank import CrossEncoderReranker
    from core.search.searcher import searcher_for

    profile = store.active_profile()
    if profile is None:
        raise SleuthError("Nothing is indexed yet. Run: sleuth index FOLDER")
    notes: list[str] = []
    reranker = None
    if settings.reranker:
        try:
            reranker = CrossEncoderReranker(settings.reranker)
        except SleuthError as exc:
            notes.append(f"{exc} Searching without reranking.")

    def embedder() -> Any:
        return load_embedder(
            profile.model,
            adapter=profile.adapter or None,
            device=settings.device,
            precision=settings.precision,
            progress=_log,
        )

    return searcher_for(store, settings, store.profile_index(profile), embedder, reranker), notes


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(args)
    searcher, notes = _searcher(store, settings)
    response = searcher.search(
        args.query,
        k=args.k or settings.results_per_page,
        mode=args.mode or settings.search_mode,
        rerank=not args.no_rerank,
        rerank_top_n=settings.rerank_top_n,
    )
    notes += response.notes
    if args.json:
        print(
            json.dumps(
                {
                    "query": response.query,
                    "mode": response.mode,
                    "notes": notes,
                    "results": [h.to_dict() for h in response.hits],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    for note in notes:
        _log(f"note: {note}")
    if not response.hits:
        print("No results.")
    for rank, hit in enumerate(response.hits, 1):
        where = f" (page {hit.page})" if hit.page else ""
        print(f"{rank:2d}. {display(hit.path)}{where}  score {hit.score:.4f}")
        print("    " + _snippet(hit.text, hit.highlights))
    return 0


def _snippet(text: str, spans: list[tuple[int, int]], width: int = 220) -> str:
    start = max(0, spans[0][0] - 60) if spans else 0
    piece = text[start : start + width]
    if sys.stdout.isatty():
        for a, b in reversed([(a - start, b - start) for a, b in spans if start <= a < start + width]):
            piece = piece[:a] + "\033[1;33m" + piece[a:b] + "\033[0m" + piece[b:]
    return ("…" if start else "") + " ".join(piece.split()) + ("…" if start + width < len(text) else "")


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from core.index.stats import index_stats

    store = _store(args)
    stats = index_stats(store)
    print(f"Index: {store.path}")
    print("Folders:" + ("" if stats.folders else " none (add one with: sleuth index FOLDER)"))
    for folder in stats.folders:
        print(f"  {display(folder)}")
    print(f"Size on disk: {describe_size(stats.disk_bytes)}")
    if not stats.profile:
        return 0
    print(f"Model: {stats.profile}; search dimension {stats.search_dim}")
    if stats.estimate:
        print(describe_estimate(stats.estimate))
    print(
        f"Files: {stats.files} indexed, {len(stats.failures)} unreadable; chunks: {stats.chunks} "
        f"({stats.pending} waiting for vectors)"
    )
    for path, reason in stats.failures:
        print(f"  could not read {display(path)}: {reason}")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    with _writer(args, "remove") as writer:
        for path in args.paths:
            print(drain(writer.remove_folder(path)).message)
    return 0


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "list" or (args.action == "get" and not args.key):
        for key, value in settings.to_dict().items():
            print(f"{key} = {json.dumps(value)}")
        return 0
    if args.key is None:
        raise SleuthError("Name a setting: sleuth config get|set KEY [VALUE]")
    if args.action == "get":
        data = settings.to_dict()
        if args.key not in data:
            raise SleuthError(f"Unknown setting {args.key!r}.")
        print(json.dumps(data[args.key]))
        return 0
    if args.value is None:
        raise SleuthError(f"Give a value: sleuth config set {args.key} VALUE")
    before = dataclasses.replace(settings)
    settings.set(args.key, args.value)
    if settings.cost_of(before) is Cost.REWRITE:  # check for a second writer before anything is saved
        with _writer(args, "config") as writer:
            save_settings(settings)
            report = drain(writer.set_search_dim(settings.search_dim))
        print(report.message)
        return 0
    save_settings(settings)
    note = COST_NOTES[settings.cost_of(before)]
    if note:
        print(note)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from core.evaluation.command import run as run_eval

    return run_eval(args, settings, _log)


def cmd_adapt(args: argparse.Namespace, settings: Settings) -> int:
    from core.training.command import run as run_adapt

    with _writer(args, "adapt") as writer:

        def reindex(updated: Settings) -> int:
            return _index(writer, updated, [], args.no_progress)

        return run_adapt(args, settings, writer.adapt, _log, reindex)


if __name__ == "__main__":
    sys.exit(main())
