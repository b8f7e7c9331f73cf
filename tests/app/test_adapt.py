"""The "Adapt to my documents" action of the window: ask at once, train on the writer thread, cancel, resume, switch.

A real (tiny, random) LLaMA trains a real LoRA adapter on the passages the window indexed; only the
number of steps is kept small through ``window.adapting.options``.
"""

from __future__ import annotations

import dataclasses
import gc
import weakref
from pathlib import Path
from typing import Any

import torch
from pytestqt.qtbot import QtBot

from app.adapt_widgets import ConfirmAdapt
from app.adapt_worker import AdaptOutcome
from app.messages import Level
from app.qt import QMenu, Qt
from app.window import MainWindow
from core.index.store import Store
from core.jobs import Phase
from core.settings import load_settings
from core.training import AdaptOptions, AdaptProgress
from tests.app.conftest import DOCS, Posted, with_reranker, write_docs
from tests.app.test_window import TIMEOUT, add_and_index, search

WAIT = None  # training waits as long as it takes: no wall-clock limit


def tiny_options(steps: int) -> AdaptOptions:
    return AdaptOptions(
        steps=steps,
        batch_size=4,
        rank=2,
        alpha=4,
        dropout=0.0,
        max_tokens=32,
        warmup_steps=0,
        precision="fp32",
        device="cpu",
    )


def ask(qtbot: QtBot, window: MainWindow) -> ConfirmAdapt:
    """Choose Tools › Adapt to my documents…; returns the question that states the estimate."""
    with qtbot.waitSignal(window.adapting.asked, timeout=WAIT) as asked:
        window.adapt_action.trigger()
    dialog: ConfirmAdapt = asked.args[0]
    assert dialog.isVisible()
    return dialog


def test_adapting_states_the_time_trains_and_switches_the_adapter(
    qtbot: QtBot, window: MainWindow, docs: Path, sleuth_dirs: Path, posted: Posted
) -> None:
    add_and_index(qtbot, window, docs)
    menus = window.menuBar().findChildren(QMenu)
    assert any(window.adapt_action in menu.actions() for menu in menus)
    assert window.adapt_action.text() == "Adapt to my documents…"
    window.adapting.options = tiny_options(steps=2)
    dialog = ask(qtbot, window)
    assert dialog.text().startswith("Adapting will take 4 steps, ") and dialog.text().endswith(" on cpu.")
    assert "minute" in dialog.text()
    assert not window.adapt_action.isEnabled()
    assert "waiting for you to start" in window.adapting.status.label.text()
    # Asked before anything ran: no step was timed, no model loaded for training, the writer is free.
    assert "a rough guess from the bundled adapter's training" in dialog.informativeText()
    assert not (sleuth_dirs / "data" / "training").exists()
    assert window.writer._adapting is None and window.writer.jobs.pending() == 0
    adapter = sleuth_dirs / "data" / "adapters" / "my-documents"
    assert not adapter.exists()

    shown: list[tuple[AdaptProgress, str]] = []
    window.adapting.progressShown.connect(lambda e: shown.append((e, window.adapting.status.label.text())))
    with (
        qtbot.waitSignal(window.indexingFinished, timeout=WAIT, check_params_cb=lambda outcome: outcome.rebuilt),
        qtbot.waitSignal(window.adapting.finished, timeout=WAIT) as finished,
    ):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    outcome: AdaptOutcome = finished.args[0]
    assert not outcome.error and outcome.adapter_dir == str(adapter)
    assert (adapter / "adapter_model.safetensors").is_file()
    texts = [text for _event, text in shown]
    assert any("stage 1 of 2" in t and "step 2 of 2" in t for t in texts), texts
    assert any("stage 2 of 2" in t and "learning to match queries" in t for t in texts), texts
    assert [e.phase for e, _text in shown][-1] == "done"

    # The adapter is the setting now (saved too), and the rebuilt index uses it.
    assert window.settings.adapter == str(adapter)
    assert load_settings().adapter == str(adapter)
    profile = Store(window.db_path).active_profile()
    assert profile is not None and profile.adapter == str(adapter)
    assert any(f"Adapter saved to {adapter}" in t for t in posted.texts(Level.INFO))
    assert window.adapt_action.isEnabled() and not window.adapting.status.isVisible()
    result = search(qtbot, window, "sourdough starter flour")
    assert Path(result.hits[0].path).name == "sourdough.md"


