"""Choose the embedding backend for a model setting: bundled aliases, explicit prefixes, or the model's config.

auto                    the default: minilm-l6-v2 on a CPU, smollm2-135m on a GPU (:func:`chosen_model`)
smollm2-135m            bundled LLaRA model (SmolLM2-135M with Sleuth's adapter)
minilm-l6-v2            bundled all-MiniLM-L6-v2 encoder
llara:<dir or hub id>   force the LLaRA backend
encoder:<dir or hub id> force the bi-encoder backend
<dir or hub id>         a causal LM is read with LLaRA; anything else (BERT-like) as an encoder
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.embedding import bundled, bundled_encoder
from core.embedding.loading import ADAPTER_FACTS, StatusSink, quiet, resolve_source
from core.errors import ConfigError, ModelUnavailable
from core.paths import data_dir
from core.vocabulary import EmbedderIdentity

if TYPE_CHECKING:
    from core.embedding.base import Embedder
    from core.embedding.llara import LlaraEmbedder

#: The model setting that stands for the bundled model that suits the device (:func:`chosen_model`).
AUTO_MODEL = "auto"
#: The model and adapter settings of a new installation: the bundled model for the device, and for the LLaRA
#: backbone its shipped adapter.
DEFAULT_MODEL = AUTO_MODEL
DEFAULT_ADAPTER = bundled.ADAPTER_ALIAS
#: Dense weights measured on Sleuth's evaluation sets for the models and adapter it ships (the fusion
#: measurement chose 0.4–0.5 for the LLaRA model and 0.4–0.6 for MiniLM on all four; docs/benchmarks.md): used,
#: and said, until the user's own documents hold enough text to measure. Other models have no prior, so keyword
#: search leads until they are measured. MiniLM takes no adapter, so any adapter setting beside it is the same.
PRIOR_DENSE_WEIGHTS = {
    (bundled.ALIAS, bundled.ADAPTER_ALIAS): 0.4,
    (bundled_encoder.ALIAS, bundled.ADAPTER_ALIAS): 0.4,
    (bundled_encoder.ALIAS, ""): 0.4,
}
BUNDLED_MODELS = {bundled.ALIAS: "llara", bundled_encoder.ALIAS: "encoder"}
#: Why a CPU gets MiniLM and the LLaRA model is a choice: what the LLaRA model measured against MiniLM, each on its
#: own index, on the test halves of the evaluation sets both models ran on (docs/benchmarks.md, "LLaRA on a CPU";
#: ``benchmarks/model_halves.py``). The settings panel shows it under the model.
LLARA_ON_CPU = (
    "The LLaRA model (SmolLM2) on a CPU: hybrid MRR@10 −0.007 against MiniLM (95% interval −0.027 … +0.013; "
    "test halves of four sets, 187 queries), for about 7× the CPU time to index."
)


def chosen_model(model: str, adapter: str | None = None, depth: int = 0, device: str = "auto") -> str:
    """The model a setting names; ``auto`` is the bundled model that suits the device.

    On a CPU that is the all-MiniLM-L6-v2 encoder: it indexes about seven times as fast as the 30-layer LLaRA
    model and ranked as well or better on every evaluation set (docs/benchmarks.md, "Which bundled model on a
    CPU"). On a GPU, where the LLaRA model's cost is small, it is the LLaRA model. An adapter folder of its
    own or a depth setting belong to the LLaRA model, so with either ``auto`` is the LLaRA model everywhere.
    """
    if model != AUTO_MODEL:
        return model
    if names_llara_only(adapter, depth):
        return bundled.ALIAS
    if certainly_cpu(device):
        return bundled_encoder.ALIAS  # what select_device says there, known without importing torch
    from core.embedding.device import select_device

    return bundled_encoder.ALIAS if select_device(device) == "cpu" else bundled.ALIAS


#: Device files of the GPUs torch can use on Linux: NVIDIA's driver, AMD's ROCm (kfd) and WSL's GPU bridge (dxg).
GPU_DEVICE_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def certainly_cpu(device: str) -> bool:
    """Whether ``select_device(device)`` is "cpu" for certain, known without importing torch (seconds).

    "cpu" is; "auto" is on Linux where no GPU's device file exists (torch then finds no CUDA or ROCm device,
    and MPS is macOS's). Anything else, macOS and Windows included, is left to torch.
    """
    choice = device.strip().lower()
    if choice == "cpu":
        return True
    if choice != "auto" or sys.platform != "linux":
        return False
    return not any(os.path.exists(path) for path in GPU_DEVICE_FILES) and not _nvidia_devices()


def _nvidia_devices() -> bool:
    try:
        return any(name.startswith("nvidia") for name in os.listdir("/dev"))
    except OSError:
        return True  # unknown: torch decides


def names_llara_only(adapter: str | None, depth: int) -> bool:
    """Whether the settings name what only the LLaRA model has: an adapter folder of its own, or a depth."""
    return bool(depth or (adapter and adapter != bundled.ADAPTER_ALIAS))


def llara_model(model: str) -> str:
    """The LLaRA model a setting trains and cuts by depth: ``auto`` stands for the bundled one there."""
    return bundled.ALIAS if model == AUTO_MODEL else model


def prior_dense_weight(model: str, adapter: str) -> float | None:
    """The dense weight measured for this model and adapter on Sleuth's evaluation sets, if it ships with one."""
    return PRIOR_DENSE_WEIGHTS.get((model, adapter))


#: What people call the bundled models; the aliases are what settings and identities use.
MODEL_TITLES = {bundled.ALIAS: "SmolLM2-135M", bundled_encoder.ALIAS: "all-MiniLM-L6-v2"}
_DIGEST = re.compile(r"@[0-9a-f]{12}$")


def display_name(embedder_name: str) -> str:
    """People's name for an embedder's identity, e.g. "SmolLM2-135M, Sleuth's bundled adapter".

    The identity (``llara:smollm2-135m+adapter:bundled@6848c0f44efe``, ``Embedder.name``) is what an index
    profile records and tells a retrained adapter apart; the window's tooltips, ``sleuth status --verbose``
    and ``--json`` show it. Paths are shortened to their last folder's name.
    """
    identity = EmbedderIdentity.parse(embedder_name)
    parts = [_model_title(identity.source)]
    if identity.adapter:
        parts.append(_adapter_title(_DIGEST.sub("", identity.adapter)))
    if identity.depth:
        parts.append(f"first {identity.depth} layers")
    if identity.int8:
        parts.append("int8")
    return ", ".join(parts)


#: Decoder layers of the bundled backbone (SmolLM2-135M), known without loading it.
BUNDLED_LAYERS = {bundled.ALIAS: 30}


def model_layers(model: str) -> int | None:
    """Decoder layers of a LLaRA model setting, from its config where it is on this machine (None: unknown)."""
    model = llara_model(model)
    if model in BUNDLED_LAYERS:
        return BUNDLED_LAYERS[model]
    backend, source = backend_for(model)
    config = Path(source).expanduser() / "config.json"
    if backend != "llara" or not config.is_file():
        return None
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["num_hidden_layers"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def adapter_facts(adapter_folder: str | None) -> dict[str, Any]:
    """``depth`` (layers it was trained to run; 0: all) and ``exits`` (early exits it was trained for) of an
    adapter folder: from :data:`ADAPTER_FACTS`, or for an adapter trained before that file existed (all
    layers), the exits its training report (``training.json``) names; {} for a hub id or an adapter with
    neither."""
    if not adapter_folder or not Path(adapter_folder).is_dir():
        return {}
    folder = Path(adapter_folder)
    if (folder / ADAPTER_FACTS).is_file():
        return _read_json(folder / ADAPTER_FACTS)
    report = _read_json(folder / "training.json")
    options = report.get("options")
    exits = options.get("exits", []) if isinstance(options, dict) else []
    return {"depth": 0, "exits": exits} if report else {}


def _resolved_adapter(model: str, adapter: str, depth: int = 0) -> str | None:
    try:
        return bundled.resolve_adapter(llara_model(model), adapter or None, depth)
    except ModelUnavailable:  # a missing bundled adapter: the loader says so when it matters
        return None


def trained_exits(model: str, adapter: str) -> tuple[int, ...]:
    """The early exits an adapter was trained for; () for none or unknown."""
    try:
        return tuple(sorted(int(k) for k in adapter_facts(_resolved_adapter(model, adapter)).get("exits") or ()))
    except (ValueError, TypeError):
        return ()


def adapter_depth(adapter_folder: str | None) -> int:
    """The layers an adapter was trained to run (0: all of them, or unknown).

    Such an adapter only holds weights for those layers: it is an embedding there and nowhere else, so the
    depth setting 0 means its own depth rather than the whole model.
    """
    try:
        return max(0, int(adapter_facts(adapter_folder).get("depth") or 0))
    except (ValueError, TypeError):
        return 0


def trained_depth(model: str, adapter: str, depth: int = 0) -> int:
    """:func:`adapter_depth` of an adapter setting for ``model`` ("bundled" included, at that depth setting)."""
    return adapter_depth(_resolved_adapter(model, adapter, depth))


def shipped_depths(model: str, adapter: str) -> dict[int, str]:
    """Depths Sleuth ships an adapter of its own for (the "bundled" setting of the bundled model), with what
    was measured of each beside the full one ("" where nothing was): the settings panel's depth choices."""
    if adapter != bundled.ADAPTER_ALIAS or llara_model(model) != bundled.ALIAS:
        return {}
    return {
        depth: str(adapter_facts(str(folder)).get("measured") or "")
        for depth, folder in bundled.shipped_adapters().items()
        if depth
    }


def describe_model(embedder_name: str, dimension: int) -> str:
    """``display_name`` with the vectors' size: "SmolLM2-135M, Sleuth's bundled adapter, 576 dimensions"."""
    return f"{display_name(embedder_name)}, {dimension} dimensions" if dimension else display_name(embedder_name)


def _model_title(source: str) -> str:
    if source in MODEL_TITLES:
        return MODEL_TITLES[source]
    if looks_like_hub_id(source) and not Path(source).expanduser().exists():
        return source
    return Path(source).name or source


def _adapter_title(label: str) -> str:
    if label == bundled.ADAPTER_ALIAS:
        return "Sleuth's bundled adapter"
    path = Path(label).expanduser()
    if path.parent == data_dir() / "adapters":
        return f"your adapter {path.name!r} (trained on your documents)"
    return f"adapter {path.name or label!r}"


def backend_for(model: str) -> tuple[str, str]:
    """(backend, model source without prefix)."""
    for prefix in ("llara:", "encoder:"):
        if model.startswith(prefix):
            return prefix[:-1], model[len(prefix) :]
    if model in BUNDLED_MODELS:
        return BUNDLED_MODELS[model], model
    architectures = _architectures(model)
    if any(a.endswith("ForCausalLM") for a in architectures):
        return "llara", model
    if architectures or (Path(model).expanduser() / "modules.json").is_file():
        return "encoder", model
    return "llara", model


def looks_like_hub_id(model: str) -> bool:
    """``org/name``: the only form worth asking a model hub about (a typo in an alias is not)."""
    return re.fullmatch(r"[\w.-]+/[\w.-]+", model) is not None and not model.startswith((".", "~"))


def _architectures(model: str) -> list[str]:
    """The model's architectures from its config: a folder, the local hub cache, then the hub for an ``org/name``."""
    path = Path(model).expanduser()
    if path.is_dir():
        try:
            return list(json.loads((path / "config.json").read_text(encoding="utf-8")).get("architectures") or [])
        except (OSError, ValueError):
            return []
    if (os.sep in model.strip(os.sep) and not looks_like_hub_id(model)) or model.startswith((os.sep, ".", "~")):
        return []  # a folder that is not there: the chosen backend says so
    try:
        from transformers import AutoConfig

        return list(AutoConfig.from_pretrained(model, local_files_only=True).architectures or [])
    except Exception:  # not in the local cache
        pass
    if not looks_like_hub_id(model):
        known = ", ".join([AUTO_MODEL, *sorted(BUNDLED_MODELS)])
        raise ConfigError(
            f"Unknown model {model!r}: use one of {known}, a model folder, or a model hub id such as "
            "BAAI/LLARA-passage."
        )
    try:
        return list(AutoConfig.from_pretrained(model).architectures or [])
    except Exception:  # no network or unknown id: the chosen backend reports the real problem
        return []


def load_embedder(
    model: str = bundled.ALIAS,
    *,
    adapter: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    cache_dir: Path | None = None,
    progress: StatusSink | None = None,
    max_length: int | None = None,
    depth: int = 0,
) -> Embedder:
    """Load any supported embedder; raises ModelUnavailable or ConfigError with an actionable message.

    ``depth``: decoder layers a LLaRA model runs (0: all of them, or the adapter's own depth where it was
    trained for fewer, :func:`adapter_depth`); ``auto`` is :func:`chosen_model`'s choice for the device.
    """
    model = chosen_model(model, adapter, depth, device)
    adapter = bundled.resolve_adapter(model, adapter, depth)
    backend, source = backend_for(model)
    if backend == "llara":
        return _load_llara(source, adapter, device, precision, cache_dir, progress or quiet, max_length, depth)
    if adapter:
        raise ConfigError("LoRA adapters apply to LLaRA models only; clear the adapter setting for an encoder.")
    if depth:
        raise ConfigError("The embedding depth applies to LLaRA models only; set it to 0 for an encoder.")
    from core.embedding.device import select_device, select_dtype
    from core.embedding.encoder import load_encoder

    report = progress or quiet
    chosen = select_device(device)
    dtype = select_dtype(chosen, precision)
    if source == bundled_encoder.ALIAS:
        path, label = str(bundled_encoder.bundled_encoder_dir(cache_dir, report)), source
    else:
        path = resolve_source(source, "model")
        label = path
    return load_encoder(path, label=label, device=chosen, dtype=dtype, max_length=max_length, progress=report)


def _load_llara(
    model: str,
    adapter: str | None,
    device: str,
    precision: str,
    cache_dir: Path | None,
    report: StatusSink,
    max_length: int | None,
    depth: int = 0,
) -> LlaraEmbedder:
    """A LLaRA embedder by alias (the bundled default), directory or hub id; ``adapter`` already resolved."""
    from core.embedding import llara
    from core.embedding.device import select_device, select_dtype, wants_int8

    chosen_device = select_device(device)
    dtype = select_dtype(chosen_device, precision)
    if model == bundled.ALIAS:
        source, label = str(bundled.bundled_model_dir(cache_dir, report)), model
    else:
        source = resolve_source(model, "model")
        label = source
    adapter_source = resolve_source(adapter, "adapter") if adapter is not None else None
    depth = depth or adapter_depth(adapter_source)
    shipped = adapter_source is not None and Path(adapter_source) in bundled.shipped_adapters().values()
    embedder = llara.load_llara(
        source,
        label=label,
        adapter=adapter_source,
        adapter_label=bundled.ADAPTER_ALIAS if shipped else None,
        device=chosen_device,
        dtype=dtype,
        max_length=max_length or llara.DEFAULT_MAX_LENGTH,
        depth=depth,
        progress=report,
    )
    if wants_int8(chosen_device, precision):
        from core.embedding.quantise import quantise_embedder

        try:
            quantise_embedder(embedder, bundled.cache_root(cache_dir), report)
        except ModelUnavailable as exc:
            if precision.strip().lower() != "auto":
                raise
            report(f"{exc} It runs in fp32.")  # automatic precision: fall back, as on a CPU without int8
    return embedder
