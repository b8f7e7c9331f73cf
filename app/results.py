"""The ranked passages: a list model over ``core.search.Hit`` and a delegate that draws each as a card."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.qt import (
    QAbstractListModel,
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetrics,
    QModelIndex,
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
from core.ingest.text import page_label

if TYPE_CHECKING:
    from core.search.searcher import Hit

HitRole = Qt.ItemDataRole.UserRole + 1
LineRole = Qt.ItemDataRole.UserRole + 2
SNIPPET_CHARS = 300
PAD = 10
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
    names = {"bm25": "keyword (BM25)", "dense": "dense", "fused": "fused", "rerank": "reranker"}
    parts = [f"{names.get(k, k)}: {v:.4f}" for k, v in hit.scores.items()]
    return f"{hit.path}\n" + ("\n".join(parts) if parts else f"score {hit.score:.4f}")


def base_background(widget: QWidget) -> None:
    """Paint a pane in the palette's base colour (white in light themes, dark in dark ones)."""
    widget.setBackgroundRole(QPalette.ColorRole.Base)
    widget.setAutoFillBackground(True)


class ResultsModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self.hits: list[Hit] = []
        self.lines: dict[str, int] = {}
        self.query = ""

    def set_results(self, query: str, hits: list[Hit]) -> None:
        self.beginResetModel()
        self.query, self.hits, self.lines = query, list(hits), {}
        self.endResetModel()

    def set_lines(self, lines: dict[str, int]) -> None:
        self.lines.update(lines)
        if self.hits:
            self.dataChanged.emit(self.index(0), self.index(len(self.hits) - 1), [LineRole])

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.hits)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.hits):
            return None
        hit = self.hits[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{Path(hit.path).name} — {location(hit, self.lines.get(hit.id))}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return score_tooltip(hit)
        if role == HitRole:
            return hit
        if role == LineRole:
            return self.lines.get(hit.id)
        return None

    def hit(self, row: int) -> Hit | None:
        return self.hits[row] if 0 <= row < len(self.hits) else None


class ResultDelegate(QStyledItemDelegate):
    """Two header lines (name and score; folder and place) over a snippet with the query terms marked."""

    SNIPPET_LINES = 3

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        title = QFont(option.font)
        title.setBold(True)
        title.setPointSizeF(option.font.pointSizeF() * 1.05)
        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.9)
        return title, small

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        title, small = self._fonts(option)
        height = QFontMetrics(title).height() + QFontMetrics(small).height() + 6
        height += QFontMetrics(option.font).lineSpacing() * self.SNIPPET_LINES + 2 * PAD + 4
        return QSize(320, height)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        hit: Hit | None = index.data(HitRole)
        if hit is None:
            return super().paint(painter, option, index)
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
        painter.fillRect(opt.rect, back)
        painter.setPen(mix(base, palette.color(QPalette.ColorRole.Text), 0.12))
        painter.drawLine(opt.rect.left(), opt.rect.bottom(), opt.rect.right(), opt.rect.bottom())
        if selected:
            painter.fillRect(
                QRect(opt.rect.left(), opt.rect.top(), 3, opt.rect.height()),
                palette.color(QPalette.ColorRole.Highlight),
            )
        text_color = palette.color(QPalette.ColorRole.Text)
        soft = muted(palette)
        title_font, small_font = self._fonts(opt)
        rect = opt.rect.adjusted(PAD + 2, PAD, -PAD - 2, -PAD)

        # Line 1: file name, score at the right.
        score = f"{hit.score:.4f}" if abs(hit.score) < 10 else f"{hit.score:.1f}"
        painter.setFont(small_font)
        score_width = QFontMetrics(small_font).horizontalAdvance(score) + 4
        title_h = QFontMetrics(title_font).height()
        painter.setPen(soft)
        painter.drawText(
            QRect(rect.right() - score_width, rect.top(), score_width, title_h),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            score,
        )
        painter.setFont(title_font)
        painter.setPen(text_color)
        name = QFontMetrics(title_font).elidedText(
            Path(hit.path).name, Qt.TextElideMode.ElideMiddle, rect.width() - score_width - 8
        )
        painter.drawText(
            QRect(rect.left(), rect.top(), rect.width() - score_width, title_h),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            name,
        )

        # Line 2: place in the file, then the folder.
        y = rect.top() + title_h + 2
        small_h = QFontMetrics(small_font).height()
        painter.setFont(small_font)
        painter.setPen(soft)
        place = location(hit, index.data(LineRole))
        folder = str(Path(hit.path).parent).replace(str(Path.home()), "~", 1)
        line2 = QFontMetrics(small_font).elidedText(f"{place}  ·  {folder}", Qt.TextElideMode.ElideMiddle, rect.width())
        painter.drawText(
            QRect(rect.left(), y, rect.width(), small_h),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            line2,
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
        lines = max(1, min(self.SNIPPET_LINES, (rect.bottom() - y) // QFontMetrics(opt.font).lineSpacing()))
        clip = QRect(0, 0, rect.width(), lines * QFontMetrics(opt.font).lineSpacing())
        painter.translate(rect.left(), y)
        painter.setClipRect(clip)
        context = QAbstractTextDocumentLayout.PaintContext()
        context.palette.setColor(QPalette.ColorRole.Text, text_color)
        context.clip = QRectF(clip)
        doc.documentLayout().draw(painter, context)
        painter.restore()
        return None
