"""Live folder watching with a real watchdog observer on real folders, a real LanceDB and the tiny model."""

from __future__ import annotations

import _thread
import errno
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from watchdog.observers import Observer

import core.index.indexer
import core.index.reading
from core.cli import main
from core.embedding import Embedder
from core.index.store import Store, chunk_id_prefix
from core.jobs import Notice, NoticeKind
from core.search.searcher import Searcher
from core.service.watcher import FolderState
from core.service.work_queue import WorkQueue
from core.service.writer import IndexBusy, WriteService
from core.settings import Settings, save_settings
from tests.core.corpus import TOPICS, write_corpus

QUIET = 0.2

# watchdog's own bookkeeping warns when a moved folder's watch is re-registered; harmless.
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class CountingEmbedder:
    """The real tiny embedder, counting the passages it embeds."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.passages = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_passages(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        self.passages += len(texts)
        return self.inner.embed_passages(texts, batch_size)


class RecordingQueue(WorkQueue):
    """The real durable queue, remembering every path ever put in."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.seen: list[str] = []

    def put(self, paths: Any) -> int:
        paths = list(paths)
        self.seen.extend(paths)
        return super().put(paths)


class Harness:
    """A LiveIndexer driven by its own writer thread, as the window's worker drives it."""

    def __init__(self, store: Store, settings: Settings, embedder: Any, **kwargs: Any) -> None:
        self.store = store
        self.notices: list[Notice] = []
        kwargs.setdefault("quiet_s", QUIET)
        self.writer = WriteService(store, "a test's writer")
        self.live = self.writer.follow(settings, embedder, on_notice=self.notices.append, **kwargs)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._drive, daemon=True)

    def _drive(self) -> None:
        try:
            for _progress in self.live.run():
                pass
        except BaseException as exc:
            self.error = exc

    def start(self) -> Harness:
        self.thread.start()
        self.settle()
        return self

    def stop(self) -> None:
        self.live.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        self.writer.close()
        assert self.error is None, self.error

    def settle(self) -> None:
        live = self.live
        wait_for(
            lambda: self.error or (live.idle.is_set() and not len(live.queue) and not live.watcher.pending()),
            "the writer to be idle",
        )
        assert self.error is None, self.error

    # A separate connection, like the window's searches.
    def _index(self) -> Any:
        reader = Store(self.store.path)
        profile = reader.active_profile()
        assert profile is not None
        return reader.profile_index(profile)

    def files(self) -> dict[str, Any]:
        return self._index().file_records()

    def names(self) -> set[str]:
        return {Path(p).name for p in self.files()}

    def hits(self, query: str) -> list[str]:
        response = Searcher(self._index()).search(query, mode="bm25", rerank=False)
        return list(dict.fromkeys(Path(h.path).name for h in response.hits))  # files, best first

    def kinds(self) -> list[NoticeKind]:
        return [n.kind for n in self.notices]


@pytest.fixture
def docs(corpus: Path) -> Path:
    return corpus.resolve()


@pytest.fixture
def embedder(tiny_embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(tiny_embedder)


@pytest.fixture
def harness(store: Store, settings: Settings, embedder: CountingEmbedder) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*folders: Path, settings_: Settings | None = None, **kwargs: Any) -> Harness:
        for folder in folders:
            store.add_folder(folder)
        h = Harness(store, settings_ or settings, embedder, **kwargs)
        made.append(h)
        return h

    yield make
    for h in made:
        if h.thread.is_alive():
            h.live.stop()
            h.thread.join(timeout=30)
        h.writer.close()


def test_create_modify_delete_follow_the_files(harness: Callable[..., Harness], docs: Path, embedder: Any) -> None:
    h = harness(docs).start()
    assert h.names() == {Path(n).name for n in TOPICS}
    before = embedder.passages
    note = docs / "zebra.txt"
    note.write_text("Zebras and giraffes graze together on the savanna.")
    wait_for(lambda: h.hits("zebras giraffes") == ["zebra.txt"], "the new file to be searchable")
    note.write_text("Penguins huddle together through the antarctic winter.")
    wait_for(lambda: h.hits("penguins antarctic") == ["zebra.txt"], "the new text to be searchable")
    assert h.hits("zebras giraffes") == []
    note.unlink()
    wait_for(lambda: "zebra.txt" not in h.names(), "the deleted file to be forgotten")
    assert h.hits("penguins antarctic") == []
    h.settle()
    assert embedder.passages == before + 2  # one chunk per version, nothing else re-embedded
    assert h._index().count_pending() == 0
    h.stop()


