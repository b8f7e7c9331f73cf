"""LLaRA embedder: a causal LM read out at eight appended summary tokens.

The recipe (prompts, left padding, mean of the last eight final hidden states)
is the one the released BAAI checkpoints were trained with; see DESIGN.md,
"LLaRA embedder". Any deviation changes the vectors those checkpoints produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from core.embedding.device import pad_multiple, padded_width, precision_name
from core.embedding.loading import (
    StatusSink,
    adapter_identity,
    cached_first,
    has_tokenizer,
    load_step,
    merge_adapter,
    quiet,
)
from core.errors import ConfigError, ModelUnavailable
from core.vocabulary import EmbedderIdentity

PASSAGE_TOKENS = tuple(f"<s{i}>" for i in range(1, 9))
QUERY_TOKENS = tuple(f"<s{i}>" for i in range(9, 17))
PREFIX = '"'
PASSAGE_SUFFIX = '", summarize the above passage within eight words: ' + "".join(PASSAGE_TOKENS)
QUERY_SUFFIX = '", predict the following passage within eight words: ' + "".join(QUERY_TOKENS)
POOLED_POSITIONS = 8
DEFAULT_MAX_LENGTH = 512
#: A square linear map applied to the read-out before normalising, saved beside an adapter trained with one
#: (a shallow student distilled from the full model, core.training.distill): its name starts with
#: "adapter_" so the adapter's identity digest covers it.
PROJECTION_FILE = "adapter_projection.safetensors"
# Seed for the rows of newly added <sN> tokens: the same backbone must always give the same vectors.
NEW_TOKEN_SEED = 0


def _weight(module: torch.nn.Module | None) -> torch.Tensor:
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise ModelUnavailable(f"Unsupported model: its embedding layer {module!r} has no weight matrix.")
    return weight


def add_llara_tokens(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """Add missing <s1>..<s16> tokens and grow the embeddings; returns how many were added.

    New rows are drawn from a fixed-seed normal with the per-dimension mean and
    spread of the existing rows: deterministic (so every load of an untrained
    backbone gives identical vectors) yet distinct per token (so query and
    passage read-outs differ).
    """
    vocab = tokenizer.get_vocab()
    missing = [token for token in PASSAGE_TOKENS + QUERY_TOKENS if token not in vocab]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    old_rows = _weight(model.get_input_embeddings()).shape[0]
    if len(tokenizer) <= old_rows:
        return len(missing)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    weights = [_weight(model.get_input_embeddings())]
    output = model.get_output_embeddings()
    if output is not None and _weight(output).data_ptr() != weights[0].data_ptr():
        weights.append(_weight(output))
    with torch.no_grad():
        for weight in weights:
            existing = weight[:old_rows].float()
            generator = torch.Generator().manual_seed(NEW_TOKEN_SEED)
            noise = torch.randn(weight.shape[0] - old_rows, weight.shape[1], generator=generator)
            rows = existing.mean(dim=0) + existing.std(dim=0) * noise
            weight[old_rows:] = rows.to(device=weight.device, dtype=weight.dtype)
    return len(missing)


class LlaraEmbedder:
    """Embeds with the LLaRA prompts; see :class:`core.embedding.base.Embedder`."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        name: str,
        device: str,
        max_length: int = DEFAULT_MAX_LENGTH,
        batch_size: int | None = None,
        early_exit: int = 0,
    ) -> None:
        vocab = tokenizer.get_vocab()
        absent = [token for token in PASSAGE_TOKENS + QUERY_TOKENS if token not in vocab]
        if absent:
            raise ModelUnavailable(f"Model {name} lacks the LLaRA tokens {', '.join(absent)}.")
        if not tokenizer.is_fast:
            raise ModelUnavailable(f"Model {name} has no fast tokenizer; chunking needs offset mappings.")
        self.name = name
        self.device = device
        self.max_length = max_length
        self.tokenizer = tokenizer
        self.model = model.eval()
        # The base model skips the LM head: logits over the whole vocabulary are
        # not needed and cost a fifth of SmolLM2's forward pass.
        self.backbone: torch.nn.Module = model.base_model
        self.dimension = int(_weight(model.get_input_embeddings()).shape[1])
        self.dtype = next(model.parameters()).dtype
        self.depth = layer_count(model)  # the decoder layers each text runs through
        self.early_exit = early_exit  # see keep_layers
        self.precision = precision_name(self.dtype)
        self.pad_multiple = pad_multiple(device, self.dtype)
        # The read-out's linear map, where the adapter has one (load_projection); None: the plain LLaRA mean.
        self.projection: torch.nn.Linear | None = None
        self.batch_size = batch_size or (8 if device == "cpu" else 32)
        self._prefix_ids: list[int] = tokenizer(PREFIX, add_special_tokens=True)["input_ids"]
        self._passage_suffix: list[int] = tokenizer(PASSAGE_SUFFIX, add_special_tokens=False)["input_ids"]
        self._query_suffix: list[int] = tokenizer(QUERY_SUFFIX, add_special_tokens=False)["input_ids"]
        self._pad_id = next(
            (i for i in (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.eos_token_id) if i is not None),
            0,
        )

    def __repr__(self) -> str:
        return f"LlaraEmbedder({self.name!r}, dimension={self.dimension}, {self.device}, {self.precision})"

    def count_tokens(self, text: str) -> int:
        """Tokens of the raw text; chunking keeps chunks within ``max_length`` by this count."""
        return len(self._text_ids([text], truncate=False)[0])

    def passage_input_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of the passage prompts, unpadded; the last eight are <s1>..<s8>."""
        return [self._prefix_ids + ids + self._passage_suffix for ids in self._text_ids(texts)]

    def query_input_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of the query prompts, unpadded; the last eight are <s9>..<s16>."""
        return [self._prefix_ids + ids + self._query_suffix for ids in self._text_ids(texts)]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 (n, dimension), unit rows."""
        return self.embed_ids(self.query_input_ids(texts), self.batch_size)

    def embed_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Float32 (n, dimension), unit rows."""
        return self.embed_ids(self.passage_input_ids(texts), batch_size or self.batch_size)

    def _text_ids(self, texts: Sequence[str], *, truncate: bool = True) -> list[list[int]]:
        # The text is tokenised alone and truncated before the suffix is added,
        # so the <sN> tokens are never cut. split_special_tokens keeps a document
        # that happens to contain "<s1>" or "<|im_end|>" from injecting control tokens.
        if not texts:
            return []
        options: dict[str, Any] = {"truncation": True, "max_length": self.max_length} if truncate else {}
        encoded = self.tokenizer(
            list(texts), add_special_tokens=False, split_special_tokens=True, verbose=False, **options
        )
        return [list(ids) for ids in encoded["input_ids"]]

    def embed_ids(self, sequences: list[list[int]], batch_size: int) -> np.ndarray:
        """Vectors of already tokenized sequences (``passage_input_ids``): the forward passes alone."""
        # Batches of similar length waste little on padding; longest first so an
        # out-of-memory error shows up at once rather than at the end of a run.
        out = np.empty((len(sequences), self.dimension), dtype=np.float32)
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]), reverse=True)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._forward([sequences[i] for i in rows])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        try:
            return self._forward_batch(batch)
        except torch.OutOfMemoryError:
            if len(batch) == 1:
                raise
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            half = len(batch) // 2
            return np.concatenate([self._forward(batch[:half]), self._forward(batch[half:])])

    @torch.inference_mode()
    def _forward_batch(self, batch: list[list[int]]) -> np.ndarray:
        input_ids, mask, positions = left_pad(batch, self._pad_id, multiple=self.pad_multiple)
        hidden = self.backbone(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            use_cache=False,
        ).last_hidden_state
        return pool_last(hidden, self.projection).cpu().numpy()

    @property
    def pad_id(self) -> int:
        """The id left padding uses (pad, else unk, else eos)."""
        return self._pad_id

    @property
    def prompt_ids(self) -> tuple[list[int], list[int], list[int]]:
        """(prefix, passage suffix, query suffix) token ids, for training on the same prompts (core.training)."""
        return list(self._prefix_ids), list(self._passage_suffix), list(self._query_suffix)


