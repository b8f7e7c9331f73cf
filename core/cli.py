"""``sleuth``: the command line over the engine. With no command it opens the window."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core import __version__
from core.errors import Cancelled, SleuthError
from core.heap import limit_arenas
from core.index.names import display
from core.ingest.text import page_label
from core.jobs import KEYWORD_READY, Phase, drain
from core.paths import cache_dir, default_db_path
from core.vocabulary import Mode, ProblemKind, Sort

if TYPE_CHECKING:
    from types import TracebackType

    from core.embedding import Embedder
    from core.index.reading import Readers
    from core.index.stats import IndexStats
    from core.index.store import IndexProfile, Store
    from core.service.live import LiveIndexer
    from core.service.search import SearchRequest
    from core.service.writer import WriteService
    from core.settings import Settings

#: Exit statuses, as grep, ripgrep and recollq use them: a search that finds nothing is not an error.
EXIT_OK, EXIT_NO_RESULTS, EXIT_ERROR, EXIT_CANCELLED = 0, 1, 2, 130
#: The shells ``sleuth completion`` writes a script for.
SHELLS = ("bash", "zsh", "fish")
VERBOSE_HELP = "also show the libraries' own warnings, notes and progress bars (hidden by default)"
#: The libraries whose warnings, logs and bars a user cannot act on: shown only with --verbose.
NOISY_LIBRARIES = ("transformers", "peft", "torch", "bs4", "huggingface_hub", "accelerate", "tokenizers")
#: What ``sleuth config set`` says after a change, by what it costs (core.settings.Cost, a StrEnum; not
#: imported here: the settings module loads numpy, too slow for a search that a running Sleuth answers).
COST_NOTES = {
    "rebuild": "This change takes effect at the next 'sleuth index' (a new index is built beside the old one).",
    "rescan": "This change takes effect at the next 'sleuth index' (the folders are scanned again).",
    "restart": "This change takes effect the next time Sleuth loads the model.",
    "immediate": "",
}


def _parser(full: bool = True) -> argparse.ArgumentParser:
    """``full=False`` leaves out eval's and adapt's own options: importing them costs more than a served search."""
    parser = argparse.ArgumentParser(
        prog="sleuth",
        description="Semantic search over your own documents. With no command, sleuth opens the window (or brings "
        "the open one forward); sleuth FOLDER... opens it with those folders added.",
        epilog="Exit status: 0 when a search finds something (or a command succeeds), 1 when it finds nothing, "
        "2 on an error.",
    )
    parser.add_argument("--version", action="version", version=f"sleuth {__version__}")
    parser.add_argument("--db", type=Path, help="index database folder (default: $SLEUTH_DB or the user data folder)")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
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
    p.add_argument(
        "--background",
        action="store_true",
        help="run as Sleuth's background watch (keep_watching): it stands aside when the window opens",
    )

    p = sub.add_parser("search", help="search the index")
    p.add_argument(
        "query",
        nargs="+",
        help='words (several are one query), "exact phrase", type:pdf, in:FOLDER, after:2024-01, '
        "before:2024-06-30; quote a query with -exclude, or put it after --",
    )
    p.add_argument("-k", type=int, default=None, help="number of documents (default: results_per_page)")
    p.add_argument(
        "--mode",
        choices=tuple(Mode),
        default=None,
        help="by keywords (bm25), by meaning (dense) or both (hybrid; default: the search_mode setting)",
    )
    p.add_argument("--no-rerank", action="store_true", help="skip cross-encoder reranking")
    p.add_argument("--sort", choices=tuple(Sort), default=Sort.RELEVANCE, help="order of the documents")
    p.add_argument("--passages", action="store_true", help="list the best passages, not one result per document")
    p.add_argument("--json", action="store_true", help="machine-readable output (documents and passages)")

    p = sub.add_parser("status", help="what is indexed, and which files could not be read")
    p.add_argument("--json", action="store_true", help="machine-readable output (with the exact model identity)")

    p = sub.add_parser("remove", help="stop indexing a folder and forget its files")
    p.add_argument("paths", nargs="+", type=Path)

    p = sub.add_parser("config", help="show or change settings")
    p.add_argument("action", choices=("get", "set", "list"))
    p.add_argument("key", nargs="?")
    p.add_argument("value", nargs="?")

    sub.add_parser(
        "mcp",
        help="serve Sleuth's search to local AI assistants (Model Context Protocol, on stdin/stdout; read-only)",
    )

    p = sub.add_parser("eval", help="measure retrieval quality on a BEIR-format data set (in a private index)")
    if full:
        from core.evaluation.command import add_arguments as add_eval_arguments

        add_eval_arguments(p)

    p = sub.add_parser("adapt", help="train an adapter on your indexed documents, then re-embed them with it")
    if full:
        from core.training.command import add_arguments as add_adapt_arguments

        add_adapt_arguments(p)

    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh or fish)")
    p.add_argument("shell", choices=SHELLS, help="the shell to complete for")
    for command in sub.choices.values():  # after the command too: sleuth search QUERY --verbose
        command.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def command_names() -> list[str]:
    """The commands: any other first word that is a folder opens the window with it (the launcher, app.launch)."""
    sub = next(a for a in _parser(full=False)._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def main(argv: Sequence[str] | None = None) -> int:
    """0 with results (or success), 1 when a search finds nothing, 2 on an error, 130 when cancelled."""
    argv = list(sys.argv[1:] if argv is None else argv)
    limit_arenas()
    try:
        try:
            return _main(argv)
        finally:  # --help and --version leave through SystemExit: their output is flushed here too
            sys.stdout.flush()  # here, where a closed pipe can still be caught
    except BrokenPipeError:
        # The reader went away (``sleuth search … | head -1``): what it read was all it wanted. As the
        # Python docs advise, point stdout at devnull so the flush at exit fails quietly too.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _main(argv: list[str]) -> int:
    parser = _parser(full=_command_in(argv) != "search")
    args, extra = parser.parse_known_args(argv)
    if extra:  # words after an option are the query's too: sleuth search tax -k 3 return 2023
        if args.command != "search" or any(word.startswith("-") for word in extra):
            excluded = [word for word in extra if word.startswith("-") and not word.startswith("--")]
            hint = (
                f" (to leave out documents with {excluded[0][1:]!r}, quote the query or put it after --: "
                f"sleuth search -- {' '.join(args.query or ['WORDS'])} {excluded[0]})"
                if args.command == "search" and excluded
                else ""
            )
            parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
        args.query += extra
    if args.command is None:
        # The window is started by the ``sleuth`` launcher in app/; the engine alone has only commands.
        _parser().print_help()
        return EXIT_OK
    if args.command == "completion":
        from core.completion import script

        print(script(args.shell, _parser()), end="")
        return EXIT_OK
    try:
        with _library_noise(shown=args.verbose):
            code = _run(args)
    except (Cancelled, KeyboardInterrupt):
        print("sleuth: cancelled; run the same command again to continue.", file=sys.stderr)
        return EXIT_CANCELLED
    except SleuthError as exc:
        print(f"sleuth: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # a folder that cannot be written, a full disk: the system's own words
        if isinstance(exc, BrokenPipeError):
            raise
        print(f"sleuth: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception:  # a bug: its traceback to report, and the error status (1 would read "nothing found")
        import traceback

        traceback.print_exc()
        return EXIT_ERROR
    if args.command == "search" or code in (EXIT_OK, EXIT_CANCELLED):
        return code
    return EXIT_ERROR  # every other command: any failure is an error


def _colour() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _command_in(argv: Sequence[str]) -> str | None:
    after_db = False
    for arg in argv:
        if after_db:
            after_db = False
        elif arg == "--db":
            after_db = True
        elif not arg.startswith("-"):
            return arg
    return None


def _run(args: argparse.Namespace) -> int:
    if args.command == "search":
        return cmd_search(args)  # loads the settings only when no running Sleuth answers
    from core.settings import load_settings

    settings = load_settings()
    handler = {
        "index": cmd_index,
        "watch": cmd_watch,
        "status": cmd_status,
        "remove": cmd_remove,
        "config": cmd_config,
        "eval": cmd_eval,
        "adapt": cmd_adapt,
        "mcp": cmd_mcp,
    }[args.command]
    return handler(args, settings)


class _library_noise:
    """Hides the libraries' warnings, logs and "Loading weights" bars unless ``shown`` (--verbose).

    Python warnings are filtered at once (and restored on exit, so a caller's filters are untouched);
    transformers' own logger and bars only when a model is about to load (:func:`_hush_model_loading`),
    because importing transformers for a served search would cost more than the search.
    """

    current: _library_noise | None = None

    def __init__(self, shown: bool) -> None:
        self.shown = shown
        self.hushed = False
        self._warnings = warnings.catch_warnings()
        self._restore: list[Callable[[], object]] = []

    def __enter__(self) -> None:
        self._warnings.__enter__()
        if self.shown:
            return
        _library_noise.current = self
        shown = warnings.showwarning

        def showwarning(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> None:
            origin = category.__module__.split(".")[0]
            from_library = origin in NOISY_LIBRARIES or any(f"/{lib}/" in filename for lib in NOISY_LIBRARIES)
            if not from_library and not issubclass(category, (FutureWarning, DeprecationWarning)):
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = showwarning
        for var, value in (("TRANSFORMERS_VERBOSITY", "error"), ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")):
            if var not in os.environ:
                os.environ[var] = value
                self._restore.append(functools.partial(os.environ.pop, var, None))
        if "transformers" in sys.modules:
            _hush_model_loading()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for undo in reversed(self._restore):
            undo()
        if _library_noise.current is self:
            _library_noise.current = None
        self._warnings.__exit__(kind, exc, tb)


def _hush_model_loading() -> None:
    """transformers' logger to errors only and no "Loading weights" bar, until the command ends; not with --verbose."""
    noise = _library_noise.current
    if noise is None or noise.hushed:
        return
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()

    def no_loading_bars(factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if str(kwargs.get("desc", "")).startswith("Loading"):
            return hf_logging.EmptyTqdm(*args, **kwargs)
        return factory(*args, **kwargs)

    previous = hf_logging.set_tqdm_hook(no_loading_bars)

    def undo() -> None:
        hf_logging.set_verbosity(level)
        hf_logging.set_tqdm_hook(previous)

    noise.hushed = True
    noise._restore.append(undo)


def _no_library_bars() -> None:
    """No library's bar at all during a search (the model's, the reranker's, a tokenizer's); not with --verbose.

    ``HF_HUB_DISABLE_PROGRESS_BARS`` switches off huggingface_hub's bars and transformers' (both read it
    when they are imported, which a search does after this); if transformers is loaded already, its own switch.
    ``sleuth index`` keeps its bars: they are its own tqdm, not a library's.
    """
    noise = _library_noise.current
    if noise is None:
        return
    if "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ:
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        noise._restore.append(functools.partial(os.environ.pop, "HF_HUB_DISABLE_PROGRESS_BARS", None))
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        if hf_logging.is_progress_bar_enabled():
            hf_logging.disable_progress_bar()
            noise._restore.append(hf_logging.enable_progress_bar)


def _db_path(args: argparse.Namespace) -> Path:
    """The index folder: ``--db``, else ``$SLEUTH_DB`` or the user data folder."""
    return Path(args.db or default_db_path())


def _store(args: argparse.Namespace) -> Store:
    from core.index.store import Store  # LanceDB takes seconds to import: not for a served search

    return Store(_db_path(args))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _writer(args: argparse.Namespace, command: str, holder: str = "") -> WriteService:
    """The write service for this command: every CLI write goes through it (one writer per index)."""
    from core.service.writer import WriteService

    return WriteService(_store(args), holder or f"sleuth {command}")


def _add_folders(writer: WriteService, paths: Sequence[Path], command: str) -> list[Path]:
    """Add the folders named on the command line; at least one folder must be known."""
    drain(writer.add_folders(paths))
    if not writer.store.folders():
        raise SleuthError(f"No folders to {command}. Run: sleuth {command} FOLDER")
    return [path.expanduser().resolve() for path in paths]


def _load_settings_embedder(settings: Settings) -> Any:
    from core.index.indexer import settings_embedder

    _hush_model_loading()
    return settings_embedder(settings, _log)


def _settings_embedder_in_background(settings: Settings) -> Any:
    """The settings' embedder, its model loading on a background thread where it can be described without it:
    ``sleuth index`` reads and writes every file (keyword search) before it needs the model."""
    from core.index.indexer import settings_embedder_in_background

    return settings_embedder_in_background(settings, _log, before_load=_hush_model_loading)


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    # The reader processes start first: they load their readers and tokenizer while LanceDB imports here, and
    # into a new index they read the first files too.
    first_run = not _db_path(args).exists()
    with _early_readers(settings, args.paths if first_run else ()) as readers, _writer(args, "index") as writer:
        roots = _add_folders(writer, args.paths, "index")
        return _index(writer, settings, roots, args.no_progress, readers)


@contextmanager
def _early_readers(settings: Settings, new_folders: Sequence[Path]) -> Iterator[Readers | None]:
    """The text phase's reader processes, started now where the model's tokenizer is known without loading
    it, and reading the first files of ``new_folders`` (into an index that does not exist yet, every file is
    new); closed on the way out if the run never took them."""
    from core.embedding.background import describe_settings_embedder
    from core.index.reading import Readers, first_files, worker_count
    from core.ingest.scanning import Exclusions

    description = describe_settings_embedder(settings)
    if description is None:
        yield None
        return
    roots = [path.expanduser().resolve() for path in new_folders if path.is_dir()]
    exclusions = Exclusions.of(settings.exclude, settings.max_file_mb, settings.respect_gitignore)
    first = first_files(roots, exclusions, worker_count()) if roots else []
    with Readers(description.tokenizer, settings.chunk_size, settings.chunk_overlap).start(first) as readers:
        yield readers


def _index(
    writer: WriteService, settings: Settings, roots: Sequence[Path], no_progress: bool, readers: Readers | None = None
) -> int:
    indexer = writer.indexer(settings, _settings_embedder_in_background(settings), readers)
    if indexer.rebuilding:
        _log(
            f"Settings changed: building a new index ({indexer.profile.describe()}); the old one serves searches "
            "until it is complete."
        )
    with _progress_bar(disabled=no_progress) as render:
        report = drain(writer.index(settings, indexer.embedder, roots or None, indexer=indexer), render)
    _print_problems([(problem.path, problem.reason) for problem in report.problems], SKIPPED_SHOWN)
    for path in report.too_large:
        print(f"  skipped {display(path)}: larger than {settings.max_file_mb:g} MB (setting max_file_mb)")
    print(indexer.summary())
    from core.search.calibration import describe_estimate

    if report.fusion is not None:
        from core.embedding.registry import prior_dense_weight

        print(describe_estimate(report.fusion, prior_dense_weight(indexer.profile.model, indexer.profile.adapter)))
    return 0


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from core.service.background import BACKGROUND_HOLDER
    from core.service.live import lower_priority

    holder = BACKGROUND_HOLDER if args.background else "sleuth watch"
    with _watch_log() as say, _watch_writer(args, holder) as writer:
        folders = _add_folders(writer, args.paths, "watch")
        embedder = _load_settings_embedder(settings)
        if not args.full_speed:
            lower_priority()
        live = writer.follow(
            settings, embedder, folders=folders or None, quiet_s=args.quiet_seconds, on_notice=lambda n: say(str(n))
        )
        with _query_server(writer.store.path, settings, embedder, f"{holder} (pid {os.getpid()})"):
            return _follow(live, say)


def _watch_writer(args: argparse.Namespace, holder: str) -> WriteService:
    """The background watch is started by a window that is closing: it waits for that window to let go."""
    from core.service.background import TAKE_OVER_TIMEOUT_S
    from core.service.writer import IndexBusy

    deadline = time.monotonic() + (TAKE_OVER_TIMEOUT_S if args.background else 0.0)
    while True:
        try:
            return _writer(args, "watch", holder)
        except IndexBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@contextmanager
def _watch_log() -> Iterator[Callable[[str], None]]:
    """``sleuth watch`` runs for hours, often as a service: what it says goes to the log file too
    (core.paths.log_path), with Sleuth's own log records; warnings still reach stderr as before."""
    import logging

    from core.log_file import add_log_file, remove_log_file

    root = logging.getLogger()
    stderr: logging.Handler | None = None
    if not root.handlers:  # logging's last resort printed warnings on stderr: keep that once a file is added
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setLevel(logging.WARNING)
        root.addHandler(stderr)
    level = root.level
    handler = add_log_file()
    logger = logging.getLogger("sleuth.watch")

    def say(message: str) -> None:
        logger.info(message)  # first: a stop that comes as the line prints finds it logged
        _log(message)

    try:
        yield say
    except (SleuthError, OSError) as exc:
        logger.error("stopped: %s", exc)
        raise
    except Exception:
        logger.exception("stopped by an unexpected error")
        raise
    finally:
        remove_log_file(handler)
        if stderr is not None:
            root.removeHandler(stderr)
        root.setLevel(level)


@contextmanager
def _query_server(db: Path, settings: Settings, embedder: Embedder, served_by: str) -> Iterator[None]:
    """Answers ``sleuth search`` from this process's loaded model while the block runs."""
    from core.service.queries import Answerer, with_own_tokenizer
    from core.service.query_server import QueryServer
    from core.settings import load_settings

    def current_settings() -> Settings:
        nonlocal settings
        with contextlib.suppress(SleuthError):  # `sleuth config set dense_weight …` applies to the next search
            settings = load_settings()
        return settings

    answerer = Answerer(db, current_settings, with_own_tokenizer(embedder))
    server = QueryServer(db, answerer.answer, served_by)
    server.start()
    try:
        yield
    finally:
        server.stop()


def _follow(live: LiveIndexer, say: Callable[[str], None] = _log) -> int:
    import signal
    import threading
    import time

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:  # a service manager's stop is a Ctrl+C too

        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, interrupt)
    events = live.run()
    try:  # a stop that comes while the line below prints is a clean stop too
        say("Checking your folders, then following their changes (Ctrl+C to stop)…")
        for event in events:
            if event.phase == Phase.DONE and event.report is not None and event.report.changed:
                say(f"{time.strftime('%H:%M:%S')} {event.message}")
            elif event.phase == Phase.IDLE:
                say(event.message)
            elif _long_phase_starts(event):
                say(
                    f"Reading {event.files_total} files…"
                    if event.phase == Phase.TEXT
                    else f"Reading pictures of text in {event.files_total} files (OCR)…"
                    if event.phase == Phase.OCR
                    else f"Embedding {event.chunks_total} passages…"
                )
    except KeyboardInterrupt:
        live.stop()
        events.close()
        say("Stopped. Changes not applied yet are kept and applied at the next start.")
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _long_phase_starts(event: Any) -> bool:
    """The first event of a text or embed phase big enough to take a while."""
    if event.phase in (Phase.TEXT, Phase.OCR):
        return bool(event.files_done == 0 and event.files_total >= 50)
    return bool(event.phase == Phase.EMBED and event.chunks_done == 0 and event.chunks_total >= 50)


@contextmanager
def _progress_bar(disabled: bool) -> Iterator[Any]:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}
    disabled = disabled or (not sys.stderr.isatty() and os.environ.get("SLEUTH_PROGRESS") != "1")

    def render(event: Any) -> None:
        # A step without counts (building the vector index, turning the search vectors) is said in a line.
        step = event.phase == Phase.EMBED and not event.chunks_total and event.message
        if event.phase in (Phase.SCAN, Phase.MEASURE, Phase.DONE) or step:
            if event.phase != Phase.DONE:
                _log(event.message + "…" if not event.message.endswith("…") else event.message)
            return
        unit, done, total = (
            ("file", event.files_done, event.files_total)
            if event.phase in (Phase.TEXT, Phase.OCR)
            else ("chunk", event.chunks_done, event.chunks_total)
        )
        bar = bars.get(event.phase)
        if bar is None:
            desc = {Phase.TEXT: "Reading", Phase.OCR: "Reading pictures (OCR)"}.get(event.phase, "Embedding")
            bar = bars[event.phase] = tqdm(total=total, unit=unit, desc=desc, disable=disabled, file=sys.stderr)
            if disabled:
                _log(f"{desc} {total} {unit}s…")
        bar.update(done - bar.n)
        if event.current:
            bar.set_postfix_str(Path(event.current).name[:40], refresh=False)
        finished = event.message.startswith(KEYWORD_READY) if event.phase == Phase.TEXT else done == total
        if event.phase in (Phase.TEXT, Phase.OCR) and finished:
            bar.close()  # the line goes below the finished bar, at the moment it is true
            _log(event.message)

    try:
        yield render
    finally:
        for bar in bars.values():
            bar.close()


