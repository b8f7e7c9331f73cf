"""The LLaRA embedder against a hand-written reference, on a tiny random LLaMA and the bundled SmolLM2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from core.embedding import Embedder, bundled, load_embedder, select_device, select_dtype, truncate
from core.embedding.device import PAD_MULTIPLE, cpu_has_fast_bf16, pad_multiple
from core.embedding.llara import LlaraEmbedder, add_llara_tokens
from core.errors import ConfigError, ModelUnavailable
from tests.core.test_encoder import widths_seen

# Written out in full rather than imported: the test must catch a typo in the module's prompts.
PASSAGE_SUFFIX = '", summarize the above passage within eight words: <s1><s2><s3><s4><s5><s6><s7><s8>'
QUERY_SUFFIX = '", predict the following passage within eight words: <s9><s10><s11><s12><s13><s14><s15><s16>'

TEXTS = [
    "Semantic search finds passages by meaning.",
    "A fox.",
    "Invoices, contracts and meeting notes from 2023 are in the archive folder; the tax return is not.",
    "",
    "The quick brown fox jumps over the lazy dog, then sleeps under the old oak tree until the evening.",
]


@pytest.fixture(scope="module")
def embedder(tiny_llama_dir: Path) -> LlaraEmbedder:
    return load_embedder(str(tiny_llama_dir), device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def reference_model(tiny_llama_dir: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """An independent copy of the tiny model, prepared as LLaRA expects."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32).eval()
    add_llara_tokens(model, tokenizer)
    return model, tokenizer


def reference_prompt_ids(
    tokenizer: PreTrainedTokenizerBase, text: str, suffix: str, max_length: int = 512
) -> list[int]:
    """The BAAI reference: '"' with BOS, the text alone truncated, the suffix without BOS."""
    prefix = tokenizer('"')["input_ids"]
    body = tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    return list(prefix) + list(body) + list(tokenizer(suffix, add_special_tokens=False)["input_ids"])


@torch.inference_mode()
def reference_embed(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    suffix: str,
    max_length: int = 512,
) -> np.ndarray:
    """One text at a time (no padding at all), full causal LM, last hidden layer, mean of last 8, L2."""
    rows = []
    for text in texts:
        ids = torch.tensor([reference_prompt_ids(tokenizer, text, suffix, max_length)])
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[-1]
        rows.append(torch.nn.functional.normalize(hidden[0, -8:].mean(dim=0), dim=-1).numpy())
    return np.stack(rows)