def left_pad(
    batch: Sequence[Sequence[int]], pad_id: int, multiple: int = 1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask, position_ids) of a left-padded batch; shared with core.training.

    Left padding would shift every position id of a shorter text; counting
    positions from its first real token makes a text's vector independent
    of what it is batched with (the reference skips this and batches by length).
    The width is the longest text's, rounded up to a multiple of ``multiple``.
    """
    width = padded_width(max(len(ids) for ids in batch), multiple)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, width - len(ids) :] = torch.tensor(list(ids), dtype=torch.long)
        mask[row, width - len(ids) :] = 1
    positions = (mask.cumsum(dim=-1) - 1).clamp(min=0)
    return input_ids, mask, positions


def pool_last(hidden: torch.Tensor, projection: torch.nn.Module | None = None) -> torch.Tensor:
    """The LLaRA read-out: mean of the final hidden states at the last eight positions, L2-normalised, float32.

    With a ``projection`` (an adapter trained with one), the mean goes through it before normalising.
    """
    pooled = mean_last(hidden)
    if projection is not None:
        pooled = projection(pooled.to(hidden.dtype)).float()
    return torch.nn.functional.normalize(pooled, dim=-1)


def mean_last(hidden: torch.Tensor) -> torch.Tensor:
    """The LLaRA mean of the hidden states at the last eight positions, float32, before any map or norm."""
    return hidden[:, -POOLED_POSITIONS:, :].float().mean(dim=1)


def new_projection(dimension: int) -> torch.nn.Linear:
    """An identity read-out map, to train."""
    projection = torch.nn.Linear(dimension, dimension)
    with torch.no_grad():
        projection.weight.copy_(torch.eye(dimension))
        projection.bias.zero_()
    return projection


def load_projection(adapter: str, dimension: int, dtype: torch.dtype) -> torch.nn.Linear | None:
    """The read-out map saved beside an adapter folder, or None where it has none."""
    from safetensors.torch import load_file

    path = Path(adapter) / PROJECTION_FILE
    if not path.is_file():
        return None
    weights = load_file(str(path))
    if tuple(weights.get("weight", torch.empty(0)).shape) != (dimension, dimension) or "bias" not in weights:
        raise ModelUnavailable(f"The read-out map {path} does not fit this model's {dimension} dimensions.")
    projection = torch.nn.Linear(dimension, dimension, dtype=dtype)
    projection.load_state_dict({k: v.to(dtype) for k, v in weights.items()})
    return projection.eval().requires_grad_(False)


def save_projection(projection: torch.nn.Linear, adapter: Path) -> None:
    from safetensors.torch import save_file

    weights = {k: v.detach().float().cpu().contiguous() for k, v in projection.state_dict().items()}
    save_file(weights, str(adapter / PROJECTION_FILE))


def layer_count(model: PreTrainedModel) -> int:
    """Decoder layers the backbone runs."""
    return int(model.config.num_hidden_layers)


def keep_layers(model: PreTrainedModel, depth: int) -> None:
    """Run only the first ``depth`` decoder layers, then the final norm: an early exit, in place.

    The read-out is then the LLaRA mean over the normalised hidden states of layer ``depth``, which is what
    a multi-exit adapter (``core.training`` with ``exits``) is trained to make a good embedding. The layers
    above are dropped, so they cost neither time nor memory.
    """
    layers = layer_count(model)
    if not 1 <= depth <= layers:
        raise ConfigError(f"The embedding depth must be between 1 and the model's {layers} layers (got {depth}).")
    backbone = cast(Any, model.base_model)
    backbone.layers = backbone.layers[:depth]
    model.config.num_hidden_layers = depth


def load_llara(
    source: str,
    *,
    label: str,
    adapter: str | None = None,
    adapter_label: str | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    max_length: int = DEFAULT_MAX_LENGTH,
    depth: int = 0,
    progress: StatusSink = quiet,
) -> LlaraEmbedder:
    """Load a backbone (directory or hub id), add LLaRA tokens if needed, merge an adapter.

    ``depth`` (0: all layers) exits after that many layers; the name says so, as the vectors differ.
    """
    progress(f"Loading model {label}…")
    tokenizer_source = adapter if adapter is not None and has_tokenizer(adapter) else source
    tokenizer: PreTrainedTokenizerBase = load_step(
        "the tokenizer of", tokenizer_source, lambda: cached_first(AutoTokenizer.from_pretrained, tokenizer_source)
    )
    model: PreTrainedModel = load_step(
        "model", source, lambda: cached_first(AutoModelForCausalLM.from_pretrained, source, dtype=dtype)
    )
    add_llara_tokens(model, tokenizer)
    identity = EmbedderIdentity(f"llara:{label}")
    early_exit = depth if depth != layer_count(model) else 0
    if early_exit:
        keep_layers(model, early_exit)  # first: the adapter is then merged into the layers that run, and only those
    if adapter is not None:
        progress(f"Loading adapter {adapter}…")
        model = load_step("adapter", adapter, lambda: merge_adapter(model, adapter))
        identity = identity.with_adapter(adapter_identity(adapter, adapter_label))
    name = str(identity.with_depth(early_exit))
    cast(torch.nn.Module, model).to(device)  # transformers wraps .to() with a signature mypy misreads
    embedder = LlaraEmbedder(model, tokenizer, name=name, device=device, max_length=max_length, early_exit=early_exit)
    if adapter is not None:
        projection = load_projection(adapter, embedder.dimension, dtype)
        embedder.projection = projection.to(device) if projection is not None else None
    return embedder
