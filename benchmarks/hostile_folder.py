"""The hostile folder through ``sleuth index`` in a child process: time, peak memory, index size against its text.

    python -m benchmarks.hostile_folder --model minilm-l6-v2 --chunk-size 2048

The folder is the one ``tests/core/test_hostile_folder.py`` builds: symlink loops, a FIFO, a link to
/dev/zero, a name that is not UTF-8, a name with a newline, a mode-000 file, a 20 MB one-line text file,
a 40,000-row HTML table, a .docx zip bomb and a 5,000-page PDF. The real command line indexes it with the
model given; the whole process tree (the PDF reader is a child of its own) is sampled every 100 ms, and
the kernel's high-water mark of its largest process is read at the end. The index's size on disk is set
against the text it holds (the chunks' UTF-8 bytes, overlap included, and the distinct text extracted).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log, save

ROOT = Path(__file__).resolve().parents[1]


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo.extend(int(c) for c in Path(f"/proc/{current}/task/{task}/children").read_text().split())
        except OSError:
            continue
    return found


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm-l6-v2", help="embedding model (default: the bundled MiniLM)")
    parser.add_argument("--adapter", default="", help="adapter setting (default: none)")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from core.index.store import Store
    from core.settings import Settings, save_settings
    from tests.core.test_hostile_folder import make_hostile_folder

    with tempfile.TemporaryDirectory(prefix="sleuth-hostile-") as tmp:
        folder = Path(tmp) / "hostile"
        reasons = make_hostile_folder(folder)
        config = Path(tmp) / "config"
        settings = Settings(model=args.model, adapter=args.adapter, chunk_size=args.chunk_size, device="cpu")
        save_settings(settings, config / "settings.json")
        env = {**os.environ, "SLEUTH_CONFIG_DIR": str(config), "PYTHONPATH": str(ROOT)}
        db = Path(tmp) / "db"
        command = [sys.executable, "-m", "core.cli", "--db", str(db), "index", str(folder), "--no-progress"]
        log(f"indexing the hostile folder ({folder_bytes(folder) / 1e6:.1f} MB on disk) with {args.model}…")
        started = time.perf_counter()
        with open(Path(tmp) / "out.txt", "w+") as out:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            peak_tree, processes = 0.0, 1
            while process.poll() is None:
                pids = tree(process.pid)
                processes = max(processes, len(pids))
                peak_tree = max(peak_tree, sum(rss_mb(p) for p in pids))
                time.sleep(0.1)
            seconds = time.perf_counter() - started
            out.seek(0)
            output = out.read()
        (folder / "secret.txt").chmod(0o644)
        peak_largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        listed = [line.strip() for line in output.splitlines() if line.startswith("  could not read ")]
        missing = [n for n, why in reasons.items() if not any(f"/{n}: " in line and why in line for line in listed)]
        store = Store(db)
        profile = store.active_profile()
        assert profile is not None
        chunks = store.profile_index(profile).chunks.to_arrow()
        texts = chunks.column("text").to_pylist()
        files = store.profile_index(profile).files.to_arrow()
        text_bytes = sum(len(t.encode("utf-8")) for t in texts)
        extracted = _distinct_text_bytes(store, profile)  # before the folder goes
        index_bytes = folder_bytes(db)
        result: dict[str, Any] = {
            "model": args.model,
            "adapter": args.adapter,
            "chunk_size": args.chunk_size,
            "exit_code": process.returncode,
            "traceback": "Traceback" in output,
            "seconds": round(seconds, 1),
            "peak_rss_tree_mb_sampled": round(peak_tree, 1),
            "peak_rss_largest_process_mb": round(peak_largest, 1),
            "processes": processes,
            "files_indexed": files.num_rows,
            "chunks": chunks.num_rows,
            "unreadable_listed": listed,
            "reasons_missing": missing,
            "chunk_text_mb": round(text_bytes / 1e6, 2),
            "extracted_text_mb": round(extracted / 1e6, 2),
            "index_mb": round(index_bytes / 1e6, 2),
            "index_over_chunk_text": round(index_bytes / text_bytes, 2),
            "index_over_extracted_text": round(index_bytes / extracted, 2),
            "output_tail": output.strip().splitlines()[-4:],
        }
    for key, value in result.items():
        log(f"  {key}: {value}")
    save(f"hostile-folder-{args.model}-{args.chunk_size}", result, args.out)
    return 0 if result["exit_code"] == 0 and not result["traceback"] and not missing else 1


def _distinct_text_bytes(store: Any, profile: Any) -> int:
    """The text each indexed file yields, once (what the chunks hold without their overlap)."""
    from core.errors import ExtractionError
    from core.index import names
    from core.ingest.documents import extract

    total = 0
    for row in store.profile_index(profile).files.to_arrow().select(["path", "status"]).to_pylist():
        try:
            document = extract(Path(names.unstored(row["path"])))
        except ExtractionError:  # the files listed as unreadable
            continue
        total += len(document.text.encode("utf-8"))
    return total


if __name__ == "__main__":
    raise SystemExit(main())
