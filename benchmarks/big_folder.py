"""A folder the size people keep (``scripts/build_big_folder.py``), indexed by Recoll and by Sleuth in one run.

    python -m benchmarks.big_folder --folder /work/bigfolder --embed-minutes 15

One after the other, as ``benchmarks.keyword_ready`` runs them (its private configurations and command
lines): ``recollindex`` from scratch until it exits, then ``sleuth index FOLDER`` into a private index until
it prints ``Keyword search ready``. For each: the time, the peak memory of its whole process tree (the sum of
every process's resident set, sampled from /proc every half second: Recoll's filters and Sleuth's reading
workers count) and its index's size on disk (Sleuth's at the keyword-ready line). Sleuth then goes on
embedding for ``--embed-minutes`` (or until it finishes) and is stopped with Ctrl+C; the passages with a
vector over the seconds spent embedding give the rate, and the time to embed the rest is an ESTIMATE from
that rate unless it finished (then measured). Last, keyword query latency in-process (``Searcher``,
``mode="bm25"``, no reranking) on the stopped index: p50/p95 over ``--queries`` queries of two words drawn
from the index's own passages. The machine's load average is recorded before each indexer: compare the two
indexers within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import log, percentiles, save
from benchmarks.keyword_ready import READY, start_index, warm

EMBEDDING = re.compile(r"Embedding (\d+) (?:chunks|passages)")


def tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and every process below it, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree = {root}
    grew = True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    total = 0
    for pid in tree:
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            continue
        total += int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


class PeakRss:
    """The highest ``tree_rss`` of a process seen every ``every`` seconds, in a thread, until ``stop``."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid = pid
        self.peak = 0
        self._every = every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._done.wait(self._every)

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


def disk_bytes(folder: Path) -> int:
    """Bytes of the files below ``folder``; one removed while it is counted (the index is being written) counts 0."""
    total = 0
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                continue
    return total


def mb(count: int) -> float:
    return round(count / 1e6, 1)


