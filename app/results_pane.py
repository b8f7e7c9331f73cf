"""The results column: what was searched and how, the ranked passages, or a hint when there are none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.qt import QLabel, QListView, QModelIndex, Qt, QVBoxLayout, QWidget, Signal
from app.results import ResultDelegate, ResultsModel, base_background, muted

if TYPE_CHECKING:
    from app.reader import SearchResult
    from core.search.searcher import Hit

MODE_NAMES = {"bm25": "keywords", "dense": "vectors", "hybrid": "hybrid"}
STEPS = {Qt.Key.Key_Up: -1, Qt.Key.Key_Down: 1, Qt.Key.Key_PageUp: -5, Qt.Key.Key_PageDown: 5}


class ResultsPane(QWidget):
    currentHitChanged = Signal(object)  # Hit
    openRequested = Signal()  # Enter or double-click on a result

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsColumn")
        base_background(self)
        self.model = ResultsModel()
        self.view = QListView()
        self.view.setObjectName("results")
        self.view.setModel(self.model)
        self.view.setItemDelegate(ResultDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.activated.connect(self._on_activated)
        self.info = QLabel()
        self.info.setObjectName("resultsInfo")
        self.info.setWordWrap(True)
        self.info.setContentsMargins(12, 6, 12, 6)
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setContentsMargins(24, 24, 24, 24)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.info)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty, 1)

    def clear(self, has_folders: bool) -> None:
        self.model.set_results("", [])
        self._show_list(False)
        self.info.setText("")
        self.empty.setText(
            "Type to search. Results come as you type; Enter runs the full search."
            if has_folders
            else "Add a folder to search: “Add…” in the Folders pane, or drop a folder here."
        )

    def show_result(self, result: SearchResult, enter_hint: bool) -> None:
        """Rank, mode, time and the engine's notes above the passages; the first passage selected."""
        hits = result.hits
        self.model.set_results(result.request.query, hits)
        self._show_list(bool(hits))
        if not hits:
            self.empty.setText(" ".join(result.notes) or f"Nothing found for “{result.request.query}”.")
        soft = muted(self.palette()).name()
        mode = MODE_NAMES.get(result.mode, result.mode)
        label = f"{len(hits)} passage{'s' if len(hits) != 1 else ''} · {mode} · {result.elapsed_ms:.0f} ms"
        if not result.request.full and enter_hint:
            label += " · Enter for the full search"
        # The reranker note is the default state, not news; the others explain these results.
        notes = [n for n in result.notes if hits and not n.startswith("No reranker is configured")]
        self.info.setText(
            f'<span style="color:{soft}">{label}</span>'
            + "".join(f'<br><span style="color:{soft}"><i>{n}</i></span>' for n in notes)
        )
        if hits:
            self.view.setCurrentIndex(self.model.index(0))
            self.view.scrollToTop()

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

    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        hit = self.current_hit()
        if hit is not None:
            self.currentHitChanged.emit(hit)

    def _on_activated(self, index: QModelIndex) -> None:
        self.openRequested.emit()
