"""The loader kit every backend shares: progress sinks, local-or-hub sources, adapter identity, load errors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import ModelUnavailable

if TYPE_CHECKING:
    from transformers import PreTrainedModel

StatusSink = Callable[[str], None]
T = TypeVar("T")


def quiet(_message: str) -> None:
    """Default progress sink."""


def looks_like_path(source: str) -> bool:
    return source.startswith(("/", ".", "~", "\\")) or (len(source) > 1 and source[1] == ":") or Path(source).exists()


#: What an adapter was trained for, written beside its weights by core.training: {"depth": K, "exits": [...]}.
ADAPTER_FACTS = "sleuth-adapter.json"


def resolve_source(source: str, what: str) -> str:
    """A local directory as an absolute path, or a hub id unchanged."""
    if looks_like_path(source):
        path = Path(source).expanduser()
        if not path.is_dir():
            problem = "not a directory" if path.exists() else "no such directory"
            raise ModelUnavailable(f"Cannot load {what} {source}: {problem}.")
        return str(path.resolve())
    return source


def has_tokenizer(directory: str) -> bool:
    path = Path(directory)
    return path.is_dir() and any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))


def adapter_identity(adapter: str, label: str | None = None) -> str:
    """Adapter label (its path by default) plus a digest of its weights: retraining in place must re-embed."""
    path = Path(adapter)
    if not path.is_dir():
        return adapter
    digest = hashlib.sha256()
    for file in sorted(path.glob("adapter_*")):
        if file.is_file():
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return f"{label or adapter}@{digest.hexdigest()[:12]}"


def cached_snapshot(source: str) -> str | None:
    """The folder of a hub model that is already in the local cache, found without the network; else None."""
    if looks_like_path(source):
        return None
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(source, local_files_only=True))
    except Exception:  # not downloaded yet, or not a hub id
        return None


def cached_first(load: Callable[..., T], source: str, *args: Any, **kwargs: Any) -> T:
    """``load(source, …)`` from the local copy of a hub model when there is one, else from the hub.

    A hub model that was downloaded once loads from its folder in the cache, so nothing asks the hub whether
    it changed (``local_files_only`` is not enough: transformers still looks for an adapter online): after
    the download the user asked for, Sleuth does not contact the hub again (README, "Privacy").
    """
    folder = cached_snapshot(source)
    if folder is not None:
        try:
            return load(folder, *args, **kwargs)
        except (OSError, ValueError):  # partly downloaded: the hub completes it
            pass
    return load(source, *args, **kwargs)


def load_step(what: str, source: str, loader: Callable[[], Any]) -> Any:
    try:
        return loader()
    except ModelUnavailable:
        raise
    except Exception as exc:  # from_pretrained raises OSError, ValueError, HTTP errors, ...
        raise ModelUnavailable(f"Cannot load {what} {source}: {exc} (no network? wrong path?)") from exc


def merge_adapter(model: PreTrainedModel, adapter: str) -> PreTrainedModel:
    from peft import PeftModel  # imported only when an adapter is used: peft is slow to import

    merged: PreTrainedModel = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    return merged