def test_cancel_keeps_a_checkpoint_the_next_run_resumes_and_search_goes_on(
    qtbot: QtBot, window: MainWindow, docs: Path, sleuth_dirs: Path, posted: Posted, tmp_path: Path
) -> None:
    add_and_index(qtbot, window, docs)
    adapter = window.settings.adapter  # whatever the default is, it stays
    window.adapting.options = tiny_options(steps=10_000)  # far more than it does before Cancel lands
    dialog = ask(qtbot, window)
    with qtbot.waitSignal(
        window.adapting.progressShown, timeout=WAIT, check_params_cb=lambda e: e.phase == "ebae" and e.step >= 2
    ):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert "stage 1 of 2" in window.adapting.status.label.text()
    assert window.adapting.status.isVisible()
    with qtbot.waitSignal(window.adapting.finished, timeout=WAIT) as finished:
        qtbot.mouseClick(window.adapting.status.cancel_button, Qt.MouseButton.LeftButton)
    outcome: AdaptOutcome = finished.args[0]
    assert outcome.cancelled and not outcome.error and not outcome.adapter_dir
    assert outcome.last is not None and 2 <= outcome.last.step < 10_000
    assert (sleuth_dirs / "data" / "training" / "my-documents" / "checkpoint" / "state.pt").is_file()
    assert not (sleuth_dirs / "data" / "adapters").exists()
    assert window.settings.adapter == adapter and load_settings().adapter == adapter
    assert any(t.startswith("Adapting stopped after step") for t in posted.texts(Level.INFO))
    assert window.adapt_action.isEnabled() and not window.adapting.status.isVisible()

    # The next run continues from the checkpoint, and says so; declining it changes nothing.
    dialog = ask(qtbot, window)
    assert "Continuing from the checkpoint at ebae step" in dialog.informativeText()
    assert "The time is measured on this computer" in dialog.informativeText()  # the steps it just did
    stopped = int(dialog.informativeText().split("ebae step ")[1].split(".")[0])
    assert stopped >= outcome.last.step
    assert dialog.text().startswith(f"Adapting will take {2 * 10_000 - stopped:,} steps, ")
    with qtbot.waitSignal(window.adapting.finished, timeout=WAIT) as finished:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].declined
    assert (sleuth_dirs / "data" / "training" / "my-documents" / "checkpoint" / "state.pt").is_file()
    assert window.settings.adapter == adapter and not (sleuth_dirs / "data" / "adapters").exists()

    # The writer follows the folders again, and search answers.
    more = write_docs(
        tmp_path / "more",
        {"sky/comets.txt": "Halley's comet returns every seventy-six years; its tail always points away from the Sun."},
    )
    add_and_index(qtbot, window, more, new_files=1)
    assert Path(search(qtbot, window, "Halley comet tail").hits[0].path).name == "comets.txt"
    assert Path(search(qtbot, window, "sourdough starter flour").hits[0].path).name == "sourdough.md"


def test_nothing_to_adapt_to_is_a_message(qtbot: QtBot, window: MainWindow, posted: Posted, tmp_path: Path) -> None:
    posted.allow_errors = True
    with qtbot.waitSignal(window.adapting.finished, timeout=WAIT) as finished:
        window.adapt_action.trigger()
    assert finished.args[0].error.startswith("Nothing is indexed yet")
    assert posted.texts(Level.ERROR) == [finished.args[0].error]
    assert window.adapt_action.isEnabled()

    adapter = window.settings.adapter
    add_and_index(qtbot, window, write_docs(tmp_path / "tiny", {"list.txt": "Milk, eggs, bread."}))
    window.adapting.options = tiny_options(steps=2)
    with qtbot.waitSignal(window.adapting.finished, timeout=WAIT) as finished:
        window.adapt_action.trigger()
    assert "Too little text" in finished.args[0].error
    assert window.adapt_action.isEnabled() and window.settings.adapter == adapter


def test_indexing_stays_in_view_while_adapting_trains(
    qtbot: QtBot, window: MainWindow, docs: Path, posted: Posted, tmp_path: Path
) -> None:
    add_and_index(qtbot, window, docs)
    many = write_docs(
        tmp_path / "many", {f"notes/n{i:04d}.txt": f"Note {i}. " + DOCS["garden/compost.txt"] for i in range(1000)}
    )
    window.adapting.options = tiny_options(steps=10_000)
    with qtbot.waitSignal(
        window.progressShown, timeout=WAIT, check_params_cb=lambda e: e.phase == Phase.TEXT and e.files_done >= 1
    ):
        window.add_folder(str(many))
    dialog = ask(qtbot, window)
    assert window.busy, "asking stopped indexing (or it ended before the question: give it more files)"
    with qtbot.waitSignal(
        window.adapting.progressShown, timeout=WAIT, check_params_cb=lambda e: e.phase == "ebae" and e.step >= 1
    ):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    label = window.status.progress_label
    assert label.isVisible() and label.text().startswith("Indexing waits until adapting is done — "), label.text()
    assert " of " in label.text() and "/s" not in label.text() and "left" not in label.text()
    assert window.adapting.status.isVisible()
    with (
        qtbot.waitSignal(window.adapting.finished, timeout=WAIT),
        qtbot.waitSignal(window.indexingFinished, timeout=WAIT, check_params_cb=lambda o: o.report is not None),
    ):
        qtbot.mouseClick(window.adapting.status.cancel_button, Qt.MouseButton.LeftButton)
    assert not label.text().startswith("Indexing waits")  # indexing went on, and finished


