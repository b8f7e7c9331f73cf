"""The write service: one writer per index, across processes, and its commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.embedding import Embedder
from core.index.store import Store
from core.jobs import Phase, drain
from core.service.writer import IndexBusy, WriteService
from core.settings import Settings, load_settings
from tests.conftest import child_pythonpath

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private config and database with the tiny real model, for this process and the second one."""
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SLEUTH_DB", str(tmp_path / "db"))
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["config", "set", "chunk_size", "48"]) == 0
    return {**os.environ, "PYTHONPATH": child_pythonpath(ROOT), "HF_HUB_OFFLINE": "1"}


def _lock_text(db: Path) -> str:
    lock = db.with_name(db.name + "-writer.lock")
    return lock.read_text(encoding="utf-8") if lock.exists() else ""


def _wait_for(condition: object, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_second_process_waits_its_turn_and_is_told_who_writes(
    env: dict[str, str], tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    assert main(["index", str(corpus)]) == 0
    capsys.readouterr()
    watch = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "watch", "--full-speed"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: f"sleuth watch (pid {watch.pid})" in _lock_text(db), "sleuth watch to hold the index")
        other = tmp_path / "other"
        other.mkdir()
        (other / "otters.txt").write_text("Otters hold hands while they sleep on the water.", encoding="utf-8")
        # Each write command of this process is refused, names the holder, and writes nothing.
        assert main(["index", str(other)]) == 2
        assert f"already kept up to date by sleuth watch (pid {watch.pid})" in capsys.readouterr().err
        assert main(["remove", str(corpus)]) == 2
        assert main(["config", "set", "search_dim", "32"]) == 2
        assert f"pid {watch.pid}" in capsys.readouterr().err
        assert load_settings().search_dim == 0, "a refused change is not saved either"
        assert Store(db).folders() == [str(corpus.resolve())]
        with pytest.raises(IndexBusy, match=f"pid {watch.pid}"):
            WriteService(Store(db), "a test")
    finally:
        assert watch.stderr is not None
        seen = ""
        while "Checking your folders" not in seen and watch.poll() is None:  # its Ctrl+C handling is in place
            seen += watch.stderr.readline()
        watch.send_signal(signal.SIGTERM)  # sleuth watch's graceful stop
        _out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, seen + err
    # The lock went with the process: this one writes now.
    assert main(["remove", str(corpus)]) == 0
    assert "files forgotten" in capsys.readouterr().out


def test_the_window_or_any_writer_in_this_process_refuses_a_second_process(
    env: dict[str, str], tmp_path: Path, corpus: Path
) -> None:
    db = tmp_path / "db"
    with WriteService(Store(db), "the Sleuth window") as writer:
        drain(writer.add_folder(corpus))
        second = subprocess.run(
            [sys.executable, "-m", "core.cli", "remove", str(corpus)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2
        assert f"already kept up to date by the Sleuth window (pid {os.getpid()})" in second.stderr
        assert writer.store.folders() == [str(corpus.resolve())]


def test_write_commands_yield_progress_and_return_their_report(
    store: Store, settings: Settings, tiny_embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    with WriteService(store, "a test") as writer:
        with pytest.raises(Exception, match="does not exist"):
            drain(writer.add_folder(tmp_path / "nowhere"))
        events: list[Phase] = []
        added = drain(writer.add_folder(corpus), lambda e: events.append(e.phase))
        assert events == [Phase.WRITE] and str(corpus.resolve()) in added.message
        assert drain(writer.add_folder(corpus)).message == "", "adding a folder twice changes nothing"
        report = drain(writer.index(settings, tiny_embedder))
        assert report.added == 5 and report.chunks_embedded > 0 and report.fusion is not None
        assert drain(writer.set_search_dim(16)).message.startswith("Search dimension is now 16")
        assert writer.search_dim() == 16
        removed = drain(writer.remove_folder(corpus))
        assert removed.removed == 5 and "nothing was deleted" in removed.message
        profile = store.active_profile()
        assert profile is not None and store.profile_index(profile).file_records() == {}
        with pytest.raises(Exception, match="not one of Sleuth's folders"):
            drain(writer.remove_folder(corpus))
    assert all(corpus.iterdir()), "the documents themselves are untouched"


def test_two_index_runs_started_together_leave_the_index_one_run_makes(
    env: dict[str, str], tmp_path: Path, corpus: Path
) -> None:
    command = [sys.executable, "-m", "core.cli", "index", str(corpus), "--no-progress"]
    runs = [
        subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    codes = sorted(code for code, _out, _err in outcomes)
    assert codes in ([0, 0], [0, 2]), outcomes  # the second either found the work done or was refused (an error)
    for code, _out, err in outcomes:
        if code == 2:
            assert "already kept up to date by sleuth index (pid" in err
    store = Store(tmp_path / "db")
    profile = store.active_profile()
    assert profile is not None
    index = store.profile_index(profile)
    ids = index.chunks.search().select(["id"]).limit(None).to_arrow()["id"].to_pylist()
    assert len(ids) == len(set(ids)) and len(index.file_records()) == 5, "no duplicate chunks or file records"
    assert main(["index"]) == 0, "later runs work"