@torch.inference_mode()
def reference_embed_padded(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, texts: list[str], suffix: str
) -> np.ndarray:
    """All texts in one left-padded batch, position ids counted from each text's first token."""
    seqs = [reference_prompt_ids(tokenizer, text, suffix) for text in texts]
    width = max(map(len, seqs))
    pad = tokenizer.unk_token_id  # the tiny tokenizer has no pad token, like LLaMA-2
    ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs])
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    hidden = model(input_ids=ids, attention_mask=mask, position_ids=positions, output_hidden_states=True)
    pooled = hidden.hidden_states[-1][:, -8:].mean(dim=1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


# --- the embedder on a tiny random LLaMA ----------------------------------------------------------


def test_shapes_dtype_and_unit_norms(embedder: LlaraEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.dimension == 64
    assert embedder.device == "cpu"
    assert embedder.max_length == 512
    for vectors in (embedder.embed_passages(TEXTS), embedder.embed_queries(TEXTS)):
        assert vectors.shape == (len(TEXTS), 64)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_empty_array(embedder: LlaraEmbedder) -> None:
    assert embedder.embed_passages([]).shape == (0, 64)
    assert embedder.embed_queries([]).dtype == np.float32


def test_name_records_the_model(embedder: LlaraEmbedder, tiny_llama_dir: Path) -> None:
    assert embedder.name == f"llara:{tiny_llama_dir.resolve()}"


def test_prompts_are_the_llara_prompts(embedder: LlaraEmbedder) -> None:
    tokenizer = embedder.tokenizer
    text = TEXTS[0]
    passage = tokenizer.decode(embedder.passage_input_ids([text])[0])
    query = tokenizer.decode(embedder.query_input_ids([text])[0])
    assert passage == '<s>"' + text + PASSAGE_SUFFIX  # the tiny tokenizer adds BOS, like LLaMA's
    assert query == '<s>"' + text + QUERY_SUFFIX
    special = [tokenizer.convert_tokens_to_ids(f"<s{i}>") for i in range(1, 17)]
    assert embedder.passage_input_ids([text])[0][-8:] == special[:8]
    assert embedder.query_input_ids([text])[0][-8:] == special[8:]


def test_matches_hand_computed_reference(
    embedder: LlaraEmbedder, reference_model: tuple[PreTrainedModel, PreTrainedTokenizerBase]
) -> None:
    model, tokenizer = reference_model
    np.testing.assert_allclose(
        embedder.embed_passages(TEXTS), reference_embed(model, tokenizer, TEXTS, PASSAGE_SUFFIX), atol=1e-5
    )
    np.testing.assert_allclose(
        embedder.embed_queries(TEXTS), reference_embed(model, tokenizer, TEXTS, QUERY_SUFFIX), atol=1e-5
    )
    np.testing.assert_allclose(
        embedder.embed_passages(TEXTS, batch_size=len(TEXTS)),
        reference_embed_padded(model, tokenizer, TEXTS, PASSAGE_SUFFIX),
        atol=1e-5,
    )


def test_deterministic_across_calls_and_loads(embedder: LlaraEmbedder, tiny_llama_dir: Path) -> None:
    # The tiny checkpoint lacks <s1>..<s16>: each load adds them, and their rows must come out the same.
    first = embedder.embed_passages(TEXTS)
    assert np.array_equal(first, embedder.embed_passages(TEXTS))
    reloaded = load_embedder(str(tiny_llama_dir), device="cpu", precision="fp32")
    np.testing.assert_allclose(reloaded.embed_passages(TEXTS), first, atol=1e-6)


def test_vector_does_not_depend_on_batch_companions(embedder: LlaraEmbedder) -> None:
    alone = np.concatenate([embedder.embed_passages([text]) for text in TEXTS])
    together = embedder.embed_passages(TEXTS, batch_size=len(TEXTS))
    np.testing.assert_allclose(together, alone, atol=1e-5)
    in_pairs = embedder.embed_passages(TEXTS[::-1], batch_size=2)[::-1]
    np.testing.assert_allclose(in_pairs, alone, atol=1e-5)


def test_queries_and_passages_differ(embedder: LlaraEmbedder) -> None:
    queries = embedder.embed_queries(TEXTS)
    passages = embedder.embed_passages(TEXTS)
    assert np.all(np.abs(queries - passages).max(axis=1) > 1e-3)


def test_long_text_is_truncated_before_the_special_tokens(
    embedder: LlaraEmbedder, reference_model: tuple[PreTrainedModel, PreTrainedTokenizerBase]
) -> None:
    short = LlaraEmbedder(embedder.model, embedder.tokenizer, name="short", device="cpu", max_length=16)
    text = " ".join(TEXTS) * 3
    assert short.count_tokens(text) > 16
    ids = short.passage_input_ids([text])[0]
    prompt_only = short.passage_input_ids([""])[0]
    assert len(ids) == len(prompt_only) + 16
    assert ids[-8:] == prompt_only[-8:] == embedder.tokenizer.convert_tokens_to_ids([f"<s{i}>" for i in range(1, 9)])
    model, tokenizer = reference_model
    np.testing.assert_allclose(
        short.embed_passages([text]),
        reference_embed(model, tokenizer, [text], PASSAGE_SUFFIX, max_length=16),
        atol=1e-5,
    )


def test_count_tokens_counts_raw_text(embedder: LlaraEmbedder) -> None:
    text = " ".join(TEXTS) * 40
    expected = len(embedder.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
    assert embedder.count_tokens(text) == expected > embedder.max_length
    assert embedder.count_tokens("") == 0


def test_tokenizer_gives_offsets_for_chunking(embedder: LlaraEmbedder) -> None:
    text = "Offsets map tokens back to characters."
    encoding = embedder.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert encoding["offset_mapping"][-1][1] == len(text)


def test_control_tokens_in_documents_are_plain_text(embedder: LlaraEmbedder) -> None:
    ids = embedder.passage_input_ids(["see <s1> here"])[0]
    s1 = embedder.tokenizer.get_vocab()["<s1>"]
    assert ids.count(s1) == 1  # only the prompt's own


def test_bf16_on_cpu_stays_close_to_fp32(embedder: LlaraEmbedder, tiny_llama_dir: Path) -> None:
    half = load_embedder(str(tiny_llama_dir), device="cpu", precision="bf16")
    assert half.precision == "bf16"
    vectors = half.embed_passages(TEXTS)
    assert vectors.dtype == np.float32
    cosines = np.sum(vectors * embedder.embed_passages(TEXTS), axis=1)
    assert cosines.min() > 0.99


@pytest.mark.filterwarnings("ignore:Setting `save_embedding_layers`:UserWarning")  # peft, expected here
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")  # peft vs transformers 5
@pytest.mark.parametrize("tokenizer_in_adapter", [True, False])
def test_lora_adapter_is_merged(
    embedder: LlaraEmbedder, tiny_llama_dir: Path, tmp_path: Path, tokenizer_in_adapter: bool
) -> None:
    from peft import LoraConfig, get_peft_model

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, dtype=torch.float32)
    add_llara_tokens(base, tokenizer)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    with torch.random.fork_rng():
        torch.manual_seed(1)  # init_lora_weights=False: B is random, not zero, so the adapter matters
        peft_model = get_peft_model(base, config).eval()
    adapter_dir = tmp_path / "adapter"
    peft_model.save_pretrained(str(adapter_dir))
    if tokenizer_in_adapter:
        tokenizer.save_pretrained(adapter_dir)

    adapted = load_embedder(str(tiny_llama_dir), adapter=str(adapter_dir), device="cpu", precision="fp32")

    assert adapted.name.startswith(f"{embedder.name}+adapter:{adapter_dir.resolve()}@")
    vectors = adapted.embed_passages(TEXTS)
    assert np.abs(vectors - embedder.embed_passages(TEXTS)).max() > 1e-2
    expected = reference_embed(peft_model, tokenizer, TEXTS, PASSAGE_SUFFIX)  # unmerged LoRA
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_missing_directory_is_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no such directory"):
        load_embedder(str(tmp_path / "nowhere"), device="cpu")


def test_unreachable_hub_model_is_model_unavailable() -> None:
    with pytest.raises(ModelUnavailable, match="no network"):
        load_embedder("sleuth-tests/no-such-model", device="cpu")


def test_directory_without_model_is_model_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="Cannot load"):
        load_embedder(str(tmp_path), device="cpu")


def test_import_stays_cheap() -> None:
    # The store and CLI import core.embedding for truncate(); torch must wait until a model is loaded.
    code = "import sys, core.embedding; assert 'torch' not in sys.modules, 'torch imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


# --- Matryoshka truncation ------------------------------------------------------------------------


def test_truncate_keeps_a_renormalised_prefix() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 32)).astype(np.float64)
    short = truncate(vectors, 8)
    assert short.shape == (5, 8)
    assert short.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-6)
    scale = np.linalg.norm(vectors[:, :8], axis=1, keepdims=True)
    np.testing.assert_allclose(short * scale, vectors[:, :8], atol=1e-5)
    np.testing.assert_allclose(truncate(vectors[0], 8), short[0])


