"""Retrieval sets from text the system's package manager provides, where queries and answers pair up naturally.

- Debian package descriptions (``/var/lib/apt/lists``): the one-line synopsis is the query, the long
  description the document. One package per source package, so "-dev"/"-doc" siblings with near-identical
  descriptions do not make the single judged answer ambiguous.
- Manual pages (the ``manpages`` and ``manpages-dev`` packages): the NAME line's description is the query,
  the rest of the rendered page the document.
- Installed packages (``/var/lib/dpkg/status``): like the first, always present, for offline tests and CI.

Nobody on the project wrote this text, so a set cannot be tuned to the engine by accident. A document never
contains its query verbatim.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import random
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.evaluation.beir import BeirSet, Doc, EvaluationError

APT_LISTS = Path("/var/lib/apt/lists")
DPKG_STATUS = Path("/var/lib/dpkg/status")
MAN_PACKAGES = ("manpages", "manpages-dev")
# Synopses that describe packaging rather than the software: useless as queries and as documents.
_BOILERPLATE = re.compile(r"transitional|dummy package|metapackage|meta-package|debug symbols", re.IGNORECASE)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Entry:
    """One candidate pair: ``key`` becomes the document id, ``query`` its natural query."""

    key: str
    group: str  # entries of one group are near-duplicates; a set keeps at most one of them
    title: str
    query: str
    text: str


# --- reading package lists -------------------------------------------------------------------


def read_compressed(path: Path) -> str:
    """A package list as text, whatever apt compressed it with (gz, xz, bz2, lz4 or none)."""
    suffix = path.suffix
    if suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
    if suffix == ".xz":
        return lzma.decompress(path.read_bytes()).decode("utf-8", "replace")
    if suffix == ".bz2":
        return bz2.decompress(path.read_bytes()).decode("utf-8", "replace")
    if suffix in (".lz4", ".zst"):
        helper = "/usr/lib/apt/apt-helper"
        command = [helper, "cat-file", str(path)] if os.access(helper, os.X_OK) else None
        if command is None:
            tool = shutil.which("lz4cat" if suffix == ".lz4" else "zstdcat")
            if tool is None:
                raise EvaluationError(f"Cannot decompress {path}: needs apt-helper, lz4cat or zstdcat.")
            command = [tool, str(path)]
        return subprocess.run(command, check=True, capture_output=True).stdout.decode("utf-8", "replace")
    return path.read_text(encoding="utf-8", errors="replace")


def deb822(text: str) -> Iterator[dict[str, str]]:
    """Stanzas of a Debian control file; continuation lines keep their leading space and newline."""
    stanza: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if stanza:
                yield stanza
            stanza, last = {}, ""
        elif line[0] in " \t" and last:
            stanza[last] += "\n" + line
        elif ":" in line:
            last, _, value = line.partition(":")
            stanza[last] = value.strip()
    if stanza:
        yield stanza


def long_description(lines: str) -> str:
    """Debian's long-description markup as plain text: " ." is a blank line, deeper indents stay verbatim."""
    out: list[str] = []
    for line in lines.split("\n"):
        body = line[1:] if line.startswith(" ") else line
        out.append("" if body.strip() == "." else body.rstrip())
    return "\n".join(out).strip("\n")


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def strip_verbatim(text: str, query: str) -> str:
    """The text without any verbatim (case- and space-insensitive) copy of the query."""
    words = query.split()
    if not words:
        return text
    pattern = r"\s+".join(re.escape(w) for w in words)
    stripped = re.sub(pattern, "", text, flags=re.IGNORECASE)
    return stripped if stripped == text else re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", stripped)


def _package_entry(name: str, source: str, synopsis: str, long_text: str) -> Entry | None:
    synopsis = " ".join(synopsis.split())
    if not synopsis or _BOILERPLATE.search(synopsis) or not long_text.strip():
        return None
    text = strip_verbatim(long_description(long_text), synopsis)
    return Entry(key=name, group=source or name, title=name, query=synopsis, text=text)


