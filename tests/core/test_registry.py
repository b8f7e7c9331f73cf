"""A model setting with a typo is refused with the names Sleuth knows, and never sent to a model hub."""

from __future__ import annotations

import pytest

from core.embedding import load_embedder
from core.embedding.registry import backend_for, looks_like_hub_id
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