def test_renamed_and_moved_files_and_folders_keep_their_vectors(
    harness: Callable[..., Harness], docs: Path, embedder: Any, tmp_path: Path
) -> None:
    h = harness(docs).start()
    chunks = h._index().stats()["chunks"]
    before = embedder.passages

    (docs / "volcano.txt").rename(docs / "eruptions.txt")  # rename
    wait_for(lambda: "eruptions.txt" in h.names() and "volcano.txt" not in h.names(), "the rename")
    (docs / "geology").mkdir()
    (docs / "eruptions.txt").rename(docs / "geology" / "eruptions.txt")  # move into a new folder
    wait_for(lambda: str(docs / "geology" / "eruptions.txt") in h.files(), "the move into a folder")
    (docs / "geology").rename(docs / "earth")  # a folder renamed
    (docs / "taxes").rename(docs / "earth" / "taxes")  # a folder moved into another
    wait_for(
        lambda: {str(docs / "earth" / "eruptions.txt"), str(docs / "earth" / "taxes" / "return.txt")} <= set(h.files()),
        "the folder moves",
    )
    h.settle()
    assert embedder.passages == before, "a move must not re-embed anything"
    assert h.live.totals.renamed == 4 and h.live.totals.removed == 0
    index = h._index()
    assert index.stats()["chunks"] == chunks and index.count_pending() == 0
    records = index.file_records()
    assert set(records) == {
        str(docs / p) for p in ("bread.md", "chess.rst", "garden.html", "earth/eruptions.txt", "earth/taxes/return.txt")
    }
    # The moved chunks carry the ids a fresh index would give them.
    rows = index.chunks.search().select(["id", "path", "file_hash"]).limit(None).to_list()
    assert all(row["id"].startswith(chunk_id_prefix(row["path"], row["file_hash"])) for row in rows)
    assert h.hits("Vesuvius Pompeii")[0] == "eruptions.txt"

    (docs / "earth").rename(tmp_path / "elsewhere")  # moved out of the watched tree
    wait_for(lambda: h.names() == {"bread.md", "chess.rst", "garden.html"}, "the folder moved out to be forgotten")
    (tmp_path / "elsewhere").rename(docs / "back")  # and in again, from outside
    wait_for(lambda: {"eruptions.txt", "return.txt"} <= h.names(), "the folder moved in to be indexed")
    h.settle()
    assert h.hits("income tax deadline")[0] == "return.txt"
    h.stop()


def test_atomic_saves_are_one_update_each(
    harness: Callable[..., Harness], docs: Path, settings: Settings, embedder: Any
) -> None:
    h = harness(docs, quiet_s=1.0).start()  # the default: saves are seconds apart, their steps are not
    doc = docs / "bread.md"

    # Write a temporary file, then rename it over the original (most editors).
    temp = docs / ".bread.md.tmp-1234"
    with temp.open("w") as handle:
        for part in ("# Rye bread\n\n", "Rye flour makes a dense, ", "dark loaf with a sour crumb."):
            handle.write(part)
            handle.flush()
    os.replace(temp, doc)
    wait_for(lambda: h.hits("rye flour dense loaf") == ["bread.md"], "the saved text")
    h.settle()
    totals = h.live.totals
    assert (totals.updated, totals.added, totals.removed, totals.renamed) == (1, 5, 0, 0)

    # Move the original aside as a backup, write the file anew in pieces, drop the backup (vim).
    doc.rename(docs / "bread.md~")
    with doc.open("w") as handle:
        for part in ("# Spelt bread\n\n", "Spelt is an ancient wheat; ", "its dough needs less kneading."):
            handle.write(part)
            handle.flush()
    (docs / "bread.md~").unlink()
    wait_for(lambda: h.hits("spelt ancient wheat") == ["bread.md"], "the second save")
    h.settle()
    assert (totals.updated, totals.added, totals.removed, totals.renamed) == (2, 5, 0, 0)
    assert h.hits("rye flour dense loaf") == []
    h.stop()


