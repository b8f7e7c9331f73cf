"""Index size under a day-like stream of edits, with ``sleuth watch`` running as a second process.

    nice -n 10 python -m benchmarks.watch_growth --files 200 --edits 5000

A folder of FILES small text files is indexed (``sleuth index``), then ``sleuth watch`` follows it while
this script makes EDITS changes: rewrites of a file (70%), new files (15%) and deletions (15%), each
leaving a unique word (``edNNNNN``) in the file it writes. When the stream ends the index is polled until
it matches the folder: the same set of files, and each file's latest word in its passages. Reported: the
index's size on disk before and after, against a fresh ``sleuth index`` of the final folder; the watch
process's peak resident memory; the catch-up time; the size once the next ``sleuth index`` (a whole-folder
run, which ends with ``optimize``) has run. The embedder is a tiny random LLaMA (as
``benchmarks/index_growth.py`` uses), so this measures storage and bookkeeping, not embedding.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log, save
from benchmarks.index_growth import folder_bytes, tiny_model

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "budget review meeting moved room notes garden tomatoes compost sourdough starter lisbon tram volcano "
    "basalt magma harvest pruning invoice travel report draft summary figures quarterly"
).split()


def text(rng: random.Random, token: str) -> str:
    count = rng.randint(3, 9)
    sentences = [" ".join(rng.choices(WORDS, k=rng.randint(8, 16))).capitalize() + "." for _ in range(count)]
    return f"Entry {token}. " + " ".join(sentences) + "\n"


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def index_state(db: Path) -> dict[str, str]:
    """Path -> text of all its passages, from the active profile (a reader beside the writer)."""
    from core.index.store import Store

    store = Store(db)
    profile = store.active_profile()
    if profile is None:
        return {}
    index = store.profile_index(profile)
    files = {row["path"] for row in index.files.to_arrow().select(["path", "status"]).to_pylist()}
    texts: dict[str, list[str]] = {path: [] for path in files}
    for row in index.chunks.to_arrow().select(["path", "text"]).to_pylist():
        texts.setdefault(row["path"], []).append(row["text"])
    return {path: " ".join(parts) for path, parts in texts.items()}


def mismatches(db: Path, truth: dict[str, str]) -> dict[str, int]:
    state = index_state(db)
    return {
        "missing": sum(1 for p in truth if p not in state),
        "extra": sum(1 for p in state if p not in truth),
        "stale": sum(1 for p, token in truth.items() if p in state and token not in state[p]),
    }


def run_index(db: Path, folder: Path, env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "core.cli", "--db", str(db), "index", str(folder), "--no-progress"]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--edits", type=int, default=5000)
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between edits")
    parser.add_argument("--catch-up", type=float, default=600, help="seconds to wait for the index to match")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from core.settings import Settings, save_settings

    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="sleuth-watch-") as tmp:
        base = Path(tmp)
        model = tiny_model(base / "model")
        config = base / "config"
        settings = Settings(model=str(model), chunk_size=48, chunk_overlap=8, device="cpu")
        save_settings(settings, config / "settings.json")
        env = {**os.environ, "SLEUTH_CONFIG_DIR": str(config), "PYTHONPATH": str(ROOT)}
        folder = (base / "docs").resolve()
        folder.mkdir()
        truth: dict[str, str] = {}
        counter = 0

        def write(path: Path) -> None:
            nonlocal counter
            counter += 1
            token = f"ed{counter:05d}"
            path.write_text(text(rng, token), encoding="utf-8")
            truth[str(path)] = token

        for n in range(args.files):
            write(folder / f"note-{n:04d}.txt")
        db = base / "db"
        run_index(db, folder, env)
        before = folder_bytes(db)
        before_state = mismatches(db, truth)
        log(f"{args.files} files indexed: {before / 1e6:.2f} MB; {before_state}")

        command = [sys.executable, "-m", "core.cli", "--db", str(db), "watch", "--quiet-seconds", "0.5"]
        watch_log = (base / "watch.txt").open("w")
        watch = subprocess.Popen(command, cwd=ROOT, env=env, stdout=watch_log, stderr=subprocess.STDOUT)
        peak_sampled = 0
        try:
            time.sleep(15)  # the model loads and the folder is re-checked; the watcher is set up meanwhile
            started = time.monotonic()
            kinds = {"rewrite": 0, "create": 0, "delete": 0}
            next_new = args.files
            for n in range(args.edits):
                roll = rng.random()
                if roll < 0.15 or len(truth) < 10:
                    write(folder / f"note-{next_new:04d}.txt")
                    next_new += 1
                    kinds["create"] += 1
                elif roll < 0.30:
                    victim = rng.choice(sorted(truth))
                    Path(victim).unlink()
                    del truth[victim]
                    kinds["delete"] += 1
                else:
                    write(Path(rng.choice(sorted(truth))))
                    kinds["rewrite"] += 1
                if n % 50 == 0:
                    peak_sampled = max(peak_sampled, status_kb(watch.pid, "VmRSS"))
                time.sleep(args.pause)
            stream_s = time.monotonic() - started
            log(f"{args.edits} edits in {stream_s:.0f} s ({kinds}); waiting for the index to match…")
            waited = time.monotonic()
            state = mismatches(db, truth)
            while any(state.values()) and time.monotonic() - waited < args.catch_up:
                peak_sampled = max(peak_sampled, status_kb(watch.pid, "VmRSS"))
                time.sleep(5)
                state = mismatches(db, truth)
            catch_up_s = time.monotonic() - waited
            after = folder_bytes(db)
            peak_hwm = status_kb(watch.pid, "VmHWM")
        finally:
            watch.send_signal(signal.SIGINT)
            try:
                watch.wait(timeout=120)
            except subprocess.TimeoutExpired:
                watch.kill()
            watch_log.close()
        stopped = folder_bytes(db)
        time.sleep(11)  # past the version retention: what the next whole-folder run (its optimize) leaves
        run_index(db, folder, env)
        reindexed = folder_bytes(db)
        fresh_db = base / "fresh"
        run_index(fresh_db, folder, env)
        from core.index.store import Store

        def counts(path: Path) -> dict[str, int]:
            store = Store(path)
            profile = store.active_profile()
            assert profile is not None
            index = store.profile_index(profile)
            return {"files": index.files.count_rows(), "chunks": index.chunks.count_rows()}

        result: dict[str, Any] = {
            "files_at_start": args.files,
            "edits": args.edits,
            "kinds": kinds,
            "files_at_end": len(truth),
            "stream_seconds": round(stream_s, 1),
            "catch_up_seconds": round(catch_up_s, 1),
            "mismatches_at_end": state,
            "index_mb_before": round(before / 1e6, 2),
            "index_mb_after": round(after / 1e6, 2),
            "index_mb_after_watch_stopped": round(stopped / 1e6, 2),
            "index_mb_after_next_sleuth_index": round(reindexed / 1e6, 2),
            "fresh_index_mb": round(folder_bytes(fresh_db) / 1e6, 2),
            "watched_counts": counts(db),
            "fresh_counts": counts(fresh_db),
            "watch_peak_rss_mb": round(peak_hwm / 1024, 1),
            "watch_peak_rss_sampled_mb": round(peak_sampled / 1024, 1),
            "watch_log_tail": (base / "watch.txt").read_text(errors="replace").strip().splitlines()[-5:],
        }
    for key, value in result.items():
        log(f"  {key}: {value}")
    save("watch-growth", result, args.out)
    return 0 if not any(state.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
