"""The status bar: indexing progress (phase, counts, rate, ETA), pause/resume, and the messages area."""

from __future__ import annotations

import html
import time
from collections import deque

from app.messages import Level, Message
from app.qt import (
    QLabel,
    QMenu,
    QProgressBar,
    QStatusBar,
    QStyle,
    Qt,
    QTimer,
    QToolButton,
    QWidget,
    Signal,
    plain_tip,
)
from core.jobs import KEYWORD_READY, Phase, Progress

LEVEL_COLORS = {Level.ERROR: "#d64541", Level.WARNING: "#d98c00"}
ICONS = {
    Level.ERROR: QStyle.StandardPixmap.SP_MessageBoxCritical,
    Level.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    Level.INFO: QStyle.StandardPixmap.SP_MessageBoxInformation,
}
INFO_SECONDS = 8


def eta_text(seconds: float | None) -> str:
    if seconds is None or seconds <= 0:
        return ""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def describe(event: Progress, rebuilding: bool = False, paused: bool = False) -> tuple[str, int, int]:
    """(text, value, maximum) for the progress bar; maximum 0 means busy without a count.

    While paused nothing moves: no rate and no time left are shown, only where indexing stands.
    """
    prefix = "New index: " if rebuilding else ""
    if event.phase == Phase.TEXT and event.message.startswith(KEYWORD_READY):
        return f"{prefix}{event.message}", event.files_done, event.files_total
    if event.phase == Phase.TEXT:
        parts = [
            f"{prefix}Reading files (keyword search only so far) — {event.files_done:,} of {event.files_total:,} files"
        ]
        if event.rate and not paused:
            parts.append(f"{event.rate:.1f} files/s")
        if not paused and (eta := eta_text(event.eta_s)):
            parts.append(eta)
        return " · ".join(parts), event.files_done, event.files_total
    if event.phase == Phase.OCR:
        parts = [
            f"{prefix}{KEYWORD_READY}; reading pictures of text (OCR) — {event.files_done:,} of {event.files_total:,}"
            " files"
        ]
        if not paused and (eta := eta_text(event.eta_s)):
            parts.append(eta)
        return " · ".join(parts), event.files_done, event.files_total
    if event.phase == Phase.EMBED:
        # Every file's text is in the keyword index before embedding starts.
        parts = [f"{prefix}{KEYWORD_READY}; embedding passages — {event.chunks_done:,} of {event.chunks_total:,}"]
        if event.files_total:
            parts.append(f"vectors for {event.files_done:,} of {event.files_total:,} files")
        if event.rate and not paused:
            parts.append(f"{event.rate:.1f} passages/s")
        if not paused and (eta := eta_text(event.eta_s)):
            parts.append(eta)
        return " · ".join(parts), event.chunks_done, event.chunks_total
    if event.phase == Phase.MEASURE:
        return f"{prefix}Measuring how much dense search helps on your documents…", 0, 0
    if event.phase == Phase.SCAN:
        return f"{prefix}Looking for new, changed and deleted files…", 0, 0
    return event.message, 1, 1


