"""How much a watched index grows over many one-file updates: ``python benchmarks/index_growth.py [UPDATES]``.

Indexes a small corpus (the test corpus, 20 times over), applies UPDATES one-file changes through
``Indexer.apply`` as the watcher does, and prints the folder's size on disk against a fresh index of the
same content. Uses a tiny random LLaMA, so it measures storage, not embedding. In-process and one file at a
time; ``benchmarks/watch_growth.py`` is the same question with ``sleuth watch`` as a second process under a
stream of edits, creations and deletions.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

from core.index.indexer import Indexer
from core.index.store import Store
from core.settings import Settings
from tests.core.corpus import write_corpus

# The test suite's tiny tokenizer, imported by name: mypy checks the benchmarks but not the test suite, and a
# plain import would take tests/conftest.py (the fixtures) into the benchmarks' check.
build_tiny_tokenizer = importlib.import_module("tests.conftest").build_tiny_tokenizer


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def tiny_model(directory: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def main() -> None:
    from core.embedding import load_embedder

    updates = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    tmp = Path(tempfile.mkdtemp())
    embedder = load_embedder(str(tiny_model(tmp / "model")), device="cpu")
    settings = Settings(model=str(tmp / "model"), chunk_size=48, chunk_overlap=8)
    root = write_corpus(tmp / "docs", repeat=20).resolve()
    store = Store(tmp / "watched.lancedb")
    store.add_folder(root)
    indexer = Indexer(store, settings, embedder)
    for _ in indexer.run([root]):
        pass
    start_size = folder_bytes(store.path)
    started = time.monotonic()
    for n in range(updates):
        (root / "note.txt").write_text(f"Meeting note {n}: the budget review moved to room {n % 7}.", encoding="utf-8")
        for _ in indexer.apply([root / "note.txt"]):
            pass
    elapsed = time.monotonic() - started
    grown = folder_bytes(store.path)
    time.sleep(11)  # past the version retention (where there is one), then what the next write batch does
    indexer.index.optimize()
    settled = folder_bytes(store.path)
    fresh = Store(tmp / "fresh.lancedb")
    fresh.add_folder(root)
    for _ in Indexer(fresh, settings, embedder).run([root]):
        pass
    print(
        f"chunks {indexer.index.chunks.count_rows()}; after the first run {start_size / 1e6:.2f} MB; after {updates} "
        f"one-file updates ({elapsed:.0f} s) {grown / 1e6:.2f} MB, {settled / 1e6:.2f} MB after the next optimize; "
        f"a fresh index of the same content "
        f"{folder_bytes(fresh.path) / 1e6:.2f} MB; pid {os.getpid()}"
    )


if __name__ == "__main__":
    main()
