"""Set-up checks that run before Sleuth is installed or started (``make run`` calls them).

    python scripts/check_system.py qt            # Qt's X11 platform libraries: what is missing, and the command
    python scripts/check_system.py torch-args    # the pip options that install the right torch build

``qt`` finds PySide6's xcb platform plugin (libqxcb.so), runs ``ldd`` on it and on the Qt library it loads
(libQt6XcbQpa), and lists every library reported "not found" with the one apt-get or dnf command that
installs them. Qt's own message names only libxcb-cursor0, whatever is missing. Exit status 1 when something
is missing. Standard library only: it runs before (and without) the virtual environment's packages.

``torch-args [auto|cpu|cuda]``: PyPI's Linux torch wheel is the CUDA build (GBs of nvidia-* packages), which a
machine without an NVIDIA GPU does not need; "auto" picks cuda when ``nvidia-smi`` or /proc/driver/nvidia is
there. For cpu on Linux it prints PyTorch's CPU index, unless pip already has a local torch wheel of the pinned
version in its find-links (then the plain pinned install takes it, and a remote index may not be reachable).
"""

from __future__ import annotations

import argparse
import configparser
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

TORCH_VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

#: soname -> (Debian/Ubuntu package, Fedora package): what Qt 6's xcb plugin and its libraries load.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-ewmh.so.2": ("libxcb-ewmh2", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libXau.so.6": ("libxau6", "libXau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libpng16.so.16": ("libpng16-16", "libpng"),
    "libz.so.1": ("zlib1g", "zlib"),
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")


def missing_libraries(ldd_output: str) -> list[str]:
    """The sonames ``ldd`` could not find, in order, each once."""
    found: list[str] = []
    for line in ldd_output.splitlines():
        match = _NOT_FOUND.match(line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def package_manager() -> str | None:
    for tool in ("apt-get", "dnf"):
        if shutil.which(tool):
            return tool
    return None


def install_command(missing: list[str], manager: str | None) -> str:
    """The one command that installs the packages holding ``missing`` (both, when the manager is unknown)."""
    debian = sorted({PACKAGES[name][0] for name in missing if name in PACKAGES})
    fedora = sorted({PACKAGES[name][1] for name in missing if name in PACKAGES})
    commands = {
        "apt-get": f"sudo apt-get install -y {' '.join(debian)}",
        "dnf": f"sudo dnf install -y {' '.join(fedora)}",
    }
    if manager in commands:
        return commands[manager]
    return f"{commands['apt-get']}   (Debian, Ubuntu)\n  {commands['dnf']}   (Fedora)"


def report(missing: list[str], manager: str | None) -> str:
    """What the user reads: the missing libraries, then the command (and how to find unknown ones)."""
    lines = [f"Sleuth's window needs these system libraries, which are missing: {', '.join(missing)}."]
    if any(name in PACKAGES for name in missing):
        lines += ["Install them with:", f"  {install_command(missing, manager)}"]
    for name in (n for n in missing if n not in PACKAGES):
        search = f"dnf provides '*/{name}'" if manager == "dnf" else f"apt-file search {name}"
        lines.append(f"  {name}: find its package with: {search}")
    return "\n".join(lines)


def xcb_libraries() -> list[Path]:
    """libqxcb.so and the Qt library it loads, from the installed PySide6 (without importing it)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations)))
    plugin = root / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    qpa = sorted((root / "Qt" / "lib").glob("libQt6XcbQpa.so*"))
    return [path for path in [plugin, *qpa[:1]] if path.exists()]


def ldd(path: Path) -> str:
    done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def check_qt() -> int:
    if not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        return 0
    if os.environ.get("QT_QPA_PLATFORM", "xcb").split(";")[0] not in ("", "xcb"):
        return 0  # offscreen, wayland…: the xcb plugin is not what will load
    libraries = xcb_libraries()
    if not libraries:
        print("PySide6's xcb platform plugin was not found; install the Python packages first (make install).")
        return 1
    missing = missing_libraries("\n".join(ldd(path) for path in libraries))
    if not missing:
        return 0
    print(report(missing, package_manager()), file=sys.stderr)
    return 1


def has_nvidia_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia").exists()


def _pip_find_links() -> list[str]:
    """pip's find-links folders: $PIP_FIND_LINKS and the [global]/[install] find-links of its config files."""
    values = os.environ.get("PIP_FIND_LINKS", "").split()
    config = configparser.ConfigParser()
    files = [os.environ.get("PIP_CONFIG_FILE", ""), "/etc/pip.conf", "/etc/xdg/pip/pip.conf"]
    files += [str(Path.home() / ".pip" / "pip.conf"), str(Path.home() / ".config" / "pip" / "pip.conf")]
    config.read([f for f in files if f])
    for section in ("global", "install"):
        if config.has_option(section, "find-links"):
            values += config.get(section, "find-links").split()
    return [value.removeprefix("file://") for value in values]


def local_torch_wheel(folders: list[str]) -> Path | None:
    for folder in folders:
        path = Path(folder)
        if path.is_dir():
            wheel = next(iter(sorted(path.glob(f"torch-{TORCH_VERSION}*.whl"))), None)
            if wheel is not None:
                return wheel
    return None


def torch_args(choice: str, *, linux: bool, gpu: bool, local_wheel: Path | None) -> str:
    """pip options for ``pip install torch==TORCH_VERSION`` (empty: the plain pinned install)."""
    build = ("cuda" if gpu else "cpu") if choice == "auto" else choice
    if build == "cuda" or not linux or local_wheel is not None:
        return ""  # PyPI's Linux wheel is the CUDA build; elsewhere it is the CPU one; a local wheel wins
    return f"--index-url {CPU_INDEX}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sleuth's set-up checks")
    sub = parser.add_subparsers(dest="check", required=True)
    sub.add_parser("qt", help="Qt's X11 platform libraries")
    p = sub.add_parser("torch-args", help="pip options for the torch build this machine needs")
    p.add_argument("torch", nargs="?", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    if args.check == "qt":
        return check_qt()
    linux = platform.system() == "Linux"
    print(torch_args(args.torch, linux=linux, gpu=has_nvidia_gpu(), local_wheel=local_torch_wheel(_pip_find_links())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
