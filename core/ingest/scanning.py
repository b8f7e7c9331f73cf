"""Walk the user's folders: which files Sleuth should index, honouring exclusions and the size limit.

Exclusions are ``.gitignore``-syntax patterns (the ``exclude`` setting) matched against paths relative
to each added folder, plus, when ``respect_gitignore`` is on, the ``.gitignore`` files found inside the
added folders: each applies to its own folder and everything below it, a deeper file's verdict wins, and
``!pattern`` re-includes as in git. An excluded folder hides everything below it; nothing re-includes
what the ``exclude`` setting leaves out. ``.gitignore`` files above an added folder, git's global
excludes and ``.git/info/exclude`` are not read: Sleuth follows the folder, not the repository.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from core.ingest.documents import BINARY_CONTENT, could_be_text, is_ignored, is_supported, skip_reason
from core.ingest.files import open_regular, read_head, read_upto
from core.ingest.textdecode import SNIFF_BYTES, looks_like_text

IGNORE_FILE = ".gitignore"
#: Hashing never reads more than this, whatever a file claims or grows to while it is read.
MAX_HASH_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class FileInfo:
    path: Path
    root: Path
    size: int
    mtime: float
    #: Why the file will not be read (``unsupported file type (.zip)``), or "" when it will be.
    skipped: str = ""


class Exclusions:
    """What to leave out of a folder: the ``exclude`` patterns and, optionally, its ``.gitignore`` files."""

    def __init__(self, patterns: Sequence[str], max_bytes: int, gitignore: bool = False) -> None:
        self.spec = pathspec.GitIgnoreSpec.from_lines(patterns)
        self.max_bytes = max_bytes
        self.gitignore = gitignore
        # Parsed .gitignore files, re-read when their size or mtime changes; shared by the watcher's
        # event thread and the writer, hence the lock.
        self._ignore_files: dict[Path, tuple[tuple[int, int], pathspec.GitIgnoreSpec]] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, exclude: Sequence[str], max_file_mb: float, respect_gitignore: bool) -> Exclusions:
        """From the settings of those names."""
        return cls(exclude, int(max_file_mb * 1024 * 1024), gitignore=respect_gitignore)

    def excludes(self, relative: str, is_dir: bool = False) -> bool:
        """Whether the ``exclude`` patterns leave out this path (relative to its folder)."""
        return bool(self.spec.match_file(relative + "/" if is_dir else relative))

    def excluded(self, root: Path, path: Path, is_dir: bool = False) -> bool:
        """Whether ``path`` under the added folder ``root`` is left out, by itself or by a folder above it."""
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            return True
        memo: dict[Path, pathspec.GitIgnoreSpec | None] = {}
        return any(
            self._entry_excluded(root, parts[:depth], is_dir if depth == len(parts) else True, memo)
            for depth in range(1, len(parts) + 1)
        )

    def ignore_file(self, directory: Path) -> pathspec.GitIgnoreSpec | None:
        """The rules of ``directory/.gitignore``, or None where there is none."""
        path = directory / IGNORE_FILE
        try:
            stat = path.stat()
            key = (stat.st_mtime_ns, stat.st_size)
            with self._lock:
                cached = self._ignore_files.get(path)
            if cached is not None and cached[0] == key:
                return cached[1]
            spec = pathspec.GitIgnoreSpec.from_lines(path.read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            with self._lock:
                self._ignore_files.pop(path, None)
            return None
        with self._lock:
            self._ignore_files[path] = (key, spec)
        return spec

    def _entry_excluded(
        self, root: Path, parts: tuple[str, ...], is_dir: bool, memo: dict[Path, pathspec.GitIgnoreSpec | None]
    ) -> bool:
        """One entry, its parent folders already known to be kept."""
        if self.excludes("/".join(parts), is_dir):
            return True
        if not self.gitignore:
            return False
        for depth in range(len(parts) - 1, -1, -1):  # the deepest .gitignore that has an opinion decides
            directory = root.joinpath(*parts[:depth])
            if directory not in memo:
                memo[directory] = self.ignore_file(directory)
            spec = memo[directory]
            if spec is not None:
                verdict = spec.check_file("/".join(parts[depth:]) + ("/" if is_dir else "")).include
                if verdict is not None:
                    return verdict
        return False


def scan(root: Path, exclusions: Exclusions, too_large: list[Path] | None = None) -> Iterator[FileInfo]:
    """The files under ``root`` (or ``root`` itself when it is a file), each to be read or listed.

    Only regular files are read. Symlinked folders are never followed, so a link loop cannot trap the
    walk; a symlinked file is indexed only when its target lies inside ``root`` (one pointing outside
    is left out: Sleuth follows the folder). A FIFO, device or socket is passed on, and hashing refuses
    it with a reason the user sees; a file with no known suffix is read when its first bytes are text.
    Every other file comes with the reason it is not read (``FileInfo.skipped``: an unsupported type,
    binary content), so it is listed, not silently left out; only names that are not documents by
    policy (``documents.is_ignored``: droppings, backups, hidden files) and excluded paths are not
    yielded at all. A skipped file is listed whatever its size; the size limit applies to what is read.
    """
    yield from scan_under(root, root, exclusions, too_large)


def scan_under(
    root: Path, scope: Path, exclusions: Exclusions, too_large: list[Path] | None = None
) -> Iterator[FileInfo]:
    """The files ``scan(root)`` would find at or below ``scope``: a file, a folder, or a path that is gone."""
    if scope == root and root.is_file():
        info = _info(root, root, exclusions, too_large)
        if info:
            yield info
        return
    if scope != root:
        is_dir = scope.is_dir() and not scope.is_symlink()
        if exclusions.excluded(root, scope, is_dir):
            return
        if not is_dir:
            info = _info(scope, root, exclusions, too_large) if scope.is_file() else None
            if info:
                yield info
            return
    memo: dict[Path, pathspec.GitIgnoreSpec | None] = {}
    for dirpath, dirnames, filenames in os.walk(scope, followlinks=False):
        base = Path(dirpath)
        rel_base = base.relative_to(root).parts
        dirnames[:] = sorted(d for d in dirnames if not exclusions._entry_excluded(root, (*rel_base, d), True, memo))
        for name in sorted(filenames):
            if is_ignored(Path(name)) or exclusions._entry_excluded(root, (*rel_base, name), False, memo):
                continue
            info = _info(base / name, root, exclusions, too_large)
            if info:
                yield info


def _info(path: Path, root: Path, exclusions: Exclusions, too_large: list[Path] | None) -> FileInfo | None:
    if is_ignored(path):
        return None
    known = is_supported(path)
    skipped = "" if known or could_be_text(path) else skip_reason(path)
    try:
        info = os.stat(path)
    except OSError:
        # A dangling link, a link loop, no permission on the folder: hashing records the reason.
        return FileInfo(path, root, -1, -1.0, skipped)
    regular = stat.S_ISREG(info.st_mode)
    if regular and os.path.islink(path) and not _inside(path, root):
        return None
    if not regular:
        # Never opened here: hashing refuses it, and the file is listed with the reason.
        return FileInfo(path, root, info.st_size, info.st_mtime, skipped)
    if not known and not skipped and not _sniffed_text(path):
        skipped = BINARY_CONTENT
    if info.st_size > exclusions.max_bytes and not skipped:
        if too_large is not None:
            too_large.append(path)
        return None
    return FileInfo(path, root, info.st_size, info.st_mtime, skipped)


def _inside(link: Path, root: Path) -> bool:
    target = Path(os.path.realpath(link))
    return target.is_relative_to(os.path.realpath(root))


def _sniffed_text(path: Path) -> bool:
    """Whether the first bytes are text; one that cannot be read is passed on, for hashing to say why."""
    try:
        return looks_like_text(read_head(path, SNIFF_BYTES))
    except OSError:
        return True


def content_hash(path: Path, limit: int = MAX_HASH_BYTES) -> str:
    """The hash of a regular file's bytes; a file that grows while it is read is cut off at its opening size."""
    digest = hashlib.blake2b(digest_size=20)
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        for block in read_upto(handle, min(size, limit)):
            digest.update(block)
    return digest.hexdigest()