def test_truncate_to_full_dimension_only_normalises() -> None:
    vectors = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(truncate(vectors, 2), [[0.6, 0.8], [0.0, 0.0]])  # zero rows stay zero, no NaN


@pytest.mark.parametrize("dim", [0, -1, 33])
def test_truncate_rejects_impossible_dimensions(dim: int) -> None:
    with pytest.raises(ValueError, match="dimensions"):
        truncate(np.ones((2, 32), dtype=np.float32), dim)


def test_truncate_rejects_higher_rank() -> None:
    with pytest.raises(ValueError, match="shape"):
        truncate(np.ones((2, 2, 4), dtype=np.float32), 2)


# --- device and precision -------------------------------------------------------------------------


def test_select_device_cpu_and_auto() -> None:
    assert select_device("cpu") == "cpu"
    assert select_device(" CPU ") == "cpu"
    assert select_device("auto") in {"cpu", "cuda", "mps"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
@pytest.mark.parametrize("preference", ["cuda", "cuda:0", "gpu"])
def test_select_device_without_gpu_says_so(preference: str) -> None:
    if preference == "gpu" and torch.backends.mps.is_available():
        pytest.skip("Apple GPU present")
    with pytest.raises(ModelUnavailable, match=r"not available|No GPU"):
        select_device(preference)


def test_select_device_rejects_unknown_names() -> None:
    with pytest.raises(ConfigError, match="Unknown device"):
        select_device("tpu")


def test_select_dtype() -> None:
    assert select_dtype("cpu", "fp32") is torch.float32
    assert select_dtype("cpu", "bf16") is torch.bfloat16
    assert select_dtype("cpu", "auto") is (torch.bfloat16 if cpu_has_fast_bf16() else torch.float32)
    with pytest.raises(ConfigError, match="fp16"):
        select_dtype("cpu", "fp16")
    with pytest.raises(ConfigError, match="Unknown precision"):
        select_dtype("cpu", "int3")


# --- the bundled SmolLM2 --------------------------------------------------------------------------


def test_bundled_gguf_is_found_without_importing_the_package() -> None:
    path = bundled.find_gguf()
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000
    assert path.parent.parent.name == bundled.MODELS_PACKAGE  # the sleuth-models wheel's, which make installs
    assert bundled.MODELS_PACKAGE not in sys.modules


def test_cache_location_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLEUTH_CACHE_DIR", str(tmp_path / "env"))
    assert bundled.cache_root() == tmp_path / "env"
    assert bundled.cache_root(tmp_path / "arg") == tmp_path / "arg"
    assert bundled.cached_model_dir(tmp_path).parent == tmp_path / "models"


def test_failed_conversion_leaves_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(gguf: Path, destination: Path) -> None:
        (destination / "config.json").write_text("{}")
        raise RuntimeError("killed halfway")

    monkeypatch.setattr(bundled, "_write_converted", crash)
    with pytest.raises(ModelUnavailable, match="killed halfway"):
        bundled.bundled_model_dir(tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_conversion_finished_by_another_process_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_conversion(gguf: Path, destination: Path) -> None:
        for name in ("config.json", "tokenizer.json", "model.safetensors"):
            (destination / name).write_text(destination.name)

    target = bundled.cached_model_dir(tmp_path)
    monkeypatch.setattr(bundled, "_write_converted", fake_conversion)
    bundled.convert_gguf(bundled.find_gguf(), target)  # first writer wins ...
    bundled.convert_gguf(bundled.find_gguf(), target)  # ... the second finds the cache there and keeps it
    assert (target / "config.json").read_text() != target.name
    assert [p.name for p in target.parent.iterdir()] == [target.name]


@pytest.mark.slow
def test_bundled_model_is_converted_once(
    bundled_embedder: LlaraEmbedder, bundled_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bundled_embedder.name == "llara:smollm2-135m"
    assert bundled_embedder.dimension == 576
    cached = bundled.cached_model_dir(bundled_cache_dir)
    assert cached.is_dir()
    # No staging directory left behind (the cache also holds other models' files, such as the MiniLM weights).
    assert not [p.name for p in cached.parent.iterdir() if p.name.startswith(f".{cached.name}-")]
    assert "quantization_config" not in (cached / "config.json").read_text()
    # SmolLM2's tokenizer adds no BOS; the embedder follows it, so the prompt starts at '"'.
    assert bundled_embedder.tokenizer.decode(bundled_embedder.passage_input_ids(["x"])[0]) == '"x' + PASSAGE_SUFFIX
    texts = ["Semantic search over your own documents.", "A short one."]
    first = bundled_embedder.embed_passages(texts)
    assert first.shape == (2, 576)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)

    def no_second_conversion(gguf: Path, destination: Path) -> None:
        raise AssertionError("the GGUF file was converted again")

    monkeypatch.setattr(bundled, "_write_converted", no_second_conversion)
    messages: list[str] = []
    again = load_embedder(device="cpu", precision="fp32", cache_dir=bundled_cache_dir, progress=messages.append)
    assert not any("Converting" in message for message in messages)
    assert np.array_equal(again.embed_passages(texts), first)  # the added tokens' rows live in the cache


def test_the_converted_cache_is_fp16_and_replaces_older_ones(tmp_path: Path) -> None:
    from safetensors import safe_open

    older = tmp_path / "models" / f"{bundled.ALIAS}-1234-v1"  # an earlier recipe's fp32 cache
    older.mkdir(parents=True)
    (older / "model.safetensors").write_bytes(b"\0" * 1024)
    unrelated = tmp_path / "models" / "minilm-l6-v2-1"
    unrelated.mkdir()
    folder = bundled.bundled_model_dir(tmp_path)
    assert folder == bundled.cached_model_dir(tmp_path) and not older.exists() and unrelated.is_dir()
    with safe_open(str(next(folder.glob("*.safetensors"))), "pt") as weights:
        names = weights.keys()
        assert {weights.get_slice(name).get_dtype() for name in names} == {"F16"}


def test_bundled_adapter_setting_applies_to_the_bundled_backbone_only(
    tiny_llama_dir: Path, tiny_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bundled.resolve_adapter(bundled.ALIAS, "bundled") == str(bundled.ADAPTER_DIR)
    assert (bundled.ADAPTER_DIR / "adapter_model.safetensors").is_file()  # shipped in resources/
    assert bundled.resolve_adapter(bundled.ALIAS, "") is None
    assert bundled.resolve_adapter(bundled.ALIAS, "/my/adapter") == "/my/adapter"
    # another backbone, or an encoder, with the default setting: no adapter and no error
    assert bundled.resolve_adapter(str(tiny_llama_dir), "bundled") is None
    assert "+adapter" not in load_embedder(str(tiny_llama_dir), adapter="bundled", device="cpu").name
    assert "+adapter" not in load_embedder(str(tiny_encoder_dir), adapter="bundled", device="cpu").name
    monkeypatch.setattr(bundled, "ADAPTER_DIR", tmp_path / "missing")
    with pytest.raises(ModelUnavailable, match="bundled adapter is missing"):
        bundled.resolve_adapter(bundled.ALIAS, "bundled")


def test_the_bundled_setting_picks_the_shipped_adapter_for_the_depth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.embedding.registry import shipped_depths, trained_depth

    for name, facts in (("smollm2-135m", None), ("smollm2-135m-depth7", {"depth": 7, "measured": "3.9× faster"})):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "adapter_config.json").write_text("{}")
        if facts:
            (folder / "sleuth-adapter.json").write_text(json.dumps(facts))
    (tmp_path / "smollm2-135m-depthless").mkdir()  # not an adapter folder of the family
    monkeypatch.setattr(bundled, "ADAPTERS_DIR", tmp_path)
    monkeypatch.setattr(bundled, "ADAPTER_DIR", tmp_path / "smollm2-135m")
    assert bundled.shipped_adapters() == {0: tmp_path / "smollm2-135m", 7: tmp_path / "smollm2-135m-depth7"}
    assert bundled.resolve_adapter(bundled.ALIAS, "bundled", 7) == str(tmp_path / "smollm2-135m-depth7")
    assert trained_depth(bundled.ALIAS, "bundled", 7) == 7
    for depth in (0, 15, 30):  # no adapter of its own: the full one (an untrained exit below 30)
        assert bundled.resolve_adapter(bundled.ALIAS, "bundled", depth) == str(tmp_path / "smollm2-135m")
    assert bundled.resolve_adapter(bundled.ALIAS, "/my/adapter", 7) == "/my/adapter"
    assert shipped_depths(bundled.ALIAS, "bundled") == {7: "3.9× faster"}
    assert shipped_depths(bundled.ALIAS, "/my/adapter") == {}


def test_the_shipped_seven_layer_student_loads_with_its_read_out_map(bundled_cache_dir: Path) -> None:
    full = load_embedder(adapter="bundled", device="cpu", precision="fp32", cache_dir=bundled_cache_dir)
    student = load_embedder(adapter="bundled", device="cpu", precision="fp32", cache_dir=bundled_cache_dir, depth=7)
    assert isinstance(student, LlaraEmbedder) and student.early_exit == 7 and student.projection is not None
    assert student.name.startswith("llara:smollm2-135m+adapter:bundled@") and student.name.endswith("+depth:7")
    texts = ["Knead the dough and let it rise overnight.", "Set the foreign key to cascade on delete."]
    queries = ["how long should bread dough rise", "delete child rows with their parent"]
    vectors, query_vectors = student.embed_passages(texts), student.embed_queries(queries)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Distilled into the full model's space: each vector near the full model's own, each query nearest its passage.
    assert ((vectors * full.embed_passages(texts)).sum(axis=1) > 0.5).all()
    assert (np.argmax(query_vectors @ vectors.T, axis=1) == [0, 1]).all()


def test_bf16_batches_of_every_length_reach_the_model_in_few_widths(tiny_llama_dir: Path) -> None:
    # In bf16 on a CPU each new width costs kernels that stay in memory (core.embedding.device.PAD_MULTIPLE).
    embedder = load_embedder(str(tiny_llama_dir), device="cpu", precision="bf16")
    assert isinstance(embedder, LlaraEmbedder) and embedder.pad_multiple == PAD_MULTIPLE
    texts = [" ".join(["invoice"] * n) for n in range(1, 80, 3)]

    def embedded() -> tuple[np.ndarray, list[int]]:
        vectors: list[np.ndarray] = []
        widths = widths_seen(embedder.backbone, lambda: vectors.append(embedder.embed_passages(texts, batch_size=3)))
        return vectors[0], widths

    whole, widths = embedded()
    embedder.pad_multiple = 1  # each batch as wide as its longest text
    longest, exact = embedded()
    assert len(widths) == len(exact) == 9 and all(width % PAD_MULTIPLE == 0 for width in widths)
    assert len(set(widths)) < len(set(exact))
    np.testing.assert_allclose(whole, longest, atol=2e-2)  # the padding is masked


def test_only_bf16_and_fp16_on_a_cpu_pad_to_whole_widths() -> None:
    assert pad_multiple("cpu", torch.bfloat16) == pad_multiple("cpu", torch.float16) == PAD_MULTIPLE
    assert pad_multiple("cpu", torch.float32) == 1  # MKL keeps nothing per width, and padding costs time
    assert pad_multiple("cuda:0", torch.bfloat16) == 1
