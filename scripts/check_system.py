"""Set-up checks for Sleuth (``make check-system`` and ``make run`` call the first; the Makefile the second).

    .venv/bin/python scripts/check_system.py qt    # the window's system libraries: what is missing, and the command
    python3 scripts/check_system.py torch-args      # the pip options that install the right torch build

``qt`` runs in the environment it checks (the Makefile uses the virtual environment's Python, which has
PySide6). It works out which Qt platform plugin the window will load, the way Qt 6 chooses it:
``QT_QPA_PLATFORM`` when set; on a Wayland session (``WAYLAND_DISPLAY`` set or ``XDG_SESSION_TYPE=wayland``)
the wayland plugin, then xcb through XWayland where ``DISPLAY`` is set too; on X11 (``DISPLAY``) xcb. It runs
``ldd`` on that plugin and the Qt libraries it loads (libqxcb.so and libQt6XcbQpa for X11; libqwayland.so,
libQt6WaylandClient and the xdg-shell and EGL client plugins for Wayland; libqoffscreen.so for offscreen) and
lists every library reported "not found" with the one apt-get or dnf command that installs them. Qt's own
message names only libxcb-cursor0, whatever is missing. Exit status 0 when the first plugin that Qt would try,
or a later one it falls back to, has everything (a missing library of the first is still reported); 1 when
none can load, when there is no display at all, or when PySide6 is not in this Python. Standard library only.

``torch-args [auto|cpu|cuda]`` runs with the Python the virtual environment is made from, before it exists.
PyPI's Linux torch wheel is the CUDA build (GBs of nvidia-* packages), which a machine without an NVIDIA GPU
does not need; "auto" picks cuda when ``nvidia-smi`` or /proc/driver/nvidia is there. For cpu on Linux it
prints PyTorch's CPU index, unless pip already has a local torch wheel of the pinned version for this Python
in its find-links (then the plain pinned install takes it, and a remote index may not be reachable).
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
from collections.abc import Mapping
from pathlib import Path

TORCH_VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

#: soname -> (Debian/Ubuntu package, Fedora package): what Qt 6's platform plugins and their libraries load.
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
    "libwayland-client.so.0": ("libwayland-client0", "libwayland-client"),
    "libwayland-cursor.so.0": ("libwayland-cursor0", "libwayland-cursor"),
    "libwayland-egl.so.1": ("libwayland-egl1", "libwayland-egl"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libffi.so.8": ("libffi8", "libffi"),
    "libexpat.so.1": ("libexpat1", "expat"),
    "libzstd.so.1": ("libzstd1", "libzstd"),
}

#: Each platform plugin's files under PySide6/Qt (globs), first the plugin that Qt loads by that name.
PLATFORM_FILES: dict[str, tuple[str, ...]] = {
    "xcb": ("plugins/platforms/libqxcb.so", "lib/libQt6XcbQpa.so.*"),
    "wayland": (
        "plugins/platforms/libqwayland*.so",
        "lib/libQt6WaylandClient.so.*",
        "plugins/wayland-shell-integration/libxdg-shell.so",
        "plugins/wayland-graphics-integration-client/libqt-plugin-wayland-egl.so",
    ),
}
#: Libraries that come with PySide6 itself: missing means a damaged installation, not a system package.
_OWN = re.compile(r"^lib(Qt6|icu|pyside6|shiboken6)")

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


def report(missing: list[str], manager: str | None, platform_name: str = "xcb") -> str:
    """What the user reads: the missing libraries, then the command (and how to find unknown ones)."""
    own = [name for name in missing if _OWN.match(name)]
    system = [name for name in missing if name not in own]
    lines = []
    if system:
        lines.append(
            f"Sleuth's window (Qt's {platform_name} platform) needs these system libraries, which are missing: "
            f"{', '.join(system)}."
        )
    if any(name in PACKAGES for name in system):
        lines += ["Install them with:", f"  {install_command(system, manager)}"]
    for name in (n for n in system if n not in PACKAGES):
        search = f"dnf provides '*/{name}'" if manager == "dnf" else f"apt-file search {name}"
        lines.append(f"  {name}: find its package with: {search}")
    if own:
        lines.append(
            f"PySide6's own Qt libraries are missing ({', '.join(own)}): its installation is damaged. "
            "Reinstall it: make clean install"
        )
    return "\n".join(lines)


def pyside_root() -> Path | None:
    """The installed PySide6 package folder of this Python (found without importing it), if any."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def platform_libraries(platform_name: str, root: Path | None = None) -> list[Path]:
    """The plugin file of ``platform_name`` and the Qt libraries it loads, as installed (none: no such plugin)."""
    root = root if root is not None else pyside_root()
    if root is None:
        return []
    patterns = PLATFORM_FILES.get(platform_name, (f"plugins/platforms/libq{platform_name}.so",))
    found = [next(iter(sorted((root / "Qt").glob(pattern))), None) for pattern in patterns]
    if found[0] is None:
        return []
    return [path for path in found if path is not None]


