"""Fixtures shared by the whole suite. Each section belongs to one area; add yours as a new section."""

from __future__ import annotations

import os

# Tests never reach a model hub: the build and CI machines have none. Set before
# huggingface_hub is imported anywhere, since it reads these once at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

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


def child_pythonpath(*first: Path) -> str:
    """A PYTHONPATH for a child process: ``first``, then the network guard's folder."""
    return os.pathsep.join([*(str(p) for p in first), os.environ["PYTHONPATH"]])


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
    from transformers import PreTrainedTokenizerFast

    from core.embedding.llara import LlaraEmbedder


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: loads the bundled model or indexes real folders end to end")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Anything that loads the real bundled model is slow, whether or not its author marked it.
    for item in items:
        if "bundled_embedder" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


# --- Embedding: tiny offline LLaMA and the bundled SmolLM2 --------------------------------------

TINY_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Semantic search finds passages by meaning, not only by matching words.",
    "Sleuth watches your folders, splits documents into chunks and embeds them locally.",
    "A query is embedded differently from a passage; both vectors have unit length.",
    "Invoices, contracts, meeting notes and research papers: 0123456789 %$#@!?()[]{}\"'.,;:-_/",
]


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE fast tokenizer, trained in milliseconds; any text encodes, offsets work.

    It behaves like a LLaMA tokenizer (adds BOS ``<s>``, has no pad token, lacks
    the LLaRA ``<sN>`` tokens), so the embedder's BOS, pad fallback and
    token-adding paths all run.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(TINY_CORPUS * 4, trainer)
    backend.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]),
        ]
    )
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random LLaMA (hidden 64) with its tokenizer, saved like a hub checkpoint."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,  # like LLaMA-2; the bundled SmolLM2 covers the tied case
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


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
    import json

    import torch
    from transformers import BertConfig, BertModel

    directory = tmp_path_factory.mktemp("tiny-encoder")
    tokenizer = build_tiny_tokenizer()
    tokenizer.pad_token = "</s>"
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    (directory / "1_Pooling").mkdir()
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    (directory / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}))
    (directory / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "document": "passage: "}})
    )
    return directory
