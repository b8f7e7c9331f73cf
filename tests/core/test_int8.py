"""int8 on the CPU: SmoothQuant scales measured once and cached, int8 Linear layers, vectors close to fp32's,
and an index made at int8 kept apart from one made at fp32 (tiny real LLaMA and the bundled SmolLM2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import torch

from core.embedding import device, load_embedder
from core.embedding.device import select_dtype, wants_int8
from core.embedding.llara import LlaraEmbedder
from core.embedding.quantise import activation_peaks, calibration_texts, fold_scales, smoothing_scales
from core.embedding.registry import display_name
from core.errors import ConfigError
from core.index.indexer import Indexer
from core.index.store import Store
from core.search.searcher import Searcher
from core.settings import Settings
from tests.conftest import TINY_CORPUS


def llara(model: str, cache: Path, precision: str) -> LlaraEmbedder:
    embedder = load_embedder(model, device="cpu", precision=precision, cache_dir=cache, max_length=128)
    assert isinstance(embedder, LlaraEmbedder)
    return embedder


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)  # unit rows


def int8_linears(embedder: LlaraEmbedder) -> int:
    return sum(type(m).__name__ == "Linear" and "quantized" in type(m).__module__ for m in embedder.backbone.modules())


def test_smoothing_folds_into_the_weights_without_changing_the_vectors(tiny_llama_dir: Path, tmp_path: Path) -> None:
    embedder = llara(str(tiny_llama_dir), tmp_path, "fp32")
    before = embedder.embed_passages(TINY_CORPUS)
    layers = list(cast(Any, embedder.backbone).layers)
    scales = smoothing_scales(layers, activation_peaks(embedder, calibration_texts()[:4]))
    assert max(float(s.max() / s.min()) for s in scales.values()) > 1.5, "the scales are not all one"
    fold_scales(layers, scales)
    np.testing.assert_allclose(embedder.embed_passages(TINY_CORPUS), before, atol=2e-4)


def test_int8_measures_its_scales_once_and_reads_them_afterwards(tiny_llama_dir: Path, tmp_path: Path) -> None:
    fp32 = llara(str(tiny_llama_dir), tmp_path, "fp32")
    first = llara(str(tiny_llama_dir), tmp_path, "int8")
    assert first.name == fp32.name + "+int8" and first.precision == "int8"
    assert display_name(first.name).endswith(", int8")
    assert int8_linears(first) == 2 * 6, "q, k, v, o, gate and up of both layers run int8, down stays fp32"
    cached = list((tmp_path / "int8").glob("*.safetensors"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns

    second = llara(str(tiny_llama_dir), tmp_path, "int8")
    assert cached[0].stat().st_mtime_ns == stamp, "the cached scales were read, not measured again"
    vectors = first.embed_passages(TINY_CORPUS)
    np.testing.assert_array_equal(second.embed_passages(TINY_CORPUS), vectors)
    assert cosines(vectors, fp32.embed_passages(TINY_CORPUS)).min() > 0.9


def test_a_torn_scales_file_is_measured_again(tiny_llama_dir: Path, tmp_path: Path) -> None:
    reference = llara(str(tiny_llama_dir), tmp_path / "a", "int8").embed_queries(TINY_CORPUS)
    cached = next((tmp_path / "a" / "int8").glob("*.safetensors"))
    cached.write_bytes(cached.read_bytes()[:100])
    again = llara(str(tiny_llama_dir), tmp_path / "a", "int8").embed_queries(TINY_CORPUS)
    np.testing.assert_allclose(again, reference, atol=1e-6)


def test_int8_is_for_the_cpu_and_loads_from_fp32() -> None:
    assert select_dtype("cpu", "int8") is torch.float32
    assert wants_int8("cpu", "int8") and not wants_int8("cpu", "fp32") and not wants_int8("cpu", "bf16")
    with pytest.raises(ConfigError, match="CPU only"):
        wants_int8("cuda", "int8")
    with pytest.raises(ConfigError, match="CPU only"):
        select_dtype("cuda", "int8")


def test_the_bundled_model_at_int8_keeps_close_to_fp32(
    bundled_embedder: LlaraEmbedder, bundled_cache_dir: Path
) -> None:
    int8 = load_embedder(device="cpu", precision="int8", cache_dir=bundled_cache_dir)
    assert isinstance(int8, LlaraEmbedder) and int8.name == bundled_embedder.name + "+int8"
    texts = [
        "Tomatoes want staking and steady watering every week in summer.",
        "The backup script copies the home folder to the external disk each night.",
        "How do I change the default printer?",
        "Kernel modules are loaded at boot from the list in /etc/modules.",
    ]
    assert cosines(int8.embed_passages(texts), bundled_embedder.embed_passages(texts)).min() > 0.95
    assert cosines(int8.embed_queries(texts), bundled_embedder.embed_queries(texts)).min() > 0.95


def test_an_index_made_at_int8_is_a_new_profile_and_answers(tmp_path: Path, tiny_llama_dir: Path, corpus: Path) -> None:
    store = Store(tmp_path / "db")
    store.add_folder(corpus)
    settings = Settings(model=str(tiny_llama_dir), chunk_size=48, chunk_overlap=8)
    indexers = []
    for precision in ("fp32", "int8"):
        embedder = llara(str(tiny_llama_dir), tmp_path / "cache", precision)
        indexer = Indexer(store, settings, embedder)
        for _ in indexer.run():
            pass
        indexers.append(indexer)
        hits = Searcher(indexer.index, embedder).search("volcano eruption", k=3, mode="dense", rerank=False).hits
        assert hits
    full, int8 = indexers
    assert int8.profile.embedder_name == full.profile.embedder_name + "+int8"
    assert int8.profile.key != full.profile.key and store.active_profile() == int8.profile
    assert int8.index.count_pending() == 0 and int8.index.stats()["chunks"] == full.report.chunks_written


def test_automatic_precision_falls_back_to_fp32_where_int8_does_not_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from core.errors import ModelUnavailable
    from tests.conftest import build_tiny_tokenizer

    model_dir = tmp_path / "tiny-gpt2"  # not a Llama-style decoder: no self_attn / mlp per layer
    tokenizer = build_tiny_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=256)
    GPT2LMHeadModel(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    monkeypatch.setattr(device, "cpu_has_fast_bf16", lambda: False)  # as on a CPU where auto means int8
    monkeypatch.setattr(device, "cpu_has_fast_int8", lambda: True)
    said: list[str] = []
    model = f"llara:{model_dir}"  # a folder of a causal LM reads as an encoder unless told
    embedder = load_embedder(model, device="cpu", precision="auto", cache_dir=tmp_path, progress=said.append)
    assert isinstance(embedder, LlaraEmbedder) and embedder.precision == "fp32" and "+int8" not in embedder.name
    assert any("Llama-style" in line and "fp32" in line for line in said), said
    assert embedder.embed_queries(["a query"]).shape == (1, 32)
    with pytest.raises(ModelUnavailable, match="Llama-style"):
        load_embedder(model, device="cpu", precision="int8", cache_dir=tmp_path)