def xcb_libraries() -> list[Path]:
    """libqxcb.so and the Qt library it loads, from the installed PySide6 (without importing it)."""
    return platform_libraries("xcb")


def ldd(path: Path) -> str:
    done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def chosen_platforms(env: Mapping[str, str]) -> tuple[list[str], str]:
    """The platform plugins Qt tries for this environment, in order, and why (empty: no display to open on)."""
    wanted = env.get("QT_QPA_PLATFORM", "").strip()
    if wanted:
        names = [part.split(":", 1)[0].strip() for part in wanted.split(";")]
        return [name for name in names if name], f"QT_QPA_PLATFORM={wanted}"
    session = env.get("XDG_SESSION_TYPE", "").lower()
    display = env.get("DISPLAY", "")
    if session == "wayland" or env.get("WAYLAND_DISPLAY"):
        why = f"a Wayland session (WAYLAND_DISPLAY={env.get('WAYLAND_DISPLAY', '')}, XDG_SESSION_TYPE={session})"
        return (["wayland", "xcb"] if display else ["wayland"]), why
    if display:
        return ["xcb"], f"an X11 session (DISPLAY={display})"
    return [], "no display"


NO_DISPLAY = (
    "No display to open Sleuth's window on: neither WAYLAND_DISPLAY nor DISPLAY is set (nor QT_QPA_PLATFORM).\n"
    "Start it from a desktop session, or set QT_QPA_PLATFORM=offscreen to run the window without a screen. "
    "The sleuth command line (sleuth index, sleuth search) needs no display."
)


def check_qt(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        return 0
    root = pyside_root()
    if root is None:
        print(
            f"PySide6 is not installed for {sys.executable}. Run this check with the Python of Sleuth's virtual "
            "environment, after make install: make check-system (or .venv/bin/python scripts/check_system.py qt).",
            file=sys.stderr,
        )
        return 1
    platforms, why = chosen_platforms(env)
    if not platforms:
        print(NO_DISPLAY, file=sys.stderr)
        return 1
    manager = package_manager()
    problems: list[str] = []
    for name in platforms:
        libraries = platform_libraries(name, root)
        if not libraries:
            problems.append(f"PySide6 has no '{name}' platform plugin ({root / 'Qt' / 'plugins' / 'platforms'}).")
            continue
        missing = missing_libraries("\n".join(ldd(path) for path in libraries))
        if missing:
            problems.append(report(missing, manager, name))
            continue
        for problem in problems:  # an earlier choice that cannot load: worth fixing, though Qt falls back
            print(problem, file=sys.stderr)
        if problems:
            print(f"Qt falls back to its {name} platform, which has every library it needs.", file=sys.stderr)
        files = ", ".join(path.name for path in libraries)
        print(f"Qt platform {name}, for {why}: every library of {files} is installed.")
        return 0
    print("\n".join(problems), file=sys.stderr)
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


def local_torch_wheel(folders: list[str], python_tag: str | None = None) -> Path | None:
    """A torch wheel of the pinned version for ``python_tag`` (default: this Python's, e.g. cp312) in ``folders``."""
    tag = python_tag or f"cp{sys.version_info.major}{sys.version_info.minor}"
    for folder in folders:
        path = Path(folder)
        if path.is_dir():
            wheel = next(iter(sorted(path.glob(f"torch-{TORCH_VERSION}*-{tag}-*.whl"))), None)
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
    sub.add_parser("qt", help="the system libraries of the Qt platform plugin the window will load")
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
