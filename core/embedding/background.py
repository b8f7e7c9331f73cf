"""An embedder whose model loads on a background thread, described before it loads.

``sleuth index`` reads, chunks and writes every file (after which keyword search finds them) before it embeds
a single passage, and none of that needs the model: only the index profile (the embedder's recorded name, its
dimension and depth) and the tokenizer chunking counts tokens with. :func:`describe_embedder` knows those
from the model's own files (``config.json``, ``tokenizer.json``) and the registry, without importing torch
or transformers, for the models whose description is certain: the bundled MiniLM encoder, an encoder folder,
and the bundled LLaRA model once converted (whose device choice and precision do need torch, never
transformers). :class:`BackgroundEmbedder` loads the real model on a thread once keyword search is ready, and
hands it over when the embed phase asks for it; a loaded model that differs from its description (name,
dimension, depth, or tokenizer) stops the run with an error rather than fill an index whose profile is wrong.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.embedding import bundled, bundled_encoder
from core.embedding.base import Embedder
from core.embedding.loading import adapter_identity, has_tokenizer, looks_like_path, resolve_source
from core.embedding.registry import adapter_depth, backend_for, chosen_model
from core.errors import ConfigError, ModelUnavailable
from core.vocabulary import EmbedderIdentity


@dataclass(frozen=True)
class EmbedderDescription:
    """What indexing knows of an embedder before its model loads."""

    model: str  #: the model setting's choice on this machine (``auto`` resolved), as the index profile names it
    name: str  #: ``Embedder.name`` of the loaded model
    dimension: int
    early_exit: int
    tokenizer: str  #: the chunking tokenizer, serialised as :func:`chunking_tokenizer` gives it


def chunking_tokenizer(serialised: str) -> str:
    """A ``tokenizers.Tokenizer`` in the form chunking uses (no truncation, no padding, special tokens read as
    text), serialised: two tokenizers that give the same string cut text into the same tokens."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(serialised)
    backend.no_truncation()
    backend.no_padding()
    backend.encode_special_tokens = True
    return str(backend.to_str())


def loaded_tokenizer(embedder: Embedder) -> str | None:
    """:func:`chunking_tokenizer` of a loaded embedder's tokenizer; None if it is not a fast one."""
    backend = getattr(embedder.tokenizer, "backend_tokenizer", None)
    return chunking_tokenizer(backend.to_str()) if backend is not None else None


class EmbedderSettings(Protocol):
    """The settings that choose the embedder (``core.settings.Settings`` has them)."""

    model: str
    adapter: str
    device: str
    precision: str
    depth: int


def describe_settings_embedder(settings: EmbedderSettings) -> EmbedderDescription | None:
    """:func:`describe_embedder` of the embedder the settings name (model, adapter, device, precision, depth)."""
    return describe_embedder(
        settings.model,
        adapter=settings.adapter or None,
        device=settings.device,
        precision=settings.precision,
        depth=settings.depth,
    )


def describe_embedder(
    model: str,
    *,
    adapter: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    depth: int = 0,
    cache_dir: Path | None = None,
) -> EmbedderDescription | None:
    """What ``load_embedder`` with these arguments will load, known without loading it; None where that is not
    certain without loading (a hub model, the bundled LLaRA model before its first conversion, int8), or where
    loading would fail (the load then says why)."""
    try:
        return _describe(model, adapter, device, precision, depth, cache_dir)
    except (ModelUnavailable, ConfigError, OSError, ValueError, KeyError, TypeError):
        return None


