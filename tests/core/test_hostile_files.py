"""Files that used to hang, crash or exhaust an indexing run: each one is read safely or listed with its reason."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from pathlib import Path

import pytest

from core.embedding import Embedder
from core.index.indexer import Indexer
from core.index.store import Store
from core.ingest.documents import extract
from core.ingest.scanning import content_hash
from core.jobs import Phase
from core.settings import Settings
from tests.core.hostile import (
    ODT_LINES,
    bytes_name,
    deadline,
    make_symlink_loop,
    peak_rss_mb,
    write_docx_bomb,
    write_odt,
)


def _index(store: Store, settings: Settings, embedder: Embedder, folder: Path) -> Indexer:
    indexer = Indexer(store, settings, embedder)
    with deadline(120):
        for _ in indexer.run([folder]):
            pass
    return indexer


def _names(indexer: Indexer) -> dict[str, str]:
    return {Path(path).name: record.status for path, record in indexer.index.file_records().items()}


def test_fifo_device_link_and_link_loop_never_hang_and_are_listed(
    tmp_path: Path, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("Wombats dig burrows with their strong claws.")
    os.mkfifo(folder / "pipe.txt")  # opening it blocks until a writer comes
    (folder / "zero.txt").symlink_to("/dev/zero")  # never ends
    make_symlink_loop(folder / "loop.txt")
    (folder / "alias.txt").symlink_to("good.txt")  # inside the folder: indexed
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("A file outside the added folder.")
    (folder / "outside.txt").symlink_to(outside)  # outside: not followed
    store.add_folder(folder)

    for run in range(2):  # the second, unchanged run still lists them
        indexer = _index(store, settings, tiny_embedder, folder)
        problems = {Path(p.path).name: p.reason for p in indexer.report.problems}
        assert problems.keys() == {"pipe.txt", "zero.txt", "loop.txt"}, run
        assert problems["pipe.txt"] == "not a regular file (a named pipe)"
        assert problems["zero.txt"] == "not a regular file (a device)"
        assert "symbolic links" in problems["loop.txt"]
        names = _names(indexer)
        assert names["good.txt"] == names["alias.txt"] == "indexed"
        assert "outside.txt" not in names


def test_hashing_reads_only_regular_files_and_stops_at_the_limit(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 5000)
    with deadline(20):
        for name in ("pipe.txt", "zero.txt"):
            try:
                content_hash(tmp_path / name)
            except OSError as exc:
                assert "not a regular file" in str(exc)
            else:
                raise AssertionError(f"{name} was hashed")
    # Hashing stops at the limit: a file that grows past it while being read is cut off there.
    assert content_hash(big, limit=1000) != content_hash(big)
    small = tmp_path / "small.txt"
    small.write_bytes(b"x" * 1000)
    assert content_hash(big, limit=1000) == content_hash(small)


def test_a_name_that_is_not_utf8_does_not_stop_the_run(
    tmp_path: Path, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text("Echidnas are monotremes that eat ants.")
    odd = bytes_name(folder, b"caf\xe9 notes.txt")
    with open(os.fsencode(odd), "wb") as handle:
        handle.write(b"Latin-1 named file about numbats.")
    # Hashing and extraction take the name as Python's os functions give it.
    assert content_hash(odd)
    assert extract(odd).text == "Latin-1 named file about numbats."
    store.add_folder(folder)

    indexer = _index(store, settings, tiny_embedder, folder)
    names = _names(indexer)
    assert names["good.txt"] == "indexed"
    problems = {p.path: p.reason for p in indexer.report.problems}
    if odd.name in names:  # the store keeps such names losslessly
        assert names[odd.name] == "indexed" and not problems
    else:  # or the file alone is listed, its name shown readably
        assert list(problems) == [str(folder / "caf\\xe9 notes.txt")]
        assert "not valid UTF-8" in problems[str(folder / "caf\\xe9 notes.txt")]
    # The watcher's path hands such a name to apply(): same outcome, no crash.
    with deadline(60):
        for _ in indexer.apply([str(odd)]):
            pass


def test_docx_bomb_is_refused_before_it_is_inflated(
    tmp_path: Path, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    bomb = write_docx_bomb(folder / "bomb.docx", megabytes=300)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    (folder / "fine.txt").write_text("Quolls are carnivorous marsupials.")
    store.add_folder(folder)
    before = peak_rss_mb()
    indexer = _index(store, settings, tiny_embedder, folder)
    assert peak_rss_mb() - before < 150
    problems = {Path(p.path).name: p.reason for p in indexer.report.problems}
    assert list(problems) == ["bomb.docx"]
    assert re.fullmatch(r"compressed parts expand to 30\d MB; refused as a possible zip bomb", problems["bomb.docx"])
    assert _names(indexer)["fine.txt"] == "indexed"


def test_odt_and_extensionless_text_files_are_indexed_binary_files_are_listed(
    tmp_path: Path, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_odt(folder / "notes.odt")
    (folder / "README.Debian").write_text("Debian packaging notes for the kookaburra tool.\n")
    (folder / "CHANGES").write_text("Version 2: the bilby release.\n")
    (folder / "LICENSE").write_text("Permission is hereby granted, free of charge.\n")
    (folder / "core").write_bytes(bytes(range(256)) * 64)  # a binary with no suffix
    (folder / "data.bin").write_text("text, but a binary format's name: not read")
    (folder / ".hidden").write_text("a dotfile is not a document")
    store.add_folder(folder)

    indexer = _index(store, settings, tiny_embedder, folder)
    problems = {Path(p.path).name: p.reason for p in indexer.report.problems}
    assert problems == {"core": "not a document (binary content)", "data.bin": "unsupported file type (.bin)"}
    assert _names(indexer) == {
        **dict.fromkeys(["notes.odt", "README.Debian", "CHANGES", "LICENSE"], "indexed"),
        **dict.fromkeys(["core", "data.bin"], "error"),
    }  # the dotfile is not a document, by policy: neither read nor listed
    assert extract(folder / "notes.odt").text.split("\n") == ODT_LINES
    rows = indexer.index.chunks.search().where("path LIKE '%notes.odt'").limit(None).to_list()
    assert "platypus" in " ".join(row["text"] for row in rows)


@pytest.mark.slow
def test_a_20_mb_one_line_file_is_read_and_chunked_in_bounded_memory(
    tmp_path: Path, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    line = " ".join(f"numbat{i % 1000}" for i in range(2_000))
    with (folder / "log.txt").open("w") as handle:
        for _ in range(20 * 10**6 // len(line) + 1):
            handle.write(line + " ")
    store.add_folder(folder)
    indexer = Indexer(store, dataclasses.replace(settings, chunk_size=512, chunk_overlap=32), tiny_embedder)
    before = peak_rss_mb()
    with deadline(300):
        for progress in indexer.run([folder]):
            if progress.phase is Phase.EMBED:
                break  # read, chunked and written; embedding is not what is measured
    grown = peak_rss_mb() - before
    print(f"20 MB line: peak memory grew by {grown:.0f} MB", file=sys.__stderr__)
    assert grown < 500, f"peak memory grew by {grown:.0f} MB"  # before: gigabytes (~250 bytes per character)
    assert not indexer.report.problems
    rows = indexer.index.chunks.search().where("ordinal = 0 OR ordinal = 1000").limit(None).to_list()
    text = (folder / "log.txt").read_text()
    assert len(rows) == 2
    assert all(text[row["char_start"] : row["char_end"]] == row["text"] for row in rows)
