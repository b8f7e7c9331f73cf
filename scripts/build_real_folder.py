#!/usr/bin/env python3
"""Build the real-folder evaluation set's documents: a few hundred files the way users' folders look.

    python scripts/build_real_folder.py /work/realfolder            # needs apt-get (run apt-get update first)
    python scripts/build_real_folder.py OUT --debs /tmp/debs         # keep the downloaded .deb files there

Documentation that Debian packages ship (HTML, PDF, plain text, Markdown, reStructuredText; English, German,
French, Spanish and Japanese), on many topics: the Debian project and its tools, git, SQLite, Node.js,
CMake, backups (borg, restic), terminal tools, R and GNU Octave. Nobody on the project wrote it, and none of
it is Python's documentation (the adapter's training text), a Debian package description or a manual page
(the other evaluation sets).

Each package is fetched with ``apt-get download NAME=VERSION`` at the pinned version, unpacked with
``dpkg-deb -x`` and the chosen files are copied into OUT under a readable tree (``debian/faq/en/…``,
``sqlite/…``); ``.gz`` files are decompressed, Sphinx's ``.rst.txt`` sources become ``.rst`` and files
without a suffix get ``.txt``. ``OUT/meta.json`` records every package's version and every file's source
and sha256. The queries that judge this folder are ``benchmarks/real-folder/queries.jsonl``; they name
files by their path under OUT, so the tree must not change without them.
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any


@dataclass(frozen=True)
class Pick:
    """Files of one package: ``patterns`` (globs under the unpacked tree) copied to ``dest``.

    Paths keep their part below ``base`` (so sub-folders survive); ``every`` keeps every n-th match of a
    large set, in sorted order, so the folder stays a few hundred files. ``convert`` turns a file Sleuth
    cannot read into one it can: (decompressed bytes, name) -> (new bytes, new name).
    """

    package: str
    dest: str
    patterns: tuple[str, ...]
    base: str = ""
    every: int = 1
    exclude: tuple[str, ...] = ()
    convert: Callable[[bytes, str], tuple[bytes, str]] | None = None


#: Package -> the version the committed queries were judged against (Debian 12 "bookworm").
VERSIONS: dict[str, str] = {
    "debian-faq": "11.1",
    "debian-faq-de": "11.1",
    "doc-debian": "11.3+nmu1",
    "debian-history": "2.28",
    "maint-guide": "1.2.53",
    "maint-guide-ja": "1.2.53",
    "developers-reference": "12.18",
    "debian-reference-es": "2.100",
    "debian-kernel-handbook": "1.0.21",
    "aptitude-doc-fr": "0.8.13-5",
    "harden-doc": "3.19+nmu1",
    "git-doc": "1:2.39.5-0+deb12u3",
    "sqlite3-doc": "3.40.1-2+deb12u2",
    "nodejs-doc": "18.20.4+dfsg-1~deb12u3",
    "cmake-doc": "3.25.1-1",
    "borgbackup-doc": "1.2.4-1",
    "restic": "0.14.0-1+b5",
    "ninja-build": "1.11.1-2~deb12u1",
    "zstd": "1.5.4+dfsg2-5+deb12u1",
    "ccache": "4.8+really4.7.5-1",
    "tmux": "3.3a-3",
    "screen": "4.9.0-4",
    "jq": "1.6-2.1+deb12u3",
    "r-doc-pdf": "4.2.2.20221110-2",
    "octave-doc": "7.3.0-2",
}

DOC = "usr/share/doc"
SQLITE_PAGES = (
    "faq wal json1 datatype3 quirks whentouse foreignkeys withoutrowid stricttables limits isolation serverless "
    "selfcontained zeroconf csv uri inmemorydb autoinc nulls rowvalue partialindex expridx gencol"
).split()
NODE_PAGES = (
    "console deprecations documentation intl querystring single-executable-applications test tty worker_threads"
).split()
GIT_TECHNICAL = (
    "api-error-handling api-parse-options api-simple-ipc api-trace2 commit-graph long-running-process-protocol "
    "multi-pack-index pack-heuristics partial-clone racy-git repository-version rerere scalar shallow trivial-merge"
).split()
FAQ_DE = ("basic-defs", "choosing", "ftparchives", "support")
HISTORY = (
    "docs/*.en.html",
    "docs/*.ja.html",
    "docs/project-history.de.pdf",
    "docs/project-history.fr.pdf",
    *(f"dedication/dedication-9.0{lang}.txt" for lang in ("", ".de", ".es", ".ja")),
)

PICKS: tuple[Pick, ...] = (
    # The Debian project, in several languages.
    Pick("debian-faq", "debian/faq/en", (f"{DOC}/debian/FAQ/*.en.html",)),
    Pick("debian-faq-de", "debian/faq/de", tuple(f"{DOC}/debian/FAQ/de/{name}.de.html" for name in FAQ_DE)),
    Pick(
        "doc-debian",
        "debian/project",
        (
            f"{DOC}/debian/bug-*",
            f"{DOC}/debian/social-contract.txt.gz",
            f"{DOC}/debian/source-unpack.txt",
            f"{DOC}/debian/debian-manifesto.gz",
        ),
    ),
    Pick(
        "debian-history",
        "debian/history",
        tuple(f"{DOC}/debian-history/{pattern}" for pattern in HISTORY),
        exclude=("*/index.*.html", "*/detailed.*.html"),
    ),
    Pick("maint-guide", "debian/maint-guide", (f"{DOC}/maint-guide/maint-guide.en.pdf",)),
    Pick(
        "maint-guide-ja",
        "debian/maint-guide/ja",
        (f"{DOC}/maint-guide-ja/html/*.ja.html",),
        exclude=("*/dreq.ja.html", "*/dother.ja.html"),
    ),
    Pick(
        "developers-reference",
        "debian/developers-reference",
        tuple(f"usr/share/developers-reference/_sources/{name}.rst.txt" for name in ("pkgs", "scope", "l10n")),
    ),
    Pick(
        "debian-reference-es",
        "debian/reference/es",
        tuple(f"usr/share/debian-reference/{name}.es.html" for name in ("ch02", "ch10")),
    ),
    Pick(
        "debian-kernel-handbook",
        "debian/kernel-handbook",
        (f"{DOC}/debian-kernel-handbook/kernel-handbook.html/*.html",),
    ),
    Pick("aptitude-doc-fr", "debian/aptitude/fr", (f"{DOC}/aptitude/html/fr/ch*.html",), every=4),
    Pick("aptitude-doc-fr", "debian/aptitude/fr", (f"{DOC}/aptitude/html/fr/ch02s02s06.html",)),
    Pick("harden-doc", "debian/securing/en", (f"{DOC}/harden-doc/html/en-US/*.html",), every=6),
    Pick(
        "harden-doc",
        "debian/securing/en",
        tuple(f"{DOC}/harden-doc/html/en-US/{name}.html" for name in ("after-compromise", "restrict-sysrq")),
    ),
    Pick("harden-doc", "debian/securing/de", (f"{DOC}/harden-doc/html/de-DE/*.html",), every=9),
    Pick("harden-doc", "debian/securing/de", (f"{DOC}/harden-doc/html/de-DE/after-compromise.html",)),
    # Developer tools.
    Pick(
        "git-doc",
        "git",
        (
            f"{DOC}/git/html/howto/*.txt",
            *(f"{DOC}/git/html/technical/{name}.txt" for name in GIT_TECHNICAL),
            f"{DOC}/git/html/MyFirstContribution.txt",
            f"{DOC}/git/html/SubmittingPatches.txt",
            f"{DOC}/git/html/ReviewingGuidelines.txt",
        ),
        base=f"{DOC}/git/html",
    ),
    Pick("sqlite3-doc", "sqlite", tuple(f"{DOC}/sqlite3/{name}.html" for name in SQLITE_PAGES)),
    Pick("sqlite3-doc", "sqlite/sql", (f"{DOC}/sqlite3/lang_*.html",), every=9),
    Pick("nodejs-doc", "nodejs/api", tuple(f"{DOC}/nodejs/api/{name}.md*" for name in NODE_PAGES)),
    Pick(
        "cmake-doc",
        "cmake",
        (f"{DOC}/cmake-data/html/_sources/guide/**/*.rst.txt",),
        base=f"{DOC}/cmake-data/html/_sources",
    ),
    Pick(
        "borgbackup-doc",
        "backup/borg",
        (
            f"{DOC}/borgbackup/html/_sources/faq.rst.txt",
            f"{DOC}/borgbackup/html/_sources/quickstart.rst.txt",
            f"{DOC}/borgbackup/html/_sources/installation.rst.txt",
            f"{DOC}/borgbackup/html/_sources/deployment/*.rst.txt",
        ),
        base=f"{DOC}/borgbackup/html/_sources",
    ),
    Pick("restic", "backup/restic", (f"{DOC}/restic/html/0[1-7]*.html",), exclude=("*/020_*", "*/045_*")),
    Pick("ninja-build", "build/ninja", (f"{DOC}/ninja-build/manual.html",)),
    Pick("zstd", "tools/zstd", (f"{DOC}/zstd/README.md*", f"{DOC}/zstd/TESTING.md")),
    Pick("ccache", "tools/ccache", (f"{DOC}/ccache/README.md",)),
    Pick("tmux", "tools/tmux", (f"{DOC}/tmux/README",)),
    Pick("screen", "tools/screen", (f"{DOC}/screen/README", f"{DOC}/screen/FAQ.gz")),
    Pick("jq", "tools/jq", (f"{DOC}/jq/README",)),
    # Statistics and numerical computing.
    Pick("r-doc-pdf", "science/R", ("usr/share/R/doc/manual/R-intro.pdf", "usr/share/R/doc/manual/R-FAQ.pdf")),
    Pick("octave-doc", "science/octave", (f"{DOC}/octave/refcard-a4.pdf",)),
    Pick("octave-doc", "science/octave/manual", (f"{DOC}/octave/octave.html/*.html",), every=80),
    Pick("octave-doc", "science/octave/manual", (f"{DOC}/octave/octave.html/XREFvalidateattributes.html",)),
)


def target_name(relative: PurePosixPath) -> PurePosixPath:
    """The file's name in the folder: decompressed, ``.rst.txt`` -> ``.rst``, a suffix where there is none."""
    name = relative.name
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
    if name.endswith(".rst.txt"):
        name = name[: -len(".txt")]
    if "." not in name or name.rsplit(".", 1)[1] in ("1", "2", "3", "4", "5", "6", "7", "8", "9"):
        name += ".txt"  # README, FAQ, debian-manifesto, constitution.1.8 …
    return relative.with_name(name)


