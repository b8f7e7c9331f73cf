#!/usr/bin/env python3
"""Build the broad training folder: documentation on several subjects, none of it what Sleuth evaluates on.

    python scripts/broad_corpus.py /tmp/broad-corpus          # needs apt-get (run apt-get update first)

The bundled adapter first learned from Python's documentation alone. This folder adds five other subjects,
each from a Debian 12 package fetched at a pinned version (the same way as ``scripts/build_real_folder.py``):
Perl's FAQ and tutorials (questions with their answers), PostgreSQL's manual (databases), the GIMP's user
manual (image editing), GnuCash's guide and help (personal finance and bookkeeping) and Vim's user manual
(a text editor). None of these packages is in the real-folder set, and none of the files is a Debian package
description or a manual page (the other evaluation sets). Perl's POD becomes Markdown (``pod2text``, with its
headings marked), so heading -> section pairs are mined from it as from the other files.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_real_folder import Pick, command

#: Package -> pinned version (Debian 12 "bookworm").
VERSIONS: dict[str, str] = {
    "perl-doc": "5.36.0-7+deb12u4",
    "postgresql-doc-15": "15.20-0+deb12u1",
    "gimp-help-en": "2.10.34-2",
    "gnucash-docs": "4.13-1",
    "vim-runtime": "2:9.0.1378-2+deb12u2",
}

PERL_PAGES = (
    "perlfaq1 perlfaq2 perlfaq3 perlfaq4 perlfaq5 perlfaq6 perlfaq7 perlfaq8 perlfaq9 perlunifaq perlintro "
    "perlretut perlrequick perlreftut perlootut perlopentut perlpacktut perldebtut perlthrtut perlunitut "
    "perluniintro perlstyle perltrap perlsec perlsyn perldata perlsub perlmod perlipc perlport perlperf "
    "perllocale perlnumber perlvar perlrun perlcheat perlunicook perlglossary"
).split()
_POD_HEADING = re.compile(r"^ {0,3}(\S.*)$")


def pod_to_markdown(data: bytes, name: str) -> tuple[bytes, str]:
    """POD as plain text with Markdown headings: pod2text indents body text by four spaces and headings by
    fewer, so every less-indented line becomes a heading of its own."""
    with tempfile.NamedTemporaryFile(suffix=".pod") as pod:
        pod.write(data)
        pod.flush()
        # pod2text exits non-zero on a warning (a non-ASCII character before ``=encoding``) yet writes the text.
        result = subprocess.run(["pod2text", "--utf8", pod.name], capture_output=True, check=False)
    if not result.stdout.strip():
        raise ValueError(f"pod2text could not read {name}: {result.stderr.decode(errors='replace')}")
    text = result.stdout.decode("utf-8", errors="replace")
    lines = []
    for line in text.splitlines():
        heading = _POD_HEADING.match(line)
        lines.extend([f"## {heading.group(1).strip()}", ""] if heading else [line[4:] if line[:4] == "    " else line])
    return "\n".join(lines).encode(), name.removesuffix(".pod") + ".md"


DOC = "usr/share/doc"
PICKS: tuple[Pick, ...] = (
    Pick(
        "perl-doc",
        "perl",
        tuple(f"usr/share/perl/5.36.0/pod/{page}.pod" for page in PERL_PAGES),
        convert=pod_to_markdown,
    ),
    Pick("postgresql-doc-15", "postgresql", (f"{DOC}/postgresql-doc-15/html/*.html",), every=3),
    Pick("gimp-help-en", "gimp", ("usr/share/gimp/2.0/help/en/*.html",), every=2),
    Pick(
        "gnucash-docs",
        "gnucash",
        (f"{DOC}/gnucash-docs/gnucash-guide-en/*.html", f"{DOC}/gnucash-docs/gnucash-help-en/*.html"),
        base=f"{DOC}/gnucash-docs",
    ),
    Pick("vim-runtime", "vim", ("usr/share/vim/vim90/doc/usr_*.txt",)),
)


def main(argv: list[str] | None = None) -> int:
    return command(argv, __doc__, PICKS, VERSIONS, "Sleuth's broad training text", "scripts/broad_corpus.py")


if __name__ == "__main__":
    sys.exit(main())