def test_excluded_paths_never_reach_the_queue(
    harness: Callable[..., Harness], store: Store, docs: Path, settings: Settings
) -> None:
    small = Settings(**{**settings.to_dict(), "max_file_mb": 0.001})  # ~1 KB
    queue = RecordingQueue.beside(store.path)
    h = harness(docs, settings_=small, queue=queue).start()
    (docs / ".gitignore").write_text("build/\n*.draft.txt\n")
    excluded = {
        "node_modules/pkg/readme.md": "package readme",
        ".hidden/notes.txt": "hidden folder",
        ".secret.txt": "hidden file",
        "~$report.docx": "office lock file",
        "notes.txt.swp": "swap file",
        "build/out.txt": "ignored by .gitignore",
        "plan.draft.txt": "ignored by .gitignore",
    }
    write_corpus(docs, {name: f"{why}: flamingo" for name, why in excluded.items()})
    (docs / "data.bin").write_text("unsupported: flamingo")  # not read, but listed with its reason
    (docs / "big.txt").write_text("flamingo " * 300)  # over the size limit: checked by the writer
    (docs / "marker.txt").write_text("The marker file about herons.")
    wait_for(lambda: "marker.txt" in h.names(), "the marker file")
    h.settle()
    assert h.hits("flamingo") == []
    assert h.names() == {Path(n).name for n in TOPICS} | {"marker.txt", "data.bin"}
    skipped = h.files()[str(docs / "data.bin")]
    assert (skipped.status, skipped.error, skipped.chunks) == ("error", "unsupported file type (.bin)", 0)
    leaked = {Path(p).relative_to(docs).as_posix() for p in queue.seen if Path(p) != docs} & set(excluded)
    assert not leaked, f"excluded paths reached the queue: {leaked}"

    # A changed .gitignore is applied at once: what it now ignores leaves the index, and comes back.
    (docs / ".gitignore").write_text("build/\n*.draft.txt\nchess.rst\n")
    wait_for(lambda: "chess.rst" not in h.names(), "the newly ignored file to leave the index")
    (docs / ".gitignore").unlink()
    wait_for(lambda: {"chess.rst", "out.txt", "plan.draft.txt"} <= h.names(), "un-ignored files to come back")
    h.stop()


def test_start_up_applies_what_changed_while_stopped(
    harness: Callable[..., Harness], docs: Path, embedder: Any
) -> None:
    first = harness(docs).start()
    first.stop()
    before = embedder.passages
    (docs / "chess.rst").write_text("Checkers is played on the dark squares with twelve pieces each.")
    (docs / "garden.html").unlink()
    (docs / "volcano.txt").rename(docs / "lava.txt")
    (docs / "new.txt").write_text("Otters hold hands while they sleep on the water.")

    second = harness().start()  # the store remembers the folder
    assert second.names() == {"bread.md", "chess.rst", "lava.txt", "return.txt", "new.txt"}
    assert second.hits("checkers twelve pieces") == ["chess.rst"] and second.hits("Sicilian Defence") == []
    assert second.hits("otters sleep") == ["new.txt"] and second.hits("tomatoes blight") == []
    report = second.live.totals
    assert (report.updated, report.added, report.removed, report.renamed) == (1, 1, 1, 1)
    assert embedder.passages == before + 2  # the changed and the new file; the renamed one kept its vectors
    second.stop()


def test_periodic_recheck_of_an_unchanged_tree_only_stats(
    harness: Callable[..., Harness], docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"hash": 0, "extract": 0}
    # A few files are read on the indexer's thread (core.index.reading), which hashes and extracts them.
    real_hash, real_extract = core.index.reading.content_hash, core.index.reading.extract

    def counting_hash(path: Path) -> str:
        calls["hash"] += 1
        return real_hash(path)

    def counting_extract(path: Path, **options: Any) -> Any:
        calls["extract"] += 1
        return real_extract(path, **options)

    monkeypatch.setattr(core.index.indexer, "content_hash", counting_hash)  # looking for renames
    monkeypatch.setattr(core.index.reading, "content_hash", counting_hash)
    monkeypatch.setattr(core.index.reading, "extract", counting_extract)
    h = harness(docs, reconcile_s=0.2).start()
    assert calls == {"hash": len(TOPICS), "extract": len(TOPICS)}
    calls.update(hash=0, extract=0)
    written = h.live.totals.chunks_written
    reconciles = h.live.reconciles
    wait_for(lambda: h.live.reconciles >= reconciles + 3, "three periodic re-checks")
    assert calls == {"hash": 0, "extract": 0}
    assert h.live.totals.chunks_written == written and h.live.totals.unchanged >= 3 * len(TOPICS)
    h.stop()


