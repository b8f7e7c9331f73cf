"""Walk the user's folders: which files Sleuth should index, honouring exclusions and the size limit."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from core.documents import is_supported


@dataclass(frozen=True)
class FileInfo:
    path: Path
    root: Path
    size: int
    mtime: float


class Exclusions:
    """``.gitignore``-syntax patterns, matched against paths relative to each folder."""

    def __init__(self, patterns: Sequence[str], max_bytes: int) -> None:
        self.spec = pathspec.GitIgnoreSpec.from_lines(patterns)
        self.max_bytes = max_bytes

    def excludes(self, relative: str, is_dir: bool = False) -> bool:
        return bool(self.spec.match_file(relative + "/" if is_dir else relative))


def scan(root: Path, exclusions: Exclusions, too_large: list[Path] | None = None) -> Iterator[FileInfo]:
    """Supported files under ``root`` (or ``root`` itself when it is a file). Symlinked folders are not followed."""
    if root.is_file():
        info = _info(root, root.parent, exclusions, too_large)
        if info:
            yield info
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        rel_base = base.relative_to(root).as_posix()
        prefix = "" if rel_base == "." else rel_base + "/"
        dirnames[:] = sorted(d for d in dirnames if not exclusions.excludes(prefix + d, is_dir=True))
        for name in sorted(filenames):
            if exclusions.excludes(prefix + name):
                continue
            info = _info(base / name, root, exclusions, too_large)
            if info:
                yield info


def _info(path: Path, root: Path, exclusions: Exclusions, too_large: list[Path] | None) -> FileInfo | None:
    if not is_supported(path):
        return None
    try:
        stat = path.stat()
    except OSError:
        # Unreadable entries still go to extraction, which records the reason on the file.
        return FileInfo(path, root, -1, -1.0)
    if stat.st_size > exclusions.max_bytes:
        if too_large is not None:
            too_large.append(path)
        return None
    return FileInfo(path, root, stat.st_size, stat.st_mtime)


def content_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
