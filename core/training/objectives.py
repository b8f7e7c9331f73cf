"""The two training objectives, on the exact prompts and read-out of :class:`LlaraEmbedder`.

EBAE/EBAR (the LLaRA paper): one forward pass over ``prefix + text + passage suffix + query suffix``.
The query suffix may not attend to the passage suffix and reuses its position ids, so its hidden
states are exactly those of the query prompt and the passage suffix's those of the passage prompt.
The LM-head logits at the eight ``<sN>`` positions of each suffix are max-pooled over positions and
trained to predict the bag of words of the text itself (EBAE) and of the passage that follows (EBAR).

Contrastive: in-batch-negative InfoNCE between query-prompt and passage-prompt vectors, summed over
Matryoshka truncations so that a short prefix of the vector is useful on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.embedding.llara import POOLED_POSITIONS, LlaraEmbedder, left_pad, pool_last

MATRYOSHKA_DIMS = (512, 256, 128, 64)


def excluded_ids(embedder: LlaraEmbedder) -> set[int]:
    """Ids never used as bag-of-words targets: special tokens (BOS, EOS, pad, <sN>, chat markers)."""
    tokenizer = embedder.tokenizer
    ids = set(tokenizer.all_special_ids)
    ids.update(int(i) for i in tokenizer.added_tokens_decoder)
    ids.add(embedder.pad_id)
    return ids


def bag_of_words(ids: Iterable[int], excluded: set[int]) -> list[int]:
    """Unique token ids of a text, special tokens left out, in a stable order."""
    return sorted(set(ids) - excluded)


@dataclass
class JointBatch:
    """Tensors of one EBAE/EBAR forward pass; ``*_targets`` are padded with -1."""

    input_ids: torch.Tensor
    attention_allowed: torch.Tensor  # (batch, 1, width, width) bool: True = may attend
    position_ids: torch.Tensor
    ebae_positions: torch.Tensor  # (POOLED_POSITIONS,) column indices of <s1>..<s8>
    ebar_positions: torch.Tensor  # (POOLED_POSITIONS,) column indices of <s9>..<s16>
    ebae_targets: torch.Tensor
    ebar_targets: torch.Tensor

    def to(self, device: str) -> JointBatch:
        return JointBatch(*(t.to(device) for t in vars(self).values()))


def _pad_targets(bags: Sequence[list[int]]) -> torch.Tensor:
    width = max([len(b) for b in bags] + [1])
    out = torch.full((len(bags), width), -1, dtype=torch.long)
    for row, bag in enumerate(bags):
        out[row, : len(bag)] = torch.tensor(bag, dtype=torch.long)
    return out


def joint_batch(embedder: LlaraEmbedder, texts: Sequence[str], following: Sequence[str | None]) -> JointBatch:
    """Build the joint EBAE+EBAR sequences; a ``None`` following passage gives no EBAR target for that row."""
    prefix, passage_suffix, query_suffix = embedder.prompt_ids
    excluded = excluded_ids(embedder)
    passages = embedder.passage_input_ids(texts)
    text_ids = [ids[len(prefix) : len(ids) - len(passage_suffix)] for ids in passages]
    nexts = [t for t in following if t is not None]
    next_ids = iter(embedder.passage_input_ids(nexts))
    next_bags: list[list[int]] = []
    for t in following:
        if t is None:
            next_bags.append([])
        else:
            ids = next(next_ids)
            next_bags.append(bag_of_words(ids[len(prefix) : len(ids) - len(passage_suffix)], excluded))
    sequences = [ids + query_suffix for ids in passages]
    input_ids, mask, _positions = left_pad(sequences, embedder.pad_id)
    batch, width = input_ids.shape
    n_query, n_passage = len(query_suffix), len(passage_suffix)
    real = mask.bool()
    positions = torch.zeros((batch, width), dtype=torch.long)
    for row, ids in enumerate(text_ids):
        start = width - len(sequences[row])
        before_suffix = len(prefix) + len(ids)
        head = before_suffix + n_passage
        positions[row, start : start + head] = torch.arange(head)
        # The query suffix continues from the text, where the passage suffix also starts.
        positions[row, start + head :] = before_suffix + torch.arange(n_query)
    causal = torch.ones((width, width), dtype=torch.bool).tril()
    allowed = causal[None] & real[:, None, :] & real[:, :, None]
    passage_cols = slice(width - n_query - n_passage, width - n_query)
    allowed[:, width - n_query :, passage_cols] = False
    allowed |= torch.eye(width, dtype=torch.bool)[None]  # padding rows attend to themselves: no empty softmax
    return JointBatch(
        input_ids=input_ids,
        attention_allowed=allowed[:, None],
        position_ids=positions,
        ebae_positions=torch.arange(width - n_query - POOLED_POSITIONS, width - n_query),
        ebar_positions=torch.arange(width - POOLED_POSITIONS, width),
        ebae_targets=_pad_targets([bag_of_words(ids, excluded) for ids in text_ids]),
        ebar_targets=_pad_targets(next_bags),
    )


def attention_mask_for(model: torch.nn.Module, allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The 4-D mask in the form the model's attention implementation expects (sdpa: bool; eager: additive)."""
    implementation = getattr(getattr(model, "config", None), "_attn_implementation", "sdpa")
    if implementation == "sdpa":
        return allowed
    if implementation == "eager":
        bias = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
        return bias.masked_fill(~allowed, torch.finfo(dtype).min)
    raise ValueError(f"Training needs the eager or sdpa attention implementation, not {implementation!r}.")


