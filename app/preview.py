"""The preview pane: the selected passage within its document, passage and query terms highlighted."""

from __future__ import annotations

import html
import itertools
from pathlib import Path
from typing import TYPE_CHECKING

from app import messages, opener
from app.passages import Preview
from app.qt import (
    QFrame,
    QGuiApplication,
    QHBoxLayout,
    QLabel,
    QPalette,
    QPushButton,
    QResizeEvent,
    QStyle,
    Qt,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
    plain_tip,
)
from app.results import base_background, location, mark_color, mix, muted
from core.index.names import display

if TYPE_CHECKING:
    from core.search.searcher import Hit


def preview_html(preview: Preview, palette: QPalette) -> str:
    """The context as pre-wrapped HTML: the passage on a tinted band, query terms on a marker."""
    base = palette.color(QPalette.ColorRole.Base)
    band = mix(base, palette.color(QPalette.ColorRole.Highlight), 0.22)
    marker = mark_color(band)
    marker_out = mark_color(base)
    soft = muted(palette)
    text = preview.text
    p_start, p_end = preview.passage
    cuts = {0, len(text), p_start, p_end}
    for a, b in preview.terms:
        cuts.update((a, b))
    breaks = dict(preview.page_breaks)
    cuts.update(breaks)
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    terms = sorted(preview.terms)
    # The first matched word of the passage: where the preview scrolls to.
    first_match = next((a for a, _b in terms if p_start <= a < p_end), None)
    if first_match is not None:
        cuts.add(first_match)
        points = sorted(c for c in cuts if 0 <= c <= len(text))
    out: list[str] = []
    t = 0
    for a, b in itertools.pairwise(points):
        if a in breaks:
            out.append(f'<span style="color:{soft.name()}">\n——  page {breaks[a]}  ——\n</span>')
        if a == p_start:
            out.append('<a name="passage"></a>')
        if a == first_match:
            out.append('<a name="match"></a>')
        while t < len(terms) and terms[t][1] <= a:
            t += 1
        in_term = t < len(terms) and terms[t][0] <= a < terms[t][1]
        in_passage = p_start <= a < p_end
        piece = html.escape(text[a:b])
        styles = []
        if in_term:
            styles.append(f"background-color:{(marker if in_passage else marker_out).name()}")
        elif in_passage:
            styles.append(f"background-color:{band.name()}")
        out.append(f'<span style="{";".join(styles)}">{piece}</span>' if styles else piece)
    return f'<div style="white-space:pre-wrap; line-height:135%">{"".join(out)}</div>'


