"""The results column: what was searched and how, the ranked documents, or a hint when there are none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.qt import (
    QComboBox,
    QEvent,
    QHBoxLayout,
    QKeyEvent,
    QLabel,
    QListView,
    QModelIndex,
    QObject,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.results import ResultDelegate, ResultsModel, base_background, muted
from core.search.query import parse
from core.vocabulary import Mode, NoteKind, Sort, note_kind

if TYPE_CHECKING:
    from app.reader import SearchResult
    from core.search.searcher import Hit

MODE_NAMES = {Mode.BM25: "keywords", Mode.DENSE: "vectors", Mode.HYBRID: "hybrid"}
STEPS = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_PageUp: -5, Qt.Key.Key_PageDown: 5}
SORTS = {Sort.RELEVANCE: "Sort by relevance", Sort.DATE: "Sort by date"}


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


class ResultsPane(QWidget):
    currentHitChanged = Signal(object)  # Hit
    openRequested = Signal()  # Enter or double-click on a result
    sortChanged = Signal(str)  # "relevance" or "date"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsColumn")
        base_background(self)
        self.model = ResultsModel()
        self.view = QListView()
        self.view.setObjectName("results")
        self.view.setModel(self.model)
        self.view.setItemDelegate(ResultDelegate(self.view))
        self.view.setMouseTracking(True)
        self.view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.activated.connect(self._on_activated)
        self.view.installEventFilter(self)
        self.info = QLabel()
        self.info.setObjectName("resultsInfo")
        self.info.setWordWrap(True)
        self.sort = QComboBox()
        self.sort.setObjectName("resultsSort")
        self.sort.setToolTip("Order of the documents: best match first, or most recently modified first")
        for key, label in SORTS.items():
            self.sort.addItem(label, key)
        self.sort.currentIndexChanged.connect(lambda _i: self.sortChanged.emit(self.sort_key()))
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setContentsMargins(24, 24, 24, 24)
        header = QHBoxLayout()
        header.setContentsMargins(12, 6, 8, 6)
        header.addWidget(self.info, 1)
        header.addWidget(self.sort, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty, 1)
        self.sort.hide()

    def sort_key(self) -> str:
        return str(self.sort.currentData())

    def clear(self, has_folders: bool) -> None:
        self.model.set_results("", [])
        self._show_list(False)
        self.info.setText("")
        self.sort.hide()
        self.empty.setText(
            "Type to search. Results come as you type; Enter runs the full search."
            if has_folders
            else "Add a folder to search: “Add…” in the Folders pane, or drop a folder here."
        )

    def show_result(self, result: SearchResult, enter_hint: bool, keep_place: bool = False) -> None:
        """Count, mode, time and the engine's notes above the documents; the first document selected.

        ``keep_place`` (the reranked order of the results on show): the selected document stays selected
        and the list keeps its scroll position.
        """
        documents = result.documents
        selected = self.current_hit() if keep_place else None
        scrolled = self.view.verticalScrollBar().value()
        # The words the preview marks: the corrected ones, without filters or excluded words.
        self.model.set_results(result.corrected or parse(result.request.query).text, documents, keep_lines=keep_place)
        self._show_list(bool(documents))
        self.sort.setVisible(bool(documents))
        if not documents:
            self.empty.setText(" ".join(result.notes) or f"Nothing found for “{result.request.query}”.")
        soft = muted(self.palette()).name()
        mode = MODE_NAMES.get(result.mode, result.mode)
        label = f"{plural(len(documents), 'document')}"
        if len(result.hits) > len(documents):
            label += f" ({plural(len(result.hits), 'passage')})"
        label += f" · {mode} · {result.elapsed_ms:.0f} ms"
        if result.rerank_pending:
            label += " · reranking…"
        elif result.reranked:
            label += " · reranked"
        if not result.request.full and enter_hint:
            label += " · Enter for the full search"
        # The reranker note is the default state, not news; the others explain these results.
        notes = [n for n in result.notes if documents and note_kind(n) is not NoteKind.NO_RERANKER]
        self.info.setText(
            f'<span style="color:{soft}">{label}</span>'
            + "".join(f'<br><span style="color:{soft}"><i>{n}</i></span>' for n in notes)
        )
        if documents and selected is not None:
            self.view.setCurrentIndex(self.model.index(self._row_for(selected)))
            self.view.verticalScrollBar().setValue(scrolled)
        elif documents:
            self.view.setCurrentIndex(self.model.index(0))
            self.view.scrollToTop()

    def _row_for(self, hit: Hit) -> int:
        """The row of ``hit``'s document in the list shown now (the first row when it is gone)."""
        return next((i for i, row in enumerate(self.model.rows) if row.document.path == hit.path), 0)

    def _show_list(self, visible: bool) -> None:
        self.view.setVisible(visible)
        self.empty.setVisible(not visible)
        self.empty.setStyleSheet(f"color:{muted(self.palette()).name()}")

    def current_hit(self) -> Hit | None:
        return self.model.hit(self.view.currentIndex().row())

    def step(self, key: Qt.Key) -> bool:
        """Move the selection as Up/Down/PageUp/PageDown would; False when there is nothing to move through."""
        rows = self.model.rowCount()
        if not rows or key not in STEPS:
            return False
        row = self.view.currentIndex().row()
        row = min(rows - 1, max(0, (row if row >= 0 else -1) + STEPS[key]))
        self.view.setCurrentIndex(self.model.index(row))
        return True

    def expand_current(self, expanded: bool) -> bool:
        """Right shows the current document's further passages, Left hides them (from any of its rows)."""
        row = self.model.row(self.view.currentIndex().row())
        if row is None or len(row.document.hits) < 2:
            return False
        if not expanded and not row.is_document:
            self.view.setCurrentIndex(self.model.index(self.model.document_row(row.document)))
        self.model.set_expanded(row.document, expanded)
        return True

    def match_position(self, hit: Hit) -> tuple[int, int]:
        """Which of its file's matched passages ``hit`` is, in file order (1-based), and how many there are."""
        row = self.model.row(self.model.row_of(hit))
        if row is None:
            return 0, 0
        order = row.document.in_file_order()
        return order.index(hit) + 1, len(order)

    def step_match(self, delta: int) -> bool:
        """Select the next (or previous) matched passage of the current file, in the order of the file."""
        row = self.model.row(self.view.currentIndex().row())
        if row is None:
            return False
        order = row.document.in_file_order()
        target = order.index(row.hit) + delta
        if not 0 <= target < len(order):
            return False
        hit = order[target]
        if hit is not row.document.hits[0]:
            self.model.set_expanded(row.document, True)
        self.view.setCurrentIndex(self.model.index(self.model.row_of(hit)))
        return True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.view
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Right, Qt.Key.Key_Left)
        ):
            return self.expand_current(event.key() == Qt.Key.Key_Right)
        return super().eventFilter(watched, event)

    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        hit = self.current_hit()
        if hit is not None:
            self.currentHitChanged.emit(hit)

    def _on_activated(self, index: QModelIndex) -> None:
        self.openRequested.emit()
