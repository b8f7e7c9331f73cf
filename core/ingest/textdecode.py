"""Decode text files whose encoding nobody recorded.

A BOM or valid UTF-8 settles it (ISO-2022 text is 7-bit, so its escapes are
looked for first). Latin-script Windows code pages are judged with a simple
test that needs no language model: charset-normalizer misreads short Western
text ("café" as Urdu cp1006). The legacy CJK multi-byte encodings are judged
by a strict trial decode and a plausibility score: charset-normalizer calls
ordinary Japanese with bullets or box lines "too messy" and returns nothing.
Charset-normalizer decides what is left (Cyrillic, Greek, …). A file is binary
only when it holds NUL bytes or no decoder reads it.
"""

from __future__ import annotations

import codecs
from collections import Counter
from functools import cache
from pathlib import Path
from typing import NamedTuple

from core.errors import CorruptFile


class Decoded(NamedTuple):
    text: str
    encoding: str  # Python's codec name, recorded so that a wrong guess can be seen


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
GZIP_MAGIC = b"\x1f\x8b"
BINARY = "not a text file (binary content)"
COMPRESSED = "compressed (gzip), not text: name it .gz to have it read"
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


# --- CJK multi-byte encodings -----------------------------------------------------------------

# ISO-2022 is 7-bit: it is also valid UTF-8 (ASCII), so its designations are looked for first.
_ISO2022_ESCAPES = (b"\x1b$@", b"\x1b$B", b"\x1b$A", b"\x1b$(", b"\x1b$)C")
_ISO2022 = ("iso2022_jp", "iso2022_jp_2", "iso2022_jp_ext", "iso2022_kr")

# Each family's encodings, base set first: the first that reads the sample strictly is tried,
# so a file is named Shift-JIS unless it uses Microsoft's cp932 additions (①, Ⅱ, …).
_FAMILIES = {
    "ko": ("euc_kr", "cp949"),
    "ja": ("shift_jis", "cp932", "euc_jp", "euc_jis_2004"),
    "zh-hant": ("big5", "cp950", "big5hkscs"),
    "zh-hans": ("gbk", "gb18030"),
}
# Where a family's national standard keeps what ordinary text uses: (codec, lead-byte ranges).
# Symbol rows, kana, and the first level of ideographs or the KS X 1001 Hangul; a misread
# file lands mostly in rare ideographs, extension areas or other scripts' rows.
_COMMON_ROWS = {
    "ja": ("euc_jp", ((0xA1, 0xA8), (0xB0, 0xCF))),  # symbols, kana, Greek, Cyrillic, box; JIS level 1
    "zh-hans": ("gb2312", ((0xA1, 0xA3), (0xA6, 0xA9), (0xB0, 0xD7))),  # not rows 4-5 (kana); level 1
    "zh-hant": ("big5", ((0xA1, 0xA3), (0xA4, 0xC6))),  # symbols, bopomofo; frequently used hanzi
    "ko": ("euc_kr", ((0xA1, 0xA3), (0xA6, 0xA9))),  # not jamo, Greek or kana rows; Hangul below
}
#: The least share of non-ASCII characters that must be common for a family's reading to count.
MIN_CJK_FIT = 0.7
#: The most unreadable characters (a share of all) a reading without a strict candidate may hold.
MAX_UNREADABLE = 0.005
#: Japanese prose is full of kana; read as Japanese, Korean or Chinese text has next to none.
MIN_KANA = 0.1


def _kana(char: str) -> bool:
    # Not halfwidth katakana: the bytes of EUC and GBK text read as Shift-JIS are full of them.
    return "\u3040" <= char <= "\u30ff"


@cache
def _common(char: str, family: str) -> bool:
    if family == "ja" and (_kana(char) or "\uff66" <= char <= "\uff9f"):
        return True
    if family == "ko" and "\uac00" <= char <= "\ud7a3":
        return True  # cp949's extra syllables too: they are Korean, however rare
    codec, rows = _COMMON_ROWS[family]
    try:
        raw = char.encode(codec)
    except UnicodeEncodeError:
        return False
    return len(raw) == 2 and any(low <= raw[0] <= high for low, high in rows)


def cjk_fit(text: str, family: str) -> float:
    """Share of the non-ASCII characters in ``text`` that text in ``family``'s languages commonly uses."""
    counts = Counter(text)
    total = sum(n for char, n in counts.items() if char > "\x7f")
    if not total:
        return 0.0
    if family == "ja" and sum(n for char, n in counts.items() if _kana(char)) < MIN_KANA * total:
        return 0.0
    fit = sum(n for char, n in counts.items() if char > "\x7f" and _common(char, family)) / total
    if family == "zh-hant" and total >= 20 and _low_trail_share(counts) < 0.1:
        # About 40% of Big5 characters end in a byte of ASCII's range; EUC-JP, GB2312 and
        # EUC-KR never do, and Big5 reads their bytes as common hanzi.
        fit /= 2
    return fit


