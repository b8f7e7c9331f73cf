"""OCR: scanned PDFs and image files become searchable text, through the real indexer and CLI.

The pictures are made here: words drawn with Pillow's own scalable font, saved as real PNG, JPEG, TIFF
and WebP files and as an image-only PDF; the real RapidOCR models read them in the real worker process.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pypdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from core.cli import main
from core.embedding import Embedder
from core.errors import Cancelled, CorruptFile, NoTextLayer, UnsupportedFile
from core.index.indexer import Indexer
from core.index.store import Store
from core.ingest import pdf_extract
from core.ingest.documents import extract
from core.jobs import KEYWORD_READY, CancelToken, Phase, drain
from core.search.searcher import Searcher
from core.settings import Settings
from tests.core.test_documents import make_pdf


def picture(*lines: str, width: int = 1000) -> Image.Image:
    """Black words on white, 40 px high, the way a clean scan of large print looks."""
    font = ImageFont.load_default(size=40)
    image = Image.new("RGB", (width, 90 + 70 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((40, 45 + 70 * row), line, font=font, fill="black")
    return image


def scanned_pdf(path: Path, *pages: Image.Image) -> Path:
    """An image-only PDF (no text layer at all), one picture a page, as a scanner writes it."""
    pages[0].save(path, "PDF", save_all=True, append_images=list(pages[1:]), resolution=200)
    return path


def mixed_pdf(path: Path, text_page: str, scan: Image.Image) -> Path:
    """A PDF whose first page has a text layer and whose second page is a picture."""
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(make_pdf([[text_page]])))
    pictured = io.BytesIO()
    scan.save(pictured, "PDF", resolution=200)
    writer.append(pictured)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def bomb_png(path: Path, width: int = 30_000, height: int = 30_000) -> Path:
    """A tiny PNG whose header promises width x height RGB pixels (2.7 GB decoded by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def make_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "notes.txt").write_text("A plain note about lighthouse keepers and their logbooks.")
    first = picture("Minutes of the rowing club", "held in the boathouse", "on a windy Tuesday", "with eleven members")
    second = picture(
        "The treasurer reported", "on the regatta budget", "and the museum visit", "quetzalcoatlus fossils"
    )
    scanned_pdf(root / "scan.pdf", first, second)
    picture("Invoice from Zanzibarco").save(root / "receipt.png")
    picture("homemade marmalade recipe").save(root / "jar.jpg", quality=85)
    picture("harpsichord tuning").save(root / "fax.tiff", compression="tiff_lzw")
    picture("saxophone lessons").save(root / "poster.webp", quality=90)
    Image.new("RGB", (400, 300), (90, 140, 200)).save(root / "sky.png")  # a picture with no text in it
    # Black text on a transparent background (a screenshot, a logo): read over white, as a viewer shows it.
    sticker = picture("transparent stickers").convert("L")
    clear = Image.new("RGBA", sticker.size, (0, 0, 0, 0))
    clear.putalpha(sticker.point(lambda v: 255 - v))
    clear.save(root / "sticker.png")
    # A 16-bit greyscale scan, as archival scanners write them.
    deep = picture("microfiche archive").convert("I").point(lambda v: v * 257).convert("I;16")
    deep.save(root / "archive.tif")
    good = (root / "receipt.png").read_bytes()
    (root / "broken.png").write_bytes(good[: len(good) // 3])  # cut off mid-stream
    (root / "notapng.png").write_bytes(b"this is not an image at all")
    bomb_png(root / "bomb.png")
    return root


def bm25(indexer: Indexer, query: str) -> list[tuple[str, int | None]]:
    hits = Searcher(indexer.index).search(query, mode="bm25", rerank=False).hits
    return [(Path(hit.path).name, hit.page) for hit in hits]


def stored_text(indexer: Indexer) -> str:
    return " ".join(indexer.index.chunks.search().select(["text"]).limit(None).to_arrow()["text"].to_pylist())


def test_scans_and_images_are_searchable_and_bad_images_are_listed(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = make_folder(tmp_path / "docs")
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    indexer = Indexer(store, settings, tiny_embedder)
    read_by_ocr: set[str] = set()
    ready: list[str] = []
    for progress in indexer.run([folder]):
        if progress.phase == Phase.OCR and progress.current:
            read_by_ocr.add(Path(progress.current).name)
        if progress.message.startswith(KEYWORD_READY):
            # Every file's text is searchable before OCR (seconds a picture) reads the first picture.
            ready.append(progress.message)
            assert bm25(indexer, "lighthouse") == [("notes.txt", None)] and not read_by_ocr
            assert "Zanzibarco" not in stored_text(indexer)
    assert ready == [f"{KEYWORD_READY}: 12 files read; OCR reads the pictures of text in 11 of them next"]
    assert read_by_ocr == {p.name for p in folder.iterdir()} - {"notes.txt"}
    problems = {Path(p.path).name: p.reason for p in indexer.report.problems}
    assert sorted(problems) == ["bomb.png", "broken.png", "notapng.png"], problems
    assert "damaged" in problems["broken.png"] and "not an image" in problems["notapng.png"]
    assert "too large" in problems["bomb.png"]
    assert all("Traceback" not in reason for reason in problems.values())
    assert (indexer.report.added, indexer.report.chunks_written) == (9, indexer.index.chunks.count_rows())

    # Chunks overlap, but the one holding the page's last words starts on that page.
    assert set(bm25(indexer, "quetzalcoatlus")) == {("scan.pdf", 2)}
    assert set(bm25(indexer, "rowing")) == {("scan.pdf", 1)}
    assert [name for name, _page in bm25(indexer, "Zanzibarco")] == ["receipt.png"]
    assert [name for name, _page in bm25(indexer, "marmalade")] == ["jar.jpg"]
    assert [name for name, _page in bm25(indexer, "harpsichord")] == ["fax.tiff"]
    assert [name for name, _page in bm25(indexer, "saxophone")] == ["poster.webp"]
    assert [name for name, _page in bm25(indexer, "stickers")] == ["sticker.png"]
    assert [name for name, _page in bm25(indexer, "microfiche")] == ["archive.tif"]
    assert bm25(indexer, "lighthouse") == [("notes.txt", None)]
    records = {Path(p).name: r for p, r in indexer.index.file_records().items()}
    assert records["sky.png"].status == "indexed" and records["sky.png"].chunks == 0


def test_pdf_page_that_times_out_is_a_problem_and_the_other_pages_are_kept(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    mixed_pdf(folder / "report.pdf", "Typed page about albatross migration", picture("scanned appendix"))
    picture("a photographed whiteboard").save(folder / "board.png")
    monkeypatch.setattr(pdf_extract, "OCR_SECONDS_PER_PAGE", 0.001)  # no page can be read in time
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    indexer = Indexer(store, settings, tiny_embedder)
    for _ in indexer.run([folder]):
        pass
    assert sorted((Path(p.path).name, p.reason) for p in indexer.report.problems) == [
        ("board.png", "OCR took longer than 0.001 s"),
        ("report.pdf", "page 2: OCR took longer than 0.001 s"),
    ]
    assert bm25(indexer, "albatross") == [("report.pdf", 1)]
    monkeypatch.undo()
    document = extract(folder / "report.pdf")  # a fresh worker: the killed one is replaced
    assert "appendix" in document.text and document.page_at(document.text.index("appendix")) == 2
    assert document.problems == ()


def test_a_scan_with_a_blank_page_is_read_and_blank_pdf_says_so(tmp_path: Path) -> None:
    document = extract(
        scanned_pdf(tmp_path / "scan.pdf", picture("pelican crossing"), Image.new("RGB", (800, 300), "white"))
    )
    assert document.text.split() == ["pelican", "crossing"]
    assert [page.number for page in document.pages] == [1, 2]
    with pytest.raises(NoTextLayer, match="OCR found no text"):
        extract(scanned_pdf(tmp_path / "blank.pdf", Image.new("RGB", (800, 300), "white")))


def test_image_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFile, match="image too large to read"):
        extract(bomb_png(tmp_path / "bomb.png"))  # 900 megapixels: Pillow's own check refuses it
    with pytest.raises(UnsupportedFile, match="10,000 x 9,000 pixels; the limit is 80 megapixels"):
        extract(bomb_png(tmp_path / "poster.png", 10_000, 9_000))  # within Pillow's limit, over Sleuth's
    (tmp_path / "fake.jpg").write_bytes(b"GIF89a not really")
    with pytest.raises(CorruptFile, match="damaged or not an image"):
        extract(tmp_path / "fake.jpg")


def test_cli_indexes_an_image_folder_lists_the_corrupt_one_and_finds_words(
    tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    folder = tmp_path / "photos"
    folder.mkdir()
    picture("Warranty for the dishwasher").save(folder / "warranty.jpg")
    (folder / "corrupt.webp").write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 garbage")
    db = str(tmp_path / "db")
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["--db", db, "index", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert "corrupt.webp:" in out and "1 could not be read" in out and "Traceback" not in out + err
    ready = f"{KEYWORD_READY}: 2 files read; OCR reads the pictures of text in 2 of them next"
    assert ready in out + err and (out + err).index(ready) < (out + err).index("Pictures of text read in 2 files")
    assert main(["--db", db, "search", "dishwasher", "--mode", "bm25", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [Path(r["path"]).name for r in results] == ["warranty.jpg"]


def test_a_run_stopped_before_ocr_reads_the_pictures_at_the_next_one(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    mixed_pdf(folder / "minutes.pdf", "The lighthouse keepers met on Tuesday.", picture("quetzalcoatlus fossils"))
    picture("Invoice from Zanzibarco").save(folder / "receipt.png")
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    first = Indexer(store, settings, tiny_embedder)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        for progress in first.run([folder], cancel):
            if progress.message.startswith(KEYWORD_READY):
                cancel.cancel()  # stopped before OCR: the PDF's text layer is in, its pictured page is not
    assert bm25(first, "lighthouse") == [("minutes.pdf", 1)]
    assert "quetzalcoatlus" not in stored_text(first) and "Zanzibarco" not in stored_text(first)

    again = Indexer(Store(tmp_path / "db"), settings, tiny_embedder)
    drain(again.run())
    assert "quetzalcoatlus" in stored_text(again) and [n for n, _ in bm25(again, "quetzalcoatlus")] == ["minutes.pdf"]
    assert bm25(again, "Zanzibarco") == [("receipt.png", None)]
    assert bm25(again, "lighthouse") == [("minutes.pdf", 1)]
    rows = again.index.chunks.search().select(["id", "path"]).limit(None).to_list()
    assert len({row["id"] for row in rows}) == len(rows), "no passage twice"
    records = {Path(p).name: r for p, r in again.index.file_records().items()}
    assert {name: r.chunks for name, r in records.items()} == {
        name: sum(Path(row["path"]).name == name for row in rows) for name in ("minutes.pdf", "receipt.png")
    }
    assert all(r.status == "indexed" and r.mtime > 0 for r in records.values())

    third = Indexer(Store(tmp_path / "db"), settings, tiny_embedder)
    drain(third.run())
    assert (third.report.unchanged, third.report.added, third.report.updated) == (2, 0, 0), "read once, kept"


def test_a_first_runs_ocr_pass_replaces_a_pdfs_text_layer_with_the_whole_file(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    """Into an empty index the OCR pass adds rows instead of merging them: it deletes the text layer's passages
    the text phase wrote, and the file's passages are its whole text, once."""
    folder = tmp_path / "docs"
    folder.mkdir()
    mixed_pdf(folder / "minutes.pdf", "The lighthouse keepers met on Tuesday.", picture("quetzalcoatlus fossils"))
    (folder / "notes.txt").write_text("A note on the rowing club's regatta.")
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    indexer = Indexer(store, settings, tiny_embedder)
    layers: list[str] = []
    for progress in indexer.run([folder]):
        if progress.message.startswith(KEYWORD_READY):
            layers = [row["text"] for row in indexer.index.chunks.search().where("path LIKE '%minutes.pdf'").to_list()]
    assert layers and all("quetzalcoatlus" not in text for text in layers)
    rows = indexer.index.chunks.search().select(["id", "path", "text"]).limit(None).to_list()
    pdf = [row for row in rows if row["path"].endswith("minutes.pdf")]
    assert len({row["id"] for row in rows}) == len(rows) and pdf
    assert "lighthouse" in " ".join(r["text"] for r in pdf) and "quetzalcoatlus" in " ".join(r["text"] for r in pdf)
    assert all("quetzalcoatlus" in row["text"] or row["text"] not in layers for row in pdf), "no stale text layer"
    assert indexer.report.chunks_written == len(rows) and indexer.report.added == 2
