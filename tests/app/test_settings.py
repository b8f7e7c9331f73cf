"""The settings panel: what a change costs, applied the way its ``effect`` says, and saved."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.messages import Level
from app.qt import QDialogButtonBox, QDoubleSpinBox, QLabel, QSpinBox, Qt, QTimer
from app.settings_dialog import SettingsDialog, changes, depth_choices, dimension_choices
from app.window import MainWindow
from core.embedding.matryoshka import MEASURED_COSTS, dimension_cost
from core.embedding.registry import LLARA_ON_CPU
from core.index.store import Store
from core.search.rerank import WHY_OFF
from core.settings import Settings, load_settings
from core.vocabulary import EmbedderIdentity
from tests.app.conftest import Posted
from tests.app.test_window import TIMEOUT, add_and_index, search

ROOT = Path(__file__).resolve().parents[2]


def active_index(window: MainWindow):  # type: ignore[no-untyped-def]
    store = Store(window.db_path)
    profile = store.active_profile()
    assert profile is not None
    return store.profile_index(profile)


def test_dialog_edits_a_copy_and_names_the_cost(qtbot: QtBot) -> None:
    settings = Settings()
    dialog = SettingsDialog(settings, model_dimension=576)
    qtbot.addWidget(dialog)
    assert dialog.summary.text() == "No changes."
    dialog.set_value("chunk_size", 128)
    dialog.set_value("results_per_page", 20)
    dialog.set_value("search_dim", 256)
    text = dialog.summary.text()
    assert "Chunk size" in text and "new index" in text
    assert "Results per page" in text and "at once" in text
    assert "Search dimension" in text and "re-derived" in text
    edited = dialog.edited()
    assert (edited.chunk_size, edited.results_per_page, edited.search_dim) == (128, 20, 256)
    assert settings.chunk_size == 256  # the original is untouched
    assert changes(settings, edited) == {
        "chunk_size": "rebuild",
        "search_dim": "rewrite",
        "results_per_page": "immediate",
    }
    dialog.set_value("chunk_overlap", 200)  # larger than the chunk size: refused, with the reason
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Save).isEnabled()
    assert "chunk_overlap" in dialog.summary.text()


def test_int8_precision_is_named_as_a_new_index_and_bf16_as_a_reload(qtbot: QtBot) -> None:
    settings = Settings(precision="fp32")
    dialog = SettingsDialog(settings, model_dimension=576)
    qtbot.addWidget(dialog)
    dialog.set_value("precision", "int8")
    assert dialog.edited().precision == "int8" and "new index" in dialog.summary.text()
    assert changes(settings, dialog.edited()) == {"precision": "rebuild"}
    dialog.set_value("precision", "bf16")
    assert changes(settings, dialog.edited()) == {"precision": "restart"}
    assert changes(Settings(precision="int8"), Settings(precision="auto")) == {"precision": "rebuild"}


def test_controls_say_what_they_do_and_no_hint_contradicts_them(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings(dense_weight=-1.0), model_dimension=576, measured="Measured: dense adds 0.05")
    qtbot.addWidget(dialog)
    dialog.show()
    hints = [label.text() for label in dialog.findChildren(QLabel) if label.objectName() == "settingHint"]
    assert not any("-1" in hint or "0 = full" in hint for hint in hints), hints
    auto = dialog.automatic["dense_weight"]
    assert auto.isChecked() and auto.text() == "Automatic (measured on your documents)"
    weight = dialog.editors["dense_weight"]
    assert not weight.isEnabled() and "Measured" not in weight.text()  # a number box holds numbers
    assert dialog.editors["search_dim"].currentText() == "Full (576)"
    # A weight of one's own, then back to the measured one: stored as -1, never shown as -1.
    auto.setChecked(False)
    assert weight.isEnabled()
    dialog.set_value("dense_weight", 0.3)
    assert dialog.edited().dense_weight == 0.3 and "Dense weight" in dialog.summary.text()
    auto.setChecked(True)
    assert dialog.edited().dense_weight == -1.0 and dialog.summary.text() == "No changes."
    dialog.set_value("search_dim", 256)
    assert "Search dimension</b>" in dialog.summary.text() and "0 = full" not in dialog.summary.text()


def test_reranker_numbers_are_automatic_until_the_user_sets_one(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    top_n, weight = dialog.editors["rerank_top_n"], dialog.editors["rerank_weight"]
    assert isinstance(top_n, QSpinBox) and isinstance(weight, QDoubleSpinBox)
    for name in ("rerank_top_n", "rerank_weight"):
        assert dialog.automatic[name].isChecked() and dialog.automatic[name].text() == "Automatic (the reranker's own)"
    # Reranking is off by default, and the panel says why, with what was measured.
    assert not dialog.rerank_on.isChecked() and dialog.value("reranker") == ""
    assert any(WHY_OFF in label.text() for label in dialog.findChildren(QLabel))
    # Greyed out, the boxes show the bundled reranker's own numbers (the one the box offers), and start from them.
    assert (top_n.value(), weight.value(), top_n.isEnabled(), weight.isEnabled()) == (5, 0.5, False, False)
    dialog.automatic["rerank_top_n"].setChecked(False)
    top_n.setValue(8)
    assert dialog.edited().rerank_top_n == 8 and dialog.edited().rerank_weight == -1.0
    assert "Rerank top N" in dialog.summary.text()
    dialog.set_value("rerank_top_n", 0)
    assert dialog.automatic["rerank_top_n"].isChecked() and dialog.summary.text() == "No changes."
    # Choosing a cross-encoder shows its own numbers; a saved cross-encoder shows them from the start.
    dialog.set_value("reranker", "bundled-minilm")
    assert (top_n.value(), weight.value()) == (20, 0.3)
    minilm = SettingsDialog(Settings(reranker="bundled-minilm"))
    qtbot.addWidget(minilm)
    assert (minilm.editors["rerank_top_n"].value(), minilm.editors["rerank_weight"].value()) == (20, 0.3)


def test_dimension_choices_fit_the_model() -> None:
    assert dimension_choices(576, 0) == [0, 512, 384, 256, 128, 64, 32]
    assert dimension_choices(64, 0) == [0, 32]
    assert dimension_choices(4096, 0)[:3] == [0, 2048, 1024]


def test_search_dimensions_say_what_they_cost_at_the_size_of_the_index(qtbot: QtBot) -> None:
    """For the measured model, each dimension names the share of the full-dimension top 10 it finds and its time,
    from the measurement nearest the index's size; for a model never measured, nothing is made up."""
    measured = {cost.dim for cost in MEASURED_COSTS["minilm-l6-v2"]}
    assert {64, 128, 256, 384} <= measured
    dialog = SettingsDialog(Settings(), model_dimension=384, embedder="encoder:minilm-l6-v2", passages=40_000)
    qtbot.addWidget(dialog)
    combo = dialog.editors["search_dim"]
    texts = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}  # type: ignore[attr-defined]
    for dim, text in texts.items():
        cost = dimension_cost("minilm-l6-v2", dim or 384, 40_000)
        if cost is None:
            assert "—" not in text
            continue
        assert f"finds {cost.kept:.1%} of the full top 10" in text and "yours: 40,000" in text, text
        assert f"measured at {cost.passages:,} passages" in text
    assert texts[0].startswith("Full (384) — finds 100.0%")
    # An index this size is turned by its principal axes below the full dimension: the turned measurements.
    assert "finds 89.2% of the full top 10, dense stage 31 ms (measured at 59,144 passages" in texts[64]
    assert "finds 66.4% of the full top 10, dense stage 22 ms (measured at 59,144 passages" in texts[32]
    small = SettingsDialog(Settings(), model_dimension=384, embedder="encoder:minilm-l6-v2", passages=20_000)
    qtbot.addWidget(small)
    combo = small.editors["search_dim"]
    texts = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}  # type: ignore[attr-defined]
    assert "finds 92.6% of the full top 10, dense stage 13 ms (measured at 18,432 passages" in texts[64]
    tiny = SettingsDialog(Settings(), model_dimension=384, embedder="encoder:minilm-l6-v2", passages=500)
    qtbot.addWidget(tiny)
    combo = tiny.editors["search_dim"]
    texts = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}  # type: ignore[attr-defined]
    assert "finds 75.2% of the full top 10" in texts[64], "too few passages to be turned: a plain prefix's figure"
    other = SettingsDialog(Settings(), model_dimension=64, embedder="llara:/models/tiny", passages=40_000)
    qtbot.addWidget(other)
    combo = other.editors["search_dim"]
    assert [combo.itemText(i) for i in range(combo.count())] == ["Full (64)", "32"]  # type: ignore[attr-defined]


