"""EPUB books: the chapters in reading (spine) order, each XHTML part through the HTML cleaner.

The zip is checked for bombs first; container.xml names the package file, whose spine lists the
chapters. A book whose chapters are encrypted (DRM) is refused as such; the font obfuscation many
books use is not encryption of their text and does not stop them.
"""

from __future__ import annotations

import posixpath
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

from core.errors import CorruptFile, EncryptedFile, ExtractionTimeout
from core.ingest.files import open_regular
from core.ingest.markup import html_document
from core.ingest.text import Document, normalise
from core.ingest.zipped import open_zip

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_ENC = "{http://www.w3.org/2001/04/xmlenc#}"
#: Font obfuscation (IDPF, Adobe): fonts scrambled against copying, the text left as it is.
_FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/xml"})


def extract_epub(path: Path, timeout: float) -> Document:
    deadline = time.monotonic() + timeout
    chapters: list[str] = []
    with open_regular(path) as handle, open_zip(path, handle, "an EPUB book") as archive:
        names = set(archive.namelist())
        _refuse_drm(path, archive, names)
        for name in _spine(path, archive, names):
            left = deadline - time.monotonic()
            if left <= 0:
                raise ExtractionTimeout(path, "took too long to read")
            chapters.append(html_document(path, archive.read(name), left, title=False).text)
    return Document(path, normalise("\n\n".join(chapter for chapter in chapters if chapter)))


def _xml(path: Path, archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(archive.read(name))
    except ElementTree.ParseError as exc:
        raise CorruptFile(path, f"damaged EPUB book ({name} is not well-formed)") from exc


def _refuse_drm(path: Path, archive: zipfile.ZipFile, names: set[str]) -> None:
    if "META-INF/encryption.xml" not in names:
        return
    for method in _xml(path, archive, "META-INF/encryption.xml").iter(_ENC + "EncryptionMethod"):
        if method.get("Algorithm", "") not in _FONT_OBFUSCATION:
            raise EncryptedFile(path, "DRM protected (its chapters are encrypted)")


def _spine(path: Path, archive: zipfile.ZipFile, names: set[str]) -> list[str]:
    """The archive names of the chapters, in reading order; those missing from the archive are passed over."""
    if "META-INF/container.xml" not in names:
        raise CorruptFile(path, "damaged or not an EPUB book (no META-INF/container.xml)")
    rootfile = _xml(path, archive, "META-INF/container.xml").find(f".//{_CONTAINER}rootfile")
    package = rootfile.get("full-path", "") if rootfile is not None else ""
    if package not in names:
        raise CorruptFile(path, "damaged EPUB book (its package file is missing)")
    opf = _xml(path, archive, package)
    base = posixpath.dirname(package)
    items: dict[str, str] = {}
    for item in opf.iter(_OPF + "item"):
        if item.get("media-type", "") in _CHAPTER_TYPES and item.get("href"):
            href = urllib.parse.unquote(item.get("href", "").split("#", 1)[0])
            items[item.get("id", "")] = posixpath.normpath(posixpath.join(base, href))
    order = [items.get(ref.get("idref", "")) for ref in opf.iter(_OPF + "itemref")]
    return [name for name in order if name is not None and name in names]
