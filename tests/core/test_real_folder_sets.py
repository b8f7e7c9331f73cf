"""The committed real-folder query sets load and judge only checksummed files (no folder needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.evaluation.folder import KINDS, load_queries

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SETS = ("real-folder", "real-folder-2")


def checksummed(folder: Path) -> set[str]:
    """The paths ``files.sha256`` lists (sha256sum lines: hash, two spaces, path)."""
    lines = (folder / "files.sha256").read_text(encoding="utf-8").splitlines()
    return {line.split("  ", 1)[1] for line in lines if line.strip()}


@pytest.mark.parametrize("name", SETS)
def test_every_judged_file_is_checksummed(name: str) -> None:
    folder = BENCHMARKS / name
    queries = load_queries(folder / "queries.jsonl")
    listed = checksummed(folder)
    missing = sorted({path for q in queries for path in q.relevant} - listed)
    assert not missing, f"{name}: judged files not in files.sha256: {missing[:5]}"
    for q in queries:
        for path, pages in q.pages.items():
            assert path.endswith(".pdf") and pages and min(pages) >= 1, (q.id, path)


def test_second_set_size_and_kinds() -> None:
    queries = load_queries(BENCHMARKS / "real-folder-2" / "queries.jsonl")
    assert len(queries) >= 120
    assert {q.kind for q in queries} == set(KINDS)
