"""`make package`'s .deb installs a `sleuth` that runs on its own: no virtual environment, no checkout, no PYTHONPATH.

Installed with dpkg when the tests run as root (as in CI), else unpacked with ``dpkg-deb -x`` into a temporary root.
The installed command indexes and searches real files (a PDF among them: its reader is a worker process the frozen
program starts of itself), opens the window offscreen, and its removal leaves the user's index in place.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import tarfile
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sleuth_network_guard

from core.index.reading import POOL_MIN_FILES
from tests.core.corpus import write_corpus
from tests.core.hostile import make_pdf

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
DEB = ROOT / "dist" / f"sleuth_{VERSION}_amd64.deb"
TARBALL = ROOT / "dist" / f"sleuth_{VERSION}_linux_x86_64.tar.gz"
#: What the package is built from: a package older than any of these is built again.
SOURCES = ("core", "app", "resources", "packaging", "pyproject.toml", "Makefile")
#: Only a failure guard for a hung program (the window, a worker): never a measure of speed.
HANG = 600

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Installed:
    command: Path  # what runs: /usr/bin/sleuth, or the unpacked /opt/sleuth/sleuth
    root: Path  # "/" for dpkg, else the temporary root it was unpacked into
    by_dpkg: bool


def _newest_source() -> float:
    listed = subprocess.run(["git", "ls-files", "-z", *SOURCES], cwd=ROOT, check=True, capture_output=True, text=True)
    stamps = [(ROOT / name).stat().st_mtime for name in listed.stdout.split("\0") if (ROOT / name).is_file()]
    installed = ROOT / ".venv" / ".sleuth-installed"  # `make install`'s stamp: the packages it freezes
    return max([*stamps, installed.stat().st_mtime if installed.exists() else 0.0])


@pytest.fixture(scope="module")
def package() -> Path:
    """The .deb of this checkout: reused when newer than every file it is built from, else `make package`."""
    if shutil.which("dpkg-deb") is None:
        if os.environ.get("CI"):
            pytest.fail("dpkg-deb is missing: CI builds and installs the Debian package (apt-get install dpkg)")
        pytest.skip("needs dpkg-deb (Debian or Ubuntu)")
    fresh = DEB.is_file() and TARBALL.is_file() and DEB.stat().st_mtime > _newest_source()
    if not fresh:
        # pip may fetch torch's CPU build where this environment has the CUDA one (packaging/linux/build.sh).
        env = os.environ | {sleuth_network_guard.INSTALLER_VARIABLE: "1"}
        built = subprocess.run(["make", "package"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert built.returncode == 0, f"make package failed:\n{built.stdout[-4000:]}\n{built.stderr[-4000:]}"
    return DEB


@pytest.fixture(scope="module")
def installed(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if os.geteuid() == 0 and os.environ.get("SLEUTH_PACKAGE_INSTALL", "dpkg") == "dpkg":
        # --force-depends: a build machine need not have the X11/Wayland libraries the window needs on a desktop;
        # the window here runs offscreen. The Depends field itself is checked below.
        subprocess.run(["dpkg", "-i", "--force-depends", str(package)], check=True, capture_output=True)
        try:
            yield Installed(Path("/usr/bin/sleuth"), Path("/"), by_dpkg=True)
        finally:
            subprocess.run(["dpkg", "-r", "sleuth"], check=False, capture_output=True)
    else:
        root = tmp_path_factory.mktemp("root")
        subprocess.run(["dpkg-deb", "-x", str(package), str(root)], check=True, capture_output=True)
        yield Installed(root / "opt" / "sleuth" / "sleuth", root, by_dpkg=False)


def clean_env(home: Path) -> dict[str, str]:
    """A desktop user's environment: system PATH, a home of its own, nothing of this checkout or its tests."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen"}


