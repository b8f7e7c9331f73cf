"""One folder holding everything that has hung, crashed or exhausted Sleuth, indexed through the CLI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from core.cli import main
from tests.core.hostile import (
    bytes_name,
    deadline,
    make_symlink_loop,
    peak_rss_mb,
    write_docx_bomb,
    write_long_pdf,
    write_odt,
    write_table_html,
)
from tests.core.test_cli import env  # noqa: F401 - the private config and database, tiny model


def make_hostile_folder(folder: Path) -> dict[str, str]:
    """The folder, and what each unreadable file's reason must say."""
    folder.mkdir()
    make_symlink_loop(folder / "loop.txt")
    os.mkfifo(folder / "pipe.txt")
    (folder / "zero.txt").symlink_to("/dev/zero")
    with open(os.fsencode(bytes_name(folder, b"r\xe9sum\xe9.txt")), "wb") as handle:
        handle.write(b"A name in Latin-1 bytes, about bandicoots.")
    (folder / "line\nbreak.txt").write_text("A name with a newline in it, about possums.")
    secret = folder / "secret.txt"
    secret.write_text("mode 000")
    secret.chmod(0)
    # 20 MB on one line, of words the tiny model's tokenizer knows (few tokens: embedding stays quick).
    words = " ".join(["differently", "documents", "passages", "matching", "embedded", "research"] * 1000) + " "
    with (folder / "huge-line.txt").open("w") as handle:
        for _ in range(20 * 10**6 // len(words) + 1):
            handle.write(words)
    write_table_html(folder / "table.html")
    write_docx_bomb(folder / "bomb.docx")
    write_odt(folder / "notes.odt")
    write_long_pdf(folder / "survey.pdf", pages=5_000)
    (folder / "sjis.txt").write_bytes("カモノハシ (quokkasjis) は卵を産む哺乳類です。".encode("shift_jis"))
    reasons = {
        "loop.txt": "symbolic links",
        "pipe.txt": "not a regular file (a named pipe)",
        "zero.txt": "not a regular file (a device)",
        "bomb.docx": "refused as a possible zip bomb",
    }
    if os.geteuid() != 0:  # root reads files whatever their mode
        reasons["secret.txt"] = "permission denied"
    return reasons


@pytest.mark.slow
def test_hostile_folder_is_indexed_without_hang_traceback_or_runaway_memory(
    env: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "hostile"
    reasons = make_hostile_folder(folder)
    assert (folder / "huge-line.txt").stat().st_size > 20 * 10**6
    assert main(["config", "set", "chunk_size", "2048"]) == 0  # fewer, larger chunks for the 20 MB line
    capsys.readouterr()
    before = peak_rss_mb()
    try:
        with deadline(1800):  # a hang guard only: on a shared 2-core machine the run took 16 minutes
            code = main(["index", str(folder), "--no-progress"])
    finally:
        (folder / "secret.txt").chmod(0o644)
    grown = peak_rss_mb() - before
    print(f"hostile folder: peak memory grew by {grown:.0f} MB", file=sys.__stderr__)
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code == 0, out
    assert "Traceback" not in out
    listed = {line for line in out.splitlines() if line.startswith("  could not read ")}
    for name, reason in reasons.items():
        assert any(f"/{name}: " in line and reason in line for line in listed), (name, listed)
    # Everything else is read: at most the name that is not UTF-8 is listed besides (until the index stores it).
    others = [line for line in listed if not any(f"/{name}: " in line for name in reasons)]
    assert all("r\\xe9sum\\xe9.txt" in line and "not valid UTF-8" in line for line in others), others
    assert grown < 1000, f"peak memory grew by {grown:.0f} MB"
    assert main(["search", "quokkasjis", "--mode", "bm25", "--json"]) == 0
    assert "sjis.txt" in capsys.readouterr().out
    assert main(["search", "platypus burrows", "--mode", "bm25", "--json"]) == 0
    assert "notes.odt" in capsys.readouterr().out
    # All 5,000 pages of the PDF are read, the last one too; a hit names the page its passage starts on.
    assert main(["search", "sv05000", "--mode", "bm25", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["results"]
    assert hits and hits[0]["path"].endswith("survey.pdf"), hits[:1]
    assert "sv05000" in hits[0]["text"] and 4_900 < hits[0]["page"] <= 5_000, hits[0]["page"]
