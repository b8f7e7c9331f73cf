"""Where and in which precision models run; one place so the CLI, GUI and tests agree."""

from __future__ import annotations

import torch

from core.errors import ConfigError, ModelUnavailable

_PRECISIONS = {
    "fp32": torch.float32,
    "float32": torch.float32,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def select_device(preference: str = "auto") -> str:
    """Resolve a device setting to a torch device string; "auto" prefers cuda, then mps, then cpu."""
    choice = preference.strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available() else "cpu"
    if choice == "cpu":
        return "cpu"
    if choice == "gpu":
        if torch.cuda.is_available():
            return "cuda"
        if _mps_available():
            return "mps"
        raise ModelUnavailable(
            "No GPU is available (no CUDA or Apple MPS device found); set the device to 'cpu' or 'auto'."
        )
    if choice == "cuda" or choice.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ModelUnavailable(
                f"Device '{preference}' is not available: this PyTorch build or machine has no CUDA GPU. "
                "Set the device to 'cpu' or 'auto'."
            )
        index = choice.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ModelUnavailable(
                f"Device '{preference}' is not available: found {torch.cuda.device_count()} CUDA device(s)."
            )
        return choice
    if choice == "mps":
        if not _mps_available():
            raise ModelUnavailable("Device 'mps' is not available (needs Apple silicon); set it to 'cpu' or 'auto'.")
        return "mps"
    raise ConfigError(f"Unknown device '{preference}': use auto, cpu, gpu, cuda or mps.")


#: A model running in bf16 or fp16 on a CPU gets its input padded to a multiple of this many tokens, not to the
#: batch's longest text. There oneDNN builds and keeps kernels, with their own copies of the weights, for every
#: input width it meets (up to a thousand); batches sorted by length meet a new width almost every time, and
#: embedding 2,400 passages as the indexer does grew the process by 880 MB in bf16, 154 MB with whole widths, at
#: the same speed (docs/benchmarks.md, "Memory"). fp32 runs on MKL, which keeps nothing per width (244 and 189 MB)
#: and where the extra padding cost up to 14% of the time, so it pads as before. Padding is masked: no vector or
#: score changes.
PAD_MULTIPLE = 32


def pad_multiple(device: str, dtype: torch.dtype) -> int:
    """What a model on ``device`` in ``dtype`` pads its input widths to a multiple of (1: the longest text)."""
    return PAD_MULTIPLE if device.split(":")[0] == "cpu" and dtype in (torch.bfloat16, torch.float16) else 1


def padded_width(longest: int, multiple: int) -> int:
    """``longest`` rounded up to a multiple of ``multiple`` (see ``pad_multiple``)."""
    return -(-longest // multiple) * multiple


def cpu_has_fast_bf16() -> bool:
    """True where the CPU has native bf16 (AVX-512 BF16 or AMX); elsewhere bf16 is slower than fp32."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, probe, None)
        if check is not None and check():
            return True
    return False


def cpu_has_fast_int8() -> bool:
    """True on an x86 CPU with AVX2 or better, where oneDNN's int8 kernels beat fp32 (docs/benchmarks.md).

    Other CPUs (ARM) were not measured, so they keep fp32.
    """
    check = getattr(torch.cpu, "_is_avx2_supported", None)
    engines = torch.backends.quantized.supported_engines
    return bool(check is not None and check()) and "onednn" in engines and _has_dynamic_quantisation()


def _has_dynamic_quantisation() -> bool:
    """PyTorch's eager dynamic quantisation is deprecated (in favour of torchao): auto skips int8 once it is gone."""
    try:
        from torch.ao.quantization import quantize_dynamic  # noqa: F401
    except ImportError:
        return False
    return True


def wants_int8(device: str, precision: str = "auto") -> bool:
    """Whether a LLaRA model runs int8 Linear layers (core.embedding.quantise) for this precision setting.

    "int8" asks for it (CPU only); "auto" picks it on an x86 CPU without native bf16, where it measured
    faster than fp32 at the same dense quality (docs/benchmarks.md). Other backends run fp32 there.
    """
    choice = precision.strip().lower()
    cpu = device.split(":")[0] == "cpu"
    if choice == "int8" and not cpu:
        raise ConfigError("Precision int8 runs on the CPU only; on a GPU use auto, bf16 or fp16.")
    if choice == "auto":
        return cpu and not cpu_has_fast_bf16() and cpu_has_fast_int8()
    return choice == "int8"


def select_dtype(device: str, precision: str = "auto") -> torch.dtype:
    """Resolve a precision setting for ``device``.

    "auto": bf16 on CUDA (fp16 where bf16 is unsupported), fp16 on MPS, and on CPU
    bf16 only where the CPU has native bf16 (measured ~1.5-1.7x faster than fp32 at
    cosine 0.9998 to the fp32 vectors, see DESIGN.md), else fp32. "int8" loads in fp32: the int8
    conversion follows the load (:func:`wants_int8`).
    """
    choice = precision.strip().lower()
    kind = device.split(":")[0]
    if choice == "int8":
        wants_int8(device, choice)  # the CPU-only check
        return torch.float32
    if choice == "auto":
        if kind == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if kind == "mps":
            return torch.float16
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    if choice not in _PRECISIONS:
        raise ConfigError(f"Unknown precision '{precision}': use auto, fp32, bf16, fp16 or int8.")
    dtype = _PRECISIONS[choice]
    if kind == "cpu" and dtype is torch.float16:
        raise ConfigError("Precision fp16 is not supported on the CPU; use fp32 or bf16.")
    if kind == "cuda" and dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ConfigError("This GPU does not support bf16; use fp16 or fp32.")
    return dtype


def precision_name(dtype: torch.dtype) -> str:
    """Short label for logs and status lines ("fp32", "bf16", "fp16")."""
    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))
