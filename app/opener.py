"""Hand a file to the desktop: open it (at a PDF page where the viewer allows) or show it in its folder."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

from app.qt import QDesktopServices, QProcess, QUrl

# Linux PDF viewers that open a page given on the command line, by desktop-file name. Every one is given
# the page's 1-based index in the file, never its printed label: a book whose front matter is numbered
# i, ii, iii… would open on the wrong page by label (evince's --page-label=3 is the page printed "3").
_PAGE_ARGS: dict[str, list[str]] = {
    "evince": ["--page-index={page}", "{path}"],
    "atril": ["--page-index={page}", "{path}"],  # a fork of evince: the same option
    "xreader": ["--page-index={page}", "{path}"],  # a fork of atril: the same option
    "okular": ["--page", "{page}", "{path}"],
    "zathura": ["--page={page}", "{path}"],
    "qpdfview": ["{path}#{page}"],
    "mupdf": ["{path}", "{page}"],
}


def page_command(viewer: str, path: str, page: int) -> list[str]:
    """The arguments that open ``path`` at ``page`` (1-based, counted in the file) in ``viewer``."""
    return [arg.format(page=page, path=path) for arg in _PAGE_ARGS[viewer]]


@functools.cache
def _default_pdf_viewer() -> str | None:
    """The desktop's default PDF viewer if it is one that takes a page number."""
    if not sys.platform.startswith("linux") or shutil.which("xdg-mime") is None:
        return None
    try:
        desktop = (
            subprocess.run(
                ["xdg-mime", "query", "default", "application/pdf"],
                capture_output=True,
                text=True,
                timeout=2,
                check=False,
            )
            .stdout.strip()
            .lower()
        )
    except (OSError, subprocess.SubprocessError):
        return None
    for name in _PAGE_ARGS:
        if name in desktop and shutil.which(name):
            return name
    return None


def open_file(path: str, page: int | None = None) -> bool:
    """Open ``path`` with the system viewer; PDFs at ``page`` where the viewer supports it."""
    if page and path.lower().endswith(".pdf"):
        viewer = _default_pdf_viewer()
        if viewer is not None:
            started, _pid = QProcess.startDetached(viewer, page_command(viewer, path, page))
            if started:
                return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def show_in_folder(path: str) -> bool:
    """Reveal the file in the platform's file manager, selected where the platform can do that."""
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", path])[0]
    if sys.platform.startswith("win"):
        return QProcess.startDetached("explorer", [f"/select,{Path(path)}"])[0]
    if _file_manager_selects():
        started = QProcess.startDetached("dbus-send", show_items_args(path))[0]
        if started:
            return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))


def file_uri(path: str) -> str:
    """A file: URI with every byte but letters, digits and ``/-._~`` percent-encoded (RFC 8089).

    dbus-send splits an ``array:string:`` argument at commas, so a comma in a name must not reach it
    unencoded; names that are not valid UTF-8 keep their bytes.
    """
    return "file://" + urllib.parse.quote(os.fsencode(os.path.abspath(path)), safe="/")


def show_items_args(path: str) -> list[str]:
    """dbus-send's arguments for FileManager1.ShowItems on one file."""
    return [
        "--session",
        "--type=method_call",
        "--dest=org.freedesktop.FileManager1",
        "/org/freedesktop/FileManager1",
        "org.freedesktop.FileManager1.ShowItems",
        f"array:string:{file_uri(path)}",
        "string:",
    ]


@functools.cache
def _file_manager_selects() -> bool:
    """Whether a file manager on the session bus implements ShowItems (Nautilus, Dolphin, Nemo, …)."""
    if shutil.which("dbus-send") is None:
        return False
    try:
        names = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.ListActivatableNames",
            ],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "org.freedesktop.FileManager1" in names
