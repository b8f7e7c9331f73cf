"""Real files of the office, e-book and e-mail formats, written by the libraries that write them.

odfpy writes the OpenDocument files, python-pptx and openpyxl the Office ones, the stdlib's ``email``
the messages and mailboxes. The EPUB is a valid book built by hand (a zip with its mimetype first,
container, package and XHTML chapters), and the RTF is written by hand: RTF is text.
"""

from __future__ import annotations

import datetime
import email.policy
import email.utils
import zipfile
from email.message import EmailMessage
from pathlib import Path


def write_ods(path: Path) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    for name, rows in (
        ("Sightings", [["Site", "Species", "Count"], ["Creek", "platypus", "7"], ["Ridge", "echidna", "3"]]),
        ("Notes", [["Burrows collapse after heavy rain"]]),
    ):
        table = Table(name=name)
        for values in rows:
            row = TableRow()
            for value in values:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=value))
                row.addElement(cell)
            table.addElement(row)
        document.spreadsheet.addElement(table)
    document.save(str(path))
    return path


def write_odp(path: Path, slides: list[list[str]]) -> Path:
    """A presentation with one text box per line on each slide."""
    from odf.draw import Frame, Page, TextBox
    from odf.opendocument import OpenDocumentPresentation
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    document = OpenDocumentPresentation()
    layout = PageLayout(name="Layout")
    document.automaticstyles.addElement(layout)
    master = MasterPage(name="Default", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for number, lines in enumerate(slides, start=1):
        page = Page(name=f"page{number}", masterpagename=master)
        for line in lines:
            frame = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
            box = TextBox()
            box.addElement(P(text=line))
            frame.addElement(box)
            page.addElement(frame)
        document.presentation.addElement(page)
    document.save(str(path))
    return path


def write_pptx(path: Path) -> Path:
    """Three slides: a title slide, one with a table and notes, one with a grouped text box."""
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    title = presentation.slides.add_slide(presentation.slide_layouts[0])
    title.shapes.title.text = "Wombat survey 2026"
    title.placeholders[1].text = "Results from the northern burrows"
    table_slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    table_slide.shapes.title.text = "Counts by site"
    table = table_slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(6), Inches(1)).table
    for row, values in enumerate((("Site", "Wombats"), ("Gully", "12"))):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    table_slide.notes_slide.notes_text_frame.text = "Mention the drought year."
    grouped = presentation.slides.add_slide(presentation.slide_layouts[6])
    group = grouped.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1))
    box.text_frame.text = "Burrow entrances face away from the wind"
    presentation.save(str(path))
    return path


def write_xlsx(path: Path, extra_rows: int = 0) -> Path:
    """Two sheets of real values (text, an integer, a float, a date); ``extra_rows`` long rows after them."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Budget"
    sheet.append(["Item", "Cost", "Bought"])
    sheet.append(["Quokka enclosure", 1200, datetime.datetime(2026, 3, 14)])
    sheet.append(["Night camera", 349.5, None])
    for number in range(extra_rows):
        sheet.append([f"filler row {number} " + "bilby " * 20])
    other = workbook.create_sheet("Suppliers")
    other.append(["Rottnest Timber", "fences"])
    workbook.save(str(path))
    return path


CHAPTERS = [
    ("chapter2.xhtml", "Chapter Two", "The numbat eats termites, thousands a day."),
    ("chapter1.xhtml", "Chapter One", "The quoll hunts at night along the creek."),
]


def write_epub(path: Path, encrypted: bool = False) -> Path:
    """A book whose spine reads chapter1 before chapter2, though the manifest lists them the other way."""
    manifest = "".join(
        f'<item id="c{i}" href="text/{name}" media-type="application/xhtml+xml"/>'
        for i, (name, _, _) in enumerate(CHAPTERS)
    )
    package = f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">urn:uuid:1</dc:identifier>
<dc:title>Marsupials of the Bush</dc:title><dc:language>en</dc:language></metadata>
<manifest>{manifest}<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/></manifest>
<spine><itemref idref="c1"/><itemref idref="c0"/></spine>
</package>"""
    container = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr("META-INF/container.xml", container)
        book.writestr("OEBPS/content.opf", package)
        book.writestr("OEBPS/nav.xhtml", _xhtml("Contents", "<nav><ol><li>Chapter One</li></ol></nav>"))
        for name, heading, text in CHAPTERS:
            book.writestr(f"OEBPS/text/{name}", _xhtml("Marsupials of the Bush", f"<h1>{heading}</h1><p>{text}</p>"))
        if encrypted:
            book.writestr(
                "META-INF/encryption.xml",
                '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
                '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
                '<enc:CipherData><enc:CipherReference URI="OEBPS/text/chapter1.xhtml"/></enc:CipherData>'
                "</enc:EncryptedData></encryption>",
            )
    return path


def _xhtml(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head><body>{body}</body></html>'
    )


#: Windows-1252 (\'e9 is é), a \u escape (Ş: U+015E), a font table and a \pict group that are not text.
RTF = (
    r"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Helvetica;}}"
    r"{\*\generator Handwritten;}"
    r"\f0\pard {\b Caf\'e9 notes}\par "
    r"The bandicoot digs conical holes.\par "
    r"Istanbul is in \u350?ehir T\'fcrkiye.\par "
    r"{\pict\pngblip 89504e470d0a1a0a}"
    r"}"
)


def write_rtf(path: Path) -> Path:
    path.write_bytes(RTF.encode("ascii"))
    return path


def message(
    subject: str, sender: str, body: str, *, html: str = "", attachments: tuple[str, ...] = (), day: int = 1
) -> EmailMessage:
    """A real message: a text body (or text and HTML alternatives), attachments by name."""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = "ranger@example.org"
    mail["Date"] = email.utils.format_datetime(datetime.datetime(2026, 5, day, 9, 30, tzinfo=datetime.UTC))
    if body:
        mail.set_content(body)
    if html:
        if body:
            mail.add_alternative(html, subtype="html")
        else:
            mail.set_content(html, subtype="html")
    for name in attachments:
        mail.add_attachment(b"%PDF-1.4 not really read", maintype="application", subtype="pdf", filename=name)
    return mail


def write_eml(path: Path, mail: EmailMessage) -> Path:
    path.write_bytes(mail.as_bytes())
    return path


def write_mbox(path: Path, mails: list[EmailMessage]) -> Path:
    """An mbox written by the stdlib's ``mailbox`` (it quotes ``From `` lines in bodies as ``>From ``)."""
    import mailbox

    box = mailbox.mbox(str(path), create=True)
    try:
        for mail in mails:
            box.add(mail)
        box.flush()
    finally:
        box.close()
    return path