def debian_entries(lists_dir: Path = APT_LISTS) -> list[Entry]:
    """Every binary package with an English long description in the apt lists (after ``apt-get update``).

    Current Debian keeps long descriptions in ``*_i18n_Translation-en*`` (fetched with
    ``apt-get update -o Acquire::Languages=en``); older releases and some mirrors keep them in ``Packages``.
    """
    packages = sorted(lists_dir.glob("*_Packages*"), key=lambda p: (-p.stat().st_size, p.name))
    translations = sorted(lists_dir.glob("*_i18n_Translation-en*"), key=lambda p: (-p.stat().st_size, p.name))
    if not packages:
        raise EvaluationError(f"No package lists in {lists_dir}; run: apt-get update -o Acquire::Languages=en")
    described: dict[str, str] = {}  # Description-md5 or package name -> full description
    for path in translations:
        for stanza in deb822(read_compressed(path)):
            full = stanza.get("Description-en", "")
            for key in (stanza.get("Description-md5", ""), "pkg:" + stanza.get("Package", "")):
                if key and key not in described:
                    described[key] = full
    seen: dict[str, Entry] = {}
    for path in packages:
        for stanza in deb822(read_compressed(path)):
            name = stanza.get("Package", "")
            if not name or name in seen:
                continue
            full = stanza.get("Description", "")
            if "\n" not in full:  # the synopsis only: the long text is in a translation file
                full = described.get(stanza.get("Description-md5", ""), "") or described.get("pkg:" + name, full)
            synopsis, _, long_text = full.partition("\n")
            entry = _package_entry(name, stanza.get("Source", "").split(" ")[0], synopsis, long_text)
            if entry is not None:
                seen[name] = entry
    if not seen:
        raise EvaluationError(
            f"The package lists in {lists_dir} have no long descriptions; run: apt-get update -o Acquire::Languages=en"
        )
    return [seen[name] for name in sorted(seen)]


def dpkg_entries(status: Path = DPKG_STATUS) -> list[Entry]:
    """Installed packages from dpkg's status file: present on every Debian-family system, no network."""
    try:
        text = status.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise EvaluationError(f"Cannot read {status}: {exc.strerror or exc}.") from exc
    entries = []
    for stanza in deb822(text):
        if "installed" not in stanza.get("Status", "").split():
            continue
        synopsis, _, long_text = stanza.get("Description", "").partition("\n")
        entry = _package_entry(stanza.get("Package", ""), stanza.get("Source", "").split(" ")[0], synopsis, long_text)
        if entry is not None:
            entries.append(entry)
    return sorted({e.key: e for e in entries}.values(), key=lambda e: e.key)


# --- manual pages ------------------------------------------------------------------------------

_HEADING = re.compile(r"^[A-Z][A-Z0-9 ,/&()-]*$")


