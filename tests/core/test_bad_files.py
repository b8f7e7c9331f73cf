"""A folder of broken files: everything readable is indexed, each bad file is listed with its reason."""

from __future__ import annotations

from pathlib import Path

import pypdf
import pytest

from core.cli import main
from core.embedding import Embedder
from core.index.indexer import Indexer
from core.index.store import Store
from core.settings import Settings


def make_bad_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    with (root / "locked.pdf").open("wb") as handle:
        writer.write(handle)
    good = pypdf.PdfWriter()
    good.add_blank_page(200, 200)
    with (root / "whole.pdf").open("wb") as handle:
        good.write(handle)
    data = (root / "whole.pdf").read_bytes()
    (root / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (root / "whole.pdf").unlink()
    (root / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (root / "empty.txt").write_bytes(b"")
    (root / "latin1.txt").write_bytes("Crème brûlée recipe: caramelised sugar over vanilla custard.".encode("latin-1"))
    (root / "unreadable.txt").symlink_to(root / "missing-target.txt")
    (root / "fine.md").write_text("# Fine\n\nA perfectly ordinary note about kayaks and rivers.")
    return root


BAD = ("locked.pdf", "truncated.pdf", "binary.txt", "unreadable.txt")


def test_indexer_records_bad_files_and_indexes_the_rest(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = make_bad_folder(tmp_path / "mixed")
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    indexer = Indexer(store, settings, tiny_embedder)
    for _ in indexer.run([folder]):
        pass
    problems = {Path(p.path).name: p.reason for p in indexer.report.problems}
    assert sorted(problems) == sorted(BAD)
    assert all(reason and "Traceback" not in reason for reason in problems.values())
    assert "password" in problems["locked.pdf"].lower()
    records = {Path(p).name: r for p, r in indexer.index.file_records().items()}
    assert records["latin1.txt"].status == "indexed" and records["latin1.txt"].chunks >= 1
    assert records["empty.txt"].status == "indexed" and records["empty.txt"].chunks == 0
    assert records["fine.md"].status == "indexed"
    rows = indexer.index.chunks.search().where("path LIKE '%latin1.txt'").limit(None).to_list()
    assert "Crème brûlée" in min(rows, key=lambda r: r["ordinal"])["text"]


def test_cli_lists_bad_files_exits_zero_without_traceback(
    tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    folder = make_bad_folder(tmp_path / "mixed")
    db = str(tmp_path / "db")
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["--db", db, "index", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    for name in BAD:
        assert f"{name}:" in out, out
    assert "4 could not be read" in out
    assert main(["--db", db, "index", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert "nothing to embed" in out and "Traceback" not in out + err
