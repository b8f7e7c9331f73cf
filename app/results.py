"""The ranked documents: a list model over ``core.search.grouping.DocumentHits`` and a delegate that draws cards.

A document is one row (its best passage); "3 more passages in this file" expands it into rows for its
other matched passages, indented beneath it, in ranking order.
"""

from __future__ import annotations

import functools
import html
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.qt import (
    QAbstractListModel,
    QAbstractTextDocumentLayout,
    QColor,
    QEvent,
    QFont,
    QFontMetrics,
    QModelIndex,
    QMouseEvent,
    QPainter,
    QPalette,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    Qt,
    QTextDocument,
    QWidget,
)
from core.index.cjk import has_unspaced
from core.ingest.text import page_label

if TYPE_CHECKING:
    from core.search.grouping import DocumentHits
    from core.search.searcher import Hit

HitRole = Qt.ItemDataRole.UserRole + 1
LineRole = Qt.ItemDataRole.UserRole + 2
RowRole = Qt.ItemDataRole.UserRole + 3
SNIPPET_CHARS = 300
PAD = 10
INDENT = 26  # a document's further passages, beneath it
_SPACE = re.compile(r"\s+")


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``amount`` of ``b`` over ``a``: a colour that works on light and dark palettes alike."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * amount),
        round(a.green() + (b.green() - a.green()) * amount),
        round(a.blue() + (b.blue() - a.blue()) * amount),
    )


def mark_color(background: QColor) -> QColor:
    """Query-term marker: amber, strong enough on white, muted enough on a dark base."""
    amber = QColor(255, 186, 0)
    return mix(background, amber, 0.5 if background.lightness() > 128 else 0.42)


def muted(palette: QPalette) -> QColor:
    """Secondary text: the text colour moved towards the background."""
    return mix(palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base), 0.42)


def selection_color(palette: QPalette, focused: bool) -> QColor:
    """A tint of the highlight colour, so normal text and markers stay readable on it."""
    return mix(
        palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Highlight), 0.22 if focused else 0.15
    )


def marked_html(text: str, spans: list[tuple[int, int]], color: QColor, collapse: bool = True) -> str:
    """``text`` as HTML with ``spans`` on a marker background; whitespace collapsed for snippets."""
    out: list[str] = []
    pos = 0

    def plain(piece: str) -> str:
        return html.escape(_SPACE.sub(" ", piece) if collapse else piece)

    for start, end in spans:
        if end <= pos or start >= len(text):
            continue
        start = max(start, pos)
        out.append(plain(text[pos:start]))
        out.append(f'<span style="background-color:{color.name()}">{plain(text[start:end])}</span>')
        pos = end
    out.append(plain(text[pos:]))
    return "".join(out)


def snippet(hit: Hit, width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]], bool, bool]:
    """The part of a passage worth showing: from a little before its first matched term."""
    text = hit.text
    start = 0
    if hit.highlights and hit.highlights[0][0] > 80:
        start = hit.highlights[0][0] - 60
        space = text.find(" ", start, start + 20)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + width)
    spans = [(a - start, min(b, end) - start) for a, b in hit.highlights if start <= a < end]
    return text[start:end], spans, start > 0, end < len(text)


def location(hit: Hit, line: int | None) -> str:
    if hit.page:
        return f"{page_label(hit.path)} {hit.page}"
    if line:
        return f"line {line}"
    return f"passage {hit.ordinal + 1}"


def score_tooltip(hit: Hit) -> str:
    """The path and the raw scores: for the curious, never in the list itself."""
    names = {"bm25": "keyword (BM25)", "dense": "dense", "fused": "fused", "rerank": "reranker"}
    parts = [f"{names.get(k, k)}: {v:.4f}" for k, v in hit.scores.items()]
    return f"{hit.path}\n" + ("\n".join(parts) if parts else f"score {hit.score:.4f}")


def modified(mtime: float | None) -> str:
    """A file's date as the list shows it: the day, or the time for today."""
    if not mtime:
        return ""
    if time.strftime("%Y-%m-%d", time.localtime(mtime)) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", time.localtime(mtime))
    return time.strftime("%Y-%m-%d", time.localtime(mtime))


def more_label(document: DocumentHits, expanded: bool) -> str:
    more = len(document.hits) - 1
    noun = "passage" if more == 1 else "passages"
    return f"▾  Hide {more} more {noun}" if expanded else f"▸  {more} more {noun} in this file"


#: Chinese, Japanese and Korean: drawn in a fallback font whose lines are taller than the UI font's.
_WIDE_SAMPLE = "縦書きの本、漢字と한글"


def line_height(font: QFont, text: str) -> int:
    """The height of a line of ``text`` in a snippet: the font's line spacing, or a CJK line's where it has one.

    Qt draws CJK characters in a fallback font; its lines are taller than the primary font's spacing, so
    a snippet sized by that spacing loses the bottom of its last line.
    """
    spacing = QFontMetrics(font).lineSpacing()
    return max(spacing, _wide_line_height(font.toString())) if has_unspaced(text) else spacing