def man_page_files(packages: Sequence[str] = MAN_PACKAGES) -> list[Path]:
    """The English manual pages a set of Debian packages installs (real files; links and ``.so`` stubs skipped)."""
    try:
        listing = subprocess.run(["dpkg", "-L", *packages], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise EvaluationError(
            f"Cannot list the files of {', '.join(packages)} ({exc}); install them: "
            f"apt-get install -y man-db {' '.join(packages)}"
        ) from exc
    files = []
    for line in listing.splitlines():
        path = Path(line)
        if re.fullmatch(r"/usr/share/man/man[0-9]/[^/]+", line) and path.is_file() and not path.is_symlink():
            files.append(path)
    return sorted(files)


def render_man(path: Path, width: int = 80) -> str:
    """A page as plain text, as ``man`` shows it, without hyphenation or justification."""
    env = {**os.environ, "MANWIDTH": str(width), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "MAN_KEEP_FORMATTING": ""}
    result = subprocess.run(
        ["man", "--nh", "--nj", "-l", "-P", "cat", str(path)], capture_output=True, text=True, env=env, check=False
    )
    return result.stdout


def parse_man(rendered: str) -> tuple[str, str, str] | None:
    """(names, description, body) from a rendered page; None when it has no usable NAME section."""
    lines = rendered.splitlines()
    if len(lines) < 4:
        return None
    lines = lines[1:-1]  # running header and footer
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        if line and not line[0].isspace() and _HEADING.match(line.strip()):
            sections.append((line.strip(), []))
        elif sections:
            sections[-1][1].append(line.strip())
    if not sections or sections[0][0] != "NAME":
        return None
    name_line = " ".join(" ".join(sections[0][1]).split())
    names, sep, description = name_line.partition(" - ")
    if not sep:
        return None
    body_parts = []
    for heading, body in sections[1:]:
        paragraph = "\n".join(body).strip("\n")
        paragraph = re.sub(r"\n{3,}", "\n\n", paragraph)
        body_parts.append(f"{heading}\n{paragraph}" if paragraph else heading)
    return names.strip(), description.strip(), "\n\n".join(body_parts)


def cut(text: str, max_chars: int) -> str:
    """At most ``max_chars``, cut at the last paragraph (or line) break before the limit."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    for sep in ("\n\n", "\n", " "):
        at = head.rfind(sep)
        if at > max_chars // 2:
            return head[:at].rstrip()
    return head


def man_entries(
    packages: Sequence[str] = MAN_PACKAGES, max_chars: int = 4000, progress: Callable[[str], None] | None = None
) -> list[Entry]:
    entries = []
    files = man_page_files(packages)
    for number, path in enumerate(files, 1):
        if progress is not None and number % 200 == 0:
            progress(f"rendered {number}/{len(files)} manual pages")
        parsed = parse_man(render_man(path))
        if parsed is None:
            continue
        _names, description, body = parsed
        page = path.name.removesuffix(".gz")
        stem, _, section = page.rpartition(".")
        text = cut(strip_verbatim(body, description), max_chars)
        entries.append(Entry(key=page, group=page, title=f"{stem}({section})", query=description, text=text))
    return entries


# --- making a set ------------------------------------------------------------------------------


def make_set(
    entries: Iterable[Entry],
    *,
    name: str,
    docs: int | None,
    queries: int,
    seed: int,
    min_doc_words: int = 30,
    min_query_words: int = 3,
    meta: dict[str, object] | None = None,
) -> BeirSet:
    """A seeded sample: at most one entry per group, unique long texts, queries whose text is unique.

    Each query has exactly one relevant document (grade 1), the one it describes; a synopsis shared by two
    candidates is never used as a query, since it would not say which of them is meant.
    """
    rng = random.Random(seed)
    pool = [e for e in entries if len(_WORD.findall(e.text)) >= min_doc_words]
    by_group: dict[str, list[Entry]] = {}
    for entry in sorted(pool, key=lambda e: e.key):
        by_group.setdefault(entry.group, []).append(entry)
    chosen: list[Entry] = []
    texts: set[str] = set()
    for group in sorted(by_group):
        entry = rng.choice(by_group[group])
        digest = hashlib.sha1(_normalise(entry.text).encode()).hexdigest()
        if digest not in texts:
            texts.add(digest)
            chosen.append(entry)
    query_count: dict[str, int] = {}
    for entry in pool:
        query_count[_normalise(entry.query)] = query_count.get(_normalise(entry.query), 0) + 1
    askable = [
        e for e in chosen if query_count[_normalise(e.query)] == 1 and len(_WORD.findall(e.query)) >= min_query_words
    ]
    asked = sorted(rng.sample(askable, min(queries, len(askable))), key=lambda e: e.key)
    corpus_entries = {e.key: e for e in asked}
    rest = [e for e in chosen if e.key not in corpus_entries]
    room = len(rest) if docs is None else max(0, docs - len(corpus_entries))
    for entry in rng.sample(rest, min(room, len(rest))):
        corpus_entries[entry.key] = entry
    if not asked:
        raise EvaluationError(f"No usable queries for the {name} set ({len(pool)} candidates).")
    return BeirSet(
        corpus={k: Doc(e.title, e.text) for k, e in sorted(corpus_entries.items())},
        queries={f"q:{e.key}": e.query for e in asked},
        qrels={f"q:{e.key}": {e.key: 1} for e in asked},
        name=name,
        meta={"seed": seed, "candidates": len(pool), "groups": len(by_group), **(meta or {})},
    )
