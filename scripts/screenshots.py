"""Render screenshots of the Sleuth window into docs/: results by document with the preview, a file's further
passages, the filter bar, a narrow window, settings (search, model, indexing), indexing.

Runs the real window over the real engine on a small sample folder (written to a temporary folder,
with a multi-page PDF made by Qt) using the default bundled model. Offscreen works (fonts from the
system, e.g. fonts-dejavu-core); under a display server run it as is, or with
``xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshots.py``.

    .venv/bin/python scripts/screenshots.py [--out docs] [--model auto|smollm2-135m|minilm-l6-v2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import messages  # noqa: E402
from app.main import style  # noqa: E402
from app.qt import QApplication, QEventLoop, QPageSize, QPdfWriter, QTextDocument, QTimer, QWidget  # noqa: E402
from app.settings_dialog import PAGES, SettingsDialog  # noqa: E402
from app.window import MainWindow  # noqa: E402
from core import paths  # noqa: E402
from core.search.rerank import BUNDLED  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.vocabulary import NoteKind, note_kind  # noqa: E402

NOTES = {
    "Projects/garden/tomatoes.md": """# Growing tomatoes

Heirloom tomatoes need staking in early June and at least six hours of sun a day. Water the roots in the
morning, never the leaves, so that blight has no chance to spread.

Pinch out the side shoots of cordon varieties every week; bush varieties need no pinching. Feed with a
high-potassium fertiliser once the first truss has set.

Harvest when the fruit is fully coloured but still firm. Green fruit left at the end of the season ripens
indoors in a paper bag with a banana.
""",
    "Projects/garden/compost.txt": """A compost heap wants a mix of green and brown material. Grass clippings and
vegetable peelings are green; cardboard, straw and dry leaves are brown.

Turn the heap every few weeks to let air in. A warm heap breaks down in three months; a cold one takes a
year. Tomato haulms with blight can go on a hot heap, but not on a cold one.
""",
    "Recipes/sourdough.md": """# Sourdough bread

A sourdough starter is a culture of wild yeast and lactobacilli. Feed the starter with flour and water
every day until it doubles within six hours.

Mix 500 g flour, 350 g water, 100 g active starter and 10 g salt. Rest the dough, fold it four times over
two hours, then let it proof overnight in the fridge. Bake in a very hot Dutch oven for forty minutes:
twenty with the lid on, twenty without.
""",
    "Recipes/tomato-sauce.md": """# Quick tomato sauce

Soften two cloves of garlic in olive oil, add a tin of plum tomatoes and a pinch of salt, and simmer for
twenty minutes. Ripe garden tomatoes work as well: skin them first in boiling water.
""",
    "Travel/lisbon-2023.txt": """Lisbon, May 2023

Lisbon is built on seven hills above the Tagus estuary. Tram 28 climbs through Alfama, the oldest quarter,
past the cathedral and the castle of Sao Jorge. Pasteis de nata are best warm, dusted with cinnamon, in
Belem near the monastery.
""",
    "Work/meeting-notes-q3.md": """# Q3 planning meeting

