"""A wheel built from the project runs on its own: the engine and the window find the files in resources/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from functools import partial
from pathlib import Path

import pytest
import sleuth_network_guard

from tests.core.corpus import write_corpus

ROOT = Path(__file__).resolve().parents[1]

# Run from the unpacked wheel alone: the development checkout's editable-install hooks are taken out, so
# every import of core and app must come from the wheel's own files.
PROBE = """
import json, sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in type(f).__module__]
sys.path_hooks[:] = [h for h in sys.path_hooks if "__editable__" not in getattr(h, "__module__", "")]
sys.path_importer_cache.clear()
sys.path.insert(0, sys.argv[1])
from core.embedding import bundled
from app import main
print(json.dumps({
    "core": bundled.__file__,
    "adapter": str(bundled.ADAPTER_DIR),
    "adapter_files": sorted(p.name for p in bundled.ADAPTER_DIR.iterdir()),
    "style": str(main.resource("style.qss")),
    "icon": str(main.resource("sleuth.svg")),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of the tracked files, so no build/ folder left in the checkout can stand in for them.
    source = tmp_path_factory.mktemp("source")
    for name in _tracked():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("sleuth-*.whl")
    return built


def _tracked(*paths: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z", *paths], cwd=ROOT, check=True, capture_output=True, text=True)
    return [name for name in out.stdout.split("\0") if name]


def test_the_wheel_carries_every_resource(wheel: Path) -> None:
    tracked = _tracked("resources")
    assert tracked
    with zipfile.ZipFile(wheel) as archive:
        assert set(tracked) <= set(archive.namelist())


def test_an_installed_wheel_finds_its_adapter_style_and_icon(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(site)], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    found = json.loads(probe.stdout)
    assert Path(found["core"]).is_relative_to(site)
    assert Path(found["adapter"]).is_relative_to(site)
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(found["adapter_files"])
    assert Path(found["style"]).is_relative_to(site) and Path(found["style"]).is_file()
    assert Path(found["icon"]).is_relative_to(site) and Path(found["icon"]).is_file()


@pytest.mark.slow
def test_the_linux_installer_installs_a_working_sleuth_and_uninstalls_it(
    tmp_path: Path,
    bundled_cache_dir: Path,
    bundled_embedder: object,  # converts the bundled model once per session into bundled_cache_dir
) -> None:
    before = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True, text=True)
    home = tmp_path / "home"
    env = os.environ | {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_BIN_HOME": str(home / "bin"),
        "SLEUTH_CONFIG_DIR": str(tmp_path / "config"),
        "SLEUTH_DB": str(tmp_path / "db"),
        "SLEUTH_CACHE_DIR": str(bundled_cache_dir),
        # The installer downloads its dependencies: pip may reach the registries (the installed Sleuth may not).
        sleuth_network_guard.INSTALLER_VARIABLE: "1",
    }
    env.pop("VIRTUAL_ENV", None)
    script = ROOT / "packaging" / "linux" / "install.sh"
    subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, check=True, capture_output=True, text=True)

    launcher = home / "bin" / "sleuth"
    venv = home / "data" / "sleuth" / "venv"
    desktop = (home / "data" / "applications" / "sleuth.desktop").read_text(encoding="utf-8")
    assert f"Exec={venv / 'bin' / 'sleuth'}\n" in desktop and "Icon=sleuth\n" in desktop
    assert (home / "data" / "icons" / "hicolor" / "scalable" / "apps" / "sleuth.svg").is_file()
    run = partial(subprocess.run, cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    where = run([str(venv / "bin" / "python"), "-c", "import core; print(core.__file__)"])
    assert Path(where.stdout.strip()).is_relative_to(venv)  # the installed copy, not this checkout

    folder = write_corpus(tmp_path / "docs")
    run([str(launcher), "index", str(folder)])
    assert "Model: all-MiniLM-L6-v2" in run([str(launcher), "status"]).stdout  # the default on a CPU installed too
    run([str(launcher), "config", "set", "model", "smollm2-135m"])
    run([str(launcher), "index", str(folder)])
    assert "Sleuth's bundled adapter" in run([str(launcher), "status"]).stdout  # the adapter shipped in the wheel
    status = json.loads(run([str(launcher), "status", "--json"]).stdout)
    assert "+adapter:bundled@" in status["model"]["identity"]  # the exact identity stays machine-readable
    found = json.loads(run([str(launcher), "search", "when did Vesuvius bury Pompeii", "--json"]).stdout)
    assert Path(found["results"][0]["path"]).name == "volcano.txt"

    subprocess.run(["bash", str(script), "--uninstall"], env=env, check=True, capture_output=True)
    assert not venv.exists() and not launcher.is_symlink()
    assert not (home / "data" / "applications" / "sleuth.desktop").exists()
    assert (tmp_path / "db").exists()  # the index stays
    after = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT, capture_output=True, text=True)
    assert after.stdout == before.stdout  # nothing written into the checkout
