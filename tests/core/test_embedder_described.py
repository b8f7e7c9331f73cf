"""An embedder described without loading it (``core.embedding.background``) is the embedder that loads: the
index profile ``sleuth index`` writes before its model has loaded names what the model then embeds with."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.embedding import bundled, bundled_encoder, load_embedder, select_device
from core.embedding.background import BackgroundEmbedder, describe_embedder, mismatch
from core.embedding.registry import certainly_cpu, chosen_model
from core.errors import ModelUnavailable


def test_the_bundled_minilm_is_described_as_it_loads() -> None:
    description = describe_embedder(bundled_encoder.ALIAS, device="cpu")
    assert description is not None
    embedder = load_embedder(bundled_encoder.ALIAS, device="cpu")
    assert (description.model, description.name, description.dimension) == (bundled_encoder.ALIAS, embedder.name, 384)
    assert mismatch(description, embedder) == ""


@pytest.mark.slow
def test_the_bundled_llara_model_with_its_adapter_is_described_as_it_loads(bundled_cache_dir: Path) -> None:
    settings = {"adapter": bundled.ADAPTER_ALIAS, "device": "cpu", "precision": "fp32", "cache_dir": bundled_cache_dir}
    embedder = load_embedder(bundled.ALIAS, **settings)  # converts the bundled model into the cache if it is not
    description = describe_embedder(bundled.ALIAS, **settings)
    assert description is not None
    assert description.name == embedder.name
    assert description.name.startswith("llara:smollm2-135m+adapter:bundled@")
    assert (description.dimension, description.early_exit) == (576, 0)
    assert mismatch(description, embedder) == ""


def test_what_only_loading_can_tell_is_not_described(tmp_path: Path) -> None:
    # The bundled LLaRA model before its first conversion (an empty cache), and a hub id.
    assert describe_embedder(bundled.ALIAS, device="cpu", precision="fp32", cache_dir=tmp_path) is None
    assert describe_embedder("BAAI/LLARA-passage", device="cpu") is None


def test_auto_chooses_without_torch_only_what_torch_chooses() -> None:
    assert certainly_cpu("cpu")
    assert not certainly_cpu("cuda") and not certainly_cpu("gpu") and not certainly_cpu("mps")
    if certainly_cpu("auto"):
        assert select_device("auto") == "cpu"
    expected = bundled_encoder.ALIAS if select_device("auto") == "cpu" else bundled.ALIAS
    assert chosen_model("auto") == expected
    description = describe_embedder("auto", device="cpu")
    assert description is not None and description.model == bundled_encoder.ALIAS


def test_a_model_that_loads_other_than_described_stops_the_run(tiny_encoder_dir: Path) -> None:
    description = describe_embedder(bundled_encoder.ALIAS, device="cpu")
    assert description is not None
    other = BackgroundEmbedder(description, lambda: load_embedder(str(tiny_encoder_dir), device="cpu"))
    with pytest.raises(ModelUnavailable, match="not the one Sleuth prepared"):
        other.loaded()


def test_a_load_that_fails_fails_where_the_model_is_needed(tmp_path: Path) -> None:
    description = describe_embedder(bundled_encoder.ALIAS, device="cpu")
    assert description is not None
    missing = BackgroundEmbedder(description, lambda: load_embedder(str(tmp_path / "gone"), device="cpu"))
    assert (missing.name, missing.dimension) == (description.name, description.dimension)
    with pytest.raises(ModelUnavailable, match="gone"):
        missing.loaded()
