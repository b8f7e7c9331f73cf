"""A folder the size people keep (``scripts/build_big_folder.py``), indexed by Recoll and by Sleuth in one run.

    python -m benchmarks.big_folder --folder /work/bigfolder --embed-minutes 15 [--sleuth-first --recoll-minutes M]

One after the other (Recoll first unless ``--sleuth-first``), as ``benchmarks.keyword_ready`` runs them (its
private configurations and command lines): ``recollindex`` from scratch until it exits (or is stopped after
``--recoll-minutes``), and ``sleuth index FOLDER`` into a private index until it prints ``Keyword search
ready``. For each: the time, the peak memory of its whole process tree, sampled from /proc every half second
(Recoll's filters and Sleuth's reading workers count), as the sum of every process's resident set (a shared
page counts once per process) and of its proportional set (shared pages shared out), and its index's size on
disk (Sleuth's at the keyword-ready line). Sleuth then reads the pictures of text by OCR (at most
``--ocr-minutes``), goes on embedding for ``--embed-minutes`` (or until it finishes) and is stopped with
Ctrl+C; the passages with a vector over the seconds since embedding began give the rate, and the time to
embed the rest is an ESTIMATE from that rate unless it finished (then measured). Last, keyword query latency
in-process (``Searcher``, ``mode="bm25"``, no reranking) on the stopped index: p50/p95 over ``--queries``
queries of two words drawn from the index's own passages. The machine's load average is recorded before each
indexer: compare the two indexers within one run.
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
OCR_NEXT = re.compile(r"OCR reads the pictures of text in ([\d,]+) of them next")
OCR_DONE = "Pictures of text read in"


def tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and every process below it, from /proc."""
    return tree_memory(root)[0]


def tree_memory(root: int) -> tuple[int, int]:
    """(resident, proportional) bytes of ``root`` and every process below it, from /proc: the resident sum
    counts a page that several processes share once in each; the proportional one shares it out."""
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
    resident = proportional = 0
    for pid in tree:
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        resident += int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
        pss = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        proportional += int(pss.group(1)) * 1024 if pss else 0
    return resident, proportional


class PeakRss:
    """The highest ``tree_memory`` of a process seen every ``every`` seconds, in a thread, until ``stop``:
    ``peak`` the resident sum's, ``peak_pss`` the proportional one's."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid = pid
        self.peak = self.peak_pss = 0
        self._every = every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            resident, proportional = tree_memory(self.pid)
            self.peak, self.peak_pss = max(self.peak, resident), max(self.peak_pss, proportional)
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


def recoll(folder: Path, work: Path, minutes: float = float("inf")) -> dict[str, Any]:
    """``recollindex`` from scratch (a new configuration folder, ``-z``), as keyword_ready runs it; stopped
    after ``minutes``."""
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
    try:
        status = process.wait(timeout=minutes * 60 if minutes != float("inf") else None)
        stopped = False
    except subprocess.TimeoutExpired:
        process.terminate()
        status, stopped = process.wait(), True
    seconds = time.perf_counter() - started
    result = {
        "seconds": round(seconds, 1),
        "stopped_unfinished": stopped,
        "peak_rss_mb": mb(peak.stop()),
        "peak_pss_mb": mb(peak.peak_pss),
        "index_mb": mb(disk_bytes(conf)),
        "exit_status": status,
        "load_before": round(load, 2),
    }
    log(f"recollindex: {result}")
    return result


def sleuth(
    folder: Path,
    work: Path,
    model: str | None,
    embed_minutes: float,
    ready_minutes: float,
    stop_at: float,
    ocr_minutes: float = 30.0,
) -> dict[str, Any]:
    """``sleuth index`` into a fresh private index: keyword-ready, then OCR of the pictures of text (for at
    most ``ocr_minutes``), then embedding for a while, then stopped (at the latest at ``stop_at``, a
    ``time.time()``)."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = start_index(folder, work, model)
    peak = PeakRss(process.pid)
    lines: list[str] = []
    state: dict[str, Any] = {
        "ready": None,
        "ready_peak": None,
        "ready_peak_pss": None,
        "ready_index": None,
        "to_embed": None,
        "embed_started": None,
        "ocr_files": 0,
        "ocr_done": None,
    }

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if state["ready"] is None and line.startswith(READY):
                state["ready"] = time.perf_counter() - started
                state["ready_peak"], state["ready_peak_pss"] = peak.peak, peak.peak_pss
                state["ready_index"] = disk_bytes(work / "data")
                log(f"sleuth: {line.strip()} after {state['ready']:.1f} s")
                if ocr := OCR_NEXT.search(line):
                    state["ocr_files"] = int(ocr.group(1).replace(",", ""))
            if line.startswith(OCR_DONE) and state["ocr_done"] is None:
                state["ocr_done"] = time.perf_counter() - started
                log(f"sleuth: {line.strip()} after {state['ocr_done']:.1f} s")
            found = EMBEDDING.search(line)
            if found and state["to_embed"] is None:
                state["to_embed"] = int(found.group(1))
                state["embed_started"] = time.perf_counter() - started
                log(f"sleuth: {line.strip()}")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline_ready = min(started + ready_minutes * 60, time.perf_counter() + stop_at - time.time())
    while process.poll() is None and state["ready"] is None and time.perf_counter() < deadline_ready:
        time.sleep(0.5)
    # OCR (when a file holds pictures of text) comes between keyword-ready and embedding.
    ocr_deadline = min(time.perf_counter() + ocr_minutes * 60, time.perf_counter() + stop_at - time.time())
    while process.poll() is None and state["to_embed"] is None and time.perf_counter() < ocr_deadline:
        time.sleep(0.5)
    embed_deadline = min(time.perf_counter() + embed_minutes * 60, time.perf_counter() + stop_at - time.time())
    while process.poll() is None and state["to_embed"] is not None and time.perf_counter() < embed_deadline:
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
        "peak_pss_mb_to_keyword_ready": mb(state["ready_peak_pss"]) if state["ready_peak_pss"] is not None else None,
        "peak_pss_mb_with_embedding": mb(peak.peak_pss),
        "index_mb_at_keyword_ready": mb(state["ready_index"]) if state["ready_index"] is not None else None,
        "stopped_or_finished_at_s": round(stopped_at, 1),
        "finished": finished,
        "exit_status": process.returncode,
        "passages_announced": state["to_embed"],
        "ocr_files": state["ocr_files"],
        "ocr_done_s": round(state["ocr_done"], 1) if state["ocr_done"] is not None else None,
        "embedding_started_s": round(state["embed_started"], 1) if state["embed_started"] is not None else None,
        "load_before": round(load, 2),
        "last_lines": lines[-6:],
    }
    result.update(embedding(work, state["embed_started"], stopped_at, finished))
    return result


