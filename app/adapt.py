"""The "Adapt to my documents" action: train a LoRA adapter on the indexed passages from the window.

The run is :func:`core.training.adapt_index`, driven by the one writer thread as a job (app.jobs.AdaptJob,
app.adapt_worker.AdaptRun); its widgets are in app.adapt_widgets. The run first times a few steps; the
window then shows the estimate and training starts only when the user presses Start. Cancel stops after the current
step with a checkpoint, and the next run continues from it. When the adapter is saved the window sets
it as the ``adapter`` setting: a new index is built in the background while the current one serves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from app import messages
from app.adapt_widgets import AdaptStatus, ConfirmAdapt
from app.adapt_worker import STAGE_TEXT, AdaptOutcome, AdaptRun, describe
from app.jobs import AdaptJob, Job
from app.qt import QAction, QObject, QWidget, Signal

if TYPE_CHECKING:
    from core.training import AdaptOptions, AdaptProgress

log = logging.getLogger("sleuth.adapt")
ACTION_TEXT = "Adapt to my documents…"


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
