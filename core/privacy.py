"""Nothing leaves the machine: every telemetry switch of Sleuth's dependencies, off before they load.

``import core`` runs :func:`switch_off_telemetry`, so every process that imports the engine (the CLI, the
window, ``sleuth watch``, training, evaluation, the benchmarks) sets these before any library reads them;
the processes Sleuth starts (the PDF/OCR worker, ``subprocess`` calls) inherit the environment.

The values are forced, not defaulted: a shell that exports ``ORT_DISABLE_TELEMETRY=0`` does not turn a
library's telemetry back on inside Sleuth. Model downloads the user asked for are not telemetry and are not
touched here (``HF_HUB_OFFLINE`` stays the user's to set).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Environment variable -> value, with the library that reads it and why.
TELEMETRY_OFF: Mapping[str, str] = {
    # ONNX Runtime (RapidOCR's engine) sends usage events from its Linux and macOS builds since 1.29 and
    # writes a device id under ~/.cache/Microsoft/DeveloperTools/.onnxruntime; either variable, set before
    # the library initialises, stops the uploader, the device id and the offline event queue.
    "ORT_DISABLE_TELEMETRY": "1",
    "ORT_TELEMETRY_DISABLED": "1",
    # huggingface_hub (transformers, peft): no usage headers or telemetry pings on a download, no update check.
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "DISABLE_TELEMETRY": "1",
    # OpenTelemetry (the MCP SDK of `sleuth mcp` records spans through opentelemetry-api, which sends nothing
    # by itself): an OpenTelemetry SDK installed in the same environment stays off too.
    "OTEL_SDK_DISABLED": "true",
    # The cross-tool convention (donottrack.sh) that other libraries honour.
    "DO_NOT_TRACK": "1",
}


def switch_off_telemetry(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Set every switch in :data:`TELEMETRY_OFF`; idempotent, and cheap enough to run at every import."""
    for name, value in TELEMETRY_OFF.items():
        if environ.get(name) != value:
            environ[name] = value