def cmd_search(args: argparse.Namespace) -> int:
    """Asks a running Sleuth first (no model to load, nothing heavy to import); else searches here."""
    from core.service.query_server import ask
    from core.service.search import SearchRequest

    db = _db_path(args)
    # k and mode None: the settings' values (of whichever process answers).
    request = SearchRequest(" ".join(args.query), args.k, args.mode, rerank=not args.no_rerank, sort=args.sort)
    data = ask(db, request)
    if data is None:
        from core.settings import load_settings

        _no_library_bars()
        data = _search_here(db, request, load_settings(), args.verbose)
    elif args.verbose:
        _log(f"answered by {data.get('served_by', 'a running Sleuth')}")
    if "error" in data:
        raise SleuthError(str(data["error"]))
    found = EXIT_OK if data["results"] else EXIT_NO_RESULTS
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return found
    for note in data["notes"]:
        _log(f"note: {note}")
    if not data["results"]:
        _log("No results.")
        return found
    if args.passages:
        for rank, hit in enumerate(data["results"][: args.k or PASSAGES], 1):
            scores = hit.get("scores", {})
            both = (
                f" (rerank {scores['rerank']:.3f}, fused {scores['fused']:.3f})"
                if {"rerank", "fused"} <= set(scores)
                else ""
            )
            print(f"{rank:2d}. {display(hit['path'])}{_where(hit)}  score {hit['score']:.4f}{both}")
            print("    " + _snippet(hit["text"], [(a, b) for a, b in hit["highlights"]]))
        return 0
    for rank, document in enumerate(data["documents"], 1):
        best, more = document["passages"][0], document["passages"][1:]
        modified = f"  modified {time.strftime('%Y-%m-%d', time.localtime(document['modified']))}"
        print(f"{rank:2d}. {display(document['path'])}{_where(best)}{modified if document['modified'] else ''}")
        print("    " + _snippet(best["text"], [(a, b) for a, b in best["highlights"]]))
        if more:
            places = _places(", ".join(_place(hit) for hit in more))
            print(f"    + {len(more)} more passage{'s' if len(more) != 1 else ''} in this file: {places}")
    return 0


