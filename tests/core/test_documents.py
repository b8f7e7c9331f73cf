"""Extraction from real files written into tmp_path, PDFs included (built by hand)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from core.errors import (
    CorruptFile,
    EncryptedFile,
    ExtractionError,
    ExtractionTimeout,
    NoTextLayer,
    UnreadableFile,
    UnsupportedFile,
)
from core.ingest import pdf_extract
from core.ingest import text as ingest_text
from core.ingest.documents import SUPPORTED_SUFFIXES, Document, Page, extract, is_supported
from tests.conftest import child_pythonpath
from tests.core.hostile import make_pdf

TWO_PAGES = [
    ["Quokkas live on Rottnest Island.", "They are small marsupials."],
    ["Page two is about the Fibonacci sequence and golden ratios."],
]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module", autouse=True)
def _stop_pdf_worker() -> Iterator[None]:
    yield
    pdf_extract.shutdown()


# --- registry and file-system errors ---------------------------------------------


def test_supported_suffixes() -> None:
    expected = {".txt", ".md", ".markdown", ".rst", ".text", ".html", ".htm", ".pdf", ".docx"}
    assert expected <= SUPPORTED_SUFFIXES
    assert all(s == s.lower() and s.startswith(".") for s in SUPPORTED_SUFFIXES)
    assert is_supported(Path("Notes.TXT"))
    assert is_supported(Path("/a/b/report.Pdf"))
    assert is_supported(Path("scan.JPG")) and not is_supported(Path("song.mp3"))
    assert not is_supported(Path("Makefile"))


def test_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match="unsupported file type"):
        extract(write(tmp_path / "song.mp3", b"hello"))
    with pytest.raises(UnsupportedFile, match=r"not a document \(binary content\)"):
        extract(write(tmp_path / "a.xyz", bytes(range(256)) * 4))
    assert extract(write(tmp_path / "b.xyz", b"hello")).text == "hello"  # an unknown suffix holding text is read


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="file not found") as info:
        extract(tmp_path / "gone.txt")
    assert info.value.path == tmp_path / "gone.txt"
    assert info.value.reason == "file not found"


def test_broken_symlink(tmp_path: Path) -> None:
    link = tmp_path / "dangling.pdf"
    link.symlink_to(tmp_path / "nowhere.pdf")
    with pytest.raises(UnreadableFile, match="file not found"):
        extract(link)


def test_directory_with_a_file_suffix(tmp_path: Path) -> None:
    (tmp_path / "looks-like.txt").mkdir()
    with pytest.raises(UnreadableFile, match="is a folder"):
        extract(tmp_path / "looks-like.txt")


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(UnreadableFile, match="not a regular file"):
        extract(tmp_path / "pipe.txt")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_by_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.txt", b"hidden")
    path.chmod(0)
    try:
        with pytest.raises(UnreadableFile, match="permission denied"):
            extract(path)
    finally:
        path.chmod(0o644)


@pytest.mark.parametrize("suffix", [".txt", ".html", ".docx"])
def test_permission_denied_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    # Works as root too: the OS refusal is raised where the extractor opens the file.
    path = write(tmp_path / f"secret{suffix}", b"hidden")

    real_open = os.open

    def refuse(file: str | Path, *args: object, **kwargs: object) -> int:
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(UnreadableFile, match="permission denied"):
        extract(path)


def test_oversized_text_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest_text, "MAX_TEXT_BYTES", 1024)
    with pytest.raises(UnsupportedFile, match="too large"):
        extract(write(tmp_path / "big.log", b"x" * 2048))


# --- plain text ----------------------------------------------------------------------


def test_utf8_text_is_normalised(tmp_path: Path) -> None:
    raw = "Héllo wörld — 東京\r\nline two\x00\x07\r\n\r\n\r\n\r\nafter  \rend\n"
    doc = extract(write(tmp_path / "a.md", raw.encode("utf-8")))
    assert doc == Document(tmp_path / "a.md", "Héllo wörld — 東京\nline two\n\nafter\nend", (), "utf-8")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("café naïve", "latin-1"),
        ("Voilà ça", "latin-1"),
        ("Ein schöner Tag in Köln. Grüße aus München, Bücher über Äpfel.", "latin-1"),
        ("El niño comió piñas en España, ¿verdad? Sí, mañana también.", "latin-1"),
        ("café naïve", "cp1252"),
        ("Le café est très bon — naïve façade, déjà vu. “Quoted” costs €5.", "cp1252"),
        ("Räksmörgås är gott. Åsa köpte två äpplen på torget i Göteborg.", "cp1252"),
    ],
)
def test_western_single_byte_text(tmp_path: Path, text: str, encoding: str) -> None:
    assert extract(write(tmp_path / "w.txt", text.encode(encoding))).text == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Привет, как дела? Это тестовый текст на русском языке.", "cp1251"),
        ("W Szczebrzeszynie chrząszcz brzmi w trzcinie, dziś jest piękny dzień.", "cp1250"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy.", "cp1250"),
        ("日本語のテキストです。検索エンジンのテスト。", "shift_jis"),
        ("中文文本测试，这是一个搜索引擎。", "gbk"),
    ],
)
def test_other_legacy_encodings(tmp_path: Path, text: str, encoding: str) -> None:
    assert extract(write(tmp_path / "legacy.txt", text.encode(encoding))).text == text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "utf-32"])
def test_text_with_bom(tmp_path: Path, encoding: str) -> None:
    text = "naïve café\nzweite Zeile"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    doc = extract(write(tmp_path / "bom.txt", data))
    assert doc.text == text


def test_binary_named_txt(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    with pytest.raises(CorruptFile, match=r"not a text file \(binary content\)"):
        extract(write(tmp_path / "image.txt", data))


def test_empty_file_is_an_empty_document(tmp_path: Path) -> None:
    doc = extract(write(tmp_path / "empty.txt", b""))
    assert doc.text == ""
    assert doc.pages == ()
    assert doc.page_at(0) is None


# --- HTML ---------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head><title>Quokka facts</title>
<meta name="description" content="metadata, not text">
<style>body { color: red; }</style>
<script>var tracking = "do not index";</script>
</head>
<body>
<!-- a comment -->
<h1>Quokkas</h1><p>They live on <b>Rottnest</b>
   Island.</p><p>Second paragraph.</p>
<div hidden>invisible block</div>
<noscript>enable javascript</noscript>
<ul><li>first item</li><li>second item</li></ul>
line one<br>line two
<table><tr><th>Name</th><th>Size</th></tr><tr><td>quokka</td><td>small</td></tr></table>
<pre>keep   this
  layout</pre>
<script type="text/javascript">document.write("nope")</script>
</body></html>"""


