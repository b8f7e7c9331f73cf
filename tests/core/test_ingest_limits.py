"""Extraction and chunking do work in proportion to their input, within a time limit and bounded memory."""

from __future__ import annotations

import itertools
import random
import time
import zipfile
from pathlib import Path

import pytest

from core.errors import CorruptFile, EncryptedFile, ExtractionTimeout
from core.ingest import chunking
from core.ingest.chunking import Chunk, chunk_text
from core.ingest.documents import extract, normalise
from tests.conftest import build_tiny_tokenizer
from tests.core.hostile import ODT_LINES, deadline, make_pdf, write_odt, write_table_html

# --- HTML ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "html"),
    [
        ("siblings.html", "<html><body>" + "".join(f"<p>para {i}</p>" for i in range(40_000)) + "</body></html>"),
        ("deep.html", "<html><body>" + "<div>x" * 8000 + "</div>" * 8000 + "</body></html>"),
    ],
)
def test_html_extraction_is_linear(tmp_path: Path, name: str, html: str) -> None:
    # Before: 10,000 sibling paragraphs took 30 s and 40,000 minutes; 8,000 nested divs a minute.
    path = tmp_path / name
    path.write_text(html)
    started = time.monotonic()
    with deadline(60):
        text = extract(path).text
    assert time.monotonic() - started < 10
    lines = text.split("\n")
    assert lines[0] in ("para 0", "x") and lines[-1] in ("para 39999", "x")


def test_html_table_of_40000_rows(tmp_path: Path) -> None:
    path = write_table_html(tmp_path / "table.html")
    started = time.monotonic()
    with deadline(60):
        text = extract(path).text
    assert time.monotonic() - started < 15
    assert "row 0 value 0 note" in text and "row 39999 value 39999 note" in text


def test_html_extraction_stops_at_its_time_limit(tmp_path: Path) -> None:
    path = write_table_html(tmp_path / "table.html", rows=5000)
    with pytest.raises(ExtractionTimeout, match="took too long"):
        extract(path, timeout=0)


def test_html_drops_doctype_navigation_and_heading_anchors(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        '<!DOCTYPE html SYSTEM "about:legacy-compat">\n'
        "<html><head><title>Echidna guide</title></head><body>"
        '<nav><a href="/">Home</a> | <a href="/about">About</a></nav>'
        '<div role="navigation" class="related"><a href="prev.html">previous</a></div>'
        '<h1>Echidnas<a class="headerlink" href="#echidnas" title="Link to this heading">¶</a></h1>'
        "<p>Echidnas lay eggs.</p><pre>keep   this\n  spacing</pre>"
        "</body></html>"
    )
    text = extract(path).text
    lines = [line for line in text.split("\n") if line]
    assert lines == ["Echidna guide", "Echidnas", "Echidnas lay eggs.", "keep this", "spacing"]
    for gone in ("legacy-compat", "SYSTEM", "Home", "About", "previous", "¶"):
        assert gone not in text


def test_html_drops_the_previous_and_next_bars_of_generated_manuals(tmp_path: Path) -> None:
    # DocBook XSL (Debian's FAQ, PostgreSQL, GnuCash) and Texinfo 7 put the neighbouring pages' titles in
    # bars above and below each page; a search for a neighbour must not find this page by them.
    docbook = tmp_path / "ch3.html"
    docbook.write_text(
        "<html><head><title>Chapter 3. Choosing</title></head><body>"
        '<div class="navheader"><table><tr><th>Chapter 3. Choosing</th></tr><tr><td><a href="ch2.html">Prev'
        '</a></td><td><a href="ch4.html">Next</a></td></tr></table></div>'
        '<div class="chapter"><h2 class="title">Chapter 3. Choosing</h2><p>Stable suits servers.</p></div>'
        '<div class="navfooter"><table><tr><td>Chapter 2. Installing Debian</td><td>Chapter 4. Compatibility'
        "</td></tr></table></div></body></html>"
    )
    texinfo = tmp_path / "plots.html"
    texinfo.write_text(
        '<html><body><div class="nav-panel"><p>Next: <a href="t.html">Test Plotting</a>, Up: '
        '<a href="h.html">High-Level Plotting</a></p></div><h4>Interacting with Plots</h4>'
        "<p>Select points with ginput.</p></body></html>"
    )
    assert [line for line in extract(docbook).text.split("\n") if line] == [
        "Chapter 3. Choosing",
        "Stable suits servers.",
    ]
    assert [line for line in extract(texinfo).text.split("\n") if line] == [
        "Interacting with Plots",
        "Select points with ginput.",
    ]


# --- zip-based documents ------------------------------------------------------------------------


def test_odt_paragraphs_tables_and_spacing(tmp_path: Path) -> None:
    doc = extract(write_odt(tmp_path / "notes.odt"))
    assert doc.text.split("\n") == ODT_LINES
    for hidden in ("reviewer comment", "deleted words"):
        assert hidden not in doc.text


def test_odt_damaged_encrypted_and_bomb(tmp_path: Path) -> None:
    broken = write_odt(tmp_path / "broken.odt", content="<office:document-content><unclosed>")
    with pytest.raises(CorruptFile, match="damaged OpenDocument"):
        extract(broken)
    (tmp_path / "notzip.odt").write_bytes(b"not a zip at all")
    with pytest.raises(CorruptFile, match="not an OpenDocument"):
        extract(tmp_path / "notzip.odt")
    locked = tmp_path / "locked.odt"
    with zipfile.ZipFile(locked, "w") as archive:
        archive.writestr("content.xml", b"\x8f\x00 encrypted bytes")
        archive.writestr("META-INF/manifest.xml", "<manifest><manifest:encryption-data/></manifest>")
    with pytest.raises(EncryptedFile):
        extract(locked)
    bomb = tmp_path / "bomb.odt"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("content.xml", b" " * (20 * 1024 * 1024))
    with pytest.raises(CorruptFile, match="expand to 20 MB; refused as a possible zip bomb"):
        extract(bomb)


