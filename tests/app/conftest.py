"""GUI fixtures: the real window over the real engine, on real files in temporary folders.

The tiny random LLaMA (``tiny_llama_dir``, tests/conftest.py) keeps indexing fast; its dense scores
are noise, so the tests set ``dense_weight=0`` (hybrid search led by BM25, dense only breaks ties)
and assert on what keyword matching decides.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app import messages
from app.messages import Level, Message
from core.search.rerank import BUNDLED
from core.settings import Settings

DOCS = {
    "garden/tomatoes.md": (
        "# Growing tomatoes\n\n"
        "Heirloom tomatoes need staking in early June, and at least six hours of sun each day. "
        "Water the roots in the morning, never the leaves, so that blight has no chance to spread.\n\n"
        "Pinch out the side shoots of cordon varieties every week. Bush varieties need no pinching.\n\n"
        "Harvest when the fruit is fully coloured but still firm; leave green fruit to ripen indoors."
    ),
    "garden/compost.txt": (
        "A compost heap wants a mix of green and brown material. Grass clippings and vegetable peelings are "
        "green; cardboard, straw and dry leaves are brown.\n\n"
        "Turn the heap every few weeks to let air in. A warm heap breaks down in three months; "
        "a cold one takes a year."
    ),
    "kitchen/sourdough.md": (
        "# Sourdough\n\n"
        "A sourdough starter is a culture of wild yeast and lactobacilli. Feed the starter with flour and "
        "water every day until it doubles within six hours.\n\n"
        "Mix the dough, rest it, fold it four times, let it proof overnight in the fridge, then bake it in a "
        "very hot Dutch oven for forty minutes."
    ),
    "travel/lisbon.txt": (
        "Lisbon is built on seven hills above the Tagus estuary. Tram 28 climbs through Alfama, the oldest "
        "quarter, past the cathedral and the castle of Sao Jorge.\n\n"
        "Pasteis de nata are best warm, dusted with cinnamon, in Belem near the monastery."
    ),
    "notes/volcanoes.rst": (
        "Volcanoes\n=========\n\n"
        "Volcanoes form where magma rises through the crust. The eruption of Mount Vesuvius buried Pompeii "
        "in ash in the year 79.\n\n"
        "Basalt lava flows are runny, while rhyolite magma is sticky and explosive."
    ),
}


def write_docs(root: Path, docs: dict[str, str] | None = None) -> Path:
    for name, text in (docs or DOCS).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return write_docs(tmp_path / "docs")


@pytest.fixture(scope="session")
def shared_cache(bundled_cache_dir: Path) -> Path:
    """Re-creatable model files (the converted model the bundled reranker reads), shared by the session."""
    return bundled_cache_dir


@pytest.fixture
def sleuth_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> Path:
    """Sleuth's own folders (index, settings, data) inside the test's temporary folder; the cache is shared."""
    home = tmp_path / "sleuth"
    for var, name in (
        ("SLEUTH_DB", "index.lancedb"),
        ("SLEUTH_CONFIG_DIR", "config"),
        ("SLEUTH_DATA_DIR", "data"),
        ("SLEUTH_STATE_DIR", "state"),
    ):
        monkeypatch.setenv(var, str(home / name))
    monkeypatch.setenv("SLEUTH_CACHE_DIR", str(shared_cache))
    return home


@pytest.fixture
def settings(tiny_llama_dir: Path) -> Settings:
    """The tiny model; reranking off, as by default (tests of reranking turn it on: ``with_reranker``)."""
    return Settings(
        model=str(tiny_llama_dir), device="cpu", precision="fp32", chunk_size=48, chunk_overlap=8, dense_weight=0.0
    )


def with_reranker(window: object, name: str = BUNDLED) -> None:
    """Turn reranking on in ``window`` (the bundled language model unless named), as the settings panel would.

    The bundled model is converted into the session's shared cache here first (once per session; up to a minute
    on a busy CPU), so that no signal a test waits for has that wait in it.
    """
    import dataclasses

    from core.embedding.bundled import bundled_model_dir

    if name == BUNDLED:
        bundled_model_dir()  # SLEUTH_CACHE_DIR is the shared cache (sleuth_dirs)
    window.apply_settings(dataclasses.replace(window.settings, reranker=name))  # type: ignore[attr-defined]


@dataclass
class Posted:
    """Messages the window was given; a test fails on an unexpected error unless it allows errors."""

    messages: list[Message] = field(default_factory=list)
    allow_errors: bool = False

    def add(self, message: Message) -> None:
        self.messages.append(message)

    def texts(self, level: Level | None = None) -> list[str]:
        return [m.text for m in self.messages if level is None or m.level is level]


@pytest.fixture
def posted(qapp: object) -> Iterator[Posted]:
    record = Posted()
    messages.bus().posted.connect(record.add)
    yield record
    messages.bus().posted.disconnect(record.add)
    if not record.allow_errors:
        assert not record.texts(Level.ERROR), f"unexpected errors: {record.texts(Level.ERROR)}"


@pytest.fixture
def window(qtbot: object, sleuth_dirs: Path, settings: Settings, posted: Posted) -> Iterator[object]:
    from app.window import MainWindow

    win = MainWindow(settings, sleuth_dirs / "index.lancedb", state_file=sleuth_dirs / "config" / "window.ini")
    qtbot.addWidget(win)  # type: ignore[attr-defined]
    win.resize(1400, 860)
    win.show()
    win.start()
    yield win
    assert win.shutdown(timeout_ms=30_000), "the workers did not stop"
