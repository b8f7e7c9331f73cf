"""``sleuth index`` says "Keyword search ready" when every file's text is searchable, and files read in worker
processes are indexed exactly as files read on the indexer's own thread."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import wait
from pathlib import Path

import pytest

from core.cli import main
from core.index import indexer as indexer_module
from core.index.indexer import Indexer
from core.index.reading import (
    AHEAD_PER_WORKER,
    FIRST_FILES_PER_WORKER,
    POOL_MIN_FILES,
    FileText,
    Readers,
    ReadJob,
    first_files,
)
from core.index.reading import _read_in_worker as read_in_worker
from core.index.store import Store
from core.ingest.scanning import Exclusions
from core.jobs import KEYWORD_READY, Phase
from core.settings import Settings
from tests.conftest import private_sleuth

ROOT = Path(__file__).resolve().parents[2]
FILES = POOL_MIN_FILES + 6  # enough for the worker processes


def write_folder(folder: Path) -> Path:
    """Notes with a word of their own each (``keyword<n>``), in several formats and folders, and one bad file."""
    for n in range(FILES):
        sub = folder / f"part{n % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        body = f"Note {n} about keyword{n} and the harbour.\n\n" + "Ships come and go with the tide. " * (n + 3)
        if n % 4 == 0:
            (sub / f"note{n}.html").write_text(f"<html><body><h1>Note {n}</h1><p>{body}</p></body></html>")
        else:
            (sub / f"note{n}.md").write_text(f"# Note {n}\n\n{body}")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    return folder


@pytest.fixture
def env(tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SLEUTH_DB", str(tmp_path / "db"))
    monkeypatch.setenv("SLEUTH_RUNTIME_DIR", str(tmp_path / "run"))
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["config", "set", "chunk_size", "48"]) == 0
    return tmp_path


def _search(word: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "search", word, "--mode", "bm25", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    return {Path(hit["path"]).name for hit in json.loads(done.stdout)["results"]} if done.returncode == 0 else set()


def test_sleuth_index_says_keyword_search_ready_when_a_keyword_search_finds_every_file(env: Path) -> None:
    folder = write_folder(env / "docs")
    process = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "index", str(folder), "--no-progress"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    found: dict[str, set[str]] = {}
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith(KEYWORD_READY):
            process.send_signal(signal.SIGSTOP)  # searched at that very moment, before anything else is written
            try:
                found = {word: _search(word) for word in ("keyword0", f"keyword{FILES - 1}", "keyword13")}
            finally:
                process.send_signal(signal.SIGCONT)
    assert process.wait(timeout=300) == 0, "\n".join(lines)
    ready = next(i for i, line in enumerate(lines) if line.startswith(KEYWORD_READY))
    assert lines[ready] == f"{KEYWORD_READY}: {FILES + 1} files read"
    embedding = next(i for i, line in enumerate(lines) if line.startswith("Embedding"))
    assert ready < embedding, "keyword search is ready before embedding starts"
    assert found == {
        "keyword0": {"note0.html"},
        f"keyword{FILES - 1}": {f"note{FILES - 1}.md"},
        "keyword13": {"note13.md"},
    }
    assert any("broken.pdf" in line for line in lines), "the broken file is listed, and the run went on"


def _chunks(db: Path) -> list[tuple[object, ...]]:
    store = Store(db)
    profile = store.active_profile()
    assert profile is not None
    table = store.profile_index(profile).chunks.to_arrow()
    columns = ["id", "path", "text", "page", "char_start", "char_end", "n_tokens", "text_cjk", "text_glued"]
    columns.append("text_hash")
    return sorted(zip(*(table[c].to_pylist() for c in columns), strict=True))


def test_files_read_in_worker_processes_are_indexed_as_on_the_indexers_thread(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.embedding import load_embedder

    folder = write_folder(tmp_path / "docs").resolve()
    (folder / "日本語.txt").write_text("東京の天気はPython3で調べる。" * 20)
    embedder = load_embedder(settings.model, device="cpu")
    reports = {}
    for name, pool_from in (("workers", POOL_MIN_FILES), ("thread", 10**9)):
        monkeypatch.setattr(indexer_module, "POOL_MIN_FILES", pool_from)
        store = Store(tmp_path / name)
        store.add_folder(folder)
        events = list(Indexer(store, settings, embedder).run([folder]))
        assert any(e.phase == Phase.TEXT and e.message.startswith(KEYWORD_READY) for e in events)
        reports[name] = events[-1].report
    assert _chunks(tmp_path / "workers") == _chunks(tmp_path / "thread")
    workers, thread = reports["workers"], reports["thread"]
    assert workers is not None and thread is not None
    assert (workers.added, workers.chunks_written) == (thread.added, thread.chunks_written)
    assert [(p.path, p.reason) for p in workers.problems] == [(p.path, p.reason) for p in thread.problems]
    assert any(p.path.endswith("broken.pdf") for p in workers.problems)


def _reader_pids() -> set[int]:
    return {child.pid for child in multiprocessing.active_children() if child.pid is not None}


def test_readers_started_ahead_read_the_run_that_takes_them_and_end_with_it(tmp_path: Path) -> None:
    """``sleuth index`` starts the reader processes while LanceDB imports; the run reads with them (even a few
    files), unless they chunk differently from it, and no process outlives the text phase."""
    from core.embedding import bundled_encoder, load_embedder
    from core.embedding.background import BackgroundEmbedder, describe_embedder

    folder = write_folder(tmp_path / "docs").resolve()
    for extra in sorted(folder.rglob("note*"))[3:]:
        extra.unlink()  # fewer files than a pool is started for
    settings = Settings(model=bundled_encoder.ALIAS, device="cpu", chunk_size=48, chunk_overlap=8)
    description = describe_embedder(settings.model, device="cpu")
    assert description is not None
    runs = {"none": None, "matching": 48, "other chunk size": 64}
    for name, chunk_size in runs.items():
        before = _reader_pids()  # the PDF reader of an earlier run may live on
        readers = None if chunk_size is None else Readers(description.tokenizer, chunk_size, 8, workers=2).start()
        started = _reader_pids() - before
        deadline = time.monotonic() + 120
        while readers is not None and len(started) < 2 and time.monotonic() < deadline:  # started on a thread
            time.sleep(0.01)
            started = _reader_pids() - before
        assert len(started) == (0 if readers is None else 2)
        embedder = BackgroundEmbedder(description, lambda: load_embedder(settings.model, device="cpu"))
        store = Store(tmp_path / name.replace(" ", "-"))
        store.add_folder(folder)
        reading: set[int] = set()
        for event in Indexer(store, settings, embedder, readers=readers).run([folder]):
            if event.phase == Phase.TEXT and event.current and not reading:  # a file has come back
                reading = _reader_pids() - before
            if event.message.startswith(KEYWORD_READY):
                break  # the text phase is what this is about
        # The matching processes read the run; the others were closed before it began.
        assert started <= reading if name == "matching" else not started & reading
        assert not started & _reader_pids(), "the processes started ahead end with the text phase"
    assert _chunks(tmp_path / "matching") == _chunks(tmp_path / "none") == _chunks(tmp_path / "other-chunk-size")


def test_a_file_read_before_the_run_that_changed_since_is_read_again(tmp_path: Path) -> None:
    """Into a new index, ``sleuth index`` reads the first files while the index opens; a file that changes
    after that early read is read again by the run (the run's scan sees it differently), never kept stale."""
    from core.embedding import bundled_encoder, load_embedder
    from core.embedding.background import BackgroundEmbedder, describe_embedder

    folder = write_folder(tmp_path / "docs").resolve()
    settings = Settings(model=bundled_encoder.ALIAS, device="cpu", chunk_size=48, chunk_overlap=8)
    description = describe_embedder(settings.model, device="cpu")
    assert description is not None
    exclusions = Exclusions.of(settings.exclude, settings.max_file_mb, settings.respect_gitignore)
    first = first_files([folder], exclusions, workers=2)
    assert 0 < len(first) <= 2 * FIRST_FILES_PER_WORKER
    readers = Readers(description.tokenizer, 48, 8, workers=2).start(first)
    readers._started()  # white box: wait until every early read is done, then change a file they read
    for future in list(readers._early.values()):
        future.result()
    changed = next(Path(job.path) for job in first if job.path.endswith(".md"))
    changed.write_text("Rewritten after it was read: the word lighthouse.\n")
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 5_000_000_000))
    store = Store(tmp_path / "index")
    store.add_folder(folder)
    embedder = BackgroundEmbedder(description, lambda: load_embedder(settings.model, device="cpu"))
    for event in Indexer(store, settings, embedder, readers=readers).run([folder]):
        if event.message.startswith(KEYWORD_READY):
            break
    texts = {(path, text) for _id, path, text, *_rest in _chunks(tmp_path / "index")}
    assert {text for path, text in texts if path == str(changed)} == {
        "Rewritten after it was read: the word lighthouse."
    }
    others = Store(tmp_path / "reference")
    others.add_folder(folder)
    reference = BackgroundEmbedder(description, lambda: load_embedder(settings.model, device="cpu"))
    for event in Indexer(others, settings, reference).run([folder]):
        if event.message.startswith(KEYWORD_READY):
            break
    assert _chunks(tmp_path / "index") == _chunks(tmp_path / "reference"), "every early read is what the run reads"


