"""The filter bar: file type, folder and modification date, as a compact row under the search box.

It edits the query's own filters (``type:``, ``in:``, ``after:``; core.search.query), so the search
box always shows what is applied, and a filter typed into the box shows here too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from app.qt import QComboBox, QHBoxLayout, QLabel, QLineEdit, QObject, QSettings, QTimer, QToolButton, QWidget, Signal
from core.search.query import filter_values, parse, set_filter

TYPES = {
    "": "Any type",
    "pdf": "PDF",
    "docx": "Word (.docx)",
    "odt": "OpenDocument (.odt)",
    "md": "Markdown (.md)",
    "txt": "Text (.txt)",
    "html": "Web page (.html)",
    "rst": "reStructuredText (.rst)",
}
#: "Modified" choices: label and how many days back.
PERIODS = {"Any time": 0, "Past week": 7, "Past month": 31, "Past year": 365}


def days_ago(days: int) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(time.time() - days * 86400))


class FilterBar(QWidget):
    filterEdited = Signal(str, str)  # key ("type", "in", "after"), value ("" removes it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterBar")
        self.type = QComboBox()
        self.type.setObjectName("filterType")
        for suffix, label in TYPES.items():
            self.type.addItem(label, suffix)
        self.type.activated.connect(lambda _i: self.filterEdited.emit("type", str(self.type.currentData())))
        self.folder = QLineEdit()
        self.folder.setObjectName("filterFolder")
        self.folder.setPlaceholderText("Folder or path contains…")
        self.folder.setClearButtonEnabled(True)
        self.folder.setMinimumWidth(200)
        self.folder.setMaximumWidth(260)
        self.folder.editingFinished.connect(self._on_folder)
        self.modified = QComboBox()
        self.modified.setObjectName("filterModified")
        for label, days in PERIODS.items():
            self.modified.addItem(label, days)
        self.modified.activated.connect(self._on_modified)
        self.clear_button = QToolButton()
        self.clear_button.setText("Clear filters")
        self.clear_button.setAutoRaise(True)
        self.clear_button.clicked.connect(self._clear)
        hint = QLabel(
            "or type <code>type:pdf</code> <code>in:folder</code> <code>after:2024-01</code> "
            '<code>"exact phrase"</code> <code>-word</code>'
        )
        hint.setObjectName("filterHint")
        hint.setEnabled(False)  # drawn muted
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 0, 12, 8)
        layout.setSpacing(8)
        for label, widget in (("Type", self.type), ("In", self.folder), ("Modified", self.modified)):
            caption = QLabel(label)
            caption.setBuddy(widget)
            layout.addWidget(caption)
            layout.addWidget(widget)
        layout.addWidget(self.clear_button)
        layout.addStretch(1)
        layout.addWidget(hint)
        self._folder_shown = ""

    def active(self, query: str) -> int:
        """How many kinds of filter ``query`` applies (the toggle button shows the count)."""
        filters = parse(query).filters
        return sum((bool(filters.types), bool(filters.folders), filters.after is not None, filters.before is not None))

    def show_query(self, query: str) -> None:
        """Show the filters ``query`` holds, without emitting edits."""
        types = filter_values(query, "type")
        suffix = types[0].lstrip(".").lower() if len(types) == 1 else ""
        if suffix and self.type.findData(suffix) < 0:
            self.type.addItem(f".{suffix}", suffix)
        self.type.setCurrentIndex(max(0, self.type.findData(suffix)))
        folders = filter_values(query, "in")
        self._folder_shown = folders[0] if len(folders) == 1 else ""
        if not self.folder.hasFocus():
            self.folder.setText(self._folder_shown)
        after = filter_values(query, "after")
        self._show_after(after[0] if len(after) == 1 else "")

    def _show_after(self, value: str) -> None:
        for days in PERIODS.values():
            if days and value == days_ago(days):
                self.modified.setCurrentIndex(self.modified.findData(days))
                return
        custom = self.modified.findData(-1)
        if custom >= 0:
            self.modified.removeItem(custom)
        if value:
            self.modified.addItem(f"Since {value}", -1)
            self.modified.setCurrentIndex(self.modified.count() - 1)
        else:
            self.modified.setCurrentIndex(0)

    def _on_folder(self) -> None:
        value = self.folder.text().strip()
        if value != self._folder_shown:
            self._folder_shown = value
            self.filterEdited.emit("in", value)

    def _on_modified(self, _index: int) -> None:
        days = int(self.modified.currentData())
        if days >= 0:
            self.filterEdited.emit("after", days_ago(days) if days else "")

    def _clear(self) -> None:
        for key in ("type", "in", "after", "before"):
            self.filterEdited.emit(key, "")


class FilterControls(QObject):
    """The bar, its "Filters" toggle beside the search box, and the wiring between them and the box."""

    def __init__(self, box: QLineEdit, search: Callable[[], object], state: QSettings) -> None:
        super().__init__(box)
        self.box, self.state = box, state
        self.bar = FilterBar()
        self.toggle = QToolButton()
        self.toggle.setObjectName("filterToggle")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip("Narrow the search by file type, folder or date")
        self.toggle.toggled.connect(self._on_toggled)
        self.toggle.setChecked(state.value("window/filters", "false") in (True, "true"))
        self.bar.setVisible(self.toggle.isChecked())
        self.bar.filterEdited.connect(self._edit)
        box.textChanged.connect(self._on_text)
        self._search = QTimer(self)  # one search for several edits at once (Clear filters)
        self._search.setSingleShot(True)
        self._search.setInterval(0)
        self._search.timeout.connect(search)
        self._on_text(box.text())

    def _edit(self, key: str, value: str) -> None:
        self.box.setText(set_filter(self.box.text(), key, value))
        self._search.start()

    def _on_text(self, text: str) -> None:
        self.bar.show_query(text)
        count = self.bar.active(text)
        self.toggle.setText(f"Filters ({count})" if count else "Filters")

    def _on_toggled(self, shown: bool) -> None:
        self.bar.setVisible(shown)
        self.state.setValue("window/filters", shown)
