"""int8 on the CPU: SmoothQuant, then int8 Linear layers, for CPUs where bf16 is not native.

Dynamic int8 (per-channel int8 weights; each activation quantised with one scale per tensor at run time)
loses dense quality on its own: a few outlier channels of the decoder's activations set that one scale.
SmoothQuant (arXiv 2211.10438) moves the outliers into the weights first: each Linear's input channel j is
divided by ``s_j = max|x_j|^a / max|w_j|^(1-a)`` and its weight column multiplied by ``s_j``, the division
folded into the RMSNorm weight in front, so the model computes the same function with activations that
quantise well. The MLP's down projection stays in fp32: its input (the gated product) has outliers that
smoothing does not tame, and quantising it cost up to 0.04 dense nDCG@10 (docs/benchmarks.md).
``max|x_j|`` is measured once on text that ships with Sleuth (``resources/int8-calibration.json``) and
cached beside the converted model, so every load of the same model gives the same vectors.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from core.embedding.loading import StatusSink, quiet
from core.errors import ModelUnavailable
from core.vocabulary import EmbedderIdentity

if TYPE_CHECKING:
    from core.embedding.llara import LlaraEmbedder

#: SmoothQuant's migration strength: how much of the activations' range moves into the weights.
ALPHA = 0.7
CALIBRATION_FILE = Path(__file__).resolve().parents[2] / "resources" / "int8-calibration.json"
_CACHE_FORMAT = 2
#: Linear layers left in fp32 (see the module's docstring).
KEEP_FP32 = ("down_proj",)
_FLOOR = 1e-5


def int8_engine() -> str | None:
    """PyTorch's quantised engine for int8 Linear layers on this CPU, or None.

    oneDNN first: with activations quantised to the full unsigned 8 bits, fbgemm's AVX2 kernels can saturate,
    and on AVX2 oneDNN measured 1.4x fp32 (docs/benchmarks.md).
    """
    engines = torch.backends.quantized.supported_engines
    return next((engine for engine in ("onednn", "x86", "fbgemm", "qnnpack") if engine in engines), None)


def calibration_texts() -> list[str]:
    try:
        passages = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))["passages"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelUnavailable(f"Cannot read the int8 calibration text {CALIBRATION_FILE}: {exc}") from exc
    return [str(text) for text in passages]


def quantise_embedder(embedder: LlaraEmbedder, cache_dir: Path, progress: StatusSink = quiet) -> None:
    """Make ``embedder`` run int8 Linear layers after SmoothQuant, in place; its name gains ``+int8``.

    The smoothing scales are measured once per model (its name covers backbone, adapter and depth) and read
    from ``cache_dir`` afterwards.
    """
    engine = int8_engine()
    if engine is None or embedder.device != "cpu" or embedder.dtype is not torch.float32:
        raise ModelUnavailable("int8 runs on the CPU only, from an fp32 model; set the precision to auto or fp32.")
    layers = _decoder_layers(embedder)
    path = cache_dir / "int8" / f"{_cache_key(embedder.name)}.safetensors"
    scales = _read_scales(path, layers)
    if scales is None:
        progress("Measuring int8 scales for this model (once)…")
        scales = smoothing_scales(layers, activation_peaks(embedder, calibration_texts()))
        _write_scales(path, scales)
    fold_scales(layers, scales)
    progress("Converting the model to int8…")
    torch.backends.quantized.engine = engine
    quantise_linears(embedder.backbone)
    embedder.name = str(EmbedderIdentity.parse(embedder.name).quantised())
    embedder.precision = "int8"


def activation_peaks(embedder: LlaraEmbedder, texts: Sequence[str]) -> dict[torch.nn.Module, torch.Tensor]:
    """The largest |input| of every input channel of each Linear layer, over passages and queries of ``texts``."""
    peaks: dict[torch.nn.Module, torch.Tensor] = {}

    def record(module: torch.nn.Module, inputs: Any) -> None:
        seen = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(0).float()
        peaks[module] = torch.maximum(peaks[module], seen) if module in peaks else seen

    handles = [m.register_forward_pre_hook(record) for m in embedder.backbone.modules() if _is_linear(m)]
    try:
        embedder.embed_passages(texts)
        embedder.embed_queries(texts)
    finally:
        for handle in handles:
            handle.remove()
    return peaks


def smoothing_scales(
    layers: Sequence[torch.nn.Module], peaks: dict[torch.nn.Module, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Per decoder layer i: ``i.attention`` (the q/k/v projections' input) and ``i.mlp`` (gate/up's input)."""
    scales: dict[str, torch.Tensor] = {}
    for i, layer in enumerate(layers):
        for name, _norm, linears in _smoothed_groups(layer):
            weights = torch.stack([linear.weight.detach().abs().amax(0).float() for linear in linears]).amax(0)
            peak = peaks[linears[0]]  # the group's Linear layers share one input
            scale = peak.clamp(min=_FLOOR) ** ALPHA / weights.clamp(min=_FLOOR) ** (1 - ALPHA)
            scales[f"{i}.{name}"] = scale.clamp(min=_FLOOR)
    return scales


