"""The adapt action's widgets: the status-bar progress and the confirmation with the time estimate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.qt import QCheckBox, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QToolButton, QWidget

if TYPE_CHECKING:
    from core.training import Plan
    from core.training.rerank_adapt import RerankPlan


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

    def __init__(self, plan: Plan, parent: QWidget | None = None, reranker: RerankPlan | None = None) -> None:
        """``reranker``: the optional reranker stage's plan, offered as a checkbox (off by default)."""
        super().__init__(parent)
        self.setWindowTitle("Adapt to my documents")
        self.setIcon(QMessageBox.Icon.Question)
        self.setText(f"Adapting will take {plan.describe()}.")
        lead = f"{plan.resumed} " if plan.resumed else ""
        self.setInformativeText(
            f"{lead}The time is {plan.basis}.\n\n"
            "Sleuth trains a small adapter on your indexed passages so that search understands your "
            "documents better. Searching keeps working meanwhile; new and changed files are indexed "
            "when it is done. Cancel stops after the current step, and the next run continues from there.\n\n"
            "Afterwards your documents are embedded again in the background; the current index answers "
            "searches until that is complete." + (f"\n\n{plan.model_change}" if plan.model_change else "")
        )
        self.reranker_box: QCheckBox | None = None
        if reranker is not None:
            self.reranker_box = QCheckBox(f"Also train the reranker on my documents ({reranker.describe()} more)")
            self.reranker_box.setToolTip(
                "The reranker reorders the top results of each search; trained on your passages it learns "
                "what matters in your documents."
            )
            self.setCheckBox(self.reranker_box)
        self.start_button = self.addButton("Start", QMessageBox.ButtonRole.AcceptRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.start_button)
        self.setEscapeButton(self.cancel_button)

    @property
    def with_reranker(self) -> bool:
        return self.reranker_box is not None and self.reranker_box.isChecked()
