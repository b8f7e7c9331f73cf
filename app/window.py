"""The main window: search box, ranked passages, preview, folders sidebar, status bar.

All engine work happens on three workers (writer, search, preview); the window only sends
requests and renders what comes back through signals.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from app import messages, opener
from app.adapt import Adapting
from app.filter_bar import FilterControls
from app.folders import FoldersPanel
from app.models import ModelCache, freeze_heap
from app.passages import Preview
from app.preview import PreviewPane
from app.qt import (
    QAction,
    QByteArray,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QEvent,
    QHBoxLayout,
    QKeyEvent,
    QKeySequence,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QObject,
    QPushButton,
    QResizeEvent,
    QSettings,
    QShortcut,
    QSplitter,
    Qt,
    QThread,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from app.reader import (
    Latest,
    PreviewRequest,
    PreviewWorker,
    SearchRequest,
    SearchResult,
    SearchWorker,
)
from app.results_pane import ResultsPane
from app.settings_dialog import SettingsDialog, changes
from app.status import StatusArea
from app.writer import (
    AddFolderJob,
    IndexJob,
    IndexOutcome,
    Job,
    RemoveFolderJob,
    SearchDimJob,
    SettingsJob,
    Writer,
    start,
)
from core.errors import ConfigError
from core.index.stats import FolderStats, IndexStats, describe_search_dim, describe_size, describe_vectors
from core.paths import config_dir, log_path
from core.settings import Settings, save_settings
from core.vocabulary import Mode, ProblemKind, Sort

if TYPE_CHECKING:
    from core.jobs import Progress, Report
    from core.search.searcher import Hit
    from core.service.query_server import QueryServer

log = logging.getLogger("sleuth.window")
TYPING_DEBOUNCE_MS = 250
#: The results list keeps at least this width: in a narrow window the side panes shrink and fold first.
RESULTS_MIN_WIDTH = 300


class MainWindow(QMainWindow):
    # Requests to the workers (queued across threads).
    searchRequested = Signal(object)  # SearchRequest
    previewRequested = Signal(object)  # PreviewRequest
    linesRequested = Signal(int, object)
    statsRequested = Signal()
    settingsChanged = Signal(object)  # Settings
    # What the window has shown (tests and scripts wait on these).
    resultsShown = Signal(object)  # SearchResult
    previewShown = Signal(object)  # Preview
    statsShown = Signal(object)  # IndexStats
    progressShown = Signal(object)  # core.index.indexer.Progress, as it reached the window
    indexingFinished = Signal(object)  # app.writer.IndexOutcome
    pausedAt = Signal(bool)  # the writer stopped at a checkpoint (True) or went on (False)
    searchDimChanged = Signal(int)
    broughtForward = Signal(list)  # a later launch handed over (the folders it named)

    def __init__(self, settings: Settings, db_path: Path, *, state_file: Path | None = None) -> None:
        super().__init__()
        self.settings = dataclasses.replace(settings)
        self.db_path = db_path
        self.state = QSettings(str(state_file or config_dir() / "window.ini"), QSettings.Format.IniFormat)
        self.search_ids = Latest()
        self.preview_ids = Latest()
        self.stats = IndexStats()
        self.busy = False
        self.rebuilding = False
        self.paused = False
        self._shown_id = 0
        self._last_full_query = ""
        self._arm_open = False
        self._threads: list[QThread] = []
        self.query_server: QueryServer | None = None
        self.setWindowTitle("Sleuth")
        self.setAcceptDrops(True)
        messages.bus().posted.connect(self._on_message)
        self._build()
        self._restore_state()

    # --- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        self.search_box = QLineEdit()
        self.search_box.setObjectName("searchBox")
        self.search_box.setPlaceholderText("Search your documents  (Ctrl+K)")
        self.search_box.setClearButtonEnabled(True)
        font = self.search_box.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.search_box.setFont(font)
        self.search_box.setMinimumHeight(38)
        self.search_box.installEventFilter(self)
        self.search_box.textEdited.connect(self._on_text_edited)
        self.search_box.returnPressed.connect(self._on_return)
        self.settings_button = QPushButton("Settings…")
        self.settings_button.clicked.connect(self.open_settings)
        self.filters = FilterControls(self.search_box, lambda: self.run_search(full=True), self.state)

        top = QHBoxLayout()
        top.setContentsMargins(12, 10, 12, 8)
        top.setSpacing(8)
        top.addWidget(self.search_box, 1)
        top.addWidget(self.filters.toggle)
        top.addWidget(self.settings_button)

        self.pane = ResultsPane()
        self.pane.currentHitChanged.connect(self._on_current_hit)
        self.pane.openRequested.connect(self.open_current)
        self.pane.sortChanged.connect(lambda _sort: self.run_search(full=bool(self._last_full_query)))
        self.pane.view.installEventFilter(self)
        self.results, self.model = self.pane.view, self.pane.model

        self.preview = PreviewPane()
        self.preview.previousMatch.connect(lambda: self.pane.step_match(-1))
        self.preview.nextMatch.connect(lambda: self.pane.step_match(1))
        self.folders = FoldersPanel()
        self.folders.addRequested.connect(self.add_folder)
        self.folders.removeRequested.connect(lambda path: self.remove_folder(path, confirm=True))
        self.folders.pauseRequested.connect(self.set_folder_paused)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.folders)
        self.splitter.addWidget(self.pane)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setStretchFactor(2, 3)
        # The side panes may fold away (by hand, or in a narrow window: _fit_panes); the results never do.
        self.splitter.setChildrenCollapsible(True)
        self.splitter.setCollapsible(1, False)
        # The splitter's minimum is the sum of its panes' minimums, folded or not: small enough for 640 pixels
        # (the preview keeps its own 320, below which its buttons would be cut).
        self.folders.setMinimumWidth(150)
        self.pane.setMinimumWidth(RESULTS_MIN_WIDTH // 2)
        self.splitter.setSizes([270, 470, 660])
        self._folded: list[tuple[int, int]] = []  # (pane, its width) folded away by _fit_panes, in order

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.filters.bar)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.status = StatusArea()
        self.status.pauseToggled.connect(self.set_paused)
        self.setStatusBar(self.status)
        self.adapting = Adapting(
            self,
            self._submit,
            self._activate_adapter,
            lambda: (self.db_path, self.settings),
            activate_reranker=self._activate_reranker,
        )
        self.adapting.trainingChanged.connect(self._on_training)
        self.adapt_action = self.adapting.action
        self.status.addPermanentWidget(self.adapting.status)

        for keys in ("Ctrl+K", "Ctrl+L"):
            QShortcut(QKeySequence(keys), self, self.focus_search)
        QShortcut(QKeySequence("Ctrl+,"), self, self.open_settings)
        QShortcut(QKeySequence("Ctrl+O"), self, self.folders.add_button.click)
        QShortcut(QKeySequence("F3"), self, lambda: self.pane.step_match(1))
        QShortcut(QKeySequence("Shift+F3"), self, lambda: self.pane.step_match(-1))
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.addAction(quit_action)
        self._build_menus(quit_action)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(TYPING_DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.run_search(full=False))
        self._stats_timer = QTimer(self)
        self._stats_timer.setSingleShot(True)
        self._stats_timer.setInterval(700)
        self._stats_timer.timeout.connect(self.statsRequested.emit)
        self._progress: Progress | None = None
        self._indexing_unfinished = False  # the last progress was of a run that has not ended
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(100)
        self._progress_timer.timeout.connect(self._render_progress)
        self._show_results(None)

    def _build_menus(self, quit_action: QAction) -> None:
        # No shortcuts here: the window's QShortcuts have them, and a second owner makes them ambiguous.
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("Add folder…").triggered.connect(self.folders.add_button.click)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        tools = self.menuBar().addMenu("&Tools")
        tools.addAction(self.adapt_action)
        tools.addSeparator()
        tools.addAction("Settings…").triggered.connect(self.open_settings)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.setToolTipsVisible(True)  # the log's path
        self.open_log_action = help_menu.addAction("Open the log")
        self.open_log_action.setToolTip(str(log_path()))
        self.open_log_action.triggered.connect(self.open_log)

    def open_log(self) -> None:
        """The log file in the desktop's text viewer: what went wrong, for the user or a bug report."""
        path = log_path()
        if not path.is_file():
            messages.info(f"Nothing has been logged yet (the log is {path}).")
        elif not opener.open_file(str(path)):
            messages.error(f"No application is set up to open {path}.")

    # --- workers -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers and bring every (unpaused) folder up to date."""
        self.writer = Writer(self.db_path, self.settings, ModelCache())
        self.writer.progress.connect(self._on_progress)
        self.writer.busy.connect(self._on_busy)
        self.writer.runStarted.connect(self._on_run_started)
        # Only bound methods of GUI objects here: a plain function or lambda would run on the worker's thread.
        self.writer.pausedAt.connect(self._on_paused_at)
        self.writer.searchDimChanged.connect(self.searchDimChanged)
        self.writer.indexFinished.connect(self._on_index_finished)
        self.writer.indexChanged.connect(self._on_index_changed)
        self.writer.status.connect(self._on_worker_status)
        self.writer.folderStates.connect(self.folders.set_states)
        self.search_worker = SearchWorker(self.db_path, self.settings, self.search_ids)
        self.search_worker.finished.connect(self._on_results)
        self.search_worker.statsReady.connect(self._on_stats)
        self.search_worker.status.connect(self._on_worker_status)
        self.searchRequested.connect(self.search_worker.search)
        self.statsRequested.connect(self.search_worker.compute_stats)
        self.settingsChanged.connect(self.search_worker.apply_settings)
        self.preview_worker = PreviewWorker(self.db_path, self.preview_ids)
        self.preview_worker.ready.connect(self._on_preview)
        self.preview_worker.linesReady.connect(self._on_lines)
        self.previewRequested.connect(self.preview_worker.preview)
        self.linesRequested.connect(self.preview_worker.locate)
        self._threads = [
            start(self.writer, "sleuth-writer", self.writer.loop),
            start(self.search_worker, "sleuth-search"),
            start(self.preview_worker, "sleuth-preview"),
        ]
        for folder in self.folders.paused:
            self.writer.set_folder_paused(folder, True)
        self.writer.submit(IndexJob(None))
        self.statsRequested.emit()
        self.focus_search()
        freeze_heap()  # Qt, the window and the engine's modules: long-lived, never worth a collection

    def _submit(self, job: Job) -> None:
        self.writer.submit(job)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the workers; False if the writer did not reach a checkpoint in time."""
        if self.query_server is not None:
            self.query_server.stop()
            self.query_server = None
        if not self._threads:
            return True
        self.writer.stop()
        clean = True
        for thread in self._threads:
            if thread is not self._threads[0]:
                thread.quit()
        for thread in self._threads:
            clean = thread.wait(timeout_ms) and clean
        if clean:  # a QThread dropped while it still runs aborts the process; the caller exits at once instead
            self._threads = []
        return clean

    # --- search --------------------------------------------------------------------------------
    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def _on_text_edited(self, text: str) -> None:
        self._arm_open = False
        if text.strip():
            self._debounce.start()
        else:
            self._debounce.stop()
            self.search_ids.next()  # drop anything in flight
            self._show_results(None)

    def _on_return(self) -> None:
        self._debounce.stop()
        if self._arm_open and self.results.currentIndex().isValid():
            self.open_current()
        else:
            self.run_search(full=True)

    def run_search(self, full: bool = True) -> int:
        """Typing: keyword search (fast, ~ms). Enter: the configured mode, reranked when a reranker is set."""
        query = self.search_box.text().strip()
        if not query:
            return 0
        mode = Mode(self.settings.search_mode) if full else Mode.BM25
        request = SearchRequest(self.search_ids.next(), query, mode, full, sort=Sort(self.pane.sort_key()))
        if full:
            self._last_full_query = query
        self.searchRequested.emit(request)
        return request.id

    def _on_results(self, result: SearchResult) -> None:
        if result.request.id < self._shown_id or self.search_ids.is_stale(result.request.id):
            return
        # The reranked order of the results on show replaces them in place (selection and scrolling kept).
        in_place = result.reranked and result.request.id == self._shown_id
        self._shown_id = result.request.id
        if result.error:
            messages.error(f"Search failed: {result.error}", topic="search")
        else:
            self.status.settle("search")  # each search's outcome replaces the last one's
        self._show_results(result, in_place)
        self.resultsShown.emit(result)

    def _show_results(self, result: SearchResult | None, in_place: bool = False) -> None:
        if result is None:
            self.pane.clear(bool(self.stats.folders))
            self.preview.clear()
            return
        self.pane.show_result(result, enter_hint=self.settings.search_mode != Mode.BM25, keep_place=in_place)
        if result.hits:
            self.linesRequested.emit(result.request.id, result.hits)
        else:
            self.preview.clear()

    def _on_lines(self, search_id: int, lines: dict[str, int]) -> None:
        if search_id == self._shown_id:
            self.model.set_lines(lines)
            hit = self.preview.hit
            if hit is not None and hit.id in lines and self.preview.preview is None:
                self.preview.show_hit(hit, lines[hit.id])

    def _on_current_hit(self, hit: Hit) -> None:
        self.preview.show_hit(hit, self.model.lines.get(hit.id))
        self.preview.set_matches(*self.pane.match_position(hit))
        self.previewRequested.emit(PreviewRequest(self.preview_ids.next(), hit, self.model.query))

    def _on_preview(self, preview: Preview) -> None:
        self.preview.show_preview(preview)
        if self.preview.preview is preview:
            self.previewShown.emit(preview)

    def current_hit(self) -> Hit | None:
        return self.pane.current_hit()

    def open_current(self) -> None:
        if self.current_hit() is not None:
            self.preview.open_file()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            if watched is self.search_box and key == Qt.Key.Key_Escape and self.search_box.text():
                self.search_box.clear()
                self._on_text_edited("")
                return True
            if watched is self.search_box and key in (
                Qt.Key.Key_Up,
                Qt.Key.Key_Down,
                Qt.Key.Key_PageUp,
                Qt.Key.Key_PageDown,
            ):
                if self.pane.step(Qt.Key(key)):
                    self._arm_open = True  # Enter now opens the passage the user moved to
                return True
            if watched is self.results and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.open_current()
                return True
        return super().eventFilter(watched, event)

    # --- folders -------------------------------------------------------------------------------
    def add_folder(self, path: str) -> None:
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            messages.error(f"{path} is not a folder.")
            return
        if str(folder) in self.stats.folders:
            messages.info(f"{folder} is already in Sleuth.")
            return
        self.stats.folders[str(folder)] = FolderStats(str(folder))
        self.folders.set_stats(self.stats)
        self.writer.submit(AddFolderJob(str(folder)))
        messages.info(f"Added {folder}; reading its files in the background.")

    def bring_forward(self, folders: list[str]) -> None:
        """Another launch handed over (app.instance): come to the front, and add the folders it named."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()
        for folder in folders:
            self.add_folder(folder)
        log.info("raised the window for another launch")
        self.broughtForward.emit(folders)

    def remove_folder(self, path: str, confirm: bool = False) -> None:
        if confirm:
            answer = QMessageBox.question(
                self,
                "Remove folder",
                f"Stop searching {path}?\n\nSleuth forgets its index; your files are not touched.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.folders.paused.discard(path)
        self._save_paused()
        self.writer.submit(RemoveFolderJob(path))

    def set_folder_paused(self, path: str, paused: bool) -> None:
        if paused:
            self.folders.paused.add(path)
        else:
            self.folders.paused.discard(path)
        self.folders.refresh()
        self.writer.set_folder_paused(path, paused)
        self._save_paused()

    def set_paused(self, paused: bool) -> None:
        """Pause or resume all background indexing; the writer stops at its next checkpoint."""
        self.paused = paused
        self.status.set_paused(paused, acknowledged=not self.busy or not paused)
        self.status.set_busy(self.busy)
        self.writer.set_paused(paused)  # may confirm at once (pausedAt) when it already waits

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() and Path(url.toLocalFile()).is_dir() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
                self.add_folder(url.toLocalFile())
        event.acceptProposedAction()

    # --- indexing feedback ---------------------------------------------------------------------
    def _on_progress(self, event: Progress) -> None:
        from core.jobs import Phase

        self._progress = event  # rendered at most ten times a second
        self._indexing_unfinished = event.phase not in (Phase.DONE, Phase.IDLE)
        self.progressShown.emit(event)
        if not self._progress_timer.isActive():
            self._render_progress()
            self._progress_timer.start()

    def _on_paused_at(self, paused: bool) -> None:
        self._render_progress()  # show the step it stopped at, not the last one rendered
        self.status.set_paused(self.paused, True)
        self.pausedAt.emit(paused)

    def _render_progress(self) -> None:
        if self._progress is None:
            self._progress_timer.stop()
            return
        self.status.show_progress(self._progress, self.rebuilding)
        self._progress = None

    def _on_training(self, training: bool) -> None:
        """While adapting trains, indexing that was under way stands still: its progress stays, saying why."""
        unfinished = self.status.busy or self._indexing_unfinished
        self.status.set_waiting("Indexing waits until adapting is done" if training and unfinished else "")

    def _on_busy(self, busy: bool) -> None:
        self.busy = busy
        self.status.set_busy(busy)
        if busy and self.paused:
            self.status.set_paused(True, acknowledged=False)

    def _on_index_finished(self, outcome: IndexOutcome) -> None:
        self.rebuilding = False
        self._render_progress()
        if outcome.report is not None and not outcome.cancelled:
            self.folders.set_skipped(outcome.skipped)
            self._announce(outcome.report)
        self._stats_timer.start()
        if self.model.rowCount() == 0 and self.search_box.text().strip():
            self.run_search(full=bool(self._last_full_query))
        self.indexingFinished.emit(outcome)

    def _announce(self, report: Report) -> None:
        """What a finished run did, in the status bar; files listed at an earlier run are not news again."""
        if report.switched_profile:
            messages.info("The new index is complete and now answers searches.")
            return
        problems = [problem for problem in report.problems if not problem.known]
        if not (report.added or report.updated or report.removed or problems):
            return  # a periodic re-check that found nothing new says nothing
        text = f"Indexing done: {report.added} new, {report.updated} changed, {report.removed} removed"
        skipped = sum(problem.kind is ProblemKind.SKIPPED for problem in problems)
        if len(problems) > skipped:
            text += f"; {len(problems) - skipped} could not be read (see the Folders pane)"
        if skipped:
            text += f"; {skipped} skipped, not documents Sleuth reads (see the Folders pane)"
        messages.info(text + ".")

    def _on_index_changed(self) -> None:
        if not self._stats_timer.isActive():
            self._stats_timer.start()

    def _on_stats(self, stats: IndexStats) -> None:
        self.stats = stats
        if stats.profile and self.query_server is None and self._threads:  # again after a sleuth watch that served
            self._serve_searches()
        self.folders.set_stats(stats)
        summary = f"{stats.files:,} files · {stats.chunks:,} passages"
        if vectors := describe_vectors(stats):
            summary += f" ({vectors})"
        summary += f" · {describe_size(stats.disk_bytes)} on disk"
        self.status.set_summary(summary)
        self.status.summary.setToolTip(
            f"Index: {stats.profile}; {describe_search_dim(stats)}\nModel identity: {stats.model_id}"
            if stats.profile
            else "Nothing indexed yet"
        )
        if self.model.rowCount() == 0 and not self.search_box.text().strip():
            self._show_results(None)
        self.statsShown.emit(stats)

    def _serve_searches(self) -> None:
        """``sleuth search`` answers from this window (on the search worker's thread) while it is open."""
        import os

        from core.service.query_server import QueryServer

        self.query_server = QueryServer(
            self.db_path, self.search_worker.answer, f"the Sleuth window (pid {os.getpid()})"
        )
        if not self.query_server.start():
            self.query_server = None

    def _on_worker_status(self, text: str) -> None:
        self.status.show_activity(text)

    def _on_run_started(self, rebuilding: bool) -> None:
        self.rebuilding = rebuilding

    def _on_message(self, message: messages.Message) -> None:
        self.status.post(message)

    # --- settings ------------------------------------------------------------------------------
    def open_settings(self) -> None:
        dialog = SettingsDialog(
            self.settings,
            self.stats.dimension,
            self,
            measured=self.stats.fusion,
            embedder=self.stats.embedder,
            passages=self.stats.chunks,
        )
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_settings(dialog.edited())

    def apply_settings(self, new: Settings) -> None:
        """Save ``new`` and apply each change the way its ``effect`` says."""
        diff = changes(self.settings, new)
        if not diff:
            return
        try:
            save_settings(new)
        except (ConfigError, OSError) as exc:
            messages.error(f"Cannot save settings: {exc}")
            return
        if "keep_watching" in diff:
            self._set_keep_watching(new.keep_watching)
        self.settings = dataclasses.replace(new)
        self.writer.submit(SettingsJob(self.settings))
        self.settingsChanged.emit(self.settings)
        effects = set(diff.values())
        if "rewrite" in effects:
            self.writer.submit(SearchDimJob(new.search_dim))
        if effects & {"rebuild", "rescan"}:
            self.writer.submit(IndexJob(None))
        if effects & {"immediate", "restart"} and self.search_box.text().strip():
            self.run_search(full=True)
        messages.info("Settings saved.")

    def _set_keep_watching(self, on: bool) -> None:
        """Install or remove the background watch's autostart entry (a small file: fine on this thread)."""
        from core.service import background

        try:
            background.set_autostart(on)
        except OSError as exc:
            messages.error(f"Cannot {'add' if on else 'remove'} the background watch's autostart entry: {exc}")

    def _activate_adapter(self, adapter_dir: str) -> bool:
        """The adapter "Adapt to my documents" saved becomes the setting: a new index builds beside the old."""
        self.apply_settings(dataclasses.replace(self.settings, adapter=adapter_dir))
        return self.settings.adapter == adapter_dir

    def _activate_reranker(self, reranker_dir: str) -> bool:
        """The reranker the adapt run trained becomes the setting: searches use it from the next query on."""
        self.apply_settings(dataclasses.replace(self.settings, reranker=reranker_dir))
        return self.settings.reranker == reranker_dir

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        QTimer.singleShot(0, self._fit_panes)  # once the splitter has its new width

    def _fit_panes(self) -> None:
        """Keep the results readable: the preview shrinks to its minimum, then the folders pane folds away,
        then the preview; with room again they come back in the opposite order, at the width they had."""
        sizes = self.splitter.sizes()
        total = sum(sizes)
        if len(sizes) != 3 or total <= 0:
            return
        want = min(RESULTS_MIN_WIDTH, total)
        while self._folded:  # room to bring the last folded pane back?
            pane, width = self._folded[-1]
            if sizes[1] - width < want:
                break
            self._folded.pop()
            sizes[pane], sizes[1] = width, sizes[1] - width
        if sizes[1] < want:
            need = want - sizes[1]
            spare = max(0, sizes[2] - self.preview.minimumWidth()) if sizes[2] else 0
            sizes[2] -= min(need, spare)
            need -= min(need, spare)
            for pane in (0, 2):
                if need > 0 and sizes[pane]:
                    self._folded.append((pane, sizes[pane] if pane == 0 else self.preview.minimumWidth()))
                    need -= sizes[pane]
                    sizes[pane] = 0
            sizes[1] = total - sizes[0] - sizes[2]
        if sizes != self.splitter.sizes():
            self.splitter.setSizes(sizes)

    # --- persistence ---------------------------------------------------------------------------
    def _restore_state(self) -> None:
        geometry = self.state.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)
        splitter = self.state.value("window/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        paused = self.state.value("folders/paused", [])
        # QSettings gives a one-item list back as a plain string.
        if isinstance(paused, str):
            paused = [paused]
        self.folders.paused = {str(p) for p in paused} if isinstance(paused, list) else set()

    def _save_paused(self) -> None:
        self.state.setValue("folders/paused", sorted(self.folders.paused))

    def save_state(self) -> None:
        self.state.setValue("window/geometry", self.saveGeometry())
        self.state.setValue("window/splitter", self.splitter.saveState())
        self._save_paused()
        self.state.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        super().closeEvent(event)