def _where(hit: dict[str, Any]) -> str:
    if hit.get("line"):
        return f":{hit['line']}"
    return f" ({page_label(hit['path'])} {hit['page']})" if hit.get("page") else ""


def _place(hit: dict[str, Any]) -> str:
    return (
        f"line {hit['line']}"
        if hit.get("line")
        else f"{page_label(hit['path'])} {hit['page']}"
        if hit.get("page")
        else (f"passage {hit['ordinal'] + 1}")
    )


def _places(places: str, width: int = 60) -> str:
    return places if len(places) <= width else places[: places.rfind(",", 0, width)] + ", …"


LOAD_TIMES = "model-load-seconds.json"
#: Passages `sleuth search --passages` lists without -k (the documents' count is the setting's).
PASSAGES = 10
GUESSED_LOAD_S = 10.0


def _search_here(db: Path, request: SearchRequest, settings: Settings, verbose: bool) -> dict[str, Any]:
    """No Sleuth serves this index: load the model in this process, say so, and remember how long it took."""
    from core.service.queries import Answerer

    def load(profile: IndexProfile, current: Settings) -> Embedder:
        from core.embedding import load_embedder

        times = _load_times()
        about = times.get(profile.embedder_name, GUESSED_LOAD_S)
        _log(
            f"No Sleuth is running; loading the model (about {max(1, round(about))} s)… "
            "Start `sleuth watch` or the window for instant searches."
        )
        _hush_model_loading()
        started = time.perf_counter()
        embedder = load_embedder(
            profile.model,
            adapter=profile.adapter or None,
            device=current.device,
            precision=current.precision,
            progress=_log if verbose else None,
            depth=profile.depth,
        )
        times[profile.embedder_name] = time.perf_counter() - started
        _save_load_times(times)
        return embedder

    return Answerer(db, lambda: settings, load=load).answer(request)


