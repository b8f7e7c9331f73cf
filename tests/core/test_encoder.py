from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from core.embedding import EncoderEmbedder, load_embedder
from core.embedding.device import PAD_MULTIPLE
from core.embedding.registry import backend_for
from core.errors import ConfigError

TEXTS = ["Invoices are due at the end of the month.", "A short one.", "Semantic search finds passages by meaning."]


def reference(directory: Path, texts: list[str], prefix: str, pooling: str) -> np.ndarray:
    """The encoder recipe computed independently: prefix, pad right, pool, normalise."""
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModel.from_pretrained(directory).eval()
    encoded = tokenizer([prefix + t for t in texts], padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoded).last_hidden_state
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_sentence_transformers_layout_is_read(tiny_encoder_dir: Path) -> None:
    embedder = load_embedder(str(tiny_encoder_dir), device="cpu", precision="fp32")
    assert isinstance(embedder, EncoderEmbedder)
    assert embedder.name == f"encoder:{tiny_encoder_dir}"
    assert embedder.dimension == 32 and embedder.max_length == 64
    assert (embedder.config.pooling, embedder.config.query_prefix, embedder.config.passage_prefix) == (
        "cls",
        "query: ",
        "passage: ",
    )


def test_matches_an_independent_computation(tiny_encoder_dir: Path) -> None:
    embedder = load_embedder(str(tiny_encoder_dir), device="cpu", precision="fp32")
    passages = embedder.embed_passages(TEXTS)
    queries = embedder.embed_queries(TEXTS)
    assert passages.dtype == np.float32 and passages.shape == (3, 32)
    np.testing.assert_allclose(passages, reference(tiny_encoder_dir, TEXTS, "passage: ", "cls"), atol=1e-5)
    np.testing.assert_allclose(queries, reference(tiny_encoder_dir, TEXTS, "query: ", "cls"), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)


def test_mean_pooling_without_prompts(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "mean-encoder"
    shutil.copytree(tiny_encoder_dir, directory)
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (directory / "config_sentence_transformers.json").unlink()
    embedder = load_embedder(f"encoder:{directory}", device="cpu", precision="fp32")
    assert embedder.embed_queries(TEXTS).tolist() == embedder.embed_passages(TEXTS).tolist()
    np.testing.assert_allclose(embedder.embed_passages(TEXTS), reference(directory, TEXTS, "", "mean"), atol=1e-5)


def test_backend_is_chosen_from_the_model(tiny_encoder_dir: Path, tiny_llama_dir: Path) -> None:
    assert backend_for(str(tiny_encoder_dir))[0] == "encoder"
    assert backend_for(str(tiny_llama_dir))[0] == "llara"
    assert backend_for("smollm2-135m") == ("llara", "smollm2-135m")
    assert backend_for("minilm-l6-v2") == ("encoder", "minilm-l6-v2")
    assert backend_for("encoder:/x/y") == ("encoder", "/x/y")


def test_adapter_on_an_encoder_is_refused(tiny_encoder_dir: Path) -> None:
    with pytest.raises(ConfigError, match="LLaRA"):
        load_embedder(str(tiny_encoder_dir), adapter="/some/adapter", device="cpu")


@pytest.mark.slow
def test_bundled_minilm_loads_offline(tmp_path: Path) -> None:
    embedder = load_embedder("minilm-l6-v2", device="cpu", precision="fp32", cache_dir=tmp_path)
    assert embedder.dimension == 384 and embedder.max_length == 256
    query = embedder.embed_queries(["A man is eating food."])[0]
    passages = embedder.embed_passages(
        ["A man is eating a piece of bread.", "The girl is carrying a baby.", "A man is riding a horse."]
    )
    scores = passages @ query
    assert scores.argmax() == 0 and scores[0] == pytest.approx(0.755, abs=0.01)  # the published similarity
    again = load_embedder("minilm-l6-v2", device="cpu", precision="fp32", cache_dir=tmp_path)
    np.testing.assert_array_equal(again.embed_queries(["A man is eating food."])[0], query)


def test_an_encoder_indexes_and_searches(tiny_encoder_dir: Path, tmp_path: Path) -> None:
    from core.index.indexer import Indexer
    from core.index.store import Store
    from core.search.searcher import Searcher
    from core.settings import Settings
    from tests.core.corpus import write_corpus

    folder = write_corpus(tmp_path / "docs")
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    embedder = load_embedder(str(tiny_encoder_dir), device="cpu", precision="fp32")
    indexer = Indexer(store, Settings(model=str(tiny_encoder_dir), chunk_size=48, chunk_overlap=8), embedder)
    for _ in indexer.run([folder]):
        pass
    assert indexer.profile.embedder_name.startswith("encoder:") and indexer.profile.dimension == 32
    hits = Searcher(indexer.index, embedder).search("Sicilian Defence", k=3, mode="hybrid").hits
    assert Path(hits[0].path).name == "chess.rst"
    assert len(Searcher(indexer.index, embedder).search("chess", k=3, mode="dense").hits) == 3


def widths_seen(model: torch.nn.Module, run: Callable[[], object]) -> list[int]:
    """The sequence widths ``model`` is run on while ``run`` embeds."""
    widths: list[int] = []
    hook = model.register_forward_pre_hook(
        lambda _module, _args, kwargs: widths.append(int(kwargs["input_ids"].shape[1])), with_kwargs=True
    )
    try:
        run()
    finally:
        hook.remove()
    return widths


def test_bf16_batches_of_every_length_reach_the_model_in_few_widths(tiny_encoder_dir: Path) -> None:
    # In bf16 on a CPU each new width costs kernels that stay in memory (core.embedding.device.PAD_MULTIPLE).
    embedder = load_embedder(str(tiny_encoder_dir), device="cpu", precision="bf16")
    assert isinstance(embedder, EncoderEmbedder) and embedder.pad_multiple == PAD_MULTIPLE
    texts = [" ".join(["invoice"] * n) for n in range(1, 80, 3)]
    widths = widths_seen(embedder.model, lambda: embedder.embed_passages(texts, batch_size=3))
    assert len(widths) == 9
    assert set(widths) <= {PAD_MULTIPLE, 2 * PAD_MULTIPLE}  # the model's limit is 64 tokens
    # Padding is masked: each vector is the one the text gets padded to its batch's longest only.
    whole = embedder.embed_passages(texts, batch_size=3)
    embedder.pad_multiple = 1
    longest = widths_seen(embedder.model, lambda: embedder.embed_passages(texts, batch_size=3))
    assert len(set(longest)) > 2
    np.testing.assert_allclose(whole, embedder.embed_passages(texts, batch_size=3), atol=2e-2)
