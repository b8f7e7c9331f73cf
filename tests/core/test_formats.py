"""Office, OpenDocument, e-book, RTF and e-mail files: real files of each format, read and indexed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from core.cli import main
from core.embedding import Embedder
from core.errors import CorruptFile, EncryptedFile, UnsupportedFile
from core.index.indexer import Indexer
from core.index.store import Store
from core.ingest import office, opendocument
from core.ingest.documents import SUPPORTED_SUFFIXES, extract
from core.ingest.text import PAGE_SEPARATOR, page_label
from core.settings import Settings
from tests.core import formats
from tests.core.test_cli import env  # noqa: F401 - the private config and database, tiny model

NEW_SUFFIXES = {".ods", ".odp", ".pptx", ".xlsx", ".xlsm", ".epub", ".rtf", ".eml", ".mbox"}


def _pages(text: str, starts: list[int]) -> list[str]:
    """The text of each page, by the pages' start offsets."""
    ends = [start - len(PAGE_SEPARATOR) for start in starts[1:]] + [len(text)]
    return [text[start:end] for start, end in zip(starts, ends, strict=True)]


def test_the_formats_are_registered() -> None:
    assert NEW_SUFFIXES <= SUPPORTED_SUFFIXES


# --- OpenDocument ---------------------------------------------------------------------------


def test_ods_sheets_are_read_by_name_row_by_row(tmp_path: Path) -> None:
    doc = extract(formats.write_ods(tmp_path / "survey.ods"))
    assert doc.text.split("\n") == [
        "Sightings",
        "Site\tSpecies\tCount",
        "Creek\tplatypus\t7",
        "Ridge\techidna\t3",
        "",
        "Notes",
        "Burrows collapse after heavy rain",
    ]
    assert doc.pages == ()


def test_ods_text_stops_at_the_cap_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opendocument, "MAX_SHEET_CHARS", 40)
    text = extract(formats.write_ods(tmp_path / "survey.ods")).text
    assert text.endswith(opendocument.sheet_notice(40))
    assert "Sightings" in text and "Burrows" not in text


def test_odp_slides_are_pages(tmp_path: Path) -> None:
    slides = [["Possum habits", "They nest in tree hollows"], ["Second slide about gliders"]]
    doc = extract(formats.write_odp(tmp_path / "talk.odp", slides))
    assert [page.number for page in doc.pages] == [1, 2]
    assert _pages(doc.text, [page.char_start for page in doc.pages]) == ["\n".join(lines) for lines in slides]
    assert doc.page_at(doc.text.index("gliders")) == 2
    assert page_label(doc.path) == "slide"


def test_opendocument_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    """The zip-bomb check the other zip formats share: a part 1,000 times smaller packed than unpacked."""
    for suffix in (".ods", ".odp", ".pptx", ".xlsx", ".epub"):
        bomb = tmp_path / f"bomb{suffix}"
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("content.xml", b" " * (8 * 1024 * 1024))
        with pytest.raises(CorruptFile, match="refused as a possible zip bomb"):
            extract(bomb)


# --- Office ---------------------------------------------------------------------------------


def test_pptx_slides_tables_notes_and_groups_are_pages(tmp_path: Path) -> None:
    doc = extract(formats.write_pptx(tmp_path / "survey.pptx"))
    assert _pages(doc.text, [page.char_start for page in doc.pages]) == [
        "Wombat survey 2026\nResults from the northern burrows",
        "Counts by site\nSite\tWombats\nGully\t12\n\nMention the drought year.",
        "Burrow entrances face away from the wind",
    ]
    assert page_label(doc.path) == "slide"