def test_the_first_files_read_early_are_few_and_found_without_walking_a_whole_folder(tmp_path: Path) -> None:
    exclusions = Exclusions.of([], 100, True)
    texts = tmp_path / "texts"
    texts.mkdir()
    for n in range(2 * FIRST_FILES_PER_WORKER + 10):
        (texts / f"note{n:03}.txt").write_text(f"note {n}\n")
    first = first_files([texts], exclusions, workers=2)
    assert [Path(job.path).name for job in first] == [f"note{n:03}.txt" for n in range(2 * FIRST_FILES_PER_WORKER)]
    seen = [(Path(job.path).stat().st_size, Path(job.path).stat().st_mtime) for job in first]
    assert [(job.size, job.mtime) for job in first] == seen, "each carries what the scan saw"
    photos = tmp_path / "photos"
    (photos / "z").mkdir(parents=True)
    for n in range(8 * FIRST_FILES_PER_WORKER + 1):
        (photos / f"img{n:03}.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (photos / "z" / "b.txt").write_text("after the photos\n")  # a folder's files come before its subfolders'

    assert first_files([photos], exclusions, workers=2) == [], "images are left to the run, and the walk stops"
    assert [Path(job.path).name for job in first_files([photos], exclusions, workers=3)] == ["b.txt"]


#: Runs the real ``sleuth`` command line with torch held back: importing it waits until the file named by
#: SLEUTH_TEST_RELEASE exists (SLEUTH_TEST_ASKED is created when something first asks for it). A text phase
#: that needed torch, or the model, would never say "Keyword search ready" while it is held.
HOLD_TORCH = """
import importlib.abc, importlib.machinery, os, sys, time

class Held(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        open(os.environ["SLEUTH_TEST_ASKED"], "w").close()
        while not os.path.exists(os.environ["SLEUTH_TEST_RELEASE"]):
            time.sleep(0.05)
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)

class HoldTorch(importlib.abc.MetaPathFinder):
    # Only importing torch waits: looking it up (LanceDB asks whether it is installed) does not.
    def find_spec(self, name, path, target=None):
        if name != "torch":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = Held(spec.loader)
        return spec

sys.meta_path.insert(0, HoldTorch())
from core.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("files", [FILES, 3], ids=["many files", "a few files"])
def test_keyword_search_is_ready_before_torch_is_imported_or_the_model_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: int
) -> None:
    folder = write_folder(tmp_path / "docs")
    for extra in sorted(folder.rglob("note*"))[files:]:
        extra.unlink()
    asked, release = tmp_path / "torch-asked", tmp_path / "torch-release"
    with private_sleuth(tmp_path, monkeypatch) as env:
        # The default model on a CPU (the bundled MiniLM), on a device known without torch.
        assert main(["config", "set", "device", "cpu"]) == 0
        assert main(["config", "set", "chunk_size", "48"]) == 0
        env = {**env, "SLEUTH_TEST_ASKED": str(asked), "SLEUTH_TEST_RELEASE": str(release), "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-c", HOLD_TORCH, "index", str(folder), "--no-progress"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        lines: list[str] = []
        found: set[str] = set()
        held_when_ready = False
        # A text phase that waits for torch would wait for ever: let go of it after a while, and fail.
        watchdog = threading.Timer(300, release.touch)
        watchdog.start()
        try:
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                if line.startswith(KEYWORD_READY):
                    held_when_ready = not release.exists()
                    found = _search("keyword0")  # searchable now, while torch still cannot be imported
                    release.touch()
        finally:
            watchdog.cancel()
            release.touch()  # whatever happened, the child is not left waiting
            code = process.wait(timeout=300)
    assert code == 0, "\n".join(lines)
    assert f"{KEYWORD_READY}: {files + 1} files read" in lines, "\n".join(lines)
    assert held_when_ready, "keyword search was ready only once torch could be imported"
    assert found == {"note0.html"}
    assert asked.exists(), "torch was imported through the hold: it was held while keyword search became ready"
    ready = lines.index(f"{KEYWORD_READY}: {files + 1} files read")
    assert any(line.startswith("Embedding") for line in lines[ready:]), "\n".join(lines)


def read_when_released(gate: str, job: ReadJob) -> FileText:
    """In a reader process: read ``job`` as the workers do, once the file ``gate`` exists (a slow file)."""
    while not os.path.exists(gate):
        time.sleep(0.01)
    return read_in_worker(job)


def test_a_file_that_is_slow_to_read_holds_up_no_other(tmp_path: Path) -> None:
    """The readers hand back each file as soon as it is read: the files after a slow one come back while it is
    being read, and it comes back too. The slow one is a worker's read that waits until the test lets it go."""
    from core.embedding import bundled_encoder
    from core.embedding.background import describe_embedder

    description = describe_embedder(bundled_encoder.ALIAS, device="cpu")
    assert description is not None
    slow = tmp_path / "slow.txt"
    slow.write_text("The slow note, about the lighthouse.\n")
    quick = []
    for n in range(6):
        quick.append(tmp_path / f"quick-{n}.txt")
        quick[-1].write_text(f"Quick note {n} about the harbour.\n")
    gate = tmp_path / "gate"
    opener = threading.Timer(120, gate.touch)  # handed back in order, nothing came back before this
    opener.daemon = True
    opener.start()
    jobs = [ReadJob(str(slow))] + [ReadJob(str(path)) for path in quick]
    with Readers(description.tokenizer, 48, 8, workers=2) as readers:
        readers.start()
        readers._started()  # white box: the slow file's read is handed to a worker as an early read
        readers._early[jobs[0]] = readers._submit_call(read_when_released, 2, str(gate), jobs[0])
        texts = readers.read(jobs)
        first = [next(texts) for _ in quick]
        assert opener.is_alive(), "the quick files came back only after the slow one was let go"
        opener.cancel()
        gate.touch()
        (job, text), *rest = list(texts)
    assert sorted(job.path for job, _text in first) == sorted(str(path) for path in quick)
    assert all(not text.error and text.rows for _job, text in first)
    assert job.path == str(slow) and not rest
    assert not text.error and "lighthouse" in text.rows[0]["text"]


@pytest.mark.parametrize("broken_before_the_read", [False, True])
def test_a_reader_that_dies_loses_no_file_and_repeats_none(tmp_path: Path, broken_before_the_read: bool) -> None:
    """A worker process that dies mid-read (a native crash in a reader) breaks the pool: every file that was
    out is read again, one at a time, and each comes back once. The death is a worker told to exit; with
    ``broken_before_the_read`` the pool is broken before the next files are handed out (a race that once
    ended the whole run with ``BrokenProcessPool``)."""
    from core.embedding import bundled_encoder
    from core.embedding.background import describe_embedder

    description = describe_embedder(bundled_encoder.ALIAS, device="cpu")
    assert description is not None
    files = []
    for n in range(7):
        files.append(tmp_path / f"note-{n}.txt")
        files[-1].write_text(f"Note {n} about the harbour.\n")
    jobs = [ReadJob(str(path)) for path in files]
    with Readers(description.tokenizer, 48, 8, workers=2) as readers:
        readers.start()
        readers._started()  # white box: the first file's read is a worker that dies
        readers._early[jobs[0]] = readers._submit_call(os._exit, 2, 1)
        if broken_before_the_read:
            wait([readers._early[jobs[0]]])
        texts = list(readers.read(jobs))
    assert sorted(job.path for job, _text in texts) == sorted(str(path) for path in files)
    assert all(not text.error and text.rows for _job, text in texts)


@pytest.mark.skipif(sys.platform != "linux", reason="watches file opens with inotify")
def test_the_workers_read_on_while_the_indexer_writes(tmp_path: Path) -> None:
    """Between two files the indexer takes, it writes a batch: the workers go on reading meanwhile, further than
    the files they hold at a time. The test takes one file, then, like an indexer in a long write, nothing, and
    watches (inotify) for a worker to open the last file."""
    from watchdog.events import FileOpenedEvent, FileSystemEvent, FileSystemEventHandler
    from watchdog.observers.inotify import InotifyObserver

    from core.embedding import bundled_encoder
    from core.embedding.background import describe_embedder

    description = describe_embedder(bundled_encoder.ALIAS, device="cpu")
    assert description is not None
    folder = tmp_path / "notes"
    folder.mkdir()
    files = []
    for n in range(4 * AHEAD_PER_WORKER + 1):  # twice what the two workers hold at a time, and the last
        files.append(folder / f"note-{n:02d}.txt")
        files[-1].write_text(f"Note {n} about the harbour.\n")
    last_opened = threading.Event()

    class Opens(FileSystemEventHandler):
        def on_opened(self, event: FileSystemEvent) -> None:
            if isinstance(event, FileOpenedEvent) and Path(str(event.src_path)) == files[-1]:
                last_opened.set()

    observer = InotifyObserver()
    observer.schedule(Opens(), str(folder))
    observer.start()
    jobs = [ReadJob(str(path)) for path in files]
    try:
        with Readers(description.tokenizer, 48, 8, workers=2) as readers:
            texts = readers.read(jobs)
            first = next(texts)
            assert last_opened.wait(120), "the workers stopped reading while their caller was busy"
            back = [first, *texts]
    finally:
        observer.stop()
        observer.join()
    assert sorted(job.path for job, _text in back) == sorted(job.path for job in jobs)
    assert all(not text.error and text.rows for _job, text in back)