def matches(root: Path, pick: Pick) -> list[Path]:
    found: set[Path] = set()
    for pattern in pick.patterns:
        if any(ch in pattern for ch in "*?["):
            found.update(p for p in root.glob(pattern) if p.is_file())
        elif (root / pattern).is_file():
            found.add(root / pattern)
    kept = sorted(
        p for p in found if not p.is_symlink() and not any(fnmatch.fnmatch(p.as_posix(), ex) for ex in pick.exclude)
    )
    return kept[:: pick.every]


def download(packages: list[str], versions: dict[str, str], debs: Path, latest: bool) -> dict[str, Path]:
    debs.mkdir(parents=True, exist_ok=True)
    wanted = [name if latest else f"{name}={versions[name]}" for name in packages]
    missing = [name for name in packages if not list(debs.glob(f"{name}_*.deb"))]
    if missing:
        names = [w for w, n in zip(wanted, packages, strict=True) if n in missing]
        result = subprocess.run(["apt-get", "download", *names], cwd=debs, check=False)
        if result.returncode != 0:
            raise SystemExit(
                "apt-get download failed: run apt-get update first; if a pinned version has left the archive, "
                "--latest takes the current one (the judged queries may then need checking)."
            )
    return {name: sorted(debs.glob(f"{name}_*.deb"))[-1] for name in packages}