def test_html_visible_text_only(tmp_path: Path) -> None:
    doc = extract(write(tmp_path / "page.html", HTML.encode("utf-8")))
    assert doc.pages == ()
    lines = doc.text.split("\n")
    assert lines[0] == "Quokka facts"
    assert "They live on Rottnest Island." in lines
    assert "Second paragraph." in lines
    assert "first item" in lines and "second item" in lines
    assert "line one" in lines and "line two" in lines
    assert "Name Size" in lines and "quokka small" in lines
    assert "keep this" in lines and "layout" in lines
    for hidden in ("color", "tracking", "nope", "metadata", "comment", "invisible", "javascript"):
        assert hidden not in doc.text


@pytest.mark.parametrize(
    ("head", "text", "encoding"),
    [
        ('<meta charset="iso-8859-1">', "café naïve “quoted”", "cp1252"),  # Latin-1 read as cp1252
        ('<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">', "日本語", "shift_jis"),
        ('<meta charset="iso-8859-1">', "saved later as UTF-8: café", "utf-8"),  # a stale tag
        ("", "café naïve", "cp1252"),  # nothing declared
        ('<meta charset="no-such-charset">', "café naïve", "cp1252"),
    ],
)
def test_html_encodings(tmp_path: Path, head: str, text: str, encoding: str) -> None:
    html = f"<html><head>{head}</head><body><p>{text}</p></body></html>"
    assert extract(write(tmp_path / "old.htm", html.encode(encoding))).text == text


def test_html_empty_file(tmp_path: Path) -> None:
    assert extract(write(tmp_path / "e.html", b"")).text == ""


# --- DOCX --------------------------------------------------------------------------------------


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Annual report", level=1)
    document.add_paragraph("Revenue grew because quokkas sold well.")
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).merge(table.cell(0, 2)).text = "Sales"
    table.cell(1, 0).text = "West"
    table.cell(1, 1).text = "12"
    table.cell(1, 2).text = "14"
    document.add_paragraph("Closing remarks.")
    path = tmp_path / "report.docx"
    document.save(str(path))

    doc = extract(path)
    assert doc.text.split("\n") == [
        "Annual report",
        "Revenue grew because quokkas sold well.",
        "Region\tSales",  # the merged cell once
        "West\t12\t14",
        "Closing remarks.",
    ]
    assert doc.pages == ()


