"""``kill -9`` in the middle of indexing loses nothing and duplicates nothing: the next start finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import lancedb
import torch

from core.embedding import Embedder
from core.index.indexer import Indexer
from core.index.store import Store
from core.settings import Settings, save_settings
from tests.core.corpus import write_corpus

N_FILES = 240
SUBJECTS = ["sourdough starter", "basalt lava", "chess openings", "tomato blight", "tax deadline", "river otters"]


def notes(root: Path) -> Path:
    """A few hundred short notes (one chunk each) in a handful of folders."""
    files = {
        f"shelf{i % 6}/note{i:03d}.txt": f"Note {i} on shelf {i % 6}: {SUBJECTS[i % len(SUBJECTS)]}, item {i * 7}."
        for i in range(N_FILES)
    }
    return write_corpus(root, files).resolve()


def snapshot(db: Path) -> dict[str, Any]:
    """The active profile's tables, read straight from LanceDB as another process sees them."""
    store = Store(db)
    profile = store.active_profile()
    if profile is None:
        return {"files": {}, "chunks": [], "pending": 0}
    index = store.profile_index(profile)
    rows = index.chunks.search().select(["id", "path", "ordinal", "text", "vector"]).limit(None).to_list()
    return {
        "files": {path: (r.status, r.hash, r.chunks) for path, r in index.file_records().items()},
        "chunks": sorted((r["id"], r["path"], r["ordinal"], r["text"]) for r in rows),
        "pending": sum(1 for r in rows if r["vector"] is None),
    }


def table_rows(db: Path, prefix: str, where: str | None = None) -> int:
    """Rows of the first table named ``prefix…`` (0 while it does not exist yet), without creating anything."""
    try:
        connection = lancedb.connect(str(db))
        names = [n for n in connection.list_tables().tables if n.startswith(prefix)]
        return int(connection.open_table(names[0]).count_rows(where)) if names else 0
    except (OSError, ValueError, RuntimeError):  # the writer is creating the database right now
        return 0


def start_index(corpus: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "core.cli", "index", str(corpus), "--no-progress"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_when(process: subprocess.Popen[bytes], condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"indexing ended before {what}: {process.stderr.read().decode()[-2000:]}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def index_in_process(db: Path, corpus: Path, settings: Settings, embedder: Embedder) -> None:
    store = Store(db)
    store.add_folder(corpus)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy 2-core machine more threads only wait for each other
    try:
        for _ in Indexer(store, settings, embedder).run():
            pass
    finally:
        torch.set_num_threads(threads)


def test_killed_twice_then_restarted_equals_a_clean_run(
    tmp_path: Path, tiny_llama_dir: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    corpus = notes(tmp_path / "notes")
    clean_db = tmp_path / "clean.lancedb"
    index_in_process(clean_db, corpus, settings, tiny_embedder)
    clean = snapshot(clean_db)
    assert len(clean["files"]) == N_FILES and clean["pending"] == 0

    db = tmp_path / "db"
    # One torch thread, as in index_in_process.
    env = {**os.environ, "SLEUTH_DB": str(db), "SLEUTH_CONFIG_DIR": str(tmp_path / "config"), "OMP_NUM_THREADS": "1"}
    save_settings(settings, tmp_path / "config" / "settings.json")

    # Killed while reading files: some records and chunks are written, most are not.
    kill_when(start_index(corpus, env), lambda: table_rows(db, "files_") >= 20, "files to be read")
    partial = snapshot(db)
    assert 0 < len(partial["files"]) < N_FILES

    # Killed while embedding: every file read, vectors still missing.
    kill_when(start_index(corpus, env), lambda: table_rows(db, "files_") == N_FILES, "all files to be read")
    partial = snapshot(db)
    assert partial["pending"] > 0

    # The restart (in this process, to spare a third model load) finishes the job.
    index_in_process(db, corpus, settings, tiny_embedder)
    resumed = snapshot(db)
    ids = [row[0] for row in resumed["chunks"]]
    assert len(ids) == len(set(ids)), "duplicate chunks"
    assert resumed["pending"] == 0
    assert {row[1] for row in resumed["chunks"]} <= set(resumed["files"]), "chunks without a file"
    counts = Counter(row[1] for row in resumed["chunks"])
    assert all(counts[path] == chunks for path, (_s, _h, chunks) in resumed["files"].items())
    assert resumed == clean
