#!/usr/bin/env python3
"""Build a documentation folder the size people keep: over a gigabyte, thousands of files, mostly PDF bytes.

    python scripts/build_big_folder.py /work/bigfolder --debs /work/bigdebs    # needs apt-get (apt-get update first)

Every documentation file (``usr/share/doc``, TeX Live's ``texmf-dist/doc``, ``usr/share/man``, ``usr/share/info``,
the Debian Reference's and R's own folders) that the Debian 12 packages in ``PACKAGES`` ship, copied whole into
DEST under a folder per package (``DEST/texlive-pictures-doc/doc/…``, ``DEST/manpages-de/man/de/man1/ls.1.gz``).
Unlike the real-folder evaluation sets (``scripts/build_real_folder.py``) nothing is picked by hand and no query
judges it: it measures indexing at scale (``benchmarks/big_folder.py``). TeX Live's package guides make it
PDF-heavy; French, German, Russian, Polish, Italian and Spanish TeX guides, the Debian Reference in six
languages, the Debian Administrator's Handbook's translations and translated manual pages make it
multilingual. A gzip file Sleuth reads as it is (``ls.1.gz``, ``notes.txt.gz``) is kept; any other
(``changelog.Debian.gz``, ``README.gz``, ``x.info.gz``) is decompressed, as a user would have it.

``DEST/meta.json`` records every package's version, so the folder can be built again.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_real_folder import deb_version, download

from core.ingest.documents import is_supported

#: Package -> the language of most of its documents ("multi" where it holds several, "en" otherwise).
PACKAGES: dict[str, str] = {
    "texlive-pictures-doc": "en",
    "texlive-publishers-doc": "en",
    "texlive-science-doc": "en",
    "texlive-latex-recommended-doc": "en",
    "texlive-lang-french": "fr",
    "texlive-lang-german": "de",
    "texlive-lang-cyrillic": "ru",
    "texlive-lang-polish": "pl",
    "texlive-lang-italian": "it",
    "texlive-lang-spanish": "es",
    "python3.11-doc": "en",
    "debian-reference-en": "en",
    "debian-reference-de": "de",
    "debian-reference-fr": "fr",
    "debian-reference-ja": "ja",
    "debian-reference-es": "es",
    "debian-reference-it": "it",
    "manpages-de": "de",
    "manpages-fr": "fr",
    "manpages-ja": "ja",
    "manpages-es": "es",
    "manpages-pl": "pl",
    "manpages-ru": "ru",
    "debian-handbook": "multi",
    "glibc-doc": "en",
    "debian-edu-doc-de": "de",
    "debian-edu-doc-fr": "fr",
    "octave-doc": "en",
    "r-doc-pdf": "en",
    "maxima-doc": "en",
    "postgresql-doc-15": "en",
}

#: Where a package keeps its documentation -> the folder it gets under DEST/PACKAGE.
DOC_ROOTS: dict[str, str] = {
    "usr/share/doc": "doc",
    "usr/share/texlive/texmf-dist/doc": "texmf-doc",
    "usr/share/texmf/doc": "texmf-local-doc",
    "usr/share/man": "man",
    "usr/share/info": "info",
    "usr/share/debian-reference": "debian-reference",
    "usr/share/R/doc": "R-doc",
}


def doc_files(root: Path) -> list[tuple[Path, PurePosixPath]]:
    """(file, its place under the package's folder) for every regular file below ``DOC_ROOTS`` in an
    unpacked package: symbolic links are left out, a ``.gz`` that Sleuth does not read through gzip is
    named without ``.gz`` (``copy_docs`` decompresses it)."""
    found: list[tuple[Path, PurePosixPath]] = []
    for inner, short in DOC_ROOTS.items():
        base = root / inner
        if not base.is_dir() or base.is_symlink():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            relative = PurePosixPath(short) / path.relative_to(base).as_posix()
            if path.suffix == ".gz" and not is_supported(path):
                relative = relative.with_name(relative.name[: -len(".gz")])
            found.append((path, relative))
    return found


def copy_docs(root: Path, dest: Path) -> tuple[int, int]:
    """Copy ``doc_files(root)`` under ``dest``, decompressing what they rename; (files, bytes) written."""
    files = written = 0
    for source, relative in doc_files(root):
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.name != relative.name:
            try:
                target.write_bytes(gzip.decompress(source.read_bytes()))
            except (gzip.BadGzipFile, EOFError, zlib.error):
                shutil.copyfile(source, target.with_name(source.name))  # not gzip after all: kept as shipped
                target = target.with_name(source.name)
        else:
            shutil.copyfile(source, target)
        files += 1
        written += target.stat().st_size
    return files, written


def summary(dest: Path, languages: dict[str, str]) -> dict[str, Any]:
    """What the folder holds: files, bytes, files and bytes per extension, PDF share, bytes per language."""
    count: Counter[str] = Counter()
    size: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    for path in dest.rglob("*"):
        if not path.is_file() or path.parent == dest:
            continue
        suffix = path.suffix.lower() or "(none)"
        count[suffix] += 1
        size[suffix] += path.stat().st_size
        by_language[languages.get(path.relative_to(dest).parts[0], "?")] += path.stat().st_size
    total = sum(size.values())
    return {
        "files": sum(count.values()),
        "bytes": total,
        "pdf_bytes_share": round(size[".pdf"] / total, 3) if total else 0.0,
        "files_by_suffix": dict(count.most_common()),
        "bytes_by_suffix": dict(size.most_common()),
        "bytes_by_language": dict(by_language.most_common()),
    }


def build(dest: Path, debs: Path, scratch_parent: Path | None) -> dict[str, Any]:
    found = download(list(PACKAGES), {}, debs, latest=True)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    versions: dict[str, str] = {}
    for package, deb in found.items():
        versions[package] = deb_version(deb)
        with tempfile.TemporaryDirectory(prefix="sleuth-bigdeb-", dir=scratch_parent) as scratch:
            subprocess.run(["dpkg-deb", "-x", str(deb), scratch], check=True)
            files, written = copy_docs(Path(scratch), dest / package)
        print(f"{package} {versions[package]}: {files} files, {written / 1e6:.1f} MB", file=sys.stderr, flush=True)
    return {
        "description": "Documentation of Debian 12 packages, every file as shipped: a folder the size people keep",
        "built_by": "scripts/build_big_folder.py",
        "packages": versions,
        "languages": {p: PACKAGES[p] for p in versions},
        "doc_roots": DOC_ROOTS,
        **summary(dest, PACKAGES),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="the folder to build (emptied first)")
    parser.add_argument("--debs", type=Path, default=Path("/work/bigdebs"), help="the .deb cache (kept)")
    parser.add_argument("--scratch", type=Path, default=None, help="where packages are unpacked (default: a temp)")
    args = parser.parse_args(argv)
    meta = build(args.dest, args.debs, args.scratch)
    (args.dest / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    suffixes = ", ".join(f"{s} {n}" for s, n in list(meta["files_by_suffix"].items())[:12])
    languages = ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in meta["bytes_by_language"].items())
    print(
        f"{args.dest}: {meta['files']} files, {meta['bytes'] / 1e9:.2f} GB from {len(PACKAGES)} packages; "
        f"PDF share of bytes {meta['pdf_bytes_share']:.0%}\n  by extension: {suffixes}\n  by language: {languages}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