def test_docx_broken_zip(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("x" * 1000)
    buffer = io.BytesIO()
    document.save(buffer)
    with pytest.raises(CorruptFile, match="damaged or not a Word document"):
        extract(write(tmp_path / "cut.docx", buffer.getvalue()[:3000]))


def test_docx_zip_without_word_parts(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a word file")
    with pytest.raises(CorruptFile):
        extract(write(tmp_path / "fake.docx", buffer.getvalue()))


def test_docx_password_protected(tmp_path: Path) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptedPackage".encode("utf-16-le")
    with pytest.raises(EncryptedFile, match="password protected"):
        extract(write(tmp_path / "locked.docx", ole + b"\x00" * 600))
    with pytest.raises(CorruptFile, match=r"old-format Word file"):
        extract(write(tmp_path / "old.docx", ole[:8] + b"\x00" * 1200))


# --- PDF -----------------------------------------------------------------------------------------


def test_pdf_pages_and_offsets(tmp_path: Path) -> None:
    doc = extract(write(tmp_path / "two.pdf", make_pdf(TWO_PAGES)))
    first, second = doc.text.split("\n\n")
    assert first == "Quokkas live on Rottnest Island.\nThey are small marsupials."
    assert second == "Page two is about the Fibonacci sequence and golden ratios."
    assert doc.pages == (Page(1, 0), Page(2, len(first) + 2))
    assert doc.page_at(doc.text.index("marsupials")) == 1
    assert doc.page_at(doc.text.index("Fibonacci")) == 2


def test_pdf_line_end_hyphens_are_joined(tmp_path: Path) -> None:
    doc = extract(write(tmp_path / "h.pdf", make_pdf([["This is an exam-", "ple of hyphen-", "ation."]])))
    assert doc.text == "This is an example of hyphenation."


def test_pdf_empty_pages_keep_their_numbers(tmp_path: Path) -> None:
    pages = [TWO_PAGES[0], [], TWO_PAGES[1]]
    doc = extract(write(tmp_path / "gap.pdf", make_pdf(pages)))
    assert [page.number for page in doc.pages] == [1, 2, 3]
    assert doc.page_at(doc.text.index("Fibonacci")) == 3
    for page in doc.pages:
        assert doc.page_at(page.char_start) == page.number


def test_page_at_edges() -> None:
    doc = Document(Path("x.pdf"), "aaaa\n\nbb\n\ncc", (Page(1, 0), Page(2, 6), Page(3, 10)))
    assert [doc.page_at(i) for i in (0, 5, 6, 9, 10, 12)] == [1, 1, 2, 2, 3, 3]
    assert doc.page_at(len(doc.text)) == 3  # an exclusive chunk end
    assert doc.page_at(-1) is None
    assert doc.page_at(len(doc.text) + 1) is None
    assert Document(Path("x.txt"), "text").page_at(2) is None


def test_pdf_password_protected(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(TWO_PAGES)))
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(EncryptedFile, match="password protected"):
        extract(write(tmp_path / "locked.pdf", buffer.getvalue()))


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_pdf_truncated(tmp_path: Path, keep: float) -> None:
    data = make_pdf(TWO_PAGES)
    with pytest.raises(CorruptFile, match="damaged or not a PDF"):
        extract(write(tmp_path / "cut.pdf", data[: int(len(data) * keep)]))


def test_pdf_that_is_not_a_pdf(tmp_path: Path) -> None:
    with pytest.raises(CorruptFile):
        extract(write(tmp_path / "fake.pdf", b"<html>I am a web page</html>"))


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    with pytest.raises(NoTextLayer, match="no text layer"):
        extract(write(tmp_path / "scan.pdf", make_pdf([[], ["3"], []])))


def test_pdf_timeout_kills_the_worker_and_the_next_file_works(tmp_path: Path) -> None:
    extract(write(tmp_path / "warm.pdf", make_pdf(TWO_PAGES)))  # a started worker: time only the file
    pid = pdf_extract._WORKER.pid
    assert pid is not None
    lines = [f"Line {j} with enough words to keep the reader busy for a while" for j in range(45)]
    slow = write(tmp_path / "slow.pdf", make_pdf([lines] * 80))
    with pytest.raises(ExtractionTimeout, match="took longer than"):
        extract(slow, timeout=0.001)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    doc = extract(slow)
    assert len(doc.pages) == 80
    assert pdf_extract._WORKER.pid not in (None, pid)


def test_worker_that_died_while_idle_is_restarted(tmp_path: Path) -> None:
    path = write(tmp_path / "two.pdf", make_pdf(TWO_PAGES))
    extract(path)
    pid = pdf_extract._WORKER.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert len(extract(path).pages) == 2


def test_worker_does_not_rerun_the_main_script(tmp_path: Path) -> None:
    # An unguarded script: were spawn to re-run it in the worker, it would print twice or fail.
    pdf = write(tmp_path / "two.pdf", make_pdf(TWO_PAGES))
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from pathlib import Path\n"
        "from core.ingest.documents import extract\n"
        f"print(len(extract(Path({str(pdf)!r})).pages), 'pages')\n"
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": child_pythonpath(repo)}
    for command in ([sys.executable, str(script)], [sys.executable, "-c", script.read_text()]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert (done.returncode, done.stdout) == (0, "2 pages\n"), done.stderr


def test_pypdf_reads_when_pdfium_cannot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The readers run in-process here so the fallback can be forced.
    def refuse(path: Path) -> list[str]:
        raise RuntimeError("pdfium refused")

    monkeypatch.setattr(pdf_extract, "_read_with_pdfium", refuse)
    pages = pdf_extract.read_pages(write(tmp_path / "two.pdf", make_pdf(TWO_PAGES)))
    assert [" ".join(page.split()) for page in pages] == [" ".join(lines) for lines in TWO_PAGES]


# --- nothing but ExtractionError escapes -------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".txt", ".html", ".docx", ".pdf", ".csv"])
def test_garbage_raises_only_extraction_errors(tmp_path: Path, suffix: str) -> None:
    samples = [os.urandom(3000), b"PK\x03\x04" + os.urandom(500), b"%PDF-1.7\n" + os.urandom(500)]
    for number, data in enumerate(samples):
        with contextlib.suppress(ExtractionError):  # anything else fails the test
            extract(write(tmp_path / f"g{number}{suffix}", data))
