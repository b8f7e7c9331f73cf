"""The folders sidebar: folders with their counts and state, and the files not read (failed or skipped), with why."""

from __future__ import annotations

from pathlib import Path

from app.qt import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QStyle,
    Qt,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    Signal,
    plain_tip,
)
from app.results import base_background, muted
from core.index.names import display
from core.index.stats import IndexStats

PathRole = Qt.ItemDataRole.UserRole + 10
#: How each folder is followed (core.service.watcher.FolderState values), as the folders pane says it.
STATES = {
    "watching": ("watching live", "Changes are picked up within seconds."),
    "polling": (
        "checked periodically",
        "This folder cannot be watched live (see the messages); it is checked for changes every minute.",
    ),
    "missing": ("missing", "This folder is not there (unplugged or deleted?); its files stay searchable."),
}
PAUSE_HELP = (
    "Pause: Sleuth stops reading this folder's new and changed files until you resume it. "
    "Passages already read stay searchable (and may still get their vectors). "
    "A new index built after a settings change still reads every folder."
)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class FoldersPanel(QWidget):
    addRequested = Signal(str)
    removeRequested = Signal(str)
    pauseRequested = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.paused: set[str] = set()
        self.stats = IndexStats()
        self.skipped: list[str] = []
        self.states: dict[str, str] = {}  # folder -> core.service.watcher.FolderState value
        self.setMinimumWidth(220)
        base_background(self)
        style = self.style()

        title = QLabel("Folders")
        title.setObjectName("paneTitle")
        self.add_button = self._tool(
            style.standardIcon(QStyle.StandardPixmap.SP_FileDialogNewFolder),
            "Add…",
            "Add a folder to search (or drop folders on the window)",
        )
        self.remove_button = self._tool(
            style.standardIcon(QStyle.StandardPixmap.SP_DialogDiscardButton),
            "Remove",
            "Stop searching this folder and forget its index (your files stay)",
        )
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)  # the README's "Add…"
        self.pause_button = self._tool(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "Pause", PAUSE_HELP)
        self.add_button.clicked.connect(self._choose_folder)
        self.remove_button.clicked.connect(self._remove)
        self.pause_button.clicked.connect(self._toggle_pause)

        top = QHBoxLayout()
        top.setContentsMargins(10, 8, 6, 4)
        top.addWidget(title)
        top.addStretch(1)
        for button in (self.add_button, self.pause_button, self.remove_button):
            top.addWidget(button)

        self.list = QListWidget()
        self.list.setObjectName("folderList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.hint = QLabel("No folders yet.\nAdd one with “Add…”, or drop a folder here.")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)

        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.setSpacing(0)
        upper_layout.addLayout(top)
        upper_layout.addWidget(self.list, 1)
        upper_layout.addWidget(self.hint, 1)

        self.failed_title = QLabel("Files not read")
        self.failed_title.setObjectName("paneTitle")
        self.failed = QTreeWidget()
        self.failed.setObjectName("failedFiles")
        self.failed.setHeaderLabels(["File", "Reason"])
        self.failed.setRootIsDecorated(False)
        self.failed.setUniformRowHeights(True)
        self.failed.setColumnWidth(0, 150)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(0)
        title_row = QHBoxLayout()
        title_row.setContentsMargins(10, 8, 6, 4)
        title_row.addWidget(self.failed_title)
        lower_layout.addLayout(title_row)
        lower_layout.addWidget(self.failed, 1)
        self.no_failures = QLabel("Every file could be read.")
        self.no_failures.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lower_layout.addWidget(self.no_failures, 1)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.refresh()

    def _tool(self, icon: object, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon)  # type: ignore[arg-type]
        button.setText(text)
        button.setToolTip(tip)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        button.setAutoRaise(True)
        return button

    # --- data in -----------------------------------------------------------------------------
    def set_stats(self, stats: IndexStats) -> None:
        self.stats = stats
        self.refresh()

    def set_paused(self, paused: set[str]) -> None:
        self.paused = set(paused)
        self.refresh()

    def set_states(self, states: dict[str, str]) -> None:
        """How each folder is followed now (from the writer); folders not in it are not followed."""
        self.states = {str(k): str(v) for k, v in states.items()}
        self.refresh()

    def set_skipped(self, skipped: list[str]) -> None:
        self.skipped = list(skipped)
        self.refresh()

    def refresh(self) -> None:
        current = self.current_folder()
        self.list.clear()
        soft = muted(self.palette())
        for path, folder in sorted(self.stats.folders.items(), key=lambda kv: Path(kv[0]).name.lower()):
            parts = [_count(folder.files, "file"), _count(folder.chunks, "passage")]
            if folder.errors:
                parts.append(_count(folder.errors, "error"))
            if folder.skipped:
                parts.append(f"{folder.skipped:,} skipped")
            state, state_help = STATES.get(self.states.get(path, ""), ("", ""))
            if path in self.paused:
                parts.append("paused")
            elif state:
                parts.append(state)
            item = QListWidgetItem(
                self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon),
                f"{display(Path(path).name or path)}\n{' · '.join(parts)}",
            )
            item.setData(PathRole, path)
            tip = PAUSE_HELP if path in self.paused else state_help
            item.setToolTip(plain_tip(f"{display(path)}\n{' · '.join(parts)}" + (f"\n\n{tip}" if tip else "")))
            if path in self.paused:
                item.setForeground(soft)
            self.list.addItem(item)
            if path == current:
                self.list.setCurrentItem(item)
        has = bool(self.stats.folders)
        self.list.setVisible(has)
        self.hint.setVisible(not has)
        self.hint.setStyleSheet(f"color:{soft.name()}")

        self.failed.clear()
        rows = [(p, r) for p, r in self.stats.failures] + [
            (p, "larger than the size limit (Maximum file size)") for p in self.skipped
        ]
        for path, reason in rows:
            failure = QTreeWidgetItem([display(Path(path).name), reason])
            failure.setToolTip(0, plain_tip(display(path)))
            failure.setToolTip(1, plain_tip(reason))
            failure.setData(0, PathRole, path)
            self.failed.addTopLevelItem(failure)
        self.failed.setVisible(bool(rows))
        self.no_failures.setVisible(not rows)
        self.no_failures.setText("Every file could be read." if self.stats.folders else "")
        self.no_failures.setStyleSheet(f"color:{soft.name()}")
        self.failed_title.setText(f"Files not read ({len(rows)})" if rows else "Files not read")
        self._update_buttons()

    # --- actions -------------------------------------------------------------------------------
    def current_folder(self) -> str | None:
        item = self.list.currentItem()
        return str(item.data(PathRole)) if item is not None else None

    def _update_buttons(self) -> None:
        folder = self.current_folder()
        self.remove_button.setEnabled(folder is not None)
        self.pause_button.setEnabled(folder is not None)
        paused = folder in self.paused
        style = self.style()
        self.pause_button.setIcon(
            style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay if paused else QStyle.StandardPixmap.SP_MediaPause)
        )
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setToolTip(
            ("Resume reading this folder" if paused else "Pause reading this folder") + "\n\n" + PAUSE_HELP
        )

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to Sleuth", str(Path.home()))
        if folder:
            self.addRequested.emit(folder)

    def _remove(self) -> None:
        folder = self.current_folder()
        if folder is not None:
            self.removeRequested.emit(folder)

    def _toggle_pause(self) -> None:
        folder = self.current_folder()
        if folder is not None:
            self.pauseRequested.emit(folder, folder not in self.paused)