def deb_version(deb: Path) -> str:
    out = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(out: Path, picks: tuple[Pick, ...], pins: dict[str, str], debs: Path | None, latest: bool) -> dict[str, Any]:
    """Fill ``out`` (emptied first) with the picked files of the pinned packages; their record, as meta.json has it."""
    packages = list(dict.fromkeys(p.package for p in picks))
    with tempfile.TemporaryDirectory(prefix="sleuth-debs-") as tmp:
        found = download(packages, pins, debs or Path(tmp) / "debs", latest)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        versions: dict[str, str] = {}
        files: dict[str, dict[str, str]] = {}
        for package in packages:
            versions[package] = deb_version(found[package])
            root = Path(tmp) / "x" / package
            root.mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(found[package]), str(root)], check=True)
            for pick in (p for p in picks if p.package == package):
                for source in matches(root, pick):
                    inner = source.relative_to(root)
                    below = inner.relative_to(pick.base) if pick.base else PurePosixPath(inner.name)
                    relative = PurePosixPath(pick.dest) / target_name(PurePosixPath(below))
                    data = source.read_bytes()
                    data = gzip.decompress(data) if source.name.endswith(".gz") else data
                    if pick.convert is not None:
                        data, name = pick.convert(data, relative.name)
                        relative = relative.with_name(name)
                    target = out / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                    files[relative.as_posix()] = {"package": package, "source": "/" + inner.as_posix()}
    suffixes: dict[str, int] = {}
    for name, entry in files.items():
        entry["sha256"] = sha256(out / name)
        suffix = PurePosixPath(name).suffix.lower()
        suffixes[suffix] = suffixes.get(suffix, 0) + 1
    return {
        "packages": versions,
        "files_by_suffix": dict(sorted(suffixes.items())),
        "files": dict(sorted(files.items())),
    }


def command(
    argv: list[str] | None, doc: str, picks: tuple[Pick, ...], pins: dict[str, str], description: str, built_by: str
) -> int:
    """A folder builder's command line: OUT, --debs, --latest; writes OUT/meta.json."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to build (emptied first)")
    parser.add_argument("--debs", type=Path, default=None, help="keep the .deb files here (default: a temp folder)")
    parser.add_argument("--latest", action="store_true", help="take the archive's current versions, not the pins")
    args = parser.parse_args(argv)
    record = build(args.out, picks, pins, args.debs, args.latest)
    meta = {"description": description, "built_by": built_by, **record}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = f"{len(record['files'])} files from {len(record['packages'])} packages"
    print(f"{counts} in {args.out}: {record['files_by_suffix']}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    description = "Sleuth's real-folder evaluation set: documentation shipped by Debian 12 packages"
    return command(argv, __doc__, PICKS, VERSIONS, description, "scripts/build_real_folder.py")


if __name__ == "__main__":
    sys.exit(main())