def run(installed: Installed, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(installed.command), *args], cwd=env["HOME"], env=env, capture_output=True, text=True, timeout=HANG
    )
    assert done.returncode == 0, f"sleuth {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_package_holds_the_menu_entry_icon_metainfo_and_no_cuda(package: Path) -> None:
    listing = subprocess.run(["dpkg-deb", "-c", str(package)], check=True, capture_output=True, text=True).stdout
    names = {line.split()[5].removeprefix(".") for line in listing.splitlines()}
    assert "./usr/bin/sleuth -> /opt/sleuth/sleuth" in listing
    assert {
        "/opt/sleuth/sleuth",
        "/usr/share/applications/sleuth.desktop",
        "/usr/share/icons/hicolor/scalable/apps/sleuth.svg",
        "/usr/share/metainfo/sleuth.metainfo.xml",
    } <= names
    unwanted = ("libtorch_cuda", "/nvidia/", "libcudart", "QtWebEngine")
    assert not [n for n in names if any(part in n for part in unwanted)]
    assert not [n for n in names if "/torch/include/" in n or n.endswith(".a")]
    depends = subprocess.run(["dpkg-deb", "-f", str(package), "Depends"], check=True, capture_output=True, text=True)
    assert "libxcb-cursor0" in depends.stdout and "libxkbcommon-x11-0" in depends.stdout
    with tarfile.open(TARBALL) as archive:
        members = set(archive.getnames())
    assert {f"sleuth-{VERSION}/sleuth", f"sleuth-{VERSION}/share/applications/sleuth.desktop"} <= members


def test_the_installed_sleuth_indexes_searches_and_opens_its_window(installed: Installed, tmp_path: Path) -> None:
    if installed.by_dpkg:
        assert Path("/usr/bin/sleuth").resolve() == Path("/opt/sleuth/sleuth")
    else:
        assert (installed.root / "usr" / "bin" / "sleuth").readlink() == Path("/opt/sleuth/sleuth")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    assert run(installed, env, "--version").strip() == f"sleuth {VERSION}"

    docs = write_corpus(tmp_path / "docs")
    (docs / "logbook.pdf").write_bytes(
        make_pdf([["The lighthouse keeper's logbook records the great storm of November 1703."]])
    )
    for n in range(POOL_MIN_FILES):  # enough files to be read in worker processes, as a real folder's are
        (docs / f"gauge-{n:02d}.txt").write_text(f"Day {n}: the allotment's rain gauge read {n} millimetres.\n")
    run(installed, env, "index", str(docs))
    status = json.loads(run(installed, env, "status", "--json"))
    assert status["files"] == len(list(docs.iterdir())) and status["unreadable"] == [], status
    found = json.loads(run(installed, env, "search", "when did Vesuvius bury Pompeii", "--json"))
    assert Path(found["results"][0]["path"]).name == "volcano.txt"
    found = json.loads(run(installed, env, "search", "lighthouse keeper storm", "--json"))
    assert Path(found["results"][0]["path"]).name == "logbook.pdf"  # read by the frozen program's PDF worker
    index = home / ".local" / "share" / "sleuth"
    assert index.is_dir()

    lines = open_window(installed, env)
    assert not [line for line in lines if "Traceback" in line or " ERROR: " in line], "\n".join(lines)

    if installed.by_dpkg:
        subprocess.run(["dpkg", "-r", "sleuth"], check=True, capture_output=True)
        assert not Path("/opt/sleuth").exists() and not Path("/usr/bin/sleuth").is_symlink()
    assert index.is_dir() and any(index.iterdir())  # the user's index stays


def open_window(installed: Installed, env: dict[str, str]) -> list[str]:
    """Start `sleuth` with no arguments, wait until it logs that the window is open, then end it; its log lines."""
    window = subprocess.Popen(
        [str(installed.command)], cwd=env["HOME"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert window.stderr is not None
        for line in window.stderr:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    try:
        while True:
            line = lines.get(timeout=HANG)
            if line is None:
                pytest.fail(f"the window exited ({window.wait()}) before it opened:\n" + "\n".join(seen))
            seen.append(line)
            if line.endswith("window open"):
                break
    finally:
        window.send_signal(signal.SIGTERM)
        window.wait(timeout=HANG)
    return seen
