"""Fixtures shared by the whole suite. Each section belongs to one area; add yours as a new section."""

from __future__ import annotations

import os
import shutil

# Tests never reach a model hub: the build and CI machines have none. Set before
# huggingface_hub is imported anywhere, since it reads these once at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# TINY_CORPUS and build_tiny_tokenizer are imported from here by tests; the tiny models live in benchmarks, whose
# GPU check's dry run embeds with them too.
from benchmarks.tiny_models import TINY_CORPUS, build_tiny_tokenizer, save_tiny_encoder, save_tiny_llama

__all__ = ["TINY_CORPUS", "build_tiny_tokenizer", "child_pythonpath"]

# Processes a test starts without a state folder of their own (sleuth watch) log here, not in the user's.
os.environ.setdefault("SLEUTH_STATE_DIR", tempfile.mkdtemp(prefix="sleuth-state-"))

# --- The network guard: no test, and no process a test starts, reaches past this machine -----------
# (tests/network_guard/sleuth_network_guard.py). Child processes load it through sitecustomize.py on
# PYTHONPATH; tests that set PYTHONPATH for a child keep this folder in front.

NETWORK_GUARD = Path(__file__).parent / "network_guard"
sys.path.insert(0, str(NETWORK_GUARD))
import sleuth_network_guard  # noqa: E402

sys.path.remove(str(NETWORK_GUARD))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(NETWORK_GUARD), os.environ.get("PYTHONPATH")) if p)
os.environ.setdefault(sleuth_network_guard.LOG_VARIABLE, tempfile.mkstemp(prefix="sleuth-network-", suffix=".jsonl")[1])
sleuth_network_guard.install()


ROOT = Path(__file__).resolve().parents[1]


def child_pythonpath(*first: Path) -> str:
    """A PYTHONPATH for a child process: ``first``, then the network guard's folder."""
    return os.pathsep.join([*(str(p) for p in first), os.environ["PYTHONPATH"]])


@contextmanager
def private_sleuth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, home: bool = False) -> Iterator[dict[str, str]]:
    """Sleuth's config, cache, index and a short runtime folder (socket paths) of this test's own, in the
    environment; ``home``: a home with its XDG folders and a state folder too, and Qt offscreen, as a user of their
    own. Yields the environment a child ``sleuth`` process gets."""
    runtime = Path(tempfile.mkdtemp(prefix="sleuth-rt-"))
    values = {
        "SLEUTH_CONFIG_DIR": str(tmp_path / "config"),
        "SLEUTH_CACHE_DIR": str(tmp_path / "cache"),
        "SLEUTH_DB": str(tmp_path / "db"),
        "SLEUTH_RUNTIME_DIR": str(runtime / "sleuth"),
    }
    if home:
        folder = tmp_path / "home"
        folder.mkdir()
        values |= {
            "HOME": str(folder),
            "XDG_CONFIG_HOME": str(folder / ".config"),
            "XDG_DATA_HOME": str(folder / ".local/share"),
            "XDG_CACHE_HOME": str(folder / ".cache"),
            "XDG_STATE_HOME": str(folder / ".local/state"),
            "SLEUTH_STATE_DIR": str(tmp_path / "state"),
            "QT_QPA_PLATFORM": "offscreen",
        }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    try:
        yield {**os.environ, "PYTHONPATH": child_pythonpath(ROOT), "HF_HUB_OFFLINE": "1"}
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_network_access() -> Iterator[None]:
    """Fails the test when it, or a process it started, tried to reach an address off this machine."""
    log = Path(os.environ[sleuth_network_guard.LOG_VARIABLE])
    start = log.stat().st_size if log.exists() else 0
    yield
    if log.exists() and log.stat().st_size > start:
        with log.open("rb") as handle:
            handle.seek(start)
            attempts = handle.read().decode("utf-8", "replace").strip()
        pytest.fail(f"network access off this machine (tests/network_guard):\n{attempts}", pytrace=False)


if TYPE_CHECKING:
    from core.embedding.llara import LlaraEmbedder


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: loads the bundled model or indexes real folders end to end")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Anything that loads the real bundled model is slow, whether or not its author marked it.
    for item in items:
        if "bundled_embedder" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


# --- Embedding: tiny offline LLaMA and the bundled SmolLM2 --------------------------------------


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random LLaMA (hidden 64) with its tokenizer, saved like a hub checkpoint."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def bundled_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sleuth cache root for this session: the bundled model is converted into it once."""
    return tmp_path_factory.mktemp("sleuth-cache")


@pytest.fixture(scope="session")
def bundled_embedder(bundled_cache_dir: Path) -> LlaraEmbedder:
    """The real default model (SmolLM2-135M, 576 d) on the CPU in fp32; ~30 s the first time."""
    from core.embedding import load_embedder

    return load_embedder(device="cpu", precision="fp32", cache_dir=bundled_cache_dir)


# --- (next area's fixtures go below) --------------------------------------------------------------


# --- Encoder backend: a tiny sentence-transformers directory ----------------------------------------


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer random BERT saved in the sentence-transformers layout, with CLS pooling and E5-style prompts."""
    return save_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"))
