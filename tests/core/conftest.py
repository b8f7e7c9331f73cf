"""Fixtures for engine tests: real folders of real files, a real LanceDB, the tiny real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.embedding import Embedder, load_embedder
from core.index.indexer import Indexer
from core.index.store import Store
from core.search.calibration import measure
from core.settings import Settings
from tests.core.corpus import write_corpus


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "docs")


@pytest.fixture(scope="session")
def tiny_embedder(tiny_llama_dir: Path) -> Embedder:
    return load_embedder(str(tiny_llama_dir), device="cpu")


@pytest.fixture
def settings(tiny_llama_dir: Path) -> Settings:
    return Settings(model=str(tiny_llama_dir), chunk_size=48, chunk_overlap=8)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    yield Store(tmp_path / "index.lancedb")


@pytest.fixture
def indexed(store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path) -> Indexer:
    """The sample corpus indexed with the tiny model (its fusion measured, as after any run)."""
    store.add_folder(corpus)
    indexer = Indexer(store, settings, tiny_embedder, measure=measure)
    for _ in indexer.run([corpus]):
        pass
    return indexer


@pytest.fixture
def cli_indexed(tmp_path: Path, tiny_llama_dir: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``sleuth index`` of the sample corpus with the tiny model, in private config, data and index folders."""
    from core.cli import main

    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SLEUTH_DB", str(tmp_path / "db"))
    monkeypatch.setenv("SLEUTH_DATA_DIR", str(tmp_path / "data"))
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["config", "set", "chunk_size", "48"]) == 0
    assert main(["index", str(corpus)]) == 0
    return tmp_path
