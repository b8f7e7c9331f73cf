"""Matryoshka over depth: an embedder that stops after some layers, the index profile that records it, and
training that makes an early exit a good embedding (tiny real LLaMA: 2 layers, random weights)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from core.embedding import load_embedder
from core.embedding.llara import LlaraEmbedder
from core.embedding.registry import adapter_depth, display_name, trained_exits
from core.errors import Cancelled, ConfigError
from core.index import indexer as indexer_module
from core.index.indexer import Indexer
from core.index.store import IndexProfile, Store
from core.jobs import CancelToken, Phase
from core.settings import Settings
from core.training import Adaptation, AdaptOptions, Passage
from core.training.objectives import encode_exits
from tests.conftest import TINY_CORPUS


def llara(model_dir: Path, **options: object) -> LlaraEmbedder:
    embedder = load_embedder(str(model_dir), device="cpu", precision="fp32", max_length=64, **options)  # type: ignore[arg-type]
    assert isinstance(embedder, LlaraEmbedder)
    return embedder


def test_an_early_exit_reads_out_what_training_reads_at_that_layer(tiny_llama_dir: Path) -> None:
    full, shallow = llara(tiny_llama_dir), llara(tiny_llama_dir, depth=1)
    assert (full.depth, full.early_exit, shallow.depth, shallow.early_exit) == (2, 0, 1, 1)
    assert shallow.name == full.name + "+depth:1"
    assert display_name(shallow.name) == display_name(full.name) + ", first 1 layers"
    ids = full.passage_input_ids(TINY_CORPUS)
    with torch.no_grad():
        trained_view = encode_exits(full, ids, [1, 2])
    np.testing.assert_allclose(shallow.embed_passages(TINY_CORPUS), trained_view[1].numpy(), atol=1e-5)
    np.testing.assert_allclose(full.embed_passages(TINY_CORPUS), trained_view[2].numpy(), atol=1e-5)
    assert np.abs(trained_view[1].numpy() - trained_view[2].numpy()).max() > 1e-2, "the exits differ"


def test_the_full_depth_is_no_early_exit_and_deeper_is_refused(tiny_llama_dir: Path) -> None:
    assert llara(tiny_llama_dir, depth=2).name == llara(tiny_llama_dir).name
    with pytest.raises(ConfigError, match="between 1 and the model's 2 layers"):
        llara(tiny_llama_dir, depth=3)
    with pytest.raises(ConfigError, match="LLaRA models only"):
        load_embedder("minilm-l6-v2", depth=3)


def test_an_index_made_before_depth_existed_keeps_its_name() -> None:
    profile = IndexProfile("m", "a", "llara:m", 64, 256, 32)
    before = {k: v for k, v in asdict(profile).items() if k != "depth"}
    import hashlib

    assert profile.key == hashlib.sha1(json.dumps(before, sort_keys=True).encode()).hexdigest()[:12]
    assert IndexProfile("m", "a", "llara:m", 64, 256, 32, depth=1).key != profile.key


def test_a_new_depth_is_a_new_index_profile_beside_the_current_one(
    tmp_path: Path, tiny_llama_dir: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer_module, "EMBED_BATCH", 4)  # a cancel can land between batches
    store = Store(tmp_path / "db")
    store.add_folder(corpus)
    settings = Settings(model=str(tiny_llama_dir), chunk_size=48, chunk_overlap=8)
    full = Indexer(store, settings, llara(tiny_llama_dir))
    for _ in full.run():
        pass
    shallow_settings = Settings(model=str(tiny_llama_dir), chunk_size=48, chunk_overlap=8, depth=1)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        for event in Indexer(store, shallow_settings, llara(tiny_llama_dir, depth=1)).run(cancel=cancel):
            if event.phase == Phase.EMBED and event.chunks_done:
                cancel.cancel()
    assert store.active_profile() == full.profile, "the current index answers while the new one is built"
    assert store.profile_index(full.profile).count_pending() == 0
    shallow = Indexer(store, shallow_settings, llara(tiny_llama_dir, depth=1))
    for _ in shallow.run():
        pass
    assert shallow.profile.depth == 1 and full.profile.depth == 0
    assert shallow.profile.key != full.profile.key
    assert shallow.report.switched_profile and store.active_profile() == shallow.profile
    assert shallow.index.count_pending() == 0 and shallow.index.stats()["chunks"] == full.report.chunks_written


PASSAGES = [
    Passage("volcano.txt", 0, "Volcanoes form where magma rises through the crust. Basalt lava is runny."),
    Passage("volcano.txt", 1, "The eruption of Mount Vesuvius buried Pompeii in ash in the year 79."),
    Passage("bread.md", 0, "Sourdough bread\nA starter is a culture of wild yeast fed every day."),
    Passage("bread.md", 1, "Knead the dough, let it proof overnight, then bake it in a hot oven."),
    Passage("chess.rst", 0, "Chess openings. The Sicilian Defence answers e4 with c5."),
    Passage("chess.rst", 1, "The Queen's Gambit offers a pawn to gain control of the centre."),
]


def options(**changes: object) -> AdaptOptions:
    base: dict[str, object] = dict(
        stage="contrastive", steps=6, batch_size=16, lr=3e-3, rank=4, alpha=8, dropout=0.0, max_tokens=64,
        estimate_steps=0, precision="fp32",
    )  # fmt: skip
    base.update(changes)
    return AdaptOptions(**base)  # type: ignore[arg-type]


def test_training_with_exits_lowers_the_loss_at_every_exit(tiny_llama_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    adaptation = Adaptation(
        llara(tiny_llama_dir), PASSAGES, options(exits=(1,)), run_dir=tmp_path / "run", adapter_dir=tmp_path / "a"
    )
    steps = [e.details for e in adaptation.run() if e.phase == "contrastive" and e.loss is not None]
    assert len(steps) == 6 and set(steps[0]) >= {"exit1", "exit2"}
    for exit_name in ("exit1", "exit2"):
        assert steps[-1][exit_name] < steps[0][exit_name], (exit_name, steps)
    adapted = llara(tiny_llama_dir, adapter=str(tmp_path / "a"), depth=1)
    assert adapted.early_exit == 1 and adapted.name.endswith("+depth:1")
    assert trained_exits(str(tiny_llama_dir), str(tmp_path / "a")) == (1,)
    assert llara(tiny_llama_dir, adapter=str(tmp_path / "a")).early_exit == 0, "trained for every layer too"


def test_an_adapter_trained_on_fewer_layers_runs_only_those(tiny_llama_dir: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    shallow = llara(tiny_llama_dir, depth=1)
    adaptation = Adaptation(shallow, PASSAGES, options(steps=2), run_dir=tmp_path / "run", adapter_dir=tmp_path / "a")
    for _ in adaptation.run():
        pass
    trained_view = shallow.embed_passages(TINY_CORPUS)  # the model training left behind, adapter merged in place
    assert adapter_depth(str(tmp_path / "a")) == 1
    loaded = llara(tiny_llama_dir, adapter=str(tmp_path / "a"))  # the depth setting 0: the adapter's own depth
    assert loaded.early_exit == 1 and loaded.name.endswith("+depth:1")
    np.testing.assert_allclose(loaded.embed_passages(TINY_CORPUS), trained_view, atol=1e-4)
    untrained = llara(tiny_llama_dir, depth=1).embed_passages(TINY_CORPUS)
    assert np.abs(loaded.embed_passages(TINY_CORPUS) - untrained).max() > 1e-3, "the adapter changed something"


def test_exits_that_cannot_learn_are_refused(tiny_llama_dir: Path, tmp_path: Path) -> None:
    def start(**changes: object) -> None:
        Adaptation(
            llara(tiny_llama_dir), PASSAGES, options(**changes), run_dir=tmp_path / "r", adapter_dir=tmp_path / "a"
        )

    with pytest.raises(ConfigError, match="at most the model's 2 layers"):
        start(exits=(3,))
    with pytest.raises(ConfigError, match="learns nothing"):
        start(exits=(1,), train_layers=1)