@pytest.mark.parametrize(
    ("code", "kind", "advice"),
    [
        (errno.ENOSPC, NoticeKind.WATCH_LIMIT, "fs.inotify.max_user_watches"),
        (errno.EACCES, NoticeKind.NO_PERMISSION, "read access"),
    ],
)
def test_a_folder_that_cannot_be_watched_falls_back_to_polling(
    harness: Callable[..., Harness], tmp_path: Path, code: int, kind: NoticeKind, advice: str
) -> None:
    refused = write_corpus(tmp_path / "huge", {"a.txt": "Alpacas live in the Andes."}).resolve()
    fine = write_corpus(tmp_path / "fine", {"b.txt": "Beavers build dams."}).resolve()

    class RefusingObserver(Observer):  # type: ignore[misc,valid-type]
        def schedule(self, handler: Any, path: Any, **kwargs: Any) -> Any:
            if Path(path) == refused:
                raise OSError(code, os.strerror(code))
            return super().schedule(handler, path, **kwargs)

    h = harness(refused, fine, observer_factory=RefusingObserver, poll_s=0.3).start()
    assert h.live.folder_states() == {str(refused): FolderState.POLLING, str(fine): FolderState.WATCHING}
    notice = next(n for n in h.notices if n.folder == str(refused) and n.kind != NoticeKind.WATCHING)
    assert notice.kind == kind and advice in notice.action and str(refused) in notice.message
    assert notice.level == "warning"
    (refused / "c.txt").write_text("Capybaras are the largest rodents.")
    (fine / "d.txt").write_text("Dormice sleep through the winter.")
    wait_for(lambda: {"c.txt", "d.txt"} <= h.names(), "changes in both folders")
    h.stop()


def test_a_folder_that_disappears_is_reported_kept_and_caught_up(
    harness: Callable[..., Harness], docs: Path, tmp_path: Path
) -> None:
    h = harness(docs).start()
    names = h.names()
    (docs).rename(tmp_path / "unplugged")
    wait_for(lambda: h.live.folder_states()[str(docs)] == FolderState.MISSING, "the folder to be missed")
    missing = next(n for n in h.notices if n.kind == NoticeKind.FOLDER_MISSING)
    assert missing.folder == str(docs) and "remove the folder" in missing.action
    h.live.recheck()  # a re-check must not mistake the missing folder for deleted files
    wait_for(lambda: h.live.reconciles >= 2, "a re-check")
    h.settle()
    assert h.names() == names and h.hits("sourdough starter") == ["bread.md"]
    (tmp_path / "unplugged" / "later.txt").write_text("Walruses use their tusks to climb onto ice.")
    (tmp_path / "unplugged").rename(docs)
    wait_for(lambda: "later.txt" in h.names(), "the folder to be caught up when it is back")
    assert NoticeKind.FOLDER_BACK in h.kinds()
    assert h.live.folder_states()[str(docs)] == FolderState.WATCHING
    (docs / "again.txt").write_text("Narwhals have a single long tusk.")
    wait_for(lambda: "again.txt" in h.names(), "live events after the return")
    h.stop()


def test_pause_holds_work_in_the_queue_until_resumed(harness: Callable[..., Harness], docs: Path) -> None:
    h = harness(docs).start()
    h.live.pause()
    assert h.live.paused
    (docs / "first.txt").write_text("Ibises probe the mud with curved bills.")
    wait_for(lambda: str(docs / "first.txt") in h.live.queue.paths(), "the change to be queued")
    (docs / "second.txt").write_text("Jackdaws recognise human faces.")
    wait_for(lambda: str(docs / "second.txt") in h.live.queue.paths(), "the second change to be queued")
    assert not {"first.txt", "second.txt"} & h.names()
    h.live.resume()
    wait_for(lambda: {"first.txt", "second.txt"} <= h.names(), "the queued work after resuming")
    h.stop()