def _low_trail_share(counts: Counter[str]) -> float:
    pairs = low = 0
    for char, n in counts.items():
        raw = char.encode("big5hkscs", errors="ignore") if char > "\x7f" else b""
        if len(raw) == 2:
            pairs += n
            low += n * (raw[1] < 0x80)
    return low / pairs if pairs else 0.0


def _trial(sample: bytes, encoding: str, *, whole: bool) -> str | None:
    """The strict decode, or None; a sample may end inside a character."""
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=whole)
    except UnicodeDecodeError:
        return None


def _cjk(data: bytes) -> Decoded | None:
    sample = data[:_SAMPLE_BYTES]
    whole = len(data) <= _SAMPLE_BYTES
    scored: list[tuple[float, int, str]] = []
    for order, (family, encodings) in enumerate(_FAMILIES.items()):
        for encoding in encodings:
            text = _trial(sample, encoding, whole=whole)
            if text is not None:
                scored.append((round(cjk_fit(text, family), 2), -order, encoding))
                break
    # Best fit first; a tie (to two places) goes to the family listed first. Korean read as GBK is all common
    # hanzi, but Chinese text nearly always holds a character that EUC-KR cannot read: Korean first.
    for fit, _order, encoding in sorted(scored, reverse=True):
        if fit < MIN_CJK_FIT:
            break
        try:
            return Decoded(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue  # past the sample: a byte this encoding lacks
    # No strict reading: a file with a few bytes of a vendor's extension (or damage) is still text.
    for family, encodings in _FAMILIES.items():
        text = data.decode(encodings[-1], errors="replace")
        unreadable = text.count("\ufffd")
        if unreadable <= MAX_UNREADABLE * len(text) and cjk_fit(text[:_SAMPLE_BYTES], family) >= MIN_CJK_FIT:
            return Decoded(text, encodings[-1])
    return None


def _iso2022(data: bytes) -> Decoded | None:
    if not any(escape in data for escape in _ISO2022_ESCAPES) or max(data) > 0x7F:
        return None
    for encoding in _ISO2022:
        try:
            return Decoded(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue
    return None


# --- entry points ------------------------------------------------------------------------------


def decode(data: bytes, path: Path, *, declared: str | None = None) -> Decoded:
    """Decode bytes: BOM, ISO-2022, UTF-8, the ``declared`` encoding (HTML's), then a guess.

    Valid UTF-8 beats a declaration because pages saved as UTF-8 often keep
    an old charset tag. As in browsers, a declared Latin-1 or ASCII is cp1252.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding)
            except UnicodeDecodeError as exc:
                raise CorruptFile(path, f"not valid {encoding.upper()} text") from exc
    if not data:
        return Decoded("", "utf-8")
    if data.startswith(GZIP_MAGIC):  # never valid UTF-8 or any text encoding's opening
        raise CorruptFile(path, COMPRESSED)
    iso2022 = _iso2022(data)
    if iso2022 is not None:
        return iso2022
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            name = codecs.lookup(declared).name
        except LookupError:
            name = ""
        if name:
            name = "cp1252" if name in ("ascii", "iso8859-1") else name
            return Decoded(data.decode(name, errors="replace"), name)
    if b"\x00" in data[:8192]:
        raise CorruptFile(path, BINARY)
    code_page = _latin_code_page(data[:_SAMPLE_BYTES])
    if code_page is not None:
        return Decoded(data.decode(code_page, errors="replace"), code_page)
    cjk = _cjk(data)
    if cjk is not None:
        return cjk
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise CorruptFile(path, BINARY)
    return Decoded(str(best), best.encoding)


#: How much of a file with no known suffix is read to tell text from binary.
SNIFF_BYTES = 8192
#: The most control characters (a share of all) that a text file's first bytes may hold.
MAX_CONTROL_SHARE = 0.01


def looks_like_text(head: bytes) -> bool:
    """Whether a file's first bytes are text (``README.Debian``, ``CHANGES``), judged as ``decode`` would read them."""
    if not head.strip():
        return False  # empty or blank: nothing to index
    text = None
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            text = codecs.getincrementaldecoder(encoding)("replace").decode(head, final=False)
            break
    if text is None:
        try:  # the sample may end inside a character
            text = codecs.getincrementaldecoder("utf-8")("strict").decode(head, final=False)
        except UnicodeDecodeError:
            try:
                text = decode(head, Path("sample")).text
            except CorruptFile:
                return False
    odd = sum(1 for char in text if (char < " " and char not in "\t\n\r\f") or "\x7f" <= char <= "\x9f")
    odd += text.count("\ufffd")
    return odd <= MAX_CONTROL_SHARE * len(text)


def decode_text(data: bytes, path: Path, *, declared: str | None = None) -> str:
    """``decode`` without the encoding's name."""
    return decode(data, path, declared=declared).text
