"""The set-up check: the Qt platform plugin the window will load and its missing system libraries (from real
``ldd`` output, through the real script in Wayland, X11, offscreen and display-less environments), and the
torch build pip gets."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import child_pythonpath

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


def _qt_check(env: dict[str, str], python: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """``scripts/check_system.py qt`` as ``make check-system`` runs it, in exactly ``env`` (plus PATH)."""
    return subprocess.run(
        [*(python or [sys.executable]), str(ROOT / "scripts" / "check_system.py"), "qt"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": child_pythonpath(), **env},
        check=False,
    )


needs_pyside_and_ldd = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("ldd") is None or check.pyside_root() is None,
    reason="Linux with ldd and PySide6 only",
)


@needs_pyside_and_ldd
@pytest.mark.parametrize(
    ("env", "platform", "why"),
    [
        ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "wayland", "a Wayland session"),
        ({"WAYLAND_DISPLAY": "wayland-1"}, "wayland", "a Wayland session"),
        ({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":1"}, "wayland", "a Wayland session"),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "xcb", "an X11 session"),
        ({"DISPLAY": ":0"}, "xcb", "an X11 session"),
        ({"QT_QPA_PLATFORM": "offscreen", "WAYLAND_DISPLAY": "wayland-0"}, "offscreen", "QT_QPA_PLATFORM=offscreen"),
        ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "xcb", "QT_QPA_PLATFORM=xcb"),
    ],
)
def test_the_plugin_checked_is_the_one_qt_loads_in_that_session(env: dict[str, str], platform: str, why: str) -> None:
    """Whatever ldd says that plugin misses here is what the check names, with the command; nothing else."""
    libraries = check.platform_libraries(platform)
    assert libraries and libraries[0].parent.name == "platforms"
    missing = check.missing_libraries("\n".join(check.ldd(path) for path in libraries))
    run = _qt_check(env)
    if missing:
        assert run.returncode == 1 and all(name in run.stderr for name in missing), run.stderr
        assert f"Qt's {platform} platform" in run.stderr
    else:
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith(f"Qt platform {platform}, for {why}")
        assert all(path.name in run.stdout for path in libraries)
    others = {"wayland": "libqxcb.so", "xcb": "libqwayland", "offscreen": "libqxcb.so"}[platform]
    assert others not in run.stdout + run.stderr, "only the plugin Qt loads first is checked while it is complete"


@needs_pyside_and_ldd
def test_without_a_display_the_check_says_so_and_stops_make_run() -> None:
    run = _qt_check({"XDG_SESSION_TYPE": "tty"})
    assert run.returncode == 1 and not run.stdout
    assert "No display" in run.stderr and "QT_QPA_PLATFORM=offscreen" in run.stderr


def test_a_python_without_pyside6_is_told_to_use_the_environments_own() -> None:
    """The system Python cannot see the environment's PySide6: the check says where to run it, not "missing"."""
    run = _qt_check({"DISPLAY": ":0"}, [sys.executable, "-S"])  # -S: no site-packages, so no PySide6
    if not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        assert run.returncode == 0
        return
    assert run.returncode == 1
    assert "PySide6 is not installed" in run.stderr and "make check-system" in run.stderr
    assert "libxcb" not in run.stderr


def _pyside_copy(tmp_path: Path, *, leave_out: str) -> Path:
    """A PySide6 folder like the installed one (its platform plugins copied, its Qt libraries linked) that lacks
    ``leave_out``: a damaged installation, found first on PYTHONPATH."""
    real = check.pyside_root()
    assert real is not None
    fake = tmp_path / "site" / "PySide6"
    (fake / "Qt" / "lib").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    for library in (real / "Qt" / "lib").iterdir():
        if not library.name.startswith(leave_out):
            (fake / "Qt" / "lib" / library.name).symlink_to(library)
    for folder in ("platforms", "wayland-shell-integration", "wayland-graphics-integration-client"):
        shutil.copytree(real / "Qt" / "plugins" / folder, fake / "Qt" / "plugins" / folder)
    return fake.parent


@needs_pyside_and_ldd
def test_a_wayland_plugin_that_cannot_load_is_reported_and_qt_falls_back_to_xwayland(tmp_path: Path) -> None:
    if check.missing_libraries("\n".join(check.ldd(path) for path in check.platform_libraries("xcb"))):
        pytest.skip("the xcb plugin misses system libraries here")
    site = _pyside_copy(tmp_path, leave_out="libQt6WaylandClient")
    session = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}

    alone = _qt_check({**session, "PYTHONPATH": child_pythonpath(site)})
    assert alone.returncode == 1, "Wayland without XWayland: the window cannot open"
    assert "libQt6WaylandClient.so.6" in alone.stderr and "make clean install" in alone.stderr
    assert "libqxcb" not in alone.stderr + alone.stdout

    with_x = _qt_check({**session, "DISPLAY": ":0", "PYTHONPATH": child_pythonpath(site)})
    assert with_x.returncode == 0, "XWayland is there: Qt falls back to xcb"
    assert "libQt6WaylandClient.so.6" in with_x.stderr and "falls back to its xcb platform" in with_x.stderr
    assert with_x.stdout.startswith("Qt platform xcb, for a Wayland session")


@needs_pyside_and_ldd
def test_a_missing_platform_plugin_is_named() -> None:
    run = _qt_check({"QT_QPA_PLATFORM": "nosuchplatform"})
    assert run.returncode == 1 and "PySide6 has no 'nosuchplatform' platform plugin" in run.stderr


def test_the_wayland_libraries_have_their_packages() -> None:
    missing = ["libwayland-client.so.0", "libwayland-cursor.so.0", "libwayland-egl.so.1", "libQt6Gui.so.6"]
    text = check.report(missing, "apt-get", "wayland")
    assert "Qt's wayland platform" in text
    assert "sudo apt-get install -y libwayland-client0 libwayland-cursor0 libwayland-egl1" in text
    assert "PySide6's own Qt libraries are missing (libQt6Gui.so.6)" in text
    dnf = check.report(missing[:3], "dnf", "wayland")
    assert "sudo dnf install -y libwayland-client libwayland-cursor libwayland-egl" in dnf


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_checks_the_system_with_the_environments_python(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    for target in ("check-system", "run"):
        plan = subprocess.run(
            ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        assert f"{venv}/bin/python scripts/check_system.py qt" in plan
        assert plan.index("-m venv") < plan.index("check_system.py qt"), "installed first"
    assert plan.index("check_system.py qt") < plan.index(f"{venv}/bin/sleuth")


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_installs_the_pinned_torch_with_the_chosen_index_and_the_models_as_a_wheel(tmp_path: Path) -> None:
    def dry_run(*extra: str) -> str:
        done = subprocess.run(
            ["make", "-n", "install", f"VENV={tmp_path / 'venv'}", *extra],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return "\n".join(line for line in done.stdout.splitlines() if not line.startswith("#"))  # commands only

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
    models = next(line for line in plan.splitlines() if "build_models_wheel.py" in line)
    assert models.startswith(f"{tmp_path / 'venv'}/bin/python -m pip") and " install " in models
    assert "--no-deps" not in plan, "every package is installed with its dependencies"
    assert plan.index("install -e") < plan.index("build_models_wheel.py") < plan.rindex("pip check")
    local = check.local_torch_wheel(check._pip_find_links())
    cpu_plan = dry_run("TORCH=cpu")
    assert ("download.pytorch.org/whl/cpu" in cpu_plan) == (local is None), "the CPU index unless a local wheel"
    assert "download.pytorch.org" not in dry_run("TORCH=cuda")
