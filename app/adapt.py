"""The "Adapt to my documents" action: train a LoRA adapter on the indexed passages from the window.

The run is :func:`core.training.adapt_index`, driven by the one writer thread as a job (app.jobs.AdaptJob):
the live indexer stops while it trains (changes wait on disk), so training never competes with
embedding and never runs on the GUI thread. The run first times a few steps; the window then shows
the estimate and training starts only when the user presses Start. Cancel stops after the current
step with a checkpoint, and the next run continues from it. When the adapter is saved the window sets
it as the ``adapter`` setting: a new index is built in the background while the current one serves.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app import messages
from app.jobs import AdaptJob, Job
from app.qt import (
    QAction,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QObject,
    QProgressBar,
    QToolButton,
    QWidget,
    Signal,
)
from app.status import eta_text
from core.errors import Cancelled, SleuthError

if TYPE_CHECKING:
    from core.indexer import CancelToken
    from core.settings import Settings
    from core.store import Store
    from core.training import AdaptOptions, AdaptProgress

log = logging.getLogger("sleuth.adapt")
RUN_NAME = "my-documents"  # core.training.adapt.DEFAULT_NAME, as `sleuth adapt` uses: either one resumes the other
STAGE_TEXT = {"ebae": "learning to summarise your passages", "contrastive": "learning to match queries"}
ACTION_TEXT = "Adapt to my documents…"


@dataclass
class AdaptOutcome:
    """How a run ended: ``adapter_dir`` when saved; else declined, cancelled or an ``error`` to show."""

    adapter_dir: str = ""
    declined: bool = False
    cancelled: bool = False
    error: str = ""
    last: AdaptProgress | None = None  # the last training step done


class AdaptRun(QObject):
    """One run. The writer thread calls :meth:`execute`; the GUI thread answers and cancels (thread-safe)."""

    progress = Signal(object)  # AdaptProgress
    estimated = Signal(object)  # AdaptProgress with eta_s: waiting for start() or decline()
    finished = Signal(object)  # AdaptOutcome

    def __init__(self, options: AdaptOptions | None = None, name: str = RUN_NAME) -> None:
        super().__init__()
        self.options = options
        self.name = name
        self.stages: tuple[str, ...] = ()  # set on the writer thread before the first signal
        self.resumed = ""  # "Continuing from the checkpoint at …", when it does
        self._lock = threading.Lock()
        self._answer = threading.Event()
        self._start = False
        self._cancelled = False
        self._token: CancelToken | None = None

    # --- GUI thread ------------------------------------------------------------------------
    def start(self) -> None:
        self._reply(True)

    def decline(self) -> None:
        self._reply(False)

    def cancel(self) -> None:
        """Stop after the current step (a checkpoint is written); before training, stop at once."""
        with self._lock:
            self._cancelled = True
            token = self._token
        self._reply(False)
        if token is not None:
            token.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def _reply(self, start: bool) -> None:
        with self._lock:
            if not self._answer.is_set():
                self._start = start
                self._answer.set()

    # --- writer thread ---------------------------------------------------------------------
    def execute(self, store: Store, settings: Settings) -> None:
        from core.indexer import CancelToken

        outcome = AdaptOutcome()
        token = CancelToken()
        with self._lock:
            self._token = token
            if self._cancelled:
                token.cancel()
        try:
            self._train(store, settings, token, outcome)
        except Cancelled:
            outcome.cancelled = True
        except SleuthError as exc:
            outcome.error = str(exc)
        except Exception as exc:  # a bug or an odd model: say so, keep the writer alive
            log.exception("adapting failed")
            outcome.error = f"Adapting failed: {messages.describe(exc)}"
        finally:
            # The training copy of the model is garbage now: collect it before a model load elsewhere
            # freezes the heap (app.models.freeze_heap) with it inside.
            gc.collect()
            self.finished.emit(outcome)

    def _train(self, store: Store, settings: Settings, token: CancelToken, outcome: AdaptOutcome) -> None:
        from core.training import AdaptOptions, adapt_index

        if store.active_profile() is None:
            raise SleuthError("Nothing is indexed yet: add a folder and let Sleuth read it, then adapt.")
        options = self.options or AdaptOptions(device=settings.device)
        # The estimate is what the user agrees to: always time at least one step.
        options = dataclasses.replace(options, estimate_steps=max(1, options.estimate_steps))
        self.stages = tuple(options.stages())
        events = adapt_index(store, settings, options, token, name=self.name)
        try:
            for event in events:
                if event.phase == "prepare" and event.message.startswith("Continuing"):
                    self.resumed = event.message
                if event.phase == "estimate" and event.eta_s is not None:
                    self.estimated.emit(event)
                    self._answer.wait()
                    if self._cancelled:
                        raise Cancelled("Adapting was cancelled before training started.")
                    if not self._start:
                        outcome.declined = True
                        return  # closing the generator writes nothing: no weight has changed
                elif event.phase in STAGE_TEXT:
                    outcome.last = event
                elif event.phase == "done":
                    outcome.adapter_dir = event.adapter_dir or ""
                self.progress.emit(event)
        finally:
            events.close()


def describe(event: AdaptProgress, stages: tuple[str, ...]) -> tuple[str, int, int]:
    """(text, value, maximum) for the status area; maximum 0 means busy without a count."""
    if event.phase in STAGE_TEXT:
        number = stages.index(event.phase) + 1 if event.phase in stages else 1
        parts = [
            f"Adapting, stage {number} of {len(stages) or 1} ({STAGE_TEXT[event.phase]}) — "
            f"step {event.step:,} of {event.total:,}"
        ]
        if eta := eta_text(event.eta_s):
            parts.append(eta)
        return " · ".join(parts), event.step, event.total
    if event.phase == "estimate" and event.eta_s is not None:
        return f"Adapting: {event.message}; waiting for you to start", 0, 1
    return f"Adapting: {event.message}", 0, 0


class AdaptStatus(QWidget):
    """The status-area part: what the run does, a bar, and Cancel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(140)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(14)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop adapting after this step; the next run continues from there")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.bar, self.cancel_button):
            layout.addWidget(widget)
        self.hide()

    def show_text(self, text: str, value: int = 0, maximum: int = 0) -> None:
        self.label.setText(text)
        self.bar.setRange(0, maximum)
        if maximum:
            self.bar.setValue(value)
        self.show()