def test_a_held_folder_changes_nothing_while_the_others_are_followed(
    harness: Callable[..., Harness], docs: Path, tmp_path: Path
) -> None:
    """Pausing one folder in the window holds it at once, before the loop restarts without it."""
    other = write_corpus(tmp_path / "other", {"e.txt": "Egrets nest in colonies."}).resolve()
    h = harness(docs, other).start()
    (docs / "queued.txt").write_text("Kestrels hover before they stoop on voles.")
    wait_for(lambda: str(docs / "queued.txt") in h.live.queue.paths() or "queued.txt" in h.names(), "the change")
    h.live.hold(docs)
    (docs / "later.txt").write_text("Nightjars hunt moths at dusk.")
    (other / "f.txt").write_text("Flamingos are pink from their food.")
    wait_for(lambda: "f.txt" in h.names(), "the folder that is not held to be followed")
    h.settle()
    assert "later.txt" not in h.names()
    assert not [p for p in h.live.queue.paths() if p.startswith(str(docs))]  # dropped, not left to pile up
    h.stop()
    resumed = harness().start()  # a resumed folder's loop re-checks it on start: nothing is missed
    assert {"queued.txt", "later.txt", "f.txt"} <= resumed.names()
    resumed.stop()


def test_queued_work_survives_a_restart(
    harness: Callable[..., Harness], store: Store, docs: Path, tmp_path: Path
) -> None:
    h = harness(docs).start()
    h.stop()
    # Queued, not yet applied when Sleuth stopped: the folder was removed; only the queue knows.
    store.remove_folder(docs)
    WorkQueue.beside(store.path).put([str(docs)])
    again = harness().start()
    assert again.files() == {}
    assert len(again.live.queue) == 0

    # Folders added and removed while running are carried out by the writer.
    other = write_corpus(tmp_path / "other", {"e.txt": "Egrets nest in colonies."}).resolve()
    again.live.add_folder(other)
    wait_for(lambda: again.names() == {"e.txt"}, "the added folder")
    (other / "f.txt").write_text("Flamingos are pink from their food.")
    wait_for(lambda: again.names() == {"e.txt", "f.txt"}, "the added folder to be watched")
    again.live.remove_folder(other)
    wait_for(lambda: again.names() == set(), "the removed folder to be forgotten")
    assert store.folders() == []
    again.stop()


def test_work_queue_semantics(tmp_path: Path) -> None:
    queue = WorkQueue(tmp_path / "q.sqlite3")
    queue.put(["/a", "/b", "/a"])
    taken = queue.take()
    assert [i.path for i in taken] == ["/b", "/a"]  # deduplicated, last put sorts last
    queue.put(["/a"])  # changed again while its batch is applied
    queue.done(taken)
    assert queue.paths() == ["/a"]
    for _ in range(2):
        assert queue.failed(queue.take()) == []
    assert [i.path for i in queue.failed(queue.take())] == ["/a"]  # the third failure drops it
    queue.put(["/c"])
    queue.close()
    assert WorkQueue(tmp_path / "q.sqlite3").paths() == ["/c"]


def test_one_live_writer_per_index(harness: Callable[..., Harness], docs: Path) -> None:
    h = harness(docs).start()
    with pytest.raises(IndexBusy, match="already kept up to date by a test's writer"):
        harness()
    h.stop()


