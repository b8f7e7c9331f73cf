"""Files Sleuth does not read are listed with their reason, once per size and mtime, never in silence.

Only names that are not documents by policy (droppings, backups, hidden files) are left out unlisted.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from core.cli import main
from core.embedding import Embedder
from core.index.indexer import Indexer
from core.index.stats import index_stats
from core.index.store import Store
from core.ingest import documents
from core.settings import Settings
from tests.core.test_cli import env  # noqa: F401 - the private config and database, tiny model

BINARY = bytes(range(256)) * 64

SKIPPED = {
    "song.mp3": "unsupported file type (.mp3)",
    "backup.tar.gz": "unsupported file type (.tar.gz)",
    "disk.iso": "unsupported file type (.iso)",  # over the size limit, but listed for its type
    "legacy.doc": "unsupported file type (.doc)",
    "core": "not a document (binary content)",
}
SILENT = (".DS_Store", "notes.txt~", ".notes.txt.swp", "movie.mp4.part", "report.crdownload", "app.lock")


def _folder(root: Path) -> Path:
    root.mkdir()
    (root / "notes.txt").write_text("Numbats eat termites with their long sticky tongues.")
    (root / "big.txt").write_text("wombat " * 400)  # over the size limit: listed as too large, as before
    (root / "song.mp3").write_bytes(b"ID3\x04" + BINARY)
    (root / "backup.tar.gz").write_bytes(b"\x1f\x8b" + BINARY)
    (root / "disk.iso").write_bytes(BINARY * 4)
    (root / "legacy.doc").write_text("An old Word file about the bilby (text, standing in for a format read later).")
    (root / "core").write_bytes(BINARY)
    for name in SILENT:
        (root / name).write_bytes(BINARY)
    return root


def _run(indexer: Indexer, folder: Path) -> dict[str, str]:
    for _ in indexer.run([folder]):
        pass
    return {Path(problem.path).name: problem.reason for problem in indexer.report.problems}


def test_skipped_files_are_listed_once_per_mtime_and_read_when_their_type_is(
    tmp_path: Path, store: Store, settings: Settings, tiny_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path / "docs")
    small = dataclasses.replace(settings, max_file_mb=2000 / 2**20)  # 2,000 bytes
    store.add_folder(folder)
    indexer = Indexer(store, small, tiny_embedder)

    assert _run(indexer, folder) == SKIPPED
    assert [Path(p).name for p in indexer.report.too_large] == ["big.txt"]
    assert indexer.report.added == 1  # notes.txt
    records = {Path(path).name: record for path, record in indexer.index.file_records().items()}
    assert set(records) == {"notes.txt", *SKIPPED}  # the silent names are not even recorded
    for name, reason in SKIPPED.items():
        assert (records[name].status, records[name].error, records[name].chunks, records[name].hash) == (
            "error",
            reason,
            0,
            "",  # never hashed: a disk image or a video is not read for a file Sleuth does not index
        )
    assert "Numbats" in indexer.index.chunks.search().where("path LIKE '%notes.txt'").to_list()[0]["text"]
    stats = index_stats(store)
    assert (stats.files, stats.skipped, len(stats.failures)) == (1, len(SKIPPED), len(SKIPPED))
    assert stats.folders[str(folder)].skipped == len(SKIPPED) and stats.folders[str(folder)].errors == 0
    assert f"{len(SKIPPED)} skipped (not documents Sleuth reads)" in indexer.summary()

    assert indexer.report.changed and not any(problem.known for problem in indexer.report.problems)

    # Unchanged: listed again from the records, nothing read or written again, and no news to announce.
    assert _run(indexer, folder) == SKIPPED
    assert (indexer.report.added, indexer.report.updated, indexer.report.unchanged) == (0, 0, 1 + len(SKIPPED))
    assert all(problem.known for problem in indexer.report.problems) and not indexer.report.changed

    # Changed on disk: looked at again, and still listed (once: no duplicate record).
    os.utime(folder / "song.mp3", (1_000_000_000, 1_000_000_000))
    assert _run(indexer, folder) == SKIPPED
    assert indexer.index.file_records()[str(folder / "song.mp3")].mtime == 1_000_000_000
    assert len(indexer.index.file_records()) == 1 + len(SKIPPED)

    # A Sleuth that reads a type reads the files it skipped before, though they have not changed.
    monkeypatch.setitem(documents.EXTRACTORS, ".doc", documents.EXTRACTORS[".txt"])
    expected = {name: reason for name, reason in SKIPPED.items() if name != "legacy.doc"}
    assert _run(indexer, folder) == expected
    assert indexer.report.added == 0 and indexer.report.updated == 1
    assert indexer.index.file_records()[str(folder / "legacy.doc")].status == "indexed"
    rows = indexer.index.chunks.search().where("path LIKE '%legacy.doc'").to_list()
    assert "bilby" in " ".join(row["text"] for row in rows)

    # A file with no suffix that becomes text is read.
    (folder / "core").write_text("Core notes: the quokka smiles.")
    assert "core" not in _run(indexer, folder)
    assert indexer.index.file_records()[str(folder / "core")].status == "indexed"


def test_a_dangling_link_and_a_fifo_with_no_suffix_are_listed_too(
    tmp_path: Path, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "CHANGES").symlink_to(folder / "gone")
    os.mkfifo(folder / "README")
    (folder / "archive.zip").symlink_to(folder / "gone.zip")
    store.add_folder(folder)
    problems = _run(Indexer(store, settings, tiny_embedder), folder)
    assert problems["CHANGES"] == "no such file or directory"
    assert problems["README"] == "not a regular file (a named pipe)"
    assert problems["archive.zip"] == "unsupported file type (.zip)"


def test_cli_index_and_status_list_skipped_files(
    env: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from core.cli import SKIPPED_SHOWN

    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "trip.txt").write_text("Videos from the trip to see the tree kangaroos.")
    videos = [f"clip_{n:04d}.mp4" for n in range(SKIPPED_SHOWN + 3)]
    for name in videos:
        (folder / name).write_bytes(b"\xff\xd8\xff\xe0" + BINARY)
    (folder / "dump").write_bytes(BINARY)
    (folder / "trip.txt.swp").write_bytes(BINARY)

    for run in range(2):  # the second run lists them again from the records
        assert main(["index", str(folder), "--no-progress"]) == 0
        out = capsys.readouterr().out
        lines = out.splitlines()
        assert sum(line.startswith("  skipped ") and "unsupported file type (.mp4)" in line for line in lines) == (
            SKIPPED_SHOWN + 1
        ), out
        assert "  skipped 3 more: unsupported file type (.mp4) (sleuth status lists them all)" in lines
        assert any(
            line.startswith("  skipped ") and line.endswith("/dump: not a document (binary content)") for line in lines
        )
        assert ".swp" not in out and "could not read" not in out
        assert f"{'1 new' if run == 0 else '0 new'}" in out
        assert re.search(rf"; {len(videos) + 1} skipped \(not documents Sleuth reads\)\.$", out, re.MULTILINE), out

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"Files: 1 indexed, 0 unreadable, {len(videos) + 1} skipped (not documents Sleuth reads)" in out
    for name in videos:
        assert f"  skipped {folder / name}: unsupported file type (.mp4)" in out
