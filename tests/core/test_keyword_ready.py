"""``sleuth index`` says "Keyword search ready" when every file's text is searchable, and files read in worker
processes are indexed exactly as files read on the indexer's own thread."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.index import indexer as indexer_module
from core.index.indexer import Indexer
from core.index.reading import POOL_MIN_FILES
from core.index.store import Store
from core.jobs import KEYWORD_READY, Phase
from core.settings import Settings

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