def recoll(folder: Path, work: Path) -> dict[str, Any]:
    """``recollindex`` from scratch (a new configuration folder, ``-z``), as keyword_ready runs it."""
    conf = work / "recoll"
    shutil.rmtree(conf, ignore_errors=True)
    conf.mkdir(parents=True)
    (conf / "recoll.conf").write_text(f"topdirs = {folder}\n", encoding="utf-8")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(
        ["recollindex", "-c", str(conf), "-z"],
        env={**os.environ, "RECOLL_CONFDIR": str(conf)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = PeakRss(process.pid)
    status = process.wait()
    seconds = time.perf_counter() - started
    result = {
        "seconds": round(seconds, 1),
        "peak_rss_mb": mb(peak.stop()),
        "index_mb": mb(disk_bytes(conf)),
        "exit_status": status,
        "load_before": round(load, 2),
    }
    log(f"recollindex: {result}")
    return result


def sleuth(
    folder: Path, work: Path, model: str | None, embed_minutes: float, ready_minutes: float, stop_at: float
) -> dict[str, Any]:
    """``sleuth index`` into a fresh private index: keyword-ready, then embedding for a while, then stopped
    (at the latest at ``stop_at``, a ``time.time()``)."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = start_index(folder, work, model)
    peak = PeakRss(process.pid)
    lines: list[str] = []
    state: dict[str, Any] = {"ready": None, "ready_peak": None, "ready_index": None, "to_embed": None}

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if state["ready"] is None and line.startswith(READY):
                state["ready"] = time.perf_counter() - started
                state["ready_peak"] = peak.peak
                state["ready_index"] = disk_bytes(work / "data")
                log(f"sleuth: {line.strip()} after {state['ready']:.1f} s")
            found = EMBEDDING.search(line)
            if found and state["to_embed"] is None:
                state["to_embed"] = int(found.group(1))
                log(f"sleuth: {line.strip()}")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline_ready = min(started + ready_minutes * 60, time.perf_counter() + stop_at - time.time())
    while process.poll() is None and state["ready"] is None and time.perf_counter() < deadline_ready:
        time.sleep(0.5)
    embed_deadline = min(time.perf_counter() + embed_minutes * 60, time.perf_counter() + stop_at - time.time())
    while process.poll() is None and state["ready"] is not None and time.perf_counter() < embed_deadline:
        time.sleep(0.5)
    finished = process.poll() is not None
    stopped_at = time.perf_counter() - started
    if not finished:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    total_peak = peak.stop()
    if state["ready"] is None:
        log("\n".join(lines[-20:]))
    result: dict[str, Any] = {
        "keyword_ready_s": round(state["ready"], 1) if state["ready"] is not None else None,
        "peak_rss_mb_to_keyword_ready": mb(state["ready_peak"]) if state["ready_peak"] is not None else None,
        "peak_rss_mb_with_embedding": mb(total_peak),
        "index_mb_at_keyword_ready": mb(state["ready_index"]) if state["ready_index"] is not None else None,
        "stopped_or_finished_at_s": round(stopped_at, 1),
        "finished": finished,
        "exit_status": process.returncode,
        "passages_announced": state["to_embed"],
        "load_before": round(load, 2),
        "last_lines": lines[-6:],
    }
    result.update(embedding(work, state["ready"], stopped_at, finished))
    return result


def embedding(work: Path, ready: float | None, stopped_at: float, finished: bool) -> dict[str, Any]:
    """What the stopped index holds: passages with and without a vector, files, its size; the embedding rate."""
    from core.index.store import Store

    store = Store(work / "data" / "index.lancedb")
    profile = store.active_profile()
    if profile is None:
        return {"files_indexed": 0}
    index = store.profile_index(profile)
    passages = int(index.chunks.count_rows())
    pending = index.count_pending()
    embedded = passages - pending
    out: dict[str, Any] = {
        "files_indexed": index.stats()["files"],
        "file_errors": index.stats()["errors"],
        "passages": passages,
        "passages_embedded": embedded,
        "index_mb_at_stop": mb(store.disk_bytes()),
    }
    if ready is not None:
        spent = stopped_at - ready
        rate = embedded / spent if spent > 0 else 0.0
        out["embedding_s"] = round(spent, 1)
        out["passages_per_s"] = round(rate, 2)
        if finished and pending == 0:
            out["fully_embedded_s_measured"] = round(stopped_at, 1)
        elif rate > 0:
            out["fully_embedded_s_ESTIMATE"] = round(ready + passages / rate, 0)
    return out


def query_latency(work: Path, queries: int, seed: int) -> dict[str, Any]:
    """Keyword (BM25) search in-process on the stopped index, over queries of two words from its passages."""
    from core.index.store import Store
    from core.search.searcher import Searcher

    store = Store(work / "data" / "index.lancedb")
    profile = store.active_profile()
    assert profile is not None
    index = store.profile_index(profile)
    rng = random.Random(seed)
    texts = index.chunks.search().select(["text"]).limit(20000).to_list()
    words = [w for row in rng.sample(texts, min(len(texts), 400)) for w in re.findall(r"[^\W\d_]{5,}", row["text"])]
    chosen = [" ".join(rng.sample(words, 2)) for _ in range(queries)]
    searcher = Searcher(index, None)
    searcher.search(chosen[0], k=10, mode="bm25", rerank=False)  # the first query opens the full-text index
    seconds: list[float] = []
    found = 0
    for query in chosen:
        started = time.perf_counter()
        hits = searcher.search(query, k=10, mode="bm25", rerank=False).hits
        seconds.append(time.perf_counter() - started)
        found += bool(hits)
    return {**percentiles(seconds), "queries": chosen, "queries_with_hits": found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("/work/bigfolder"))
    parser.add_argument("--model", default=None, help="the model setting (default: Sleuth's default)")
    parser.add_argument("--embed-minutes", type=float, default=15.0, help="embedding time after keyword-ready")
    parser.add_argument("--ready-minutes", type=float, default=90.0, help="give up on keyword-ready after this")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--stop-at", default=None, help="stop Sleuth by this UTC time, HH:MM (a run with a deadline)")
    parser.add_argument("--skip-recoll", action="store_true")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the private indexes go (default: a temp)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.skip_recoll and shutil.which("recollindex") is None:
        raise SystemExit("recollindex is not installed (apt-get install recollcmd)")
    os.environ["HF_HUB_OFFLINE"] = "1"
    folder = args.folder.resolve()
    stop_at = float("inf")
    if args.stop_at:
        now = datetime.now(UTC)
        hour, minute = map(int, args.stop_at.split(":"))
        stop_at = now.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()
    meta = folder / "meta.json"
    built = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
    log(f"{folder}: {warm(folder) / 1e6:.1f} MB read once to warm the cache")
    result: dict[str, Any] = {
        "folder": str(folder),
        "files": built.get("files"),
        "bytes": built.get("bytes"),
        "pdf_bytes_share": built.get("pdf_bytes_share"),
        "bytes_by_language": built.get("bytes_by_language"),
        "model": args.model or "default",
        "embed_minutes": args.embed_minutes,
        "stop_at_utc": args.stop_at,
        "cpus": os.cpu_count(),
        "uptime_before": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }
    with tempfile.TemporaryDirectory(prefix="sleuth-big-", dir=args.work_dir) as tmp:
        work = Path(tmp)
        if not args.skip_recoll:
            result["recoll"] = recoll(folder, work)
            shutil.rmtree(work / "recoll", ignore_errors=True)
            save("big_folder", result, args.out)  # what is measured so far, should the run be cut short
        result["sleuth"] = sleuth(folder, work / "sleuth", args.model, args.embed_minutes, args.ready_minutes, stop_at)
        log(f"sleuth: { {k: v for k, v in result['sleuth'].items() if k != 'last_lines'} }")
        save("big_folder", result, args.out)
        if result["sleuth"].get("passages"):
            result["bm25_latency"] = query_latency(work / "sleuth", args.queries, seed=0)
            log(f"bm25 latency: {result['bm25_latency']}")
    ready = result["sleuth"].get("keyword_ready_s")
    if "recoll" in result and ready:
        result["ratio_keyword_ready"] = round(ready / result["recoll"]["seconds"], 2)
    result["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    save("big_folder", result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
