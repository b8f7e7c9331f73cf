"""The "Adapt to my documents" action: train a LoRA adapter on the indexed passages from the window.

The window asks first: the estimate (:func:`core.training.plan_adaptation`, from the seconds per step the
last run kept) is read on a side thread in a moment, and indexing goes on while the question is open.
Only Start hands the run to the one writer thread as a job (app.jobs.AdaptJob, app.adapt_worker.AdaptRun);
its widgets are in app.adapt_widgets. Cancel stops after the current step with a checkpoint, and the next
run continues from it. When the adapter is saved the window sets it as the ``adapter`` setting: a new
index is built in the background while the current one serves.
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
    from pathlib import Path

    from core.settings import Settings
    from core.training import AdaptOptions, AdaptProgress, Plan

log = logging.getLogger("sleuth.adapt")
ACTION_TEXT = "Adapt to my documents…"


class Adapting(QObject):
    """The window's adapt action: asks, shows progress, cancels, and hands the adapter to ``activate``."""

    asked = Signal(object)  # ConfirmAdapt, open and waiting for the user
    progressShown = Signal(object)  # AdaptProgress, as shown
    finished = Signal(object)  # AdaptOutcome, after the window has acted on it
    trainingChanged = Signal(bool)  # the writer trains (True) or is free for indexing again (False)

    def __init__(
        self,
        parent: QWidget,
        submit: Callable[[Job], None],
        activate: Callable[[str], bool],
        where: Callable[[], tuple[Path, Settings]],
        activate_reranker: Callable[[str], bool] | None = None,
    ) -> None:
        """``activate``/``activate_reranker``: make a saved adapter / reranker the setting (True when it is)."""
        super().__init__(parent)
        self.activate_reranker = activate_reranker
        self.parent_widget = parent
        self.submit = submit
        self.activate = activate
        self.where = where  # the index and the settings an estimate is made for
        self.training = False
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
        self.status.show_text("Adapting: working out how long it takes…")
        run.estimate(*self.where())

    def cancel(self) -> None:
        if self.run is None:
            return
        self.run.cancel()
        if not self.training:  # still asking: nothing reached the writer
            self.run.decline()
            return
        self.status.cancel_button.setEnabled(False)
        self.status.show_text("Adapting: stopping after this step…", 0, 0)

    def _on_progress(self, event: AdaptProgress) -> None:
        if self.run is None or self.run.cancelled or event.phase == "checkpoint":
            return
        self.status.show_text(*describe(event, self.run.stages))
        self.progressShown.emit(event)

    def _on_estimated(self, plan: Plan) -> None:
        run = self.run
        if run is None or run.cancelled:
            return
        self.status.show_text(f"Adapting: {plan.describe()}; waiting for you to start", 0, 1)
        dialog = ConfirmAdapt(plan, self.parent_widget, run.reranker_plan)
        self.dialog = dialog

        def answered() -> None:
            self.dialog = None
            dialog.deleteLater()
            if self.run is not run:
                return
            if dialog.clickedButton() is dialog.start_button and not run.cancelled:
                run.with_reranker = dialog.with_reranker
                self.training = True
                self.trainingChanged.emit(True)
                self.status.show_text("Adapting: preparing…")
                self.submit(AdaptJob(run))
            else:
                run.decline()

        dialog.finished.connect(answered)
        dialog.open()
        self.asked.emit(dialog)

    def _on_finished(self, outcome: AdaptOutcome) -> None:
        if self.run is None:  # a late word from a run already declined or cancelled
            return
        self.run = None
        if self.dialog is not None:  # the window closes while the question is open
            self.dialog.done(0)
        if self.training:
            self.training = False
            self.trainingChanged.emit(False)
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
        if outcome.adapter_dir and not outcome.declined and self.activate(outcome.adapter_dir):
            messages.info(
                f"Adapter saved to {outcome.adapter_dir} and set as the 'adapter' setting. Your documents are "
                "embedded again with it in the background; the current index answers searches until then."
            )
        if outcome.reranker_dir and self.activate_reranker is not None and self.activate_reranker(outcome.reranker_dir):
            messages.info(f"Reranker saved to {outcome.reranker_dir} and set as the 'reranker' setting.")
        self.finished.emit(outcome)
