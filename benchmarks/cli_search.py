"""Wall time of ``sleuth search`` (a new process each time, as a user runs it) against a running ``sleuth watch``.

    python -m benchmarks.cli_search --work-dir /tmp/sleuth-cli-bench

Indexes a folder (default: this repository's docs/ and README.md) with the default settings (the bundled
model) into a private index, starts ``sleuth watch`` on it, and times ``python -m core.cli search QUERY
--json`` ``--runs`` times; each answer must carry ``served_by`` (the watch answered, not a model loaded
by the search). ``--alone`` also times one search with no Sleuth running. Target: median under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = (
    "how are index writes kept to one writer",
    "search latency with a vector index",
    "what does changing a setting cost",
    "line numbers in search results",
    "the window's search worker thread",
)


def _env(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "SLEUTH_CONFIG_DIR": str(work / "config"),
        "SLEUTH_DB": str(work / "db"),
        "SLEUTH_RUNTIME_DIR": str(work / "run"),
    }


def _search(env: dict[str, str], query: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "search", query, "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/sleuth-cli-bench"))
    parser.add_argument("--docs", type=Path, default=None, help="folder to index (default: docs/ and README.md)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--alone", action="store_true", help="also time one search with no Sleuth running")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cli_search.json")
    args = parser.parse_args()
    work = args.work_dir
    env = _env(work)
    docs = args.docs
    if docs is None:
        docs = work / "docs"
        docs.mkdir(parents=True, exist_ok=True)
        for source in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
            shutil.copy2(source, docs / source.name)
    if not (work / "db").exists():
        print(f"Indexing {docs} with the default model…", file=sys.stderr)
        index = [sys.executable, "-m", "core.cli", "index", str(docs), "--no-progress"]
        subprocess.run(index, env=env, cwd=ROOT, check=True)

    alone = None
    if args.alone:
        alone, _ = _search(env, QUERIES[0])
        print(f"no Sleuth running: {alone:.2f} s", file=sys.stderr)

    watch = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "watch"], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        assert watch.stderr is not None
        seen = ""
        while "Checking your folders" not in seen:  # the server is listening by then
            line = watch.stderr.readline()
            if not line and watch.poll() is not None:
                raise SystemExit(f"sleuth watch stopped:\n{seen}")
            seen += line
        _search(env, QUERIES[0])  # the watch's first query warms its caches, as any search after start-up would
        times: list[float] = []
        served_by = ""
        for run in range(args.runs):
            elapsed, data = _search(env, QUERIES[run % len(QUERIES)])
            if "served_by" not in data:
                raise SystemExit(f"not served by the watch: {data}")
            served_by = str(data["served_by"])
            times.append(elapsed)
            print(f"run {run + 1}: {elapsed:.3f} s", file=sys.stderr)
    finally:
        watch.send_signal(signal.SIGTERM)  # its graceful stop (SIGINT is ignored in a background job)
        watch.communicate(timeout=120)
    median = statistics.median(times)
    result = {
        "command": "python -m core.cli search QUERY --json (a new process each run)",
        "served_by": served_by.split(" (pid")[0],
        "runs": len(times),
        "median_s": round(median, 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "times_s": [round(t, 3) for t in times],
        "alone_s": round(alone, 2) if alone is not None else None,
        "target_s": 0.5,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
