"""Tiny random models saved like hub checkpoints: what the tests and ``benchmarks.gpu_check --dry-run`` embed
with, built offline in about a second.

``save_tiny_llama`` writes a 2-layer LLaMA (hidden 64) for the LLaRA backend, ``save_tiny_encoder`` a 1-layer
BERT (hidden 32) in the sentence-transformers layout for the encoder backend; both share a byte-level BPE
tokenizer trained on :data:`TINY_CORPUS`, so any text encodes. Their vectors mean nothing: they exercise the
code paths, not the ranking.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

TINY_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Semantic search finds passages by meaning, not only by matching words.",
    "Sleuth watches your folders, splits documents into chunks and embeds them locally.",
    "A query is embedded differently from a passage; both vectors have unit length.",
    "Invoices, contracts, meeting notes and research papers: 0123456789 %$#@!?()[]{}\"'.,;:-_/",
]


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE fast tokenizer, trained in milliseconds; any text encodes, offsets work.

    It behaves like a LLaMA tokenizer (adds BOS ``<s>``, has no pad token, lacks
    the LLaRA ``<sN>`` tokens), so the embedder's BOS, pad fallback and
    token-adding paths all run.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(TINY_CORPUS * 4, trainer)
    backend.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]),
        ]
    )
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def save_tiny_llama(directory: Path) -> Path:
    """A 2-layer random LLaMA (hidden 64) with its tokenizer, saved like a hub checkpoint."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,  # like LLaMA-2; the bundled SmolLM2 covers the tied case
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def save_tiny_encoder(directory: Path) -> Path:
    """A 1-layer random BERT saved in the sentence-transformers layout, with CLS pooling and E5-style prompts."""
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = build_tiny_tokenizer()
    tokenizer.pad_token = "</s>"
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
    )
    directory.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    (directory / "1_Pooling").mkdir(exist_ok=True)
    (directory / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    (directory / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64}))
    (directory / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "document": "passage: "}})
    )
    return directory