def embedding(work: Path, begun: float | None, stopped_at: float, finished: bool) -> dict[str, Any]:
    """What the stopped index holds: passages with and without a vector, files (those still waiting for OCR
    too), its size; the embedding rate from ``begun``, the second embedding began."""
    from core.index.indexer import AWAITING_OCR
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
        "files_awaiting_ocr": sum(r.mtime == AWAITING_OCR for r in index.file_records().values()),
        "index_mb_at_stop": mb(store.disk_bytes()),
    }
    if begun is not None:
        spent = stopped_at - begun
        rate = embedded / spent if spent > 0 else 0.0
        out["embedding_s"] = round(spent, 1)
        out["passages_per_s"] = round(rate, 2)
        if finished and pending == 0:
            out["fully_embedded_s_measured"] = round(stopped_at, 1)
        elif rate > 0:
            out["fully_embedded_s_ESTIMATE"] = round(begun + passages / rate, 0)
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
    parser.add_argument("--ocr-minutes", type=float, default=30.0, help="OCR time after keyword-ready, at most")
    parser.add_argument("--recoll-minutes", type=float, default=float("inf"), help="stop recollindex after this")
    parser.add_argument("--sleuth-first", action="store_true", help="run Sleuth first, then Recoll")
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

        def run_recoll() -> None:
            result["recoll"] = recoll(folder, work, args.recoll_minutes)
            shutil.rmtree(work / "recoll", ignore_errors=True)
            save("big_folder", result, args.out)  # what is measured so far, should the run be cut short

        if not args.skip_recoll and not args.sleuth_first:
            run_recoll()
        result["sleuth"] = sleuth(
            folder, work / "sleuth", args.model, args.embed_minutes, args.ready_minutes, stop_at, args.ocr_minutes
        )
        log(f"sleuth: { {k: v for k, v in result['sleuth'].items() if k != 'last_lines'} }")
        save("big_folder", result, args.out)
        if result["sleuth"].get("passages"):
            result["bm25_latency"] = query_latency(work / "sleuth", args.queries, seed=0)
            log(f"bm25 latency: {result['bm25_latency']}")
        if not args.skip_recoll and args.sleuth_first:
            result["uptime_before_recoll"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
            run_recoll()
    ready = result["sleuth"].get("keyword_ready_s")
    if "recoll" in result and ready:
        result["ratio_keyword_ready"] = round(ready / result["recoll"]["seconds"], 2)
    result["uptime_after"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    save("big_folder", result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
