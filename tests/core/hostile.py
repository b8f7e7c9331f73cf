"""Builders of hostile files, shared by the ingest tests: real FIFOs, links, bombs and odd names."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import docx

ODT_MIMETYPE = "application/vnd.oasis.opendocument.text"
ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">
<office:body><office:text>
<text:sequence-decls><text:sequence-decl text:display="none" text:name="Table"/></text:sequence-decls>
<text:h text:outline-level="1">Platypus field notes</text:h>
<text:p>The platypus<text:s text:c="2"/>lays <text:span>eggs</text:span>.<text:tab/>Tabbed.<text:line-break/>New line.\
<office:annotation><text:p>a reviewer comment</text:p></office:annotation></text:p>
<text:tracked-changes><text:changed-region><text:deletion>\
<text:p>deleted words</text:p></text:deletion></text:changed-region></text:tracked-changes>
<table:table table:name="T"><table:table-row><table:table-cell><text:p>Site</text:p></table:table-cell>\
<table:table-cell><text:p>Count</text:p></table:table-cell><table:table-cell table:number-columns-repeated="5"/>\
</table:table-row><table:table-row><table:table-cell><text:p>Creek</text:p></table:table-cell>\
<table:table-cell><text:p>7</text:p></table:table-cell></table:table-row></table:table>
<text:p>Closing paragraph about burrows.</text:p>
</office:text></office:body></office:document-content>
"""
ODT_LINES = [
    "Platypus field notes",
    "The platypus  lays eggs.\tTabbed.",
    "New line.",
    "Site\tCount",
    "Creek\t7",
    "Closing paragraph about burrows.",
]


def write_odt(path: Path, content: str = ODT_CONTENT) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", ODT_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(
            "META-INF/manifest.xml",
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
    return path


def write_docx_bomb(path: Path, megabytes: int = 300) -> Path:
    """A real .docx whose document.xml is padded with ``megabytes`` MB of spaces: a few hundred KB on disk."""
    document = docx.Document()
    document.add_paragraph("A small document with an enormous hidden tail.")
    plain = path.with_name("plain-" + path.name)
    document.save(str(plain))
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in source.infolist():
            data = source.read(item)
            if item.filename != "word/document.xml":
                bomb.writestr(item, data)
                continue
            with bomb.open("word/document.xml", "w", force_zip64=True) as part:
                part.write(data)
                block = b" " * (1 << 20)
                for _ in range(megabytes):
                    part.write(block)
    plain.unlink()
    return path


def make_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one Helvetica line per string, one page per list."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (" ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages))).encode(), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        stream = "\n".join([*ops, "ET"]).encode("cp1252")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_long_pdf(path: Path, pages: int = 5_000) -> Path:
    """A real PDF of ``pages`` pages, three lines of text on each, page N naming record ``svNNNNN`` (a few MB;
    pdfium reads 5,000 pages in about 2 s)."""
    path.write_bytes(
        make_pdf(
            [
                [
                    f"Record sv{i + 1:05d}: the long survey of wombat burrow {i % 97}.",
                    f"Section {i // 50}: soil samples taken at a depth of {i % 13} metres.",
                    "Observers noted dry conditions and fresh tracks near the entrance.",
                ]
                for i in range(pages)
            ]
        )
    )
    return path


def write_table_html(path: Path, rows: int = 40_000) -> Path:
    cells = "".join(f"<tr><td>row {i}</td><td>value {i}</td><td>note</td></tr>" for i in range(rows))
    path.write_text(f"<html><body><table>{cells}</table></body></html>")
    return path


def make_symlink_loop(path: Path) -> Path:
    path.symlink_to(path.name)  # points at itself
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Hung(Exception):
    """Raised by ``deadline`` when the code under test blocked or looped past its time."""


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: SIGALRM interrupts a blocking open() or an endless read."""

    def fire(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def bytes_name(folder: Path, raw: bytes) -> Path:
    """A path whose name is not UTF-8, as Python's os functions hand it out (surrogate escapes)."""
    return Path(os.fsdecode(os.path.join(os.fsencode(folder), raw)))
