"""``sleuth status`` and ``sleuth search`` print undecodable file names and the index's size on disk."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.index.stats import describe_size
from tests.core.corpus import write_corpus
from tests.core.test_cli import env  # noqa: F401  (the fixture)


def test_status_gives_the_size_and_search_prints_a_latin1_name(
    env: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = write_corpus(tmp_path / "docs").resolve()
    with open(os.fsencode(root) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"Espresso beans are roasted dark; the crema sits on top.")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    os.rename(root / "broken.pdf", os.fsdecode(os.fsencode(root) + b"/\xff broken.pdf"))
    strict = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    assert main(["index", str(root), "--no-progress"]) == 0
    capsys.readouterr()

    monkeypatch.setattr(sys, "stdout", strict)  # a UTF-8 terminal: lone surrogates cannot be printed raw
    assert main(["search", "crema espresso", "--mode", "bm25", "--no-rerank"]) == 0
    assert main(["status"]) == 0
    strict.flush()
    out = strict.buffer.getvalue().decode()  # type: ignore[attr-defined]
    assert "caf\\xe9.txt" in out and "\\xff broken.pdf" in out
    size = re.search(r"Size on disk: (.+)", out)
    assert size and size.group(1).endswith(("KB", "MB"))
    assert describe_size(1_500_000) == "1.5 MB" and describe_size(912_000) == "912 KB"