def _load_times() -> dict[str, float]:
    try:
        data = json.loads((cache_dir() / LOAD_TIMES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)} if isinstance(data, dict) else {}


def _save_load_times(times: dict[str, float]) -> None:
    try:
        path = cache_dir() / LOAD_TIMES
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(times), encoding="utf-8")
    except OSError:
        pass  # only an estimate


def _snippet(text: str, spans: list[tuple[int, int]], width: int = 220) -> str:
    start = max(0, spans[0][0] - 60) if spans else 0
    piece = text[start : start + width]
    if _colour():
        for a, b in reversed([(a - start, b - start) for a, b in spans if start <= a < start + width]):
            piece = piece[:a] + "\033[1;33m" + piece[a:b] + "\033[0m" + piece[b:]
    return ("…" if start else "") + " ".join(piece.split()) + ("…" if start + width < len(text) else "")


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from core.index.stats import describe_search_dim, describe_size, describe_vectors, index_stats
    from core.search.calibration import describe_estimate
    from core.service.writer import WriterLock

    store = _store(args)
    stats = index_stats(store)
    writer = WriterLock.holder(store.path)
    if args.json:
        data = _status_dict(store.path, stats, describe_estimate)
        print(json.dumps({**data, "kept_up_to_date_by": writer}, indent=2, ensure_ascii=False))
        return 0
    print(f"Index: {store.path}")
    print(
        f"Kept up to date by: {writer}"
        if writer
        else "Kept up to date by: nothing now (the window or sleuth watch follows changes while it runs)"
    )
    print("Folders:" + ("" if stats.folders else " none (add one with: sleuth index FOLDER)"))
    for folder in stats.folders:
        print(f"  {display(folder)}")
    print(f"Size on disk: {describe_size(stats.disk_bytes)}")
    if not stats.profile:
        return 0
    print(f"Model: {stats.profile}; {describe_search_dim(stats)}")
    if args.verbose:
        print(f"Model identity: {stats.model_id}")
    print(describe_estimate(stats.estimate, stats.prior))
    print(
        f"Files: {stats.files} indexed, {len(stats.failures) - stats.skipped} unreadable, "
        f"{stats.skipped} skipped (not documents Sleuth reads); chunks: {stats.chunks}"
    )
    if vectors := describe_vectors(stats):
        print(f"Semantic search: {vectors}; keyword search finds the rest meanwhile")
    _print_problems(stats.failures)
    return 0