def test_cancelled_training_leaves_nothing_resident(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    """The training copy of the model, its LoRA layers and optimizer are collected once a cancelled run ends,
    even when a search loaded the query model meanwhile."""
    from core.training.trainer import Adaptation

    add_and_index(qtbot, window, docs)
    window.adapting.options = tiny_options(steps=10_000)
    dialog = ask(qtbot, window)
    alive: list[weakref.ref[Any]] = []

    def watch(event: AdaptProgress) -> None:
        if event.phase == "ebae" and event.step >= 2 and not alive:
            runs = [o for o in gc.get_objects() if isinstance(o, Adaptation)]
            assert len(runs) == 1
            run = runs[0]
            optimizers = [o for o in gc.get_objects() if isinstance(o, torch.optim.Optimizer)]
            parameter = next(run.model.parameters())
            alive.extend(weakref.ref(o) for o in (run, run.model, run.embedder, parameter, *optimizers))

    window.adapting.progressShown.connect(watch)
    with qtbot.waitSignal(
        window.adapting.progressShown, timeout=WAIT, check_params_cb=lambda e: e.phase == "ebae" and e.step >= 2
    ):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert len(alive) >= 5  # the run, its model, the embedder, a weight and the optimizer
    # A search meanwhile loads the query model, which freezes the heap (app.models.freeze_heap) with the
    # training objects inside: they must be collected all the same.
    search(qtbot, window, "sourdough starter flour")
    qtbot.waitUntil(lambda: window.search_worker.models.embedders() == 1, timeout=TIMEOUT)
    with qtbot.waitSignal(window.adapting.finished, timeout=WAIT) as finished:
        qtbot.mouseClick(window.adapting.status.cancel_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].cancelled
    assert [ref() for ref in alive if ref() is not None] == []
    # The window keeps one embedder for indexing and one for queries, no more.
    assert window.writer.models.embedders() == 1
    assert window.search_worker.models.embedders() <= 1


def test_the_minilm_reranker_stage_is_offered_trains_after_the_adapter_and_becomes_the_setting(
    qtbot: QtBot, window: MainWindow, docs: Path, sleuth_dirs: Path, posted: Posted
) -> None:
    add_and_index(qtbot, window, docs)
    window.adapting.options = tiny_options(steps=1)
    # Reranking off (the default), or the bundled language model (which adapting does not train): no stage.
    assert window.settings.reranker == ""
    dialog = ask(qtbot, window)
    assert dialog.reranker_box is None
    with qtbot.waitSignal(window.adapting.finished, timeout=WAIT):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    with_reranker(window)
    dialog = ask(qtbot, window)
    assert dialog.reranker_box is None
    with qtbot.waitSignal(window.adapting.finished, timeout=WAIT):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)

    window.apply_settings(dataclasses.replace(window.settings, reranker="bundled-minilm"))
    dialog = ask(qtbot, window)
    box = dialog.reranker_box
    assert box is not None and not box.isChecked()  # offered, off unless asked for
    assert box.text().startswith("Also train the reranker on my documents (") and "steps" in box.text()
    box.setChecked(True)
    shown: list[str] = []
    window.adapting.progressShown.connect(lambda _e: shown.append(window.adapting.status.label.text()))
    with qtbot.waitSignal(window.adapting.finished, timeout=WAIT) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    outcome: AdaptOutcome = finished.args[0]
    reranker = sleuth_dirs / "data" / "rerankers" / "my-documents"
    assert not outcome.error and outcome.reranker_dir == str(reranker), outcome
    assert (reranker / "adapter_model.safetensors").is_file()
    assert any("stage 3 of 3" in t and "learning to rerank" in t for t in shown), shown
    assert window.settings.reranker == str(reranker) and load_settings().reranker == str(reranker)
    assert window.settings.adapter == outcome.adapter_dir
    assert any(f"Reranker saved to {reranker}" in t for t in posted.texts(Level.INFO))
