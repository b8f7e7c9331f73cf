"""The big folder's file selection: every regular documentation file of an unpacked package, nothing else;
gzip files Sleuth cannot read through gzip are decompressed, those it can are kept as shipped."""

from __future__ import annotations

import gzip
import importlib.util
import sys
from pathlib import Path, PurePosixPath
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _load() -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))  # build_big_folder imports build_real_folder beside it
    spec = importlib.util.spec_from_file_location("build_big_folder", ROOT / "scripts" / "build_big_folder.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _unpacked(root: Path) -> None:
    """A package as ``dpkg-deb -x`` leaves it: documentation, a manual page, a program, a link."""
    doc = root / "usr/share/doc/pkg"
    doc.mkdir(parents=True)
    (doc / "guide.pdf").write_bytes((ROOT / "README.md").read_bytes())  # the bytes do not matter here
    (doc / "changelog.Debian.gz").write_bytes(gzip.compress(b"pkg (1.0-1) unstable; urgency=low\n"))
    (doc / "notes.txt.gz").write_bytes(gzip.compress(b"notes kept compressed\n"))
    (doc / "broken.gz").write_bytes(b"not gzip at all")
    (doc / "link.pdf").symlink_to(doc / "guide.pdf")
    man = root / "usr/share/man/de/man1"
    man.mkdir(parents=True)
    (man / "ls.1.gz").write_bytes(gzip.compress(b".TH LS 1\n"))
    tex = root / "usr/share/texlive/texmf-dist/doc/latex/tikz"
    tex.mkdir(parents=True)
    (tex / "README").write_text("TikZ\n", encoding="utf-8")
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_bytes(b"\x7fELF")
    (root / "etc").mkdir()
    (root / "etc/tool.conf").write_text("x = 1\n", encoding="utf-8")


def test_doc_files_picks_documentation_only_and_names_what_gets_decompressed(tmp_path: Path) -> None:
    module = _load()
    _unpacked(tmp_path / "x")
    picked = {relative.as_posix(): source.name for source, relative in module.doc_files(tmp_path / "x")}
    assert picked == {
        "doc/pkg/guide.pdf": "guide.pdf",
        "doc/pkg/changelog.Debian": "changelog.Debian.gz",
        "doc/pkg/notes.txt.gz": "notes.txt.gz",
        "doc/pkg/broken": "broken.gz",
        "man/de/man1/ls.1.gz": "ls.1.gz",
        "texmf-doc/latex/tikz/README": "README",
    }
    assert all(isinstance(relative, PurePosixPath) for _source, relative in module.doc_files(tmp_path / "x"))


def test_copy_docs_decompresses_unreadable_gzip_and_keeps_the_rest_as_shipped(tmp_path: Path) -> None:
    module = _load()
    _unpacked(tmp_path / "x")
    files, written = module.copy_docs(tmp_path / "x", tmp_path / "out" / "pkg")
    out = tmp_path / "out" / "pkg"
    copied = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert copied == [
        "doc/pkg/broken.gz",  # not gzip after all: kept under its own name
        "doc/pkg/changelog.Debian",
        "doc/pkg/guide.pdf",
        "doc/pkg/notes.txt.gz",
        "man/de/man1/ls.1.gz",
        "texmf-doc/latex/tikz/README",
    ]
    assert files == 6
    assert written == sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert (out / "doc/pkg/changelog.Debian").read_bytes().startswith(b"pkg (1.0-1)")
    assert gzip.decompress((out / "man/de/man1/ls.1.gz").read_bytes()) == b".TH LS 1\n"
    summary = module.summary(tmp_path / "out", {"pkg": "de"})
    assert summary["files"] == 6
    assert summary["files_by_suffix"][".gz"] == 3
    assert summary["bytes_by_language"] == {"de": written}