def _describe(
    model: str, adapter: str | None, device: str, precision: str, depth: int, cache_dir: Path | None
) -> EmbedderDescription | None:
    chosen = chosen_model(model, adapter, depth, device)
    named = chosen.startswith(("llara:", "encoder:")) or chosen in (bundled.ALIAS, bundled_encoder.ALIAS)
    if not named and not looks_like_path(chosen):
        return None  # a hub id: its backend is known from its config, which may have to be downloaded
    backend, source = backend_for(chosen)
    adapter = bundled.resolve_adapter(chosen, adapter, depth)
    if backend == "encoder":
        if adapter or depth:
            return None  # a configuration error, which the load reports
        if source == bundled_encoder.ALIAS:
            folder, label = bundled_encoder.installed_dir(), source
            if folder is None:
                return None  # an older installation's zip, unpacked by the load
        elif looks_like_path(source):
            folder = Path(resolve_source(source, "model"))
            label = str(folder)
        else:
            return None
        config = _config(folder)
        return _with_tokenizer(chosen, f"encoder:{label}", int(config["hidden_size"]), 0, folder)
    if source != bundled.ALIAS:
        return None  # another LLaRA model may gain the LLaRA tokens when it loads
    folder = bundled.cached_model_dir(cache_dir)
    if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
        return None  # converted by the first load
    from core.embedding.device import select_device, wants_int8  # torch: the GPU machines' choice

    if wants_int8(select_device(device), precision):
        return None  # int8 conversion may fall back to fp32, which only the load knows
    adapter_source = resolve_source(adapter, "adapter") if adapter is not None else None
    depth = depth or adapter_depth(adapter_source)
    config = _config(folder)
    early_exit = depth if depth != int(config["num_hidden_layers"]) else 0
    identity = EmbedderIdentity(f"llara:{bundled.ALIAS}")
    if adapter_source is not None:
        shipped = Path(adapter_source) in bundled.shipped_adapters().values()
        identity = identity.with_adapter(adapter_identity(adapter_source, bundled.ADAPTER_ALIAS if shipped else None))
    tokenizer_folder = Path(adapter_source) if adapter_source and has_tokenizer(adapter_source) else folder
    name = str(identity.with_depth(early_exit))
    return _with_tokenizer(chosen, name, int(config["hidden_size"]), early_exit, tokenizer_folder)


def _config(folder: Path) -> dict[str, Any]:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{folder / 'config.json'} is not a model configuration")
    return config


def _with_tokenizer(model: str, name: str, dimension: int, early_exit: int, folder: Path) -> EmbedderDescription | None:
    path = folder / "tokenizer.json"
    if not path.is_file():
        return None
    serialised = chunking_tokenizer(path.read_text(encoding="utf-8"))
    return EmbedderDescription(model, name, dimension, early_exit, serialised)


def mismatch(description: EmbedderDescription, embedder: Embedder) -> str:
    """How a loaded embedder differs from its description ("" when it does not)."""
    differences = [
        f"{what} {described!r} described, {loaded!r} loaded"
        for what, described, loaded in (
            ("name", description.name, embedder.name),
            ("dimension", description.dimension, embedder.dimension),
            ("depth", description.early_exit, embedder.early_exit),
        )
        if described != loaded
    ]
    if loaded_tokenizer(embedder) != description.tokenizer:
        differences.append("its tokenizer differs from the one in the model's folder")
    return "; ".join(differences)


class BackgroundEmbedder:
    """An embedder's description now, its loaded model when :meth:`loaded` is called.

    The model loads on a daemon thread from :meth:`start` on (the indexer starts it once keyword search is ready:
    until then the reader processes and the keyword index's last update keep every core busy, and a load beside
    them measured slower keyword search, for nothing: the embed phase comes after. Beside the readers: 17-20 s
    instead of 12 s on 257 files; beside the last update: 9.66 s instead of 9.16 s on 446 files); an error in
    the load is raised by :meth:`loaded`.
    """

    def __init__(self, description: EmbedderDescription, load: Callable[[], Embedder]) -> None:
        self.description = description
        self.name = description.name
        self.dimension = description.dimension
        self.early_exit = description.early_exit
        self._load = load
        self._embedder: Embedder | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sleuth-model-load", daemon=True)
        self._started = threading.Lock()

    def start(self) -> None:
        """Start loading the model, unless it is loading or loaded already."""
        with self._started:
            if self._thread.ident is None:
                self._thread.start()

    def _run(self) -> None:
        try:
            self._embedder = self._load()
        except BaseException as exc:  # handed to the thread that asks for the model
            self._error = exc

    @property
    def ready(self) -> bool:
        """Whether the model has loaded (or failed to): :meth:`loaded` then returns at once."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def loaded(self) -> Embedder:
        """The loaded model, once it is (loading it now if it has not started); raises the load's error, or
        ``ModelUnavailable`` if it is not the one described."""
        self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._embedder is not None
        problem = mismatch(self.description, self._embedder)
        if problem:
            raise ModelUnavailable(
                f"The model that loaded is not the one Sleuth prepared the index for ({problem}); nothing was "
                "embedded. Please report this; setting the device or precision explicitly may avoid it."
            )
        return self._embedder