Attendees: Ana, Bruno, Chen. The search release moves to September. Ana owns the indexing pipeline,
Bruno the desktop window, Chen the evaluation set. Risks: the PDF extractor on scanned documents and
memory use with large folders.
""",
}

HANDBOOK = [
    (
        "Garden handbook",
        "This handbook collects what the allotment society learned over ten seasons. "
        "It covers soil, sowing, watering and the common diseases of vegetables.",
    ),
    (
        "Soil and compost",
        "Dig compost into the beds in autumn. Clay soil benefits from grit; sandy soil from "
        "leaf mould. Test the pH every few years; most vegetables like it slightly acid.",
    ),
    (
        "Tomato blight",
        "Late blight (Phytophthora infestans) spreads in warm, wet weather. Brown patches appear "
        "on the leaves, then the stems and fruit rot within days. Remove affected leaves at once, water the "
        "roots rather than the leaves, and give the plants space so that they dry quickly. Resistant varieties "
        "such as Crimson Crush rarely suffer. Do not save seed from blighted tomatoes.",
    ),
    (
        "Watering",
        "Water deeply twice a week rather than a little every day: deep roots survive a dry spell. "
        "Water in the morning, so that the leaves dry before night.",
    ),
]


JOURNAL = [
    "Planted out the courgettes and the runner beans; the soil is finally warm enough.",
    "Rain all day. Read about crop rotation: brassicas after legumes, roots after brassicas.",
    "First strawberries. Netted them against the blackbirds.",
    "The sourdough starter smelled of acetone: fed it twice and kept it warmer.",
    "Booked the train to Porto for the second week of May.",
    "Meeting with Chen about the evaluation set: two hundred queries with graded judgements.",
    "Mulched the raspberries with straw and cut out last year's canes.",
    "Tried a rye loaf: denser, sour, very good with cheese.",
]


#: When the sample notes were last changed, so the list's dates and "sort by date" look as they would.
MODIFIED = {
    "Projects/garden/tomatoes.md": "2024-06-02",
    "Projects/garden/compost.txt": "2024-03-17",
    "Projects/garden/garden-handbook.pdf": "2023-11-05",
    "Recipes/sourdough.md": "2024-01-21",
    "Recipes/tomato-sauce.md": "2024-08-30",
    "Travel/lisbon-2023.txt": "2023-05-28",
    "Work/meeting-notes-q3.md": "2024-07-09",
}


def write_samples(root: Path) -> Path:
    for day in range(36):
        path = root / "Journal" / f"2023-05-{day % 28 + 1:02d}-{day}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"# Journal, day {day + 1}\n\n" + " ".join(JOURNAL[(day + i) % len(JOURNAL)] for i in range(4)),
            encoding="utf-8",
        )
        stamp = datetime(2023, 5, day % 28 + 1, 21, 30).timestamp()
        os.utime(path, (stamp, stamp))
    for name, text in NOTES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    make_pdf(root / "Projects/garden/garden-handbook.pdf", HANDBOOK)
    for name, day in MODIFIED.items():
        stamp = datetime.fromisoformat(day).replace(hour=18).timestamp()
        os.utime(root / name, (stamp, stamp))
    return root


def make_pdf(path: Path, sections: list[tuple[str, str]]) -> None:
    """A real PDF with a text layer, one section a page, written by Qt's PDF writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A5))
    body = "".join(
        f"<h1>{title}</h1><p>{text}</p>" + ('<p style="page-break-after:always"></p>' if i < len(sections) - 1 else "")
        for i, (title, text) in enumerate(sections)
    )
    doc = QTextDocument()
    doc.setHtml(body)
    doc.print_(writer)


def wait_for(signal: object, timeout_s: float = 600, check: object = None) -> tuple[object, ...]:
    """Run the event loop until ``signal`` fires (with arguments passing ``check``)."""
    loop = QEventLoop()
    got: list[tuple[object, ...]] = []

    def fired(*args: object) -> None:
        if check is None or check(*args):  # type: ignore[operator]
            got.append(args)
            loop.quit()

    signal.connect(fired)  # type: ignore[attr-defined]
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(fired)  # type: ignore[attr-defined]
    if not got:
        raise TimeoutError(f"no {signal} within {timeout_s} s")
    return got[0]


def settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, path: Path) -> None:
    settle()
    if not widget.grab().save(str(path)):
        raise OSError(f"cannot write {path}")
    print(f"wrote {path}")


def search(window: MainWindow, query: str) -> None:
    """Search as on Enter; the first search also loads the query model, then runs again with it."""
    window.search_box.setText(query)
    window.run_search(full=True)
    wait_for(
        window.resultsShown,
        check=lambda r: (
            r.request.full and not r.rerank_pending and all(note_kind(n) is not NoteKind.MODEL_LOADING for n in r.notes)
        ),
    )
    wait_for(window.previewShown)


