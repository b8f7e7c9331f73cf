"""Decode text files whose encoding nobody recorded.

A BOM or valid UTF-8 settles it. Otherwise charset-normalizer is good at
Cyrillic, Greek and CJK but misreads short Western text ("café" as Urdu
cp1006), so Latin-script Windows code pages are judged first with a simple
test that needs no language model.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from core.errors import CorruptFile

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Read under the right code page, nearly every non-ASCII character is a
# letter or mark its languages use (Polish "ł" read as cp1252 is "³"). Ties
# go to cp1252, the common default. Known miss: Hungarian "ő"/"ű" tie with
# cp1252's "õ"/"û".
_PUNCT = "€‚„…‘’“”•–—«»°§£©®·±×÷µ¿¡ºª"
_WEST = "àáâãäåæçèéêëìíîïñòóôõöøùúûüÿœšžß"
_LATIN_PAGES = {
    page: frozenset(chars + chars.upper() + _PUNCT)
    for page, chars in {
        "cp1252": _WEST,
        "cp1250": "ąćęłńóśźżčďěňřšťůžőűáéíóúýäöüôĺľŕâăîşţđë",
        "cp1254": _WEST + "ğış",
        "cp1257": "ąčęėįšųūžāēģīķļņōŗõäöüéó",
    }.items()
}
_SAMPLE_BYTES = 64 * 1024
_ASCII_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _latin_fit(sample: bytes, encoding: str) -> float:
    """Share of non-ASCII characters that ``encoding``'s languages use."""
    unusual = [char for char in sample.decode(encoding, errors="replace") if ord(char) > 127]
    expected = _LATIN_PAGES[encoding]
    return sum(char in expected for char in unusual) / len(unusual) if unusual else 0.0


def _latin_code_page(sample: bytes) -> str | None:
    # Latin-script words are mostly ASCII letters; Cyrillic, Greek or CJK bytes are not.
    high = sum(byte > 127 for byte in sample)
    if high > 0.4 * (high + sum(byte in _ASCII_LETTERS for byte in sample)):
        return None
    fits = {page: _latin_fit(sample, page) for page in _LATIN_PAGES}
    top = max(fits.values())
    if top < 0.95:
        return None
    best = [page for page, fit in fits.items() if fit == top]
    if best[0] == "cp1252" or len(best) == 1:
        return best[0]
    from charset_normalizer import from_bytes  # e.g. Polish or Lithuanian: ask which language

    match = from_bytes(sample, cp_isolation=best).best()
    return match.encoding if match is not None else best[0]


def decode_text(data: bytes, path: Path, *, declared: str | None = None) -> str:
    """Decode bytes: BOM, then UTF-8, then the ``declared`` encoding (HTML's), then a guess.

    Valid UTF-8 beats a declaration because pages saved as UTF-8 often keep
    an old charset tag. As in browsers, a declared Latin-1 or ASCII is cp1252.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise CorruptFile(path, f"not valid {encoding.upper()} text") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            name = codecs.lookup(declared).name
        except LookupError:
            name = ""
        if name:
            return data.decode("cp1252" if name in ("ascii", "iso8859-1") else name, errors="replace")
    if b"\x00" in data[:8192]:
        raise CorruptFile(path, "not a text file (binary content)")
    code_page = _latin_code_page(data[:_SAMPLE_BYTES])
    if code_page is not None:
        return data.decode(code_page, errors="replace")
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise CorruptFile(path, "not a text file (binary content)")
    return str(best)