def _status_dict(path: Path, stats: IndexStats, describe_estimate: Callable[..., str]) -> dict[str, object]:
    data: dict[str, object] = {
        "index": str(path),
        "folders": [display(f) for f in stats.folders],
        "disk_bytes": stats.disk_bytes,
        "model": None,
    }
    if stats.profile:
        data["model"] = {
            "identity": stats.model_id,
            "description": stats.profile,
            "dimension": stats.dimension,
            "search_dim": stats.search_dim,
            "search_rotated": stats.search_rotated,
        }
        data["fusion"] = describe_estimate(stats.estimate, stats.prior)
        data.update(
            files=stats.files,
            chunks=stats.chunks,
            pending=stats.pending,
            files_waiting_for_vectors=stats.files_waiting,
            unreadable=[{"path": display(p), "reason": r} for p, r in stats.failures],
        )
    return data


#: ``sleuth index`` names this many skipped files of each reason (a folder of photos is one line, not
#: thousands, at every run); ``sleuth status`` names them all.
SKIPPED_SHOWN = 5


def _print_problems(problems: Sequence[tuple[str, str]], skipped_shown: int | None = None) -> None:
    """Files that could not be read, each with its reason, then the files skipped for their type."""
    from core.ingest.documents import problem_kind

    by_reason: dict[str, list[str]] = {}
    for path, reason in problems:
        if problem_kind(reason) is ProblemKind.SKIPPED:
            by_reason.setdefault(reason, []).append(path)
        else:
            print(f"  could not read {display(path)}: {reason}")
    for reason, paths in by_reason.items():
        for path in paths[:skipped_shown]:
            print(f"  skipped {display(path)}: {reason}")
        if skipped_shown is not None and len(paths) > skipped_shown:
            print(f"  skipped {len(paths) - skipped_shown:,} more: {reason} (sleuth status lists them all)")


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
    from core.settings import Cost, save_settings

    before = dataclasses.replace(settings)
    settings.set(args.key, args.value)
    cost = settings.cost_of(before)
    if cost is Cost.REWRITE:  # check for a second writer before anything is saved
        with _writer(args, "config") as writer:
            save_settings(settings)
            report = drain(writer.set_search_dim(settings.search_dim))
        print(report.message)
        return 0
    save_settings(settings)
    note = COST_NOTES[cost]
    if note:
        print(note)
    if before.keep_watching != settings.keep_watching:
        from core.service import background

        path = background.set_autostart(settings.keep_watching)
        print(
            f"Sleuth's background watch starts at login ({path}) and whenever the window closes."
            if settings.keep_watching
            else f"No background watch from now on (removed {path}); one running now stops at the window's next start."
        )
    return 0


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    """Until the assistant closes the connection; settings are read again for each search, as a served one is."""
    from core.service.mcp_server import serve
    from core.settings import load_settings

    def current() -> Settings:
        nonlocal settings
        with contextlib.suppress(SleuthError):
            settings = load_settings()
        return settings

    serve(_db_path(args), current)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from core.evaluation.command import run as run_eval

    _hush_model_loading()

    return run_eval(args, settings, _log)


def cmd_adapt(args: argparse.Namespace, settings: Settings) -> int:
    from core.training.command import run as run_adapt

    _hush_model_loading()

    with _writer(args, "adapt") as writer:

        def reindex(updated: Settings) -> int:
            return _index(writer, updated, [], args.no_progress)

        return run_adapt(args, settings, writer.adapt, _log, reindex)


if __name__ == "__main__":
    sys.exit(main())
