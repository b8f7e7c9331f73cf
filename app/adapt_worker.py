"""One adapt run: the estimate on a short-lived reader thread, then training on the writer thread.

Asking comes first: :func:`core.training.plan_adaptation` reads the index over its own connection (no
model, no timed steps, the indexer goes on meanwhile) and the window shows the estimate at once. Only
after Start does the job reach the writer: :func:`core.training.adapt_index` under the write service's
lock, with the live indexer stopped (changes wait on disk), so training never competes with embedding
and never runs on the GUI thread. Cancel stops after the current step with a checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app import messages
from app.models import release_memory
from app.qt import QObject, Signal
from app.status import eta_text
from core.errors import Cancelled, SleuthError
from core.training import DEFAULT_RUN_NAME

if TYPE_CHECKING:
    from collections.abc import Generator

    from core.index.store import Store
    from core.jobs import CancelToken
    from core.service.writer import WriteService
    from core.settings import Settings
    from core.training import AdaptOptions, AdaptProgress
    from core.training.rerank_adapt import RerankPlan

log = logging.getLogger("sleuth.adapt")
RUN_NAME = DEFAULT_RUN_NAME  # as `sleuth adapt` uses: either one resumes the other
STAGE_TEXT = {
    "ebae": "learning to summarise your passages",
    "contrastive": "learning to match queries",
    "rerank": "learning to rerank",
}


@dataclass
class AdaptOutcome:
    """How a run ended: ``adapter_dir`` when saved; else declined, cancelled or an ``error`` to show."""

    adapter_dir: str = ""
    reranker_dir: str = ""  # the reranker stage's folder, when it ran
    declined: bool = False
    cancelled: bool = False
    error: str = ""
    last: AdaptProgress | None = None  # the last training step done


class AdaptRun(QObject):
    """One run. The writer thread calls :meth:`execute`; the GUI thread answers and cancels (thread-safe)."""

    progress = Signal(object)  # AdaptProgress
    estimated = Signal(object)  # core.training.Plan: the question can be asked
    finished = Signal(object)  # AdaptOutcome

    def __init__(self, options: AdaptOptions | None = None, name: str = RUN_NAME) -> None:
        super().__init__()
        self.options = options
        self.name = name
        self.stages: tuple[str, ...] = ()  # set before the first signal
        self.reranker_plan: RerankPlan | None = None  # set with the estimate, when the stage can run
        self.with_reranker = False  # the user asked for the reranker stage too
        self._lock = threading.Lock()
        self._cancelled = False
        self._token: CancelToken | None = None

    # --- GUI thread ------------------------------------------------------------------------
    def estimate(self, db_path: Path, settings: Settings) -> None:
        """Work out the estimate on a reader thread; ``estimated`` (or ``finished`` with an error) follows."""
        threading.Thread(
            target=self._estimate,
            args=(db_path, dataclasses.replace(settings)),
            name="sleuth-adapt-estimate",
            daemon=True,
        ).start()

    def decline(self) -> None:
        """The user said no: nothing was queued, nothing changes."""
        self.finished.emit(AdaptOutcome(declined=True))

    def cancel(self) -> None:
        """Stop after the current step (a checkpoint is written); before training, stop at once."""
        with self._lock:
            self._cancelled = True
            token = self._token
        if token is not None:
            token.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    # --- the estimate's thread -------------------------------------------------------------
    def _estimate(self, db_path: Path, settings: Settings) -> None:
        from app import tables
        from core.training import plan_adaptation

        try:
            store = tables.open_store(db_path)
            if store.active_profile() is None:
                raise SleuthError("Nothing is indexed yet: add a folder and let Sleuth read it, then adapt.")
            options = self._options(settings)
            self.stages = tuple(options.stages())
            plan = plan_adaptation(store, settings, options, name=self.name)
            self.reranker_plan = self._reranker_plan(store, settings)
        except SleuthError as exc:
            self.finished.emit(AdaptOutcome(error=str(exc)))
            return
        except Exception as exc:  # a bug or an odd index: say so
            log.exception("estimating the adaptation failed")
            self.finished.emit(AdaptOutcome(error=f"Adapting failed: {messages.describe(exc)}"))
            return
        self.estimated.emit(plan)

    @staticmethod
    def _reranker_plan(store: Store, settings: Settings) -> RerankPlan | None:
        from core.embedding.device import select_device
        from core.training.rerank_adapt import plan_reranker
        from core.training.reranker import RerankOptions

        try:
            return plan_reranker(store, settings, RerankOptions(device=select_device(settings.device)))
        except SleuthError:  # a hub reranker, or too little text: the stage is not offered
            return None

    def _options(self, settings: Settings) -> AdaptOptions:
        from core.training import AdaptOptions

        return self.options or AdaptOptions(device=settings.device)

    # --- writer thread ---------------------------------------------------------------------
    def execute(self, writer: WriteService, settings: Settings) -> None:
        from core.jobs import CancelToken

        outcome = AdaptOutcome()
        token = CancelToken()
        with self._lock:
            self._token = token
            if self._cancelled:
                token.cancel()
        try:
            self._train(writer, settings, token, outcome)
        except Cancelled:
            outcome.cancelled = True
        except SleuthError as exc:
            outcome.error = str(exc)
        except Exception as exc:  # a bug or an odd model: say so, keep the writer alive
            log.exception("adapting failed")
            outcome.error = f"Adapting failed: {messages.describe(exc)}"
        finally:
            # The training copy of the model, its LoRA layers and optimizer state are garbage now: collect
            # them (even if a model load elsewhere froze them meanwhile) and give the memory back.
            release_memory()
            self.finished.emit(outcome)

    def _train(self, writer: WriteService, settings: Settings, token: CancelToken, outcome: AdaptOutcome) -> None:
        from core.training import adapt_index

        if writer.store.active_profile() is None:
            raise SleuthError("Nothing is indexed yet: add a folder and let Sleuth read it, then adapt.")
        options = self._options(settings)
        self.stages = (*options.stages(), *(("rerank",) if self.with_reranker else ()))
        events = writer.adapt(lambda store: adapt_index(store, settings, options, token, name=self.name))
        outcome.adapter_dir = self._follow(events, outcome)
        if self.with_reranker:
            from core.embedding.device import select_device
            from core.training.rerank_adapt import adapt_reranker
            from core.training.reranker import RerankOptions

            rerank = RerankOptions(device=select_device(settings.device))
            events = writer.adapt(lambda store: adapt_reranker(store, settings, rerank, token, name=self.name))
            outcome.reranker_dir = self._follow(events, outcome)

    def _follow(self, events: Generator[AdaptProgress, None, None], outcome: AdaptOutcome) -> str:
        """Pass a training run's events on; the folder its last event names."""
        saved = ""
        try:
            for event in events:
                if event.phase in STAGE_TEXT:
                    outcome.last = event
                elif event.phase == "done":
                    saved = event.adapter_dir or ""
                self.progress.emit(event)
        finally:
            events.close()
        return saved


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
    return f"Adapting: {event.message}", 0, 0
