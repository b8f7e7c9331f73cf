"""A model setting with a typo is refused with the names Sleuth knows, and never sent to a model hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.embedding import load_embedder
from core.embedding.registry import backend_for, describe_model, display_name, looks_like_hub_id
from core.errors import ConfigError, ModelUnavailable


def test_a_mistyped_alias_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"Unknown model 'smollm2-135n'.*minilm-l6-v2, smollm2-135m"):
        load_embedder("smollm2-135n", device="cpu")
    with pytest.raises(ConfigError, match="Unknown model"):
        backend_for("minilm")


def test_hub_ids_and_folders_are_still_tried() -> None:
    assert looks_like_hub_id("BAAI/LLARA-passage") and looks_like_hub_id("org/name.v2")
    assert not looks_like_hub_id("smollm2-135n") and not looks_like_hub_id("/home/me/model")
    with pytest.raises(ModelUnavailable):  # offline here: the hub cannot be reached, and that is what it says
        load_embedder("sleuth-tests/no-such-model", device="cpu")
    assert backend_for("/no/such/folder") == ("llara", "/no/such/folder")


def test_identities_read_as_names_people_know(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLEUTH_DATA_DIR", str(tmp_path / "data"))
    shipped = "llara:smollm2-135m+adapter:bundled@6848c0f44efe"
    assert describe_model(shipped, 576) == "SmolLM2-135M, Sleuth's bundled adapter, 576 dimensions"
    assert display_name("encoder:minilm-l6-v2") == "all-MiniLM-L6-v2"
    assert display_name("llara:BAAI/LLARA-passage") == "BAAI/LLARA-passage"
    own = tmp_path / "data" / "adapters" / "my-documents"
    assert display_name(f"llara:/home/me/models/tiny-llama+adapter:{own}@0123456789ab") == (
        "tiny-llama, your adapter 'my-documents' (trained on your documents)"
    )
    assert display_name("llara:smollm2-135m+adapter:/opt/lora/legal@abcdefabcdef") == "SmolLM2-135M, adapter 'legal'"
    for name in (shipped, "encoder:minilm-l6-v2", f"llara:/x/m+adapter:{own}@0123456789ab"):
        shown = display_name(name)
        assert "llara:" not in shown and "encoder:" not in shown and "@" not in shown


def test_the_default_model_suits_the_device_and_an_adapter_or_depth_keeps_the_llara_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.embedding import device, registry
    from core.embedding.registry import DEFAULT_MODEL, chosen_model

    assert DEFAULT_MODEL == "auto"
    # On a CPU: the encoder, which indexes about seven times as fast at the same quality (docs/benchmarks.md).
    assert chosen_model("auto", "bundled", 0, "cpu") == "minilm-l6-v2"
    assert chosen_model("auto", "", 0, "cpu") == "minilm-l6-v2"
    # What only the LLaRA model has: an adapter of its own (Adapt to my documents) or an early exit.
    adapter = tmp_path / "adapters" / "mine"
    assert chosen_model("auto", str(adapter), 0, "cpu") == "smollm2-135m"
    assert chosen_model("auto", "bundled", 7, "cpu") == "smollm2-135m"
    # A model the user named is kept, whatever the device.
    assert chosen_model("smollm2-135m", "bundled", 0, "cpu") == "smollm2-135m"
    assert chosen_model("minilm-l6-v2", "bundled", 0, "gpu") == "minilm-l6-v2"
    # On a GPU the LLaRA model costs little: it is the default there. A machine with a GPU's device file leaves
    # the choice to torch (``certainly_cpu``), which finds it.
    monkeypatch.setattr(registry, "GPU_DEVICE_FILES", (str(tmp_path),))
    assert not registry.certainly_cpu("auto")
    monkeypatch.setattr(device, "select_device", lambda preference="auto": "cuda")
    assert chosen_model("auto", "bundled", 0, "auto") == "smollm2-135m"


def test_settings_saved_with_the_earlier_default_model_become_automatic(tmp_path: Path) -> None:
    import json

    from core.settings import load_settings

    path = tmp_path / "settings.json"
    cases = [
        ({"model": "smollm2-135m", "adapter": "bundled", "depth": 0}, "auto"),  # what every earlier install saved
        ({"model": "smollm2-135m", "adapter": "", "depth": 0}, "smollm2-135m"),  # the untrained backbone, chosen
        ({"model": "smollm2-135m", "adapter": "bundled", "depth": 7}, "smollm2-135m"),  # a depth, chosen
        ({"model": "minilm-l6-v2"}, "minilm-l6-v2"),
    ]
    for saved, expected in cases:
        path.write_text(json.dumps({"schema_version": 5, **saved}))
        assert load_settings(path).model == expected, saved
    path.write_text(json.dumps({"schema_version": 6, "model": "smollm2-135m"}))
    assert load_settings(path).model == "smollm2-135m", "chosen after the change: kept"