class PreviewPane(QWidget):
    previousMatch = Signal()  # the previous matched passage of this file (Shift+F3)
    nextMatch = Signal()  # the next one (F3)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hit: Hit | None = None
        self.preview: Preview | None = None
        self.setMinimumWidth(320)
        base_background(self)

        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # a file name is never markup
        self.where = QLabel()
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.where.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setObjectName("previewNote")
        self.note.hide()

        style = self.style()
        self.open_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_FileIcon), "Open")
        self.open_button.setToolTip("Open the file with the system viewer (at the page, where the viewer allows)")
        self.folder_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon), "Show in folder")
        self.copy_button = QPushButton("Copy passage")
        self.copy_button.setToolTip("Copy the passage's text to the clipboard")
        self._open_text = "Open"
        self._match = (0, 0)
        self.folder_button.setToolTip("Show the file in its folder")
        self.open_button.clicked.connect(self.open_file)
        self.folder_button.clicked.connect(self.show_in_folder)
        self.copy_button.clicked.connect(self.copy_passage)

        self.previous_button = QToolButton()
        self.previous_button.setArrowType(Qt.ArrowType.UpArrow)
        self.previous_button.setToolTip("Previous match in this file (Shift+F3)")
        self.previous_button.clicked.connect(self.previousMatch.emit)
        self.next_button = QToolButton()
        self.next_button.setArrowType(Qt.ArrowType.DownArrow)
        self.next_button.setToolTip("Next match in this file (F3)")
        self.next_button.clicked.connect(self.nextMatch.emit)
        self.match_label = QLabel()
        self.match_label.setObjectName("matchPosition")

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        for button in (self.open_button, self.folder_button, self.copy_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.match_label)
        buttons.addWidget(self.previous_button)
        buttons.addWidget(self.next_button)

        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setFrameShape(QFrame.Shape.NoFrame)
        self.text.document().setDocumentMargin(14)

        self.empty = QLabel("Select a result to read it in its document.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)

        header = QVBoxLayout()
        header.setContentsMargins(14, 12, 14, 8)
        header.setSpacing(4)
        header.addWidget(self.title)
        header.addWidget(self.where)
        header.addWidget(self.note)
        header.addSpacing(4)
        header.addLayout(buttons)
        self.header = QWidget()
        self.header.setLayout(header)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        self.line = line

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(line)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.empty, 1)
        self.clear()

    def _soft(self) -> str:
        return muted(self.palette()).name()

    def clear(self) -> None:
        self.hit, self.preview = None, None
        for widget in (self.header, self.line, self.text):
            widget.hide()
        self.empty.setStyleSheet(f"color:{self._soft()}")
        self.empty.show()

    def show_hit(self, hit: Hit, line: int | None = None) -> None:
        """Show the result at once from what the search returned; ``show_preview`` adds the context."""
        self.hit, self.preview = hit, None
        self.empty.hide()
        for widget in (self.header, self.line, self.text):
            widget.show()
        self._header(hit, line, "")
        self.note.hide()
        self.text.setHtml(
            preview_html(Preview(hit, "", hit.text, (0, len(hit.text)), list(hit.highlights)), self.palette())
        )

    def show_preview(self, preview: Preview) -> None:
        if self.hit is None or preview.hit.id != self.hit.id:
            return  # the user has moved on
        self.preview = preview
        self._header(preview.hit, preview.line, preview.encoding)
        if preview.note:
            self.note.setText(preview.note)
            self.note.setStyleSheet(f"color:{self._soft()}; font-style:italic")
            self.note.show()
        else:
            self.note.hide()
        html_text = preview_html(preview, self.palette())
        self.text.setHtml(html_text)
        # To the passage's first matched word (its start where none is marked), a third of the way down,
        # so what leads into it shows too.
        self.text.scrollToAnchor("match" if '<a name="match">' in html_text else "passage")
        bar = self.text.verticalScrollBar()
        bar.setValue(max(0, bar.value() - self.text.viewport().height() // 3))

    def set_matches(self, position: int, count: int) -> None:
        """Which of this file's matched passages is shown: "2 of 4", with the steps that go anywhere."""
        several = count > 1
        for widget in (self.match_label, self.previous_button, self.next_button):
            widget.setVisible(several)
        self._match = (position, count)
        self._fit_buttons()
        self.previous_button.setEnabled(position > 1)
        self.next_button.setEnabled(position < count)

    def _header(self, hit: Hit, line: int | None, encoding: str) -> None:
        path = Path(hit.path)
        self.title.setText(display(path.name))
        folder = display(str(path.parent)).replace(str(Path.home()), "~", 1)
        details = [location(hit, line), folder]
        if encoding and encoding not in ("utf-8", "ascii"):  # a guessed legacy encoding: say which
            details.append(f"read as {encoding}")
        text = " · ".join(html.escape(detail) for detail in details)
        self.where.setText(f'<span style="color:{self._soft()}">{text}</span>')
        self.where.setToolTip(plain_tip(display(hit.path)))
        # Only a PDF viewer is handed a page (app.opener); a slide or a message opens the file.
        at_page = hit.page and hit.path.lower().endswith(".pdf")
        self._open_text = f"Open at page {hit.page}" if at_page else "Open"
        self._fit_buttons()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_buttons()

    def _fit_buttons(self) -> None:
        """Full labels where they fit; in a narrow pane the open and folder buttons show only their icons
        (their tooltips still say what they do), "Copy passage" becomes "Copy" and "match 2 of 5" "2/5":
        never cut-off words."""
        labels = {
            self.open_button: self._open_text,
            self.folder_button: "Show in folder",
            self.copy_button: "Copy passage",
        }
        for button, label in labels.items():
            button.setText(label)
        position, count = self._match
        self.match_label.setText(f'<span style="color:{self._soft()}">match {position} of {count}</span>')
        needed = sum(b.sizeHint().width() for b in labels) + self.match_label.sizeHint().width() + 120
        if needed > self.width():
            self.open_button.setText("")
            self.folder_button.setText("")
            self.copy_button.setText("Copy")
            self.match_label.setText(f'<span style="color:{self._soft()}">{position}/{count}</span>')

    def open_file(self) -> None:
        if self.hit is None:
            return
        if not Path(self.hit.path).exists():
            messages.error(f"{self.hit.path} no longer exists.")
        elif not opener.open_file(self.hit.path, self.hit.page):
            messages.error(f"No application is set up to open {Path(self.hit.path).name}.")

    def show_in_folder(self) -> None:
        if self.hit is not None and not opener.show_in_folder(self.hit.path):
            messages.error(f"Cannot show {self.hit.path} in a file manager.")

    def copy_passage(self) -> None:
        if self.hit is None:
            return
        QGuiApplication.clipboard().setText(self.hit.text)
        messages.info("Passage copied to the clipboard.")
