"""Zip-based documents (.docx, .pptx, .xlsx, OpenDocument, .epub), opened only after a zip-bomb check.

Their readers hold parts whole, so a part's declared size is checked before anything is inflated.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

from core.errors import CorruptFile, EncryptedFile, UnsupportedFile
from core.ingest.text import MAX_TEXT_BYTES, read_bytes

#: A compressed stream may expand to MAX_TEXT_BYTES, but past this size no more than MAX_GZIP_RATIO times
#: its compressed size: text compresses 3-10 fold, a decompression bomb a thousand fold.
GZIP_RATIO_FROM = 1024 * 1024
MAX_GZIP_RATIO = 100
#: A zip-based document whose parts expand past this is refused: its readers hold parts whole.
MAX_ZIP_BYTES = 256 * 1024 * 1024
#: Parts parsed whole into a tree several times their size.
_MARKUP_PARTS = (".xml", ".xhtml", ".html", ".htm", ".opf")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_zip(path: Path, archive: zipfile.ZipFile, streamed: tuple[str, ...] = ()) -> None:
    """Refuse a zip whose declared part sizes or compression ratios say bomb, before any part is read.

    Python's zipfile never inflates a part past its declared size, so the declaration is a real bound.
    A markup part is refused past ``MAX_TEXT_BYTES`` unless its name starts with one of ``streamed``
    (parts its reader parses as a stream, such as a workbook's sheets): those are bounded by the total.
    """
    total = 0
    for member in archive.infolist():
        total += member.file_size
        big = member.file_size > GZIP_RATIO_FROM
        if total > MAX_ZIP_BYTES or (big and member.file_size > MAX_GZIP_RATIO * max(member.compress_size, 1)):
            expands = sum(m.file_size for m in archive.infolist()) / 2**20
            raise CorruptFile(path, f"compressed parts expand to {expands:,.0f} MB; refused as a possible zip bomb")
        name = member.filename
        if name.lower().endswith(_MARKUP_PARTS) and member.file_size > MAX_TEXT_BYTES and not name.startswith(streamed):
            raise UnsupportedFile(path, f"too large to index (its text part is {member.file_size / 2**20:,.0f} MB)")


def open_zip(path: Path, handle: IO[bytes], kind: str, streamed: tuple[str, ...] = ()) -> zipfile.ZipFile:
    """The checked archive on ``handle``; ``kind`` names the format in the error ("a Word document")."""
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise CorruptFile(path, f"damaged or not {kind}") from exc
    check_zip(path, archive, streamed)
    return archive


def refuse_ole(path: Path, handle: IO[bytes], old_format: str) -> None:
    """An Office file that is not a zip: password protected (Office wraps those in OLE), or the old format.

    Leaves ``handle`` at its start.
    """
    head = handle.read(len(_OLE_MAGIC))
    handle.seek(0)
    if head != _OLE_MAGIC:
        return
    if "EncryptedPackage".encode("utf-16-le") in read_bytes(path, capped=False):
        raise EncryptedFile(path, "password protected")
    raise CorruptFile(path, f"an old-format {old_format}, not {path.suffix.lower()}")
