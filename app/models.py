"""Models as the workers use them: loaded on the worker's own thread, kept while the settings match.

Each worker has its own ``ModelCache``: a tokenizer is not safe to share between threads, and a
search must not wait for an embedding batch of the indexer. A model that must come from the hub is
fetched first with byte progress; one that cannot be had raises ``ModelUnavailable`` with a message
the window shows, and the failure is remembered so a search does not retry it on every keystroke.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import messages
from core.embedding.registry import DEFAULT_MODEL
from core.errors import ModelUnavailable
from core.settings import Settings

if TYPE_CHECKING:
    from core.embedding import Embedder
    from core.search.rerank import Reranker

StatusSink = Callable[[str], None]
log = logging.getLogger(__name__)
BUNDLED = DEFAULT_MODEL
# One model load at a time in the process: transformers' loading is not thread-safe (two threads loading
# at once failed with "Cannot copy out of meta tensor"), and on a small machine two loads gain nothing.
_loading = threading.Lock()
WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"]


def is_hub_id(name: str) -> bool:
    """``org/name`` that is not a folder on this machine."""
    if not name or name == BUNDLED or name.startswith(("/", ".", "~", "\\")) or Path(name).expanduser().exists():
        return False
    return name.count("/") == 1


class ModelCache:
    def __init__(self) -> None:
        self._embedder: Embedder | None = None
        self._embedder_key: tuple[str, ...] | None = None
        self._reranker: Reranker | None = None
        self._reranker_name = ""
        self._failures: dict[tuple[str, ...], str] = {}

    def embedder(
        self, model: str, adapter: str, settings: Settings, report: StatusSink, *, depth: int = 0, retry: bool = True
    ) -> Embedder:
        key = ("embedder", model, adapter, str(depth), settings.device, settings.precision)
        if key == self._embedder_key and self._embedder is not None:
            return self._embedder
        if not retry and key in self._failures:
            raise ModelUnavailable(self._failures[key])
        if self._embedder is not None:  # the model it replaces goes before the new one comes
            self._embedder, self._embedder_key = None, None
            release_memory()
        try:
            for name in (model, adapter):
                if is_hub_id(name):
                    prefetch(name, report)
            with _loading, quiet_collector():
                from core.embedding import load_embedder

                embedder = load_embedder(
                    model,
                    adapter=adapter or None,
                    device=settings.device,
                    precision=settings.precision,
                    progress=report,
                    depth=depth,
                )
        except ModelUnavailable as exc:
            self._failures[key] = str(exc)
            raise
        except Exception as exc:  # a config error, an odd checkpoint: still the user's to fix, not a crash
            message = f"Cannot load the embedding model {model}: {exc}"
            self._failures[key] = message
            raise ModelUnavailable(message) from exc
        finally:
            report("")
        self._failures.pop(key, None)
        self._embedder, self._embedder_key = embedder, key
        return embedder

    def reranker(self, name: str, settings: Settings, report: StatusSink) -> Reranker | None:
        """The configured cross-encoder, or None when reranking is off."""
        if not name:
            self._reranker, self._reranker_name = None, ""
            return None
        if name == self._reranker_name and self._reranker is not None:
            return self._reranker
        key = ("reranker", name, settings.device)
        if key in self._failures:
            raise ModelUnavailable(self._failures[key])
        try:
            from core.search.rerank import reranker_title, settings_reranker

            if is_hub_id(name):
                prefetch(name, report)
            report(f"Loading the reranker, {reranker_title(name)}…")
            with _loading, quiet_collector():
                # The best-sentence reranker reads with the embedder already loaded here, where there is one.
                chosen = dataclasses.replace(settings, reranker=name)
                reranker = settings_reranker(chosen, report, embedder=self._embedder)
        except Exception as exc:
            message = str(exc) if isinstance(exc, ModelUnavailable) else f"Cannot load the reranker {name}: {exc}"
            self._failures[key] = message
            raise ModelUnavailable(message) from exc
        finally:
            report("")
        self._reranker, self._reranker_name = reranker, name
        return reranker

    def prepare_reranker(self, settings: Settings, report: StatusSink) -> None:
        """Convert the bundled model for the default reranker ahead of the first search, where no embedder did.

        With the encoder as the embedder (the default on a CPU), nothing else converts the bundled SmolLM2 that
        the default reranker reads, and the first search would wait for it. Under the load lock, so a search
        that needs it meanwhile waits for this conversion instead of starting a second one.
        """
        from core.search.rerank import BUNDLED

        if settings.reranker != BUNDLED:
            return
        from core.embedding.bundled import bundled_model_dir

        try:
            with _loading:
                bundled_model_dir(progress=report)
        except ModelUnavailable as exc:  # the search that needs it says so, where the user sees it
            log.warning("cannot prepare the reranker: %s", exc)
        finally:
            report("")

    def forget_failures(self) -> None:
        self._failures.clear()

    def embedders(self) -> int:
        """How many embedders this cache holds (at most one)."""
        return int(self._embedder is not None)


def release_memory() -> None:
    """Give back what models that were let go of held: collect them, frozen or not, and return the heap to the OS.

    A model's objects were frozen (``freeze_heap``) when it loaded, and a frozen reference cycle is never
    collected, so a replaced model, or one trained and dropped, stayed resident for good. This unfreezes,
    collects, and freezes the survivors again: one full collection (about a second on a 2-core machine),
    taken on a worker thread at the end of a job that let a model go, never on a keystroke. Then glibc's
    ``malloc_trim`` hands back the freed heap pages that glibc would otherwise keep for later.
    """
    with _quiet_lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
    _release_torch_caches()
    trim_heap()


def _release_torch_caches() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def trim_heap() -> None:
    """Return free heap pages to the OS (glibc only; elsewhere nothing to do)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # musl and other C libraries have no malloc_trim
        return
    trim(0)


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's reach.

    A loaded model (and torch/transformers behind it) is a few million long-lived objects. Python's
    full collections walk all of them while holding the GIL, which froze the window for 0.5-1.4 s at
    a time on a 2-core machine; frozen, they are never walked again.
    """
    gc.freeze()


_quiet = 0
_quiet_lock = threading.Lock()


@contextmanager
def quiet_collector() -> Iterator[None]:
    """No garbage collection while heavy libraries import and models load (on any thread), then freeze.

    Those steps allocate millions of long-lived objects and set off full collections that stall the
    GUI thread too (measured: up to 0.5 s each); afterwards the survivors are frozen (``freeze_heap``).
    """
    global _quiet
    with _quiet_lock:
        _quiet += 1
        gc.disable()
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet -= 1
            if _quiet == 0:
                freeze_heap()
                gc.enable()


def prefetch(repo_id: str, report: StatusSink) -> None:
    """Download a hub model into the Hugging Face cache with byte progress, unless it is there already."""
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo_id, allow_patterns=WEIGHT_PATTERNS, local_files_only=True)
        return
    except Exception:  # not cached (or partly): download below
        pass
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise ModelUnavailable(
            f"The model {repo_id} is not downloaded yet and downloads are off (HF_HUB_OFFLINE). "
            "Choose a local folder or the bundled model in Settings."
        )
    report(f"Downloading {repo_id}…")
    try:
        patterns = _patterns(repo_id)
        snapshot_download(repo_id, allow_patterns=patterns, tqdm_class=_progress_class(repo_id, report))
    except Exception as exc:
        raise ModelUnavailable(
            f"Cannot download the model {repo_id}: {messages.describe(exc)} "
            "(no network, a wrong name, or a gated model?). Sleuth keeps using what it has."
        ) from exc


def _patterns(repo_id: str) -> list[str]:
    """Safetensors where the repository has them, else PyTorch .bin weights; never both."""
    from huggingface_hub import HfApi

    files = HfApi().list_repo_files(repo_id)
    weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["*.bin"]
    return [p for p in WEIGHT_PATTERNS if p != "*.safetensors"] + weights


def _progress_class(repo_id: str, report: StatusSink) -> type[Any]:
    """A tqdm class that turns the hub's byte counters into short status lines."""
    from tqdm.auto import tqdm

    class _Progress(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["file"] = open(os.devnull, "w")  # noqa: SIM115 - closed with the bar
            super().__init__(*args, **kwargs)

        def display(self, *args: Any, **kwargs: Any) -> None:
            if self.unit == "B" and self.total:
                report(f"Downloading {repo_id}: {_size(self.n)} of {_size(self.total)}")

        def close(self) -> None:
            handle = self.fp
            super().close()
            handle.close()

    return _Progress


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GB"