@functools.lru_cache(maxsize=16)
def _wide_line_height(font_description: str) -> int:
    font = QFont()
    font.fromString(font_description)
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    doc.setDefaultFont(font)
    doc.setPlainText(_WIDE_SAMPLE)
    return math.ceil(doc.documentLayout().documentSize().height())


@dataclass(frozen=True)
class Row:
    """A row of the list: a document (its best passage), or one of its other passages when it is expanded."""

    document: DocumentHits
    hit: Hit

    @property
    def is_document(self) -> bool:
        return self.hit is self.document.hits[0]


def base_background(widget: QWidget) -> None:
    """Paint a pane in the palette's base colour (white in light themes, dark in dark ones)."""
    widget.setBackgroundRole(QPalette.ColorRole.Base)
    widget.setAutoFillBackground(True)


class ResultsModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self.documents: list[DocumentHits] = []
        self.rows: list[Row] = []
        self.expanded: set[str] = set()  # paths
        self.lines: dict[str, int] = {}
        self.query = ""

    @property
    def hits(self) -> list[Hit]:
        return [row.hit for row in self.rows]

    def set_results(self, query: str, documents: list[DocumentHits], keep_lines: bool = False) -> None:
        """``keep_lines``: the same passages in a new order (the reranked one): their line numbers stay known."""
        self.beginResetModel()
        self.query, self.documents = query, list(documents)
        self.lines = self.lines if keep_lines else {}
        self.expanded = set()
        self.rows = [Row(d, d.hits[0]) for d in self.documents]
        self.endResetModel()

    def set_lines(self, lines: dict[str, int]) -> None:
        self.lines.update(lines)
        if self.rows:
            self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1), [LineRole])

    def document_row(self, document: DocumentHits) -> int:
        return next(i for i, row in enumerate(self.rows) if row.document is document)

    def row_of(self, hit: Hit) -> int:
        return next((i for i, row in enumerate(self.rows) if row.hit is hit), -1)

    def set_expanded(self, document: DocumentHits, expanded: bool) -> None:
        """Show or hide a document's further passages beneath it."""
        if len(document.hits) < 2 or (document.path in self.expanded) == expanded:
            return
        first = self.document_row(document) + 1
        last = first + len(document.hits) - 2
        if expanded:
            self.beginInsertRows(QModelIndex(), first, last)
            self.expanded.add(document.path)
            self.rows[first:first] = [Row(document, hit) for hit in document.hits[1:]]
            self.endInsertRows()
        else:
            self.beginRemoveRows(QModelIndex(), first, last)
            self.expanded.discard(document.path)
            del self.rows[first : last + 1]
            self.endRemoveRows()
        self.dataChanged.emit(self.index(first - 1), self.index(first - 1))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        hit = row.hit
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{Path(hit.path).name} — {location(hit, self.lines.get(hit.id))}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return score_tooltip(hit)
        if role == HitRole:
            return hit
        if role == RowRole:
            return row
        if role == LineRole:
            return self.lines.get(hit.id)
        return None

    def hit(self, row: int) -> Hit | None:
        return self.rows[row].hit if 0 <= row < len(self.rows) else None

    def row(self, row: int) -> Row | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None