# --- text sniffing and normalisation ------------------------------------------------------------


def test_files_without_a_known_suffix_are_read_when_they_hold_text(tmp_path: Path) -> None:
    (tmp_path / "README.Debian").write_text("Built with dh.\n")
    (tmp_path / "CHANGES").write_bytes("Version 2 — café release\n".encode("cp1252"))
    assert extract(tmp_path / "README.Debian").text == "Built with dh."
    assert extract(tmp_path / "CHANGES").text == "Version 2 — café release"


def test_normalise_drops_lone_surrogates_and_noncharacters() -> None:
    # A broken ToUnicode map gives PDF readers lone surrogates, which the index cannot store.
    assert normalise("a\ud800b\uffffc\ufffe\x01d") == "abcd"


def test_pdf_control_characters_go_before_offsets_are_taken(tmp_path: Path) -> None:
    path = tmp_path / "controls.pdf"
    path.write_bytes(make_pdf([["Alpha\x01beta\x07gamma delta end"], ["Second\x1f page about quolls."]]))
    doc = extract(path)
    assert not any(ord(char) < 32 and char not in "\n\t" for char in doc.text)
    page_two = doc.text.index("Second")
    assert doc.page_at(page_two) == 2 and doc.page_at(0) == 1
    for chunk in chunk_text(doc.text, build_tiny_tokenizer(), 8, 2):
        assert doc.text[chunk.char_start : chunk.char_end] == chunk.text


# --- chunking in bounded windows --------------------------------------------------------------


def _reference_scores(text: str, offsets: list[tuple[int, int]]) -> list[float]:
    """Each token's break score the plain way: every pattern's match ends, then each token's first non-space."""
    scores: dict[int, float] = {}
    for pattern, score in chunking._BREAKS:
        for match in pattern.finditer(text):
            scores[match.end()] = max(scores.get(match.end(), 0.0), score)
    token_scores = []
    for start, end in offsets:
        while start < end and text[start].isspace():
            start += 1
        token_scores.append(scores.get(start, 0.0))
    return token_scores


def test_break_scores_in_array_operations_match_the_plain_definition() -> None:
    """Unicode white space of every kind, CJK punctuation, closing quotes, tokens that start with spaces."""
    rng = random.Random(3)
    pieces = ["word", "x", " ", "  ", "\n", "\n\n", "\t", ".", "!", ";", ":", "\u3000", "\u00a0", "\u2028"]
    pieces += ["東京", "。", "”", ")", "…", "\x85", "\u200a"]
    tokenizer = build_tiny_tokenizer()
    for _ in range(200):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 400)))
        offsets = chunking._token_offsets(tokenizer, text)
        spaced = [(max(0, a - 1), b) for a, b in offsets]  # as a tokenizer that keeps a leading space would give
        for tokens in (offsets, spaced):
            assert chunking._token_scores(text, 0, len(text), tokens) == _reference_scores(text, tokens)


def _whole_text_chunks(text: str, tokenizer: chunking.Tokenizer, size: int, overlap: int) -> list[Chunk]:
    """The algorithm before windows: the whole text tokenized at once."""
    offsets = chunking._token_offsets(tokenizer, text)
    n = len(offsets)
    token_scores = _reference_scores(text, offsets)
    chunks: list[Chunk] = []
    start = 0
    while start < n:
        end = min(start + size, n)
        if end < n:
            end = chunking._best_cut(token_scores, start + max(1, size // 2), end)
        a, b = offsets[start][0], offsets[end - 1][1]
        chunks.append(Chunk(len(chunks), text[a:b], a, b, end - start))
        if end >= n:
            break
        start = chunking._next_start(token_scores, end, overlap, start)
    return chunks


def _document() -> str:
    paragraphs = []
    for i in range(120):
        sentences = " ".join(f"Sentence {j} of paragraph {i} mentions wombat number {i * j}." for j in range(6))
        paragraphs.append(f"Heading {i}\n{sentences}")
    return "\n\n".join(paragraphs)


@pytest.mark.parametrize("window", [chunking.WINDOW_CHARS, 4096, 1500])
def test_windowed_chunks_match_whole_text_chunks(monkeypatch: pytest.MonkeyPatch, window: int) -> None:
    text = _document()
    tokenizer = build_tiny_tokenizer()
    monkeypatch.setattr(chunking, "WINDOW_CHARS", window)
    windowed = chunk_text(text, tokenizer, 64, 12)
    assert windowed == _whole_text_chunks(text, tokenizer, 64, 12)
    assert all(text[c.char_start : c.char_end] == c.text for c in windowed)


def test_one_line_text_is_chunked_in_bounded_memory() -> None:
    from tests.core.hostile import peak_rss_mb

    text = " ".join(f"word{i % 977}" for i in range(500_000))  # 4 MB on one line
    tokenizer = build_tiny_tokenizer()
    before = peak_rss_mb()
    chunks = chunk_text(text, tokenizer, 256, 32)
    assert peak_rss_mb() - before < 300  # before: ~250 bytes per character, 1.3 GB here
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(text)
    for previous, chunk in itertools.pairwise(chunks):
        assert previous.char_start < chunk.char_start <= previous.char_end
    assert all(text[c.char_start : c.char_end] == c.text for c in chunks[:: len(chunks) // 50])