def test_old_or_locked_office_files_say_so(tmp_path: Path) -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    (tmp_path / "old.pptx").write_bytes(ole)
    with pytest.raises(CorruptFile, match=r"an old-format PowerPoint file \(\.ppt\), not \.pptx"):
        extract(tmp_path / "old.pptx")
    (tmp_path / "locked.xlsx").write_bytes(ole + "EncryptedPackage".encode("utf-16-le"))
    with pytest.raises(EncryptedFile, match="password protected"):
        extract(tmp_path / "locked.xlsx")
    (tmp_path / "junk.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorruptFile, match="damaged or not an Excel workbook"):
        extract(tmp_path / "junk.xlsx")


def test_xlsx_sheets_by_name_values_as_people_read_them(tmp_path: Path) -> None:
    doc = extract(formats.write_xlsx(tmp_path / "budget.xlsx"))
    assert doc.text.split("\n") == [
        "Budget",
        "Item\tCost\tBought",
        "Quokka enclosure\t1200\t2026-03-14",
        "Night camera\t349.5",
        "",
        "Suppliers",
        "Rottnest Timber\tfences",
    ]


def test_xlsm_is_read_like_xlsx(tmp_path: Path) -> None:
    """A macro-enabled workbook: the same parts, the workbook declared with the macro content type."""
    plain = formats.write_xlsx(tmp_path / "plain.xlsx")
    macro = tmp_path / "budget.xlsm"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(macro, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
                assert b"macroEnabled" in data
            target.writestr(item, data)
    assert extract(macro).text == extract(plain).text


def test_xlsx_rows_columns_and_characters_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl

    wide = tmp_path / "wide.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([f"c{column}" for column in range(1, office.MAX_SHEET_COLUMNS + 50)])
    workbook.save(str(wide))
    cells = extract(wide).text.split("\n")[1].split("\t")
    assert cells[-1] == f"c{office.MAX_SHEET_COLUMNS}" and len(cells) == office.MAX_SHEET_COLUMNS

    monkeypatch.setattr(office, "MAX_SHEET_CHARS", 2000)
    text = extract(formats.write_xlsx(tmp_path / "long.xlsx", extra_rows=500)).text
    assert text.endswith(opendocument.sheet_notice(2000))
    assert len(text) < 2000 + 300 and "filler row 3 " in text and "filler row 400 " not in text
    assert "Suppliers" not in text  # the cap is on the whole workbook


def test_a_workbooks_sheets_are_streamed_so_only_its_total_size_bounds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.ingest import zipped

    workbook = formats.write_xlsx(tmp_path / "long.xlsx", extra_rows=500)
    with zipfile.ZipFile(workbook) as archive:
        sizes = {item.filename: item.file_size for item in archive.infolist() if item.filename.endswith(".xml")}
    sheet = sizes.pop("xl/worksheets/sheet1.xml")
    assert sheet > 10 * max(sizes.values())
    monkeypatch.setattr(zipped, "MAX_TEXT_BYTES", sheet // 2)  # the limit on a part parsed whole
    assert "filler row 499 " in extract(workbook).text
    monkeypatch.setattr(zipped, "MAX_TEXT_BYTES", max(sizes.values()) - 1)
    with pytest.raises(UnsupportedFile, match="too large to index"):
        extract(workbook)  # a part openpyxl parses whole: the limit holds


# --- EPUB and RTF ---------------------------------------------------------------------------


def test_epub_chapters_in_spine_order_through_the_html_cleaner(tmp_path: Path) -> None:
    doc = extract(formats.write_epub(tmp_path / "bush.epub"))
    assert doc.text == (
        "Chapter One\n\nThe quoll hunts at night along the creek.\n\n"
        "Chapter Two\n\nThe numbat eats termites, thousands a day."
    )  # the navigation document is not in the spine; the repeated <title> is not text


def test_epub_drm_and_damage_are_said(tmp_path: Path) -> None:
    with pytest.raises(EncryptedFile, match="DRM protected"):
        extract(formats.write_epub(tmp_path / "locked.epub", encrypted=True))
    with zipfile.ZipFile(tmp_path / "empty.epub", "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
    with pytest.raises(CorruptFile, match=r"no META-INF/container\.xml"):
        extract(tmp_path / "empty.epub")


def test_rtf_text_code_page_and_unicode(tmp_path: Path) -> None:
    doc = extract(formats.write_rtf(tmp_path / "notes.rtf"))
    assert doc.text == "Café notes\nThe bandicoot digs conical holes.\nIstanbul is in Şehir Türkiye."
    (tmp_path / "fake.rtf").write_text("just words, no RTF header")
    with pytest.raises(CorruptFile, match="not an RTF document"):
        extract(tmp_path / "fake.rtf")


# --- e-mail ---------------------------------------------------------------------------------

HEADERS = "To: ranger@example.org\nDate: Fri, 01 May 2026 09:30:00 +0000"


def test_eml_headers_plain_body_and_attachment_names(tmp_path: Path) -> None:
    mail = formats.message(
        "Quokka count",
        "Ann Lee <ann@example.org>",
        "We saw 14 quokkas near the jetty.",
        html="<p>We saw <b>14</b> quokkas (HTML version).</p>",
        attachments=("map.pdf", "tally.pdf"),
    )
    doc = extract(formats.write_eml(tmp_path / "count.eml", mail))
    assert doc.text == (
        f"Subject: Quokka count\nFrom: Ann Lee <ann@example.org>\n{HEADERS}\n\n"
        "We saw 14 quokkas near the jetty.\n\nAttachments: map.pdf, tally.pdf"
    )  # text/plain preferred; attachments named, their bytes not read


def test_eml_html_body_goes_through_the_html_cleaner(tmp_path: Path) -> None:
    html = "<html><head><title>x</title><style>p{}</style></head><body><p>Bold <b>bilby</b></p></body></html>"
    doc = extract(formats.write_eml(tmp_path / "h.eml", formats.message("Bilbies", "b@example.org", "", html=html)))
    assert doc.text == f"Subject: Bilbies\nFrom: b@example.org\n{HEADERS}\n\nBold bilby"


def test_eml_encoded_headers_legacy_charsets_and_forwarded_messages(tmp_path: Path) -> None:
    mail = formats.message("Café au lait for the échidné team", "Zoë <zoe@example.org>", "")
    mail.set_content("Le wombat dort à midi.", charset="iso-8859-1", cte="quoted-printable")
    forwarded = formats.message("Old thread about emus", "c@example.org", "Emus cannot walk backwards.")
    mail.add_attachment(forwarded)
    raw = mail.as_bytes()
    assert b"=?utf-8?" in raw and b"=E0 midi" in raw  # really encoded: RFC 2047 headers, a Latin-1 body
    doc = extract(formats.write_eml(tmp_path / "fr.eml", mail))
    assert doc.text.startswith("Subject: Café au lait for the échidné team\nFrom: Zoë <zoe@example.org>\n")
    assert "\n\nLe wombat dort à midi.\n\nAttachments: forwarded message (Old thread about emus)" in doc.text
    assert "backwards" not in doc.text  # named, not read


def test_mbox_messages_are_pages_with_their_headers_on_top(tmp_path: Path) -> None:
    mails = [
        formats.message("First sighting", "a@example.org", "From the ridge we saw a dingo.\nSecond line."),
        formats.message("Second sighting", "b@example.org", "Echidna spines everywhere.", day=2),
        formats.message("Third", "c@example.org", "A cassowary crossed the road.", day=3, attachments=("x.pdf",)),
    ]
    path = formats.write_mbox(tmp_path / "inbox.mbox", mails)
    assert b"\n>From the ridge" in path.read_bytes()  # the mailbox quoted it; the reader unquotes it
    doc = extract(path)
    pages = _pages(doc.text, [page.char_start for page in doc.pages])
    assert [page.number for page in doc.pages] == [1, 2, 3]
    body = "From the ridge we saw a dingo.\nSecond line."
    assert pages[0] == f"Subject: First sighting\nFrom: a@example.org\n{HEADERS}\n\n{body}"
    assert pages[1].startswith("Subject: Second sighting\nFrom: b@example.org\n")
    assert pages[2].endswith("A cassowary crossed the road.\n\nAttachments: x.pdf")
    assert doc.page_at(doc.text.index("Echidna")) == 2 and page_label(path) == "message"
    (tmp_path / "not.mbox").write_text("Subject: no From line first\n\nbody")
    with pytest.raises(CorruptFile, match="not an mbox mailbox"):
        extract(tmp_path / "not.mbox")


# --- through the CLI ------------------------------------------------------------------------

LONG = " ".join(["Marsupials carry their young in a pouch."] * 30)
WORDS = {  # a word found only in each file, and where the CLI says it is (the page its passage starts on)
    "survey.ods": ("echidna", ""),
    "talk.odp": ("gliders", "slide 2"),
    "survey.pptx": ("drought", "slide "),
    "budget.xlsx": ("Rottnest", ""),
    "budget.xlsm": ("Rottnest", ""),
    "bush.epub": ("numbat", ""),
    "notes.rtf": ("bandicoot", ""),
    "count.eml": ("jetty", ""),
    "inbox.mbox": ("cassowary", "message 2"),
}


def test_every_format_is_indexed_and_found_through_the_cli(
    env: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "formats"
    folder.mkdir()
    formats.write_ods(folder / "survey.ods")
    formats.write_odp(folder / "talk.odp", [["Possums", LONG], ["Second slide", LONG, "about gliders"]])
    formats.write_pptx(folder / "survey.pptx")
    formats.write_xlsx(folder / "budget.xlsx")
    (folder / "budget.xlsm").write_bytes((folder / "budget.xlsx").read_bytes())
    formats.write_epub(folder / "bush.epub")
    formats.write_rtf(folder / "notes.rtf")
    formats.write_eml(folder / "count.eml", formats.message("Count", "a@example.org", "Quokkas by the jetty."))
    mails = [
        formats.message("One", "a@example.org", f"Dingo tracks. {LONG}"),
        formats.message("Two", "b@example.org", f"{LONG} A cassowary crossed the road."),
    ]
    formats.write_mbox(folder / "inbox.mbox", mails)

    assert main(["index", str(folder), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{len(WORDS)} new" in out and "could not read" not in out and "skipped" not in out, out
    for name, (word, where) in WORDS.items():
        assert main(["search", word, "--mode", "bm25", "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)["results"]
        assert name in {Path(hit["path"]).name for hit in hits}, (name, word, hits)
        assert main(["search", word, "--mode", "bm25"]) == 0
        listing = capsys.readouterr().out
        line = next(line for line in listing.splitlines() if f"/{name}" in line)
        assert (f"({where}" in line) if where else f"{name}  modified" in line, line  # one line per document


def test_broken_files_of_each_format_are_listed_and_the_rest_indexed(
    tmp_path: Path, store: Store, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    with zipfile.ZipFile(folder / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b" " * (8 * 1024 * 1024))
    formats.write_epub(folder / "locked.epub", encrypted=True)
    (folder / "old.pptx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    whole = formats.write_pptx(tmp_path / "whole.pptx").read_bytes()
    (folder / "truncated.pptx").write_bytes(whole[: len(whole) // 2])
    (folder / "fake.rtf").write_text("no RTF header here")
    (folder / "junk.ods").write_bytes(b"not a zip")
    (folder / "not.mbox").write_text("Subject: a message with no From line first\n\nbody")
    formats.write_ods(folder / "good.ods")
    formats.write_eml(folder / "good.eml", formats.message("Fine", "a@example.org", "An ordinary message about emus."))
    store.add_folder(folder)
    indexer = Indexer(store, settings, tiny_embedder)
    for _ in indexer.run([folder]):
        pass
    problems = {Path(problem.path).name: problem.reason for problem in indexer.report.problems}
    assert problems == {
        "bomb.xlsx": "compressed parts expand to 8 MB; refused as a possible zip bomb",
        "locked.epub": "DRM protected (its chapters are encrypted)",
        "old.pptx": "an old-format PowerPoint file (.ppt), not .pptx",
        "truncated.pptx": "damaged or not a PowerPoint presentation",
        "fake.rtf": "damaged or not an RTF document",
        "junk.ods": "damaged or not an OpenDocument file",
        "not.mbox": "not an mbox mailbox (it does not start with a From line)",
    }
    records = {Path(path).name: record.status for path, record in indexer.index.file_records().items()}
    assert records["good.ods"] == records["good.eml"] == "indexed"