class ConfirmAdapt(QMessageBox):
    """States the estimate before any weight changes; Start or Cancel."""

    def __init__(self, estimate: AdaptProgress, resumed: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Adapt to my documents")
        self.setIcon(QMessageBox.Icon.Question)
        self.setText(f"Adapting will take {estimate.message}.")
        lead = f"{resumed} " if resumed else ""
        self.setInformativeText(
            f"{lead}Sleuth trains a small adapter on your indexed passages so that search understands "
            "your documents better. Searching keeps working meanwhile; new and changed files are indexed "
            "when it is done. Cancel stops after the current step, and the next run continues from there.\n\n"
            "Afterwards your documents are embedded again in the background; the current index answers "
            "searches until that is complete."
        )
        self.start_button = self.addButton("Start", QMessageBox.ButtonRole.AcceptRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.start_button)
        self.setEscapeButton(self.cancel_button)


class Adapting(QObject):
    """The window's adapt action: asks, shows progress, cancels, and hands the adapter to ``activate``."""

    asked = Signal(object)  # ConfirmAdapt, open and waiting for the user
    progressShown = Signal(object)  # AdaptProgress, as shown
    finished = Signal(object)  # AdaptOutcome, after the window has acted on it

    def __init__(self, parent: QWidget, submit: Callable[[Job], None], activate: Callable[[str], bool]) -> None:
        super().__init__(parent)
        self.parent_widget = parent
        self.submit = submit
        self.activate = activate
        self.options: AdaptOptions | None = None  # None: AdaptOptions' defaults, as `sleuth adapt` has them
        self.run: AdaptRun | None = None
        self.dialog: ConfirmAdapt | None = None
        self.action = QAction(ACTION_TEXT, parent)
        self.action.setStatusTip("Train the search model on your indexed documents (it says how long first)")
        self.action.triggered.connect(self.begin)
        self.status = AdaptStatus()
        self.status.cancel_button.clicked.connect(self.cancel)

    def begin(self) -> None:
        if self.run is not None:
            return
        run = AdaptRun(self.options)
        run.progress.connect(self._on_progress)
        run.estimated.connect(self._on_estimated)
        run.finished.connect(self._on_finished)
        self.run = run
        self.action.setEnabled(False)
        self.status.cancel_button.setEnabled(True)
        self.status.show_text("Adapting: preparing…")
        self.submit(AdaptJob(run))

    def cancel(self) -> None:
        if self.run is None:
            return
        self.run.cancel()
        self.status.cancel_button.setEnabled(False)
        self.status.show_text("Adapting: stopping after this step…", 0, 0)

    def _on_progress(self, event: AdaptProgress) -> None:
        if self.run is None or self.run.cancelled or event.phase == "checkpoint":
            return
        self.status.show_text(*describe(event, self.run.stages))
        self.progressShown.emit(event)

    def _on_estimated(self, event: AdaptProgress) -> None:
        run = self.run
        if run is None or run.cancelled:
            return
        self.status.show_text(*describe(event, run.stages))
        dialog = ConfirmAdapt(event, run.resumed, self.parent_widget)
        self.dialog = dialog

        def answered() -> None:
            if dialog.clickedButton() is dialog.start_button:
                run.start()
            else:
                run.decline()
            self.dialog = None
            dialog.deleteLater()

        dialog.finished.connect(answered)
        dialog.open()
        self.asked.emit(dialog)

    def _on_finished(self, outcome: AdaptOutcome) -> None:
        self.run = None
        if self.dialog is not None:  # the writer stopped while the question was open
            self.dialog.done(0)
        self.status.hide()
        self.action.setEnabled(True)
        if outcome.error:
            messages.error(outcome.error)
        elif outcome.declined:
            messages.info("Adapting not started.")
        elif outcome.cancelled:
            last = outcome.last
            where = f" after step {last.step:,} of {last.total:,} ({STAGE_TEXT[last.phase]})" if last else ""
            again = f"choose {ACTION_TEXT} again to continue from there" if last else "nothing was changed"
            messages.info(f"Adapting stopped{where}; {again}.")
        elif outcome.adapter_dir and self.activate(outcome.adapter_dir):
            messages.info(
                f"Adapter saved to {outcome.adapter_dir} and set as the 'adapter' setting. Your documents are "
                "embedded again with it in the background; the current index answers searches until then."
            )
        self.finished.emit(outcome)
