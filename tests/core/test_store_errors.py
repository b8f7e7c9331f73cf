"""What LanceDB and the OS report when the index cannot be written, in words a user can act on."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.errors import StoreError
from core.index.failures import DISK_FULL, VANISHED, store_error
from core.index.indexer import Indexer
from core.index.store import Store
from core.settings import Settings
from tests.core.corpus import write_corpus

# Raised by LanceDB 0.40 writing to a full 2 MB tmpfs (add, optimize and merge_insert alike).
LANCE_DISK_FULL = (
    "lance error: LanceError(IO): No space left on device (os error 28), /root/.cargo/registry/src/"
    "index.crates.io-1949cf8c6b5b557f/lance-file-13.0.0/src/writer/structural.rs:258:9"
)
# Raised by LanceDB 0.40 when a table's folder was deleted under an open connection.
LANCE_GONE = (
    "lance error: Not found: tmp/lt/db4/t.lance/_versions, /root/.cargo/registry/src/"
    "index.crates.io-1949cf8c6b5b557f/lance-table-13.0.0/src/io/commit.rs:653:26"
)


def test_a_full_disk_is_named_as_such() -> None:
    for raw in (RuntimeError(LANCE_DISK_FULL), OSError(errno.ENOSPC, "No space left on device")):
        error = store_error(raw)
        assert isinstance(error, StoreError) and str(error) == DISK_FULL
    assert store_error(RuntimeError("lance error: Commit conflict for version 7")) is None


def test_an_index_folder_deleted_while_sleuth_runs_is_explained(
    settings: Settings, tiny_embedder: Embedder, tmp_path: Path
) -> None:
    assert str(store_error(RuntimeError(LANCE_GONE))) == VANISHED
    root = write_corpus(tmp_path / "docs").resolve()
    store = Store(tmp_path / "index.lancedb")
    store.add_folder(root)
    indexer = Indexer(store, settings, tiny_embedder)
    for _ in indexer.run([root]):
        pass
    shutil.rmtree(store.path)
    (root / "new.txt").write_text("A late file.", encoding="utf-8")
    with pytest.raises(StoreError, match="deleted or moved"):
        for _ in indexer.apply([root / "new.txt"]):
            pass
    reopened = Store(tmp_path / "index.lancedb")  # the next start builds it again
    reopened.add_folder(root)
    again = Indexer(reopened, settings, tiny_embedder)
    for _ in again.run([root]):
        pass
    assert again.report.added == 6