def test_cli_watch_until_ctrl_c(
    docs: Path,
    tmp_path: Path,
    tiny_llama_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SLEUTH_DB", str(tmp_path / "db"))
    save_settings(Settings(model=str(tiny_llama_dir), chunk_size=48, chunk_overlap=8))
    failures: list[BaseException] = []

    def indexed() -> set[str]:
        if not (tmp_path / "db").exists():
            return set()
        reader = Store(tmp_path / "db")
        profile = reader.active_profile()
        return set(reader.profile_index(profile).file_records()) if profile else set()

    def user() -> None:
        try:
            wait_for(lambda: len(indexed()) == len(TOPICS), "sleuth watch to index the folder", timeout=60)
            (docs / "kiwi.txt").write_text("Kiwis are flightless birds that lay huge eggs.")
            wait_for(lambda: str(docs / "kiwi.txt") in indexed(), "sleuth watch to index the new file")
            queue = WorkQueue.beside(tmp_path / "db")
            wait_for(lambda: not len(queue), "sleuth watch to finish the batch")  # and to have said so
        except BaseException as exc:
            failures.append(exc)
        finally:
            _thread.interrupt_main()  # Ctrl+C

    # Ctrl+C must raise KeyboardInterrupt here even when the test run inherited an ignored SIGINT (a
    # background job of a non-interactive shell does), or interrupt_main would do nothing.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    helper = threading.Thread(target=user, daemon=True)
    helper.start()
    try:
        assert main(["watch", str(docs), "--full-speed", "--quiet-seconds", str(QUIET)]) == 0
    finally:
        signal.signal(signal.SIGINT, previous)
    helper.join()
    assert not failures, failures
    captured = capsys.readouterr()
    assert f"Watching {docs}" in captured.err
    assert "1 new" in captured.err
    assert "Stopped" in captured.err


# --- the indexer's side, without a watcher -----------------------------------------------------


def test_gitignore_files_nest_and_negate(tmp_path: Path) -> None:
    from core.ingest.scanning import Exclusions, scan

    root = write_corpus(
        tmp_path / "docs",
        {
            ".gitignore": "*.log.txt\nscratch/\n",
            "keep.txt": "x",
            "run.log.txt": "x",
            "scratch/a.txt": "x",
            "project/.gitignore": "!important.log.txt\ngenerated/\n",
            "project/important.log.txt": "x",
            "project/other.log.txt": "x",
            "project/generated/out.md": "x",
            "project/notes.md": "x",
        },
    ).resolve()
    exclusions = Exclusions([".*"], 1 << 20, gitignore=True)
    found = sorted(info.path.relative_to(root).as_posix() for info in scan(root, exclusions))
    assert found == ["keep.txt", "project/important.log.txt", "project/notes.md"]
    assert exclusions.excluded(root, root / "project" / "generated" / "new.md")
    assert not exclusions.excluded(root, root / "project" / "important.log.txt")
    without = sorted(info.path.name for info in scan(root, Exclusions([".*"], 1 << 20, gitignore=False)))
    assert len(without) == 7


def test_a_copy_at_a_moved_files_old_path_does_not_steal_its_chunks(
    store: Store, settings: Settings, tiny_embedder: Embedder, docs: Path
) -> None:
    store.add_folder(docs)
    indexer = core.index.indexer.Indexer(store, settings, tiny_embedder)
    for _ in indexer.run():
        pass
    (docs / "volcano.txt").rename(docs / "lava.txt")
    for _ in indexer.apply([docs / "volcano.txt", docs / "lava.txt"]):
        pass
    assert indexer.report.renamed == 1
    (docs / "volcano.txt").write_text((docs / "lava.txt").read_text())  # the same content, back at the old path
    for _ in indexer.apply([docs / "volcano.txt"]):
        pass
    assert indexer.report.added == 1
    rows = indexer.index.chunks.search().select(["path"]).limit(None).to_list()
    per_file = {name: sum(1 for r in rows if Path(r["path"]).name == name) for name in ("lava.txt", "volcano.txt")}
    records = indexer.index.file_records()
    assert per_file["lava.txt"] == records[str(docs / "lava.txt")].chunks > 0
    assert per_file["volcano.txt"] == records[str(docs / "volcano.txt")].chunks == per_file["lava.txt"]


def test_a_missing_folder_keeps_its_files_and_a_removed_one_forgets_them(
    store: Store, settings: Settings, tiny_embedder: Embedder, docs: Path, tmp_path: Path
) -> None:
    store.add_folder(docs)
    indexer = core.index.indexer.Indexer(store, settings, tiny_embedder)
    for _ in indexer.run():
        pass
    docs.rename(tmp_path / "away")
    for _ in indexer.run():
        pass
    assert indexer.report.removed == 0 and len(indexer.index.file_records()) == len(TOPICS)
    assert "folder not found" in indexer.report.problems[0].reason
    for _ in indexer.apply([docs / "bread.md", docs]):
        pass
    assert indexer.report.removed == 0 and len(indexer.index.file_records()) == len(TOPICS)
    store.remove_folder(docs)
    for _ in indexer.apply([docs]):
        pass
    assert indexer.report.removed == len(TOPICS) and indexer.index.file_records() == {}
    assert indexer.index.chunks.count_rows() == 0
