#!/usr/bin/env python3
"""Build Sleuth's retrieval evaluation sets (BEIR format) from text the system's package manager provides.

    python scripts/build_eval_sets.py OUT                 # all three sets
    python scripts/build_eval_sets.py OUT --sets dpkg     # the offline one only (CI)

Sets, each in OUT/<name>/ (corpus.jsonl, queries.jsonl, qrels/test.tsv, meta.json):

- ``debian-packages`` (A): synopsis -> long description of Debian packages, one package per source package.
  Needs the long descriptions: ``apt-get update -o Acquire::Languages=en`` (root; ``--apt-update`` runs it).
- ``manpages`` (B): NAME description -> the rest of the rendered page, from the ``manpages`` and
  ``manpages-dev`` packages (``apt-get install -y man-db manpages manpages-dev``).
- ``dpkg-status``: synopsis -> long description of the installed packages; offline, always present.

The same seed and the same package lists give byte-identical files.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.evaluation.beir import write_beir
from core.evaluation.sources import (
    APT_LISTS,
    DPKG_STATUS,
    MAN_PACKAGES,
    debian_entries,
    dpkg_entries,
    make_set,
    man_entries,
)

SETS = ("debian", "man", "dpkg")


def _package_version(name: str) -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, check=False)
        return out.stdout.strip()
    except OSError:
        return ""


def _release_dates(lists_dir: Path) -> list[str]:
    dates = []
    for release in sorted(lists_dir.glob("*InRelease")):
        for line in release.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Date:"):
                dates.append(f"{release.name.split('_dists_')[-1].removesuffix('_InRelease')}: {line[5:].strip()}")
                break
    return dates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the sets into")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, from {', '.join(SETS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--debian-docs", type=int, default=5000)
    parser.add_argument("--debian-queries", type=int, default=400)
    parser.add_argument("--man-queries", type=int, default=400)
    parser.add_argument("--man-max-chars", type=int, default=3000, help="cut each page after this many characters")
    parser.add_argument("--dpkg-docs", type=int, default=None, help="default: every usable installed package")
    parser.add_argument("--dpkg-queries", type=int, default=100)
    parser.add_argument("--apt-lists", type=Path, default=APT_LISTS)
    parser.add_argument("--dpkg-status", type=Path, default=DPKG_STATUS)
    parser.add_argument("--apt-update", action="store_true", help="run apt-get update for English descriptions")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SETS))
    if unknown:
        parser.error(f"unknown set(s): {', '.join(unknown)}")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if "debian" in chosen:
        if args.apt_update:
            subprocess.run(["apt-get", "update", "-o", "Acquire::Languages=en"], check=True)
        entries = debian_entries(args.apt_lists)
        beir = make_set(
            entries,
            name="debian-packages",
            docs=args.debian_docs,
            queries=args.debian_queries,
            seed=args.seed,
            meta={
                "source": "Debian package lists (synopsis -> long description)",
                "lists": _release_dates(args.apt_lists),
            },
        )
        log(f"debian-packages: {beir.summary()}")
        write_beir(beir, args.out / "debian-packages")
    if "man" in chosen:
        entries = man_entries(MAN_PACKAGES, max_chars=args.man_max_chars, progress=log)
        beir = make_set(
            entries,
            name="manpages",
            docs=None,
            queries=args.man_queries,
            seed=args.seed,
            min_doc_words=20,
            meta={
                "source": "manual pages, NAME description -> rest of the page",
                "packages": {p: _package_version(p) for p in MAN_PACKAGES},
                "max_chars": args.man_max_chars,
            },
        )
        log(f"manpages: {beir.summary()}")
        write_beir(beir, args.out / "manpages")
    if "dpkg" in chosen:
        beir = make_set(
            dpkg_entries(args.dpkg_status),
            name="dpkg-status",
            docs=args.dpkg_docs,
            queries=args.dpkg_queries,
            seed=args.seed,
            min_doc_words=15,
            meta={"source": f"installed packages in {args.dpkg_status} (synopsis -> long description)"},
        )
        log(f"dpkg-status: {beir.summary()}")
        write_beir(beir, args.out / "dpkg-status")
    return 0


if __name__ == "__main__":
    sys.exit(main())