def joint_logits(embedder: LlaraEmbedder, batch: JointBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """LM-head logits (batch, 8, vocab) at the EBAE and the EBAR positions; the head runs on those 16 only."""
    model = embedder.model
    backbone = model.base_model
    dtype = next(model.parameters()).dtype
    hidden = backbone(
        input_ids=batch.input_ids,
        attention_mask=attention_mask_for(model, batch.attention_allowed, dtype),
        position_ids=batch.position_ids,
        use_cache=False,
    ).last_hidden_state
    head = model.get_output_embeddings()
    if head is None:
        raise ValueError(f"{embedder.name} has no LM head; EBAE/EBAR training needs one.")
    return head(hidden[:, batch.ebae_positions]), head(hidden[:, batch.ebar_positions])


def bag_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean negative log-probability of each row's bag, from logits max-pooled over the eight positions.

    Rows with an empty bag (no following passage) are left out; returns 0 when all are empty.
    """
    log_probs = F.log_softmax(logits.float().max(dim=1).values, dim=-1)
    valid = targets >= 0
    picked = log_probs.gather(1, targets.clamp(min=0)) * valid
    counts = valid.sum(dim=1)
    rows = counts > 0
    if not rows.any():
        return log_probs[:0].sum()  # zero, still part of the graph
    return -(picked.sum(dim=1)[rows] / counts[rows]).mean()


def ebae_ebar_loss(embedder: LlaraEmbedder, batch: JointBatch) -> tuple[torch.Tensor, float, float]:
    """(total loss, EBAE part, EBAR part)."""
    ebae_logits, ebar_logits = joint_logits(embedder, batch)
    ebae = bag_loss(ebae_logits, batch.ebae_targets)
    ebar = bag_loss(ebar_logits, batch.ebar_targets)
    return ebae + ebar, float(ebae.detach()), float(ebar.detach())


def last_hidden(embedder: LlaraEmbedder, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """The final hidden states of a left-padded batch, as :meth:`LlaraEmbedder.embed_passages` computes them."""
    input_ids, mask, positions = left_pad(sequences, embedder.pad_id)
    device = embedder.device
    hidden: torch.Tensor = embedder.model.base_model(
        input_ids=input_ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        use_cache=False,
    ).last_hidden_state
    return hidden


def encode(embedder: LlaraEmbedder, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """Unit vectors with gradients, read out exactly as :meth:`LlaraEmbedder.embed_passages` does."""
    return pool_last(last_hidden(embedder, sequences), embedder.projection)


def encode_exits(
    embedder: LlaraEmbedder, sequences: Sequence[Sequence[int]], exits: Sequence[int]
) -> dict[int, torch.Tensor]:
    """Unit vectors with gradients read out after each of these layers, as an early-exit embedder reads them.

    Layer ``k``'s hidden states go through the model's final norm first (the last layer's already have),
    which is what :func:`core.embedding.llara.keep_layers` leaves the model doing at depth ``k``.
    """
    input_ids, mask, positions = left_pad(sequences, embedder.pad_id)
    device = embedder.device
    backbone = embedder.model.base_model
    states = backbone(
        input_ids=input_ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        use_cache=False,
        output_hidden_states=True,
    ).hidden_states
    last = len(states) - 1
    return {k: pool_last(states[k] if k == last else backbone.norm(states[k])) for k in exits}


def exit_layers(layers: int, exits: Sequence[int]) -> list[int]:
    """The requested exits and always the last layer, shallowest first."""
    return sorted({*(k for k in exits if 0 < k < layers), layers})


def matryoshka_dims(full: int, dims: Sequence[int] = MATRYOSHKA_DIMS) -> list[int]:
    """The full dimension and every requested smaller one, largest first."""
    return [full, *sorted((d for d in set(dims) if 0 < d < full), reverse=True)]


def info_nce(
    queries: torch.Tensor,
    passages: torch.Tensor,
    *,
    temperature: float = 0.05,
    dims: Sequence[int] = MATRYOSHKA_DIMS,
    same: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE summed over Matryoshka truncations (re-normalised after truncation).

    ``passages`` holds the positives (row i for query i) followed by any hard negatives.
    ``same[i, j]`` True marks passage j as a duplicate of query i's positive: not a negative.
    """
    n = queries.shape[0]
    labels = torch.arange(n, device=queries.device)
    total = queries.new_zeros(())
    for dim in matryoshka_dims(queries.shape[1], dims):
        q = F.normalize(queries[:, :dim].float(), dim=-1)
        p = F.normalize(passages[:, :dim].float(), dim=-1)
        scores = q @ p.T / temperature
        if same is not None:
            scores = scores.masked_fill(same, float("-inf"))
        backward = scores[:, :n].T
        total = total + (F.cross_entropy(scores, labels) + F.cross_entropy(backward, labels)) / 2
    return total