def rerank_pair(window: MainWindow, query: str, before: Path, after: Path) -> None:
    """The window as the fused results arrive ("reranking…"), and again with the reranked order."""

    def shown(result: object) -> None:
        if getattr(result, "rerank_pending", False):
            if not window.grab().save(str(before)):
                raise OSError(f"cannot write {before}")
            print(f"wrote {before}")

    default = window.settings
    window.apply_settings(dataclasses.replace(default, reranker=BUNDLED))  # off by default: shown as a choice
    window.resultsShown.connect(shown)
    window.search_box.setText(query)
    window.run_search(full=True)
    wait_for(window.resultsShown, check=lambda r: r.request.full and r.reranked)
    window.resultsShown.disconnect(shown)
    wait_for(window.previewShown)
    save(window, after)
    window.apply_settings(default)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument(
        "--model", default=Settings().model, help="the embedding model (default: the default, %(default)s)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="sleuth-shots-"))
    # Reuse the converted bundled model; show sample paths under a home folder, as a user would see them.
    os.environ.setdefault("SLEUTH_CACHE_DIR", str(paths.cache_dir()))
    os.environ["HOME"] = str(tmp / "home")
    os.environ["SLEUTH_DB"] = str(tmp / "index.lancedb")
    os.environ["SLEUTH_CONFIG_DIR"] = str(tmp / "config")
    os.environ["SLEUTH_DATA_DIR"] = str(tmp / "data")
    app = QApplication(sys.argv)
    app.setApplicationName("Sleuth")
    style(app)
    samples = write_samples(tmp / "home" / "Documents")
    messages.bus()
    window = MainWindow(
        # Passages smaller than the default, so the preview shows one within its document.
        Settings(model=args.model, device="cpu", chunk_size=96, chunk_overlap=16),
        tmp / "index.lancedb",
        state_file=tmp / "config" / "window.ini",
    )
    window.resize(1400, 860)
    window.show()
    window.start()

    # Hold indexing part-way through reading, to show the progress bar.
    window.add_folder(str(samples))
    wait_for(window.progressShown, check=lambda event: event.phase == "text" and event.files_done >= 24)
    window.set_paused(True)
    wait_for(window.pausedAt, check=lambda paused: paused)
    settle(300)
    QTimer.singleShot(0, window.statsRequested.emit)
    wait_for(window.statsShown)
    search(window, "sourdough starter")  # what is read so far already answers
    save(window, args.out / "screenshot-indexing.png")
    window.set_paused(False)
    wait_for(window.indexingFinished, check=lambda outcome: outcome.report is not None)
    wait_for(window.statsShown)

    search(window, "tomato blight watering")
    save(window, args.out / "screenshot-search.png")

    # The fused results at once, then the reranked order in their place.
    rerank_pair(
        window,
        "how often to feed a sourdough starter",
        args.out / "screenshot-rerank-before.png",
        args.out / "screenshot-rerank-after.png",
    )
    search(window, "tomato blight watering")

    # A document's further passages, opened beneath it, and the preview at its second match in file order.
    several = next((d for d in window.model.documents if len(d.hits) > 1), None)
    if several is not None:
        window.model.set_expanded(several, True)
        window.results.setCurrentIndex(window.model.index(window.model.row_of(several.in_file_order()[0])))
        settle()
        window.pane.step_match(1)
        wait_for(window.previewShown)
    save(window, args.out / "screenshot-preview.png")

    # A narrow window (640 × 420): the results keep their width; the folders pane folds away first.
    window.resize(640, 420)
    settle(500)
    save(window, args.out / "screenshot-narrow.png")
    window.resize(1400, 860)
    settle(500)

    # Narrowing: the filter bar open, Markdown files only, a misspelt word corrected.
    window.filters.toggle.setChecked(True)
    search(window, "tomatoes harvset type:md")
    save(window, args.out / "screenshot-filters.png")
    window.filters.toggle.setChecked(False)

    stats = window.stats
    dialog = SettingsDialog(
        window.settings, stats.dimension, window, measured=stats.fusion, embedder=stats.embedder, passages=stats.chunks
    )
    dialog.set_value("results_per_page", 20)
    dialog.set_value("search_dim", 256 if window.stats.dimension > 256 else 0)
    dialog.tabs.setCurrentIndex(list(PAGES).index("Search"))  # the measured dense-search gain is shown here
    dialog.show()
    save(dialog, args.out / "screenshot-settings.png")
    dialog.tabs.setCurrentIndex(list(PAGES).index("Model"))  # the model the default chose, and the depth box
    save(dialog, args.out / "screenshot-settings-model.png")
    dialog.tabs.setCurrentIndex(list(PAGES).index("Indexing"))  # keeping folders current with the window closed
    save(dialog, args.out / "screenshot-settings-indexing.png")
    dialog.reject()

    window.close()
    window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