class StatusArea(QStatusBar):
    """Messages on the left (the latest, plus a history menu); indexing on the right."""

    pauseToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(True)
        self.history: deque[Message] = deque(maxlen=100)
        self.paused = False
        self.pausing = False
        self._text = ""
        self._event: Progress | None = None
        self._rebuilding = False
        self.busy = False
        self.waiting = ""  # why unfinished indexing stands still, when it does ("" otherwise)

        self.messages_button = QToolButton()
        self.messages_button.setAutoRaise(True)
        self.messages_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation))
        self.messages_button.setToolTip("Recent messages")
        self.messages_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.messages_button)
        self.messages_button.setMenu(self.menu)
        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setMinimumWidth(100)
        self.addWidget(self.messages_button)
        self.addWidget(self.message, 1)

        self.progress_label = QLabel()
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)  # it names the file being read
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(14)
        self.pause_button = QToolButton()
        self.pause_button.setAutoRaise(True)
        self.pause_button.clicked.connect(lambda: self.pauseToggled.emit(not (self.paused or self.pausing)))
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        for widget in (self.progress_label, self.bar, self.pause_button):
            self.addPermanentWidget(widget)
        self.addPermanentWidget(self.summary)
        self._clear_timer = QTimer(self)
        self._clear_timer.setSingleShot(True)
        self._clear_timer.timeout.connect(lambda: self._show(None))
        self.shown: Message | None = None  # the message in the label (None once it cleared or was settled)
        self.set_busy(False)
        self._update_pause()

    # --- messages ------------------------------------------------------------------------------
    def post(self, message: Message) -> None:
        """Show ``message``; the icon says how the latest message stands, the menu keeps the history."""
        self.history.append(message)
        self._show(message)
        self._rebuild_menu()

    def settle(self, topic: str) -> None:
        """A newer outcome on ``topic`` (a search that worked): its shown error or warning goes away."""
        if self.shown is not None and self.shown.topic == topic and self.shown.level is not Level.INFO:
            self._show(None)

    def _show(self, message: Message | None) -> None:
        self.shown = message
        if message is None:
            self.message.setText("")
            self.message.setToolTip("")
            self._clear_timer.stop()
        else:
            self._render_message(message)
            if message.level is Level.INFO:
                self._clear_timer.start(INFO_SECONDS * 1000)
            else:
                self._clear_timer.stop()
        icon = ICONS[message.level if message is not None else Level.INFO]
        self.messages_button.setIcon(self.style().standardIcon(icon))

    def _render_message(self, message: Message) -> None:
        color = LEVEL_COLORS.get(message.level)
        text = html.escape(message.text)
        self.message.setText(f'<span style="color:{color}">{text}</span>' if color else text)
        self.message.setToolTip(plain_tip(message.text))

    def show_activity(self, text: str) -> None:
        """A worker's passing activity ("Loading model…"); empty text brings the shown message back."""
        if text:
            self.message.setText(html.escape(text))
            self.message.setToolTip(plain_tip(text))
        elif self.shown is None:
            self.message.setText("")
            self.message.setToolTip("")
        else:
            self._render_message(self.shown)

    def _rebuild_menu(self) -> None:
        self.menu.clear()
        for message in reversed(self.history):
            stamp = time.strftime("%H:%M", time.localtime(message.at))
            label = {Level.ERROR: "Error", Level.WARNING: "Warning", Level.INFO: ""}[message.level]
            action = self.menu.addAction(f"{stamp}  {label + ': ' if label else ''}{message.text}")
            action.setEnabled(True)
        errors = sum(1 for m in self.history if m.level is Level.ERROR)
        count = f"{len(self.history)}" + (f", {errors} error{'s' if errors != 1 else ''}" if errors else "")
        self.messages_button.setToolTip(f"Recent messages ({count})")

    # --- indexing ------------------------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        shown = busy or self.paused or bool(self.waiting)
        for widget in (self.progress_label, self.bar, self.pause_button):
            widget.setVisible(shown)
        self.summary.setVisible(not shown)
        self._render()

    def set_waiting(self, reason: str) -> None:
        """Unfinished indexing stands still for ``reason`` (adapting): its progress stays, saying why."""
        self.waiting = reason
        self.set_busy(self.busy)

    def show_progress(self, event: Progress, rebuilding: bool = False) -> None:
        self._event, self._rebuilding = event, rebuilding
        _text, value, maximum = describe(event, rebuilding)
        self.bar.setRange(0, maximum)
        if maximum:
            self.bar.setValue(value)
        self._render()

    def _render(self) -> None:
        if self._event is not None:
            still = self.paused or (bool(self.waiting) and not self.busy)
            self._text = describe(self._event, self._rebuilding, paused=still)[0]
        if self.paused:
            prefix = "Indexing paused — "
        elif self.pausing:
            prefix = "Pausing after the current step… — "
        elif self.waiting and not self.busy:
            prefix = f"{self.waiting} — "
        else:
            prefix = ""
        self.progress_label.setText(prefix + self._text)

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)

    def set_paused(self, paused: bool, acknowledged: bool) -> None:
        """``acknowledged``: the writer has actually stopped (or continued); until then it says 'pausing'."""
        self.paused = paused and acknowledged
        self.pausing = paused and not acknowledged
        self._update_pause()
        self._render()

    def _update_pause(self) -> None:
        paused = self.paused or self.pausing
        self.pause_button.setIcon(
            self.style().standardIcon(
                QStyle.StandardPixmap.SP_MediaPlay if paused else QStyle.StandardPixmap.SP_MediaPause
            )
        )
        self.pause_button.setToolTip("Resume indexing" if paused else "Pause indexing (search keeps working)")