def test_the_cost_nearest_the_index_size_is_chosen() -> None:
    sizes = sorted({cost.passages for cost in MEASURED_COSTS["minilm-l6-v2"]})
    smallest, largest = sizes[0], sizes[-1]
    few = dimension_cost("minilm-l6-v2", 128, 1)
    assert few is not None and few.passages == smallest and not few.rotated
    chosen = dimension_cost("minilm-l6-v2", 128, 10 * largest)
    assert chosen is not None and chosen.passages == largest and chosen.dim == 128 and chosen.rotated
    full = dimension_cost("minilm-l6-v2", 384, 10 * largest)
    assert full is not None and full.passages == largest and not full.rotated, "the full dimension is never turned"
    assert dimension_cost("minilm-l6-v2", 100, largest) is None and dimension_cost("other", 128, largest) is None


def test_search_dimension_from_the_settings_panel(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    add_and_index(qtbot, window, docs)
    with qtbot.waitSignal(window.statsShown, timeout=TIMEOUT, check_params_cb=lambda s: s.dimension > 0):
        window.statsRequested.emit()
    full = window.stats.dimension
    assert active_index(window).search_dim == full
    before = search(qtbot, window, "sourdough starter flour")
    assert Path(before.hits[0].path).name == "sourdough.md"

    seen: list[str] = []
    measured: list[str] = []
    wiring: list[tuple[str, int]] = []

    def use_dialog() -> None:  # runs inside the modal dialog's event loop, as a user would
        dialog = window.findChild(SettingsDialog)
        assert dialog is not None and dialog.isVisible()
        # the index's model and size reach the panel, for what each dimension costs there
        wiring.append((dialog.embedder_model, dialog.passages))
        combo = dialog.editors["search_dim"]
        combo.setCurrentIndex(combo.findData(full // 2))  # type: ignore[attr-defined]
        seen.append(dialog.summary.text())
        measured.extend(label.text() for label in dialog.findChildren(QLabel) if "Dense search" in label.text())
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()

    QTimer.singleShot(0, use_dialog)
    with qtbot.waitSignal(window.searchDimChanged, timeout=TIMEOUT, check_params_cb=lambda d: d == full // 2):
        window.open_settings()
    assert "re-derived" in seen[0]
    profile = Store(window.db_path).active_profile()
    assert profile is not None and window.stats.chunks > 0
    assert wiring == [(EmbedderIdentity.parse(profile.embedder_name).source, window.stats.chunks)]
    # the panel shows what the measurement of dense search found on this index, stored with it
    assert window.stats.fusion.startswith("Dense search") and measured and window.stats.fusion in measured[0]
    assert active_index(window).search_dim == full // 2
    assert load_settings().search_dim == full // 2  # saved

    after = search(qtbot, window, "sourdough starter flour")
    assert not after.error and not [n for n in after.notes if "failed" in n]
    assert Path(after.hits[0].path).name == "sourdough.md"


def test_results_per_page_applies_at_once(qtbot: QtBot, window: MainWindow, docs: Path) -> None:
    add_and_index(qtbot, window, docs)
    assert len(search(qtbot, window, "water").documents) >= 2
    window.apply_settings(dataclasses.replace(window.settings, results_per_page=1))
    assert len(search(qtbot, window, "water").documents) == 1  # one document, with its passages


def test_a_model_that_cannot_be_had_is_reported(qtbot: QtBot, window: MainWindow, docs: Path, posted: Posted) -> None:
    add_and_index(qtbot, window, docs)
    posted.allow_errors = True
    window.apply_settings(dataclasses.replace(window.settings, model="/nowhere/no-such-model"))
    # The run that stops for the switch may finish first; what matters is that the new model's failure is said.
    qtbot.waitUntil(lambda: any("no-such-model" in text for text in posted.texts(Level.ERROR)), timeout=TIMEOUT)
    # The error can be recorded before the status bar (on the GUI thread) has shown it.
    qtbot.waitUntil(lambda: "no-such-model" in window.status.message.text(), timeout=TIMEOUT)
    # The window keeps working with the index it has.
    result = search(qtbot, window, "heirloom tomatoes")
    assert Path(result.hits[0].path).name == "tomatoes.md"


@pytest.mark.parametrize("key", ["Ctrl+K", "Ctrl+L"])
def test_shortcuts_focus_the_search_box(qtbot: QtBot, window: MainWindow, key: str) -> None:
    window.activateWindow()
    window.settings_button.setFocus()
    assert window.focusWidget() is window.settings_button
    qtbot.keyClick(window.settings_button, key[-1], Qt.KeyboardModifier.ControlModifier)
    assert window.focusWidget() is window.search_box


def test_embedding_depth_says_what_each_exit_costs_and_whether_it_was_trained(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = SettingsDialog(Settings(), model_dimension=576)
    qtbot.addWidget(dialog)
    combo = dialog.editors["depth"]
    texts = [combo.itemText(i) for i in range(combo.count())]
    # The default model is the encoder on a CPU: the depth box says that depth 0 is its whole model; a depth
    # below picks SmolLM2 (core.embedding.registry.chosen_model), whose layers the other choices count.
    assert texts[0] == "All layers of the automatic model (MiniLM's 6 on a CPU, SmolLM2's 30 on a GPU)"
    llara = SettingsDialog(Settings(model="smollm2-135m"), model_dimension=576)
    qtbot.addWidget(llara)
    assert [llara.editors["depth"].itemText(i) for i in range(llara.editors["depth"].count())] == [
        "All 30 layers (full quality)",
        *texts[1:],
    ]
    assert any(t.startswith("15 of 30 layers — 2.0× less computation") for t in texts)
    # Sleuth ships an adapter of its own for the first 7 layers (distilled); the box says what it costs.
    shipped = [t for t in texts if t.startswith("7 of 30 layers — 4.3× less computation · ")]
    assert len(shipped) == 1 and "nDCG@10" in shipped[0], texts
    others = [t for t in texts[1:] if t not in shipped]
    assert others and all("not trained for this adapter" in t for t in others), "the full adapter names no exits"
    dialog.set_value("depth", 15)
    assert "Embedding depth" in dialog.summary.text() and "new index" in dialog.summary.text()
    assert dialog.edited().depth == 15

    def depth_texts(name: str, file: str, facts: str) -> list[str]:
        """The depth box's choices for an adapter folder holding ``file`` with ``facts``."""
        adapter = tmp_path / name
        adapter.mkdir()
        (adapter / file).write_text(facts)
        dialog = SettingsDialog(Settings(adapter=str(adapter)), model_dimension=576)
        qtbot.addWidget(dialog)
        combo = dialog.editors["depth"]
        return [combo.itemText(i) for i in range(combo.count())]

    assert depth_texts("adapter", "training.json", '{"options": {"exits": [10, 20]}}')[1:] == [
        "20 of 30 layers — 1.5× less computation · trained for this adapter",
        "10 of 30 layers — 3.0× less computation · trained for this adapter",
    ]
    assert depth_texts("shallow", "sleuth-adapter.json", '{"depth": 7, "exits": []}') == [
        "7 of 30 layers, the adapter's own — 4.3× less computation"
    ], "an adapter trained for 7 layers has no weights above them: no other depth is offered"
    assert depth_choices(30, (), 7, own=7) == [(7, "7 of 30 layers, the adapter's own — 4.3× less computation")]


def test_the_model_page_says_what_the_llara_model_measured_against_the_cpu_default(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert any(LLARA_ON_CPU in label.text() for label in dialog.findChildren(QLabel))
    # The sentence quotes the committed test-half measurement (benchmarks/model_halves.py), not a number of its own.
    report = json.loads((ROOT / "benchmarks/results/halves/model-llara-vs-minilm-test.json").read_text())
    hybrid = report["pooled"]["later:hybrid - earlier:hybrid"]["pooled"]["mrr@10"]
    for value in (hybrid["diff"], hybrid["ci95_low"], hybrid["ci95_high"]):
        assert f"{value:+.3f}".replace("-", "−").lstrip("+") in LLARA_ON_CPU
    assert f"{hybrid['queries']} queries" in LLARA_ON_CPU
