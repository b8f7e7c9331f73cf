"""Adapting the embedder to the user's documents, on the tiny real LLaMA (2 layers, random weights)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from core.cli import main
from core.embedding import load_embedder
from core.embedding.llara import LlaraEmbedder, left_pad
from core.errors import Cancelled, ConfigError
from core.index.store import Store
from core.jobs import CancelToken
from core.training import Adaptation, AdaptOptions, AdaptProgress, Passage, contrastive_pairs
from core.training.data import add_hard_negatives, following_passages, passages_from_index
from core.training.objectives import excluded_ids, joint_batch, joint_logits
from tests.conftest import TINY_CORPUS

DOCS = {
    "notes/volcano.txt": [
        "Volcanoes form where magma rises through the crust. Basalt lava flows are runny and spread far.",
        "The eruption of Mount Vesuvius buried Pompeii in ash in the year 79, preserving the town.",
        "Rhyolite magma is sticky and explosive; it builds steep domes and throws out pumice.",
    ],
    "notes/bread.md": [
        "Sourdough bread\nA sourdough starter is a culture of wild yeast and lactobacilli fed every day.",
        "Knead the dough, let it proof overnight in a cool place, then bake it in a very hot oven.",
    ],
    "notes/chess.rst": [
        "Chess openings. The Sicilian Defence answers e4 with c5 and leads to sharp, unbalanced games.",
        "The Queen's Gambit offers a pawn to gain control of the centre; castling keeps the king safe.",
    ],
}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny matrices: a second thread only adds synchronisation, and on a busy machine its waits dominate."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _passages() -> list[Passage]:
    return [Passage(doc, i, text) for doc, texts in DOCS.items() for i, text in enumerate(texts)]


def _embedder(model_dir: Path) -> LlaraEmbedder:
    embedder = load_embedder(str(model_dir), device="cpu", precision="fp32", max_length=64)
    assert isinstance(embedder, LlaraEmbedder)
    return embedder


def _options(**changes: object) -> AdaptOptions:
    base: dict[str, object] = dict(
        batch_size=16, lr=3e-3, rank=4, alpha=8, dropout=0.0, max_tokens=64, estimate_steps=0, precision="fp32"
    )
    base.update(changes)
    return AdaptOptions(**base)  # type: ignore[arg-type]


def _run(adaptation: Adaptation, cancel: CancelToken | None = None) -> list[AdaptProgress]:
    return list(adaptation.run(cancel))


@pytest.mark.parametrize("implementation", ["sdpa", "eager"])
def test_joint_mask_isolates_ebar_from_ebae(tiny_llama_dir: Path, implementation: str) -> None:
    embedder = _embedder(tiny_llama_dir)
    embedder.model.set_attn_implementation(implementation)
    texts, nexts = TINY_CORPUS[:3], [TINY_CORPUS[1], None, TINY_CORPUS[0]]
    batch = joint_batch(embedder, texts, nexts)
    _prefix, passage_suffix, query_suffix = embedder.prompt_ids
    width = batch.input_ids.shape[1]
    ebae_cols = slice(width - len(query_suffix) - len(passage_suffix), width - len(query_suffix))
    # The query suffix continues from the text: it reuses the passage suffix's position ids.
    assert torch.equal(
        batch.position_ids[:, width - len(query_suffix)],
        batch.position_ids[:, ebae_cols.start],
    )
    with torch.no_grad():
        ebae, ebar = joint_logits(embedder, batch)
        changed = batch.input_ids.clone()
        changed[:, ebae_cols] = torch.randint(
            3, 400, changed[:, ebae_cols].shape, generator=torch.Generator().manual_seed(1)
        )
        batch.input_ids = changed
        ebae_after, ebar_after = joint_logits(embedder, batch)
        # The EBAR read-out is exactly what the query prompt alone gives.
        ids, mask, positions = left_pad(embedder.query_input_ids(texts), embedder.pad_id)
        hidden = embedder.model.base_model(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
        alone = embedder.model.get_output_embeddings()(hidden[:, -8:])
    assert not torch.allclose(ebae, ebae_after, atol=1e-3)
    torch.testing.assert_close(ebar, ebar_after, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ebar, alone, atol=5e-3, rtol=1e-3)


def test_bag_of_words_targets_exclude_special_tokens(tiny_llama_dir: Path) -> None:
    embedder = _embedder(tiny_llama_dir)
    special = excluded_ids(embedder)
    sneaky = "Quick <s1> fox </s> over <s> the <s9> dog <unk>"
    batch = joint_batch(embedder, [sneaky, TINY_CORPUS[0]], [TINY_CORPUS[0], None])
    tokens = set(embedder.tokenizer.convert_tokens_to_ids([f"<s{i}>" for i in range(1, 17)]))
    assert tokens | {embedder.tokenizer.bos_token_id, embedder.tokenizer.eos_token_id} <= special
    for targets in (batch.ebae_targets, batch.ebar_targets):
        ids = set(targets[targets >= 0].tolist())
        assert ids and not ids & special
    text_ids = embedder.tokenizer(TINY_CORPUS[0], add_special_tokens=False)["input_ids"]
    assert set(batch.ebar_targets[0][batch.ebar_targets[0] >= 0].tolist()) == set(text_ids)
    assert (batch.ebar_targets[1] < 0).all()  # no following passage: no EBAR target


def test_pairs_follow_documents() -> None:
    passages = _passages()
    following = following_passages(passages)
    assert following[0] == DOCS["notes/volcano.txt"][1] and following[2] is None
    pairs = contrastive_pairs(passages)
    assert any(p.query == "Sourdough bread" for p in pairs)
    assert any(p.query.startswith("Volcanoes form where magma rises") and p.passage.startswith("Basalt") for p in pairs)
    chained = [p for p in pairs if p.query in {x.text for x in passages}]
    assert {(p.query, p.passage) for p in chained} == {
        (texts[i], texts[i + 1]) for texts in DOCS.values() for i in range(len(texts) - 1)
    }
    queries_only = contrastive_pairs(passages, next_chunk=False)
    assert set(queries_only) == set(pairs) - set(chained) and queries_only


@pytest.mark.parametrize(("stage", "lr", "factor"), [("ebae", 1e-2, 0.97), ("contrastive", 3e-3, 0.8)])
def test_a_few_steps_make_the_loss_fall(
    tiny_llama_dir: Path, tmp_path: Path, stage: str, lr: float, factor: float
) -> None:
    # One batch holds every example, so each step's loss is measured on the same data.
    adaptation = Adaptation(
        _embedder(tiny_llama_dir),
        _passages(),
        _options(stage=stage, steps=8, lr=lr),
        run_dir=tmp_path / "run",
        adapter_dir=tmp_path / "adapter",
    )
    losses = [e.loss for e in _run(adaptation) if e.phase == stage and e.loss is not None]
    assert len(losses) == 8
    # The bag-of-words loss starts high (random LM head) and falls steadily; InfoNCE falls fast.
    assert losses[-1] < losses[0] * factor, losses
    assert sum(b < a for a, b in itertools.pairwise(losses)) >= 6, losses


def test_saved_adapter_loads_and_changes_the_vectors(tiny_llama_dir: Path, tmp_path: Path) -> None:
    adaptation = Adaptation(
        _embedder(tiny_llama_dir),
        _passages(),
        _options(steps=3, estimate_steps=1),
        run_dir=tmp_path / "run",
        adapter_dir=tmp_path / "adapter",
    )
    events = _run(adaptation)
    estimate = [e for e in events if e.phase == "estimate" and e.eta_s is not None]
    assert (
        estimate
        and "minute" in estimate[0].message
        and events.index(estimate[0]) < min(i for i, e in enumerate(events) if e.phase == "ebae")
    )
    assert events[-1].phase == "done" and events[-1].adapter_dir == str(tmp_path / "adapter")
    files = {p.name for p in (tmp_path / "adapter").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= files
    from safetensors.torch import load_file

    weights = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert all(w.shape[0] <= 16 or "lora" in k for k, w in weights.items())  # no embedding matrix inside
    base = load_embedder(str(tiny_llama_dir), device="cpu")
    adapted = load_embedder(str(tiny_llama_dir), adapter=str(tmp_path / "adapter"), device="cpu")
    assert adapted.name != base.name
    before, after = base.embed_passages(TINY_CORPUS), adapted.embed_passages(TINY_CORPUS)
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    assert np.abs(before - after).max() > 1e-3
    assert (tmp_path / "run" / "after-ebae" / "adapter_model.safetensors").is_file()


def test_training_continues_from_a_start_adapter(tiny_llama_dir: Path, tmp_path: Path) -> None:
    def train(out: str, start: Path | None, steps: int) -> Adaptation:
        adaptation = Adaptation(
            _embedder(tiny_llama_dir),
            _passages(),
            _options(stage="contrastive", steps=steps),
            run_dir=tmp_path / f"{out}.run",
            adapter_dir=tmp_path / out,
            start_adapter=str(start) if start else None,
        )
        return adaptation

    _run(train("first", None, 6))
    first = load_embedder(str(tiny_llama_dir), adapter=str(tmp_path / "first"), device="cpu", precision="fp32")
    continued = train("second", tmp_path / "first", 2)
    # before any step, the model being trained embeds exactly as the start adapter does
    continued.model.eval()
    start_vectors = continued.embedder.embed_passages(TINY_CORPUS)
    np.testing.assert_allclose(start_vectors, first.embed_passages(TINY_CORPUS), atol=1e-5)
    events = _run(continued)
    assert events[-1].phase == "done"
    second = load_embedder(str(tiny_llama_dir), adapter=str(tmp_path / "second"), device="cpu", precision="fp32")
    assert second.name != first.name
    assert np.abs(second.embed_passages(TINY_CORPUS) - start_vectors).max() > 1e-4


def test_training_the_top_layers_leaves_the_lower_ones_as_they_were(tiny_llama_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    def train(out: str, start: Path | None, **changes: object) -> dict[str, torch.Tensor]:
        adaptation = Adaptation(
            _embedder(tiny_llama_dir),
            _passages(),
            _options(stage="contrastive", steps=3, **changes),
            run_dir=tmp_path / f"{out}.run",
            adapter_dir=tmp_path / out,
            start_adapter=str(start) if start else None,
        )
        assert _run(adaptation)[-1].phase == "done"
        return load_file(tmp_path / out / "adapter_model.safetensors")

    first = train("first", None)
    top = train("top", tmp_path / "first", train_layers=1)
    assert first.keys() == top.keys()
    changed = {name for name in first if not torch.equal(first[name], top[name])}
    assert changed and all(".layers.1." in name for name in changed), changed  # the tiny model has layers 0 and 1
    assert any(".layers.1." in name and "lora_B" in name for name in changed)
    with pytest.raises(ConfigError):
        _options(train_layers=0).validate()


def test_cancel_stops_between_steps_and_a_rerun_resumes(tiny_llama_dir: Path, tmp_path: Path) -> None:
    options = _options(stage="both", steps=4, checkpoint_every=2)

    def adaptation() -> Adaptation:
        return Adaptation(
            _embedder(tiny_llama_dir), _passages(), options, run_dir=tmp_path / "run", adapter_dir=tmp_path / "ad"
        )

    cancel = CancelToken()
    seen: list[AdaptProgress] = []
    with pytest.raises(Cancelled, match="contrastive step 1 of 4"):
        for event in adaptation().run(cancel):
            seen.append(event)
            if event.phase == "contrastive" and event.step == 1:
                cancel.cancel()
    assert [e.step for e in seen if e.phase == "contrastive"] == [1]  # stopped before step 2
    assert not (tmp_path / "ad").exists()
    events = _run(adaptation())
    assert events[0].phase == "prepare" and "contrastive step 1" in events[0].message
    assert not [e for e in events if e.phase == "ebae"]
    assert [e.step for e in events if e.phase == "contrastive"] == [2, 3, 4]
    assert events[-1].phase == "done" and (tmp_path / "ad" / "adapter_model.safetensors").is_file()


def test_resume_restores_weights_and_optimizer(tiny_llama_dir: Path, tmp_path: Path) -> None:
    """Stopping after step 2 and resuming lands on the same weights as running 4 steps straight."""
    options = _options(stage="ebae", steps=4, checkpoint_every=2)

    def run(run_dir: Path, stop_at: int | None) -> dict[str, torch.Tensor]:
        adaptation = Adaptation(
            _embedder(tiny_llama_dir), _passages(), options, run_dir=run_dir, adapter_dir=run_dir / "ad"
        )
        cancel = CancelToken()
        try:
            for event in adaptation.run(cancel):
                if event.step == stop_at and event.phase == "ebae":
                    cancel.cancel()
        except Cancelled:
            pass
        return {k: v.detach().clone() for k, v in adaptation.model.named_parameters() if v.requires_grad}

    straight = run(tmp_path / "a", None)
    run(tmp_path / "b", 2)
    resumed = run(tmp_path / "b", None)
    for name, value in straight.items():
        torch.testing.assert_close(resumed[name], value, atol=1e-6, rtol=1e-5)


def test_cli_adapt_trains_sets_the_adapter_and_reindexes(
    cli_indexed: Path, tiny_llama_dir: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path = cli_indexed
    capsys.readouterr()
    assert (
        main(
            [
                "adapt",
                "--steps",
                "2",
                "--batch-size",
                "4",
                "--rank",
                "2",
                "--max-tokens",
                "32",
                "--device",
                "cpu",
                "--hard-negatives",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    index = Store(tmp_path / "db").profile_index(Store(tmp_path / "db").active_profile())  # type: ignore[arg-type]
    passages = passages_from_index(index)
    assert {p.doc for p in passages} == {str(p) for p in corpus.resolve().rglob("*") if p.is_file()}
    mined = add_hard_negatives(index, contrastive_pairs(passages))
    negatives = [p for p in mined if p.negative is not None]
    assert negatives and all(
        next(x.doc for x in passages if x.text == p.negative) != p.doc for p in negatives
    )  # BM25 negatives come from other files
    adapter = tmp_path / "data" / "adapters" / "my-documents"
    assert f"Adapter saved to {adapter}" in captured.out
    assert "Adapting: 4 steps, " in captured.err and "minute" in captured.err
    # Stated before the model loads, from the bundled adapter's training; this run's steps are timed and kept.
    assert captured.err.index("Adapting: 4 steps") < captured.err.index("Loading ")
    assert "a rough guess from the bundled adapter's training" in captured.err
    assert (tmp_path / "data" / "training" / "step-costs.json").is_file()
    assert main(["config", "get", "adapter"]) == 0
    assert capsys.readouterr().out.strip() == f'"{adapter}"'
    assert main(["status"]) == 0
    assert "your adapter 'my-documents'" in capsys.readouterr().out  # the new profile is complete and active
    assert main(["status", "--json"]) == 0
    assert f"adapter:{adapter}@" in json.loads(capsys.readouterr().out)["model"]["identity"]
    # The next run's estimate comes from the steps this computer just did.
    args = ["adapt", "--steps", "2", "--batch-size", "4", "--rank", "2", "--max-tokens", "32", "--device", "cpu"]
    assert main([*args, "--name", "again", "--no-reindex"]) == 0
    assert "4 steps, under a minute on cpu; measured on this computer" in capsys.readouterr().err
    # Adapting again never overwrites the adapter the index uses.
    assert main(["adapt", "--steps", "1", "--stage", "ebae", "--max-tokens", "32", "--no-reindex"]) == 0
    assert f"Adapter saved to {adapter}-2" in capsys.readouterr().out


def test_adapting_an_index_of_the_default_cpu_model_says_the_documents_move_to_smollm2(
    tmp_path: Path, indexed: object, store: Store
) -> None:
    """On a CPU the default model is the encoder; an adapter is for SmolLM2, and the estimate says what follows."""
    from core.index.indexer import Indexer
    from core.settings import Settings
    from core.training.adapt import plan_adaptation

    assert plan_adaptation(store, Settings(model="auto")).model_change == "", "a LLaRA index stays LLaRA"
    encoder_store = Store(tmp_path / "encoder.lancedb")
    corpus = tmp_path / "docs"
    encoder_store.add_folder(corpus)
    settings = Settings(model="auto", device="cpu", chunk_size=48, chunk_overlap=8)
    for _ in Indexer(encoder_store, settings, load_embedder("auto", device="cpu", cache_dir=tmp_path)).run([corpus]):
        pass
    assert encoder_store.active_profile().model == "minilm-l6-v2"  # the profile names what "auto" chose
    change = plan_adaptation(encoder_store, settings).model_change
    assert "indexed with all-MiniLM-L6-v2" in change and "SmolLM2" in change
