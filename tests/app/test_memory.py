"""Models the window lets go of are given back: a replaced embedder is collected, not kept beside the new one.

Each worker keeps the one embedder its index needs (``app.models.ModelCache``). A model's objects are
frozen out of the collector's reach when it loads (``app.models.freeze_heap``); the model it replaces
must still be collected, reference cycles of the live loop around it included. ``benchmarks.memory
--window`` measures what this means in megabytes.
"""

from __future__ import annotations

import dataclasses
import shutil
import weakref
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.models import ModelCache
from app.window import MainWindow
from tests.app.test_window import TIMEOUT, add_and_index, search


def loaded(models: ModelCache) -> str:
    """The model a worker's cache holds now ("" for none)."""
    key = models._embedder_key
    return key[1] if key is not None and models._embedder is not None else ""


def test_a_changed_model_replaces_the_old_one_in_both_workers(
    qtbot: QtBot, window: MainWindow, docs: Path, tiny_llama_dir: Path, tmp_path: Path
) -> None:
    add_and_index(qtbot, window, docs)
    search(qtbot, window, "sourdough starter flour")
    qtbot.waitUntil(lambda: loaded(window.search_worker.models) != "", timeout=TIMEOUT)
    indexing, querying = window.writer.models._embedder, window.search_worker.models._embedder
    assert indexing is not None and querying is not None
    old = [weakref.ref(indexing), weakref.ref(querying)]
    del indexing, querying

    other = shutil.copytree(tiny_llama_dir, tmp_path / "other-model")  # another model: a new index is built
    with qtbot.waitSignal(window.indexingFinished, timeout=TIMEOUT, check_params_cb=lambda outcome: outcome.rebuilt):
        window.apply_settings(dataclasses.replace(window.settings, model=str(other)))
    result = search(qtbot, window, "sourdough starter flour")
    assert Path(result.hits[0].path).name == "sourdough.md"
    qtbot.waitUntil(lambda: loaded(window.search_worker.models) == str(other), timeout=TIMEOUT)
    assert loaded(window.writer.models) == str(other)
    assert [ref() for ref in old if ref() is not None] == []
    assert window.writer.models.embedders() == 1