class ResultDelegate(QStyledItemDelegate):
    """A document: its name and date, place and folder, a snippet, and "3 more passages" where it has more.
    A further passage: indented, its place and a shorter snippet."""

    SNIPPET_LINES = 3
    PASSAGE_LINES = 2

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        title = QFont(option.font)
        title.setBold(True)
        title.setPointSizeF(option.font.pointSizeF() * 1.05)
        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.9)
        return title, small

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        title, small = self._fonts(option)
        row: Row | None = index.data(RowRole)
        line = line_height(option.font, row.hit.text if row is not None else "")
        small_h = QFontMetrics(small).height()
        if row is not None and not row.is_document:
            return QSize(320, small_h + 4 + line * self.PASSAGE_LINES + 2 * (PAD - 3) + 2)
        height = QFontMetrics(title).height() + small_h + 6 + line * self.SNIPPET_LINES + 2 * PAD + 4
        if row is not None and len(row.document.hits) > 1:
            height += small_h + 6
        return QSize(320, height)

    def expander_rect(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QRect:
        """Where "3 more passages in this file" is drawn (and clicked); empty for a row without one."""
        row: Row | None = index.data(RowRole)
        if row is None or not row.is_document or len(row.document.hits) < 2:
            return QRect()
        _title, small = self._fonts(option)
        small_h = QFontMetrics(small).height()
        label = more_label(row.document, True) + "   "
        width = QFontMetrics(small).horizontalAdvance(max(label, more_label(row.document, False), key=len)) + 12
        rect = option.rect.adjusted(PAD + 2, PAD, -PAD - 2, -PAD)
        return QRect(rect.left(), rect.bottom() - small_h, min(width, rect.width()), small_h)

    def editorEvent(
        self,
        event: QEvent,
        model: Any,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and event.button() == Qt.MouseButton.LeftButton
            and self.expander_rect(option, index).contains(event.position().toPoint())
            and isinstance(model, ResultsModel)
        ):
            row: Row = index.data(RowRole)
            model.set_expanded(row.document, row.document.path not in model.expanded)
            return True
        return super().editorEvent(event, model, option, index)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        row: Row | None = index.data(RowRole)
        if row is None:
            return super().paint(painter, option, index)
        hit = row.hit
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        hovered = bool(opt.state & QStyle.StateFlag.State_MouseOver)
        palette = opt.palette
        painter.save()
        base = palette.color(QPalette.ColorRole.Base)
        back = (
            selection_color(palette, bool(opt.state & QStyle.StateFlag.State_HasFocus))
            if selected
            else (mix(base, palette.color(QPalette.ColorRole.Text), 0.04) if hovered else base)
        )
        indent = 0 if row.is_document else INDENT
        painter.fillRect(opt.rect, back)
        painter.setPen(mix(base, palette.color(QPalette.ColorRole.Text), 0.12))
        painter.drawLine(opt.rect.left() + indent, opt.rect.bottom(), opt.rect.right(), opt.rect.bottom())
        if indent:  # a guide line that ties the passage to its document
            painter.fillRect(
                QRect(opt.rect.left() + INDENT - 12, opt.rect.top(), 2, opt.rect.height()),
                mix(base, palette.color(QPalette.ColorRole.Text), 0.18),
            )
        if selected:
            painter.fillRect(
                QRect(opt.rect.left() + indent, opt.rect.top(), 3, opt.rect.height()),
                palette.color(QPalette.ColorRole.Highlight),
            )
        text_color = palette.color(QPalette.ColorRole.Text)
        soft = muted(palette)
        title_font, small_font = self._fonts(opt)
        pad = PAD if row.is_document else PAD - 3
        rect = opt.rect.adjusted(PAD + 2 + indent, pad, -PAD - 2, -pad)
        small_h = QFontMetrics(small_font).height()
        place = location(hit, index.data(LineRole))
        y = rect.top()
        snippet_lines = self.PASSAGE_LINES

        if row.is_document:
            # Line 1: file name, the file's date at the right (scores only in the tooltip).
            date = modified(row.document.mtime)
            painter.setFont(small_font)
            date_width = QFontMetrics(small_font).horizontalAdvance(date) + 4 if date else 0
            title_h = QFontMetrics(title_font).height()
            painter.setPen(soft)
            if date:
                painter.drawText(
                    QRect(rect.right() - date_width, rect.top(), date_width, title_h),
                    int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                    date,
                )
            painter.setFont(title_font)
            painter.setPen(text_color)
            name = QFontMetrics(title_font).elidedText(
                Path(hit.path).name, Qt.TextElideMode.ElideMiddle, rect.width() - date_width - 8
            )
            painter.drawText(
                QRect(rect.left(), rect.top(), rect.width() - date_width, title_h),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                name,
            )
            # Line 2: place in the file, then the folder.
            y = rect.top() + title_h + 2
            folder = str(Path(hit.path).parent).replace(str(Path.home()), "~", 1)
            line2 = f"{place}  ·  {folder}"
            snippet_lines = self.SNIPPET_LINES
        else:
            line2 = place
        painter.setFont(small_font)
        painter.setPen(soft)
        painter.drawText(
            QRect(rect.left(), y, rect.width(), small_h),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            QFontMetrics(small_font).elidedText(line2, Qt.TextElideMode.ElideMiddle, rect.width()),
        )

        if row.is_document and len(row.document.hits) > 1:
            model = index.model()
            expanded = isinstance(model, ResultsModel) and row.document.path in model.expanded
            more = self.expander_rect(opt, index)
            painter.setPen(palette.color(QPalette.ColorRole.Link))
            painter.drawText(
                more,
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                more_label(row.document, expanded),
            )

        # Snippet.
        y += small_h + 4
        text, spans, before, after = snippet(hit)
        body = ("… " if before else "") + marked_html(text, spans, mark_color(back)) + (" …" if after else "")
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setDefaultFont(opt.font)
        doc.setTextWidth(rect.width())
        doc.setHtml(body)
        spacing = line_height(opt.font, text)
        clip = QRect(0, 0, rect.width(), snippet_lines * spacing)
        painter.translate(rect.left(), y)
        painter.setClipRect(clip)
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, text_color)
        context.clip = QRectF(clip)
        doc.documentLayout().draw(painter, context)
        painter.restore()
        return None