@torch.no_grad()
def fold_scales(layers: Sequence[torch.nn.Module], scales: dict[str, torch.Tensor]) -> None:
    """Fold the scales into the weights, in place: the model computes the same function as before."""
    for i, layer in enumerate(layers):
        for name, norm, linears in _smoothed_groups(layer):
            s = scales[f"{i}.{name}"]
            norm.weight /= s.to(norm.weight.dtype)
            for linear in linears:
                linear.weight *= s.to(linear.weight.dtype)


def _smoothed_groups(module: torch.nn.Module) -> tuple[tuple[str, Any, tuple[Any, ...]], ...]:
    """(scale name, the RMSNorm in front, the Linear layers it feeds) of one decoder layer."""
    layer = cast(Any, module)
    attention, mlp = layer.self_attn, layer.mlp
    return (
        ("attention", layer.input_layernorm, (attention.q_proj, attention.k_proj, attention.v_proj)),
        ("mlp", layer.post_attention_layernorm, (mlp.gate_proj, mlp.up_proj)),
    )


def quantise_linears(module: torch.nn.Module, keep: tuple[str, ...] = KEEP_FP32) -> None:
    """Every Linear layer of ``module`` but those named ``*keep`` becomes a dynamic int8 one, in place."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = {
        name: per_channel_dynamic_qconfig
        for name, child in module.named_modules()
        if _is_linear(child) and not name.endswith(keep)
    }
    with warnings.catch_warnings():  # the deprecation notices (torchao is the successor) are for developers
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        quantize_dynamic(module, names, dtype=torch.qint8, inplace=True)


def _is_linear(module: torch.nn.Module) -> bool:
    return type(module) is torch.nn.Linear


def _decoder_layers(embedder: LlaraEmbedder) -> list[torch.nn.Module]:
    layers = getattr(embedder.backbone, "layers", None)
    if layers is None or not all(hasattr(layer, "mlp") and hasattr(layer, "self_attn") for layer in layers):
        raise ModelUnavailable(f"int8 supports Llama-style decoders; {embedder.name} is not one.")
    return list(layers)


def _cache_key(name: str) -> str:
    calibration = CALIBRATION_FILE.read_bytes() if CALIBRATION_FILE.is_file() else b""
    digest = hashlib.sha256(f"{name}\n{ALPHA}\n{_CACHE_FORMAT}\n".encode() + calibration)
    return digest.hexdigest()[:20]


def _read_scales(path: Path, layers: Sequence[torch.nn.Module]) -> dict[str, torch.Tensor] | None:
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        scales = load_file(str(path))
    except Exception:  # a torn or foreign file: measure again
        return None
    expected = {f"{i}.{name}" for i, layer in enumerate(layers) for name, _n, _l in _smoothed_groups(layer)}
    return scales if set(scales) == expected else None


def _write_scales(path: Path, scales: dict[str, torch.Tensor]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    save_file({k: v.contiguous() for k, v in scales.items()}, str(partial))
    partial.replace(path)  # atomic: a second process never reads half a file
