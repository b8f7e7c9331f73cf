"""Time until a folder is keyword-searchable: ``sleuth index`` against ``recollindex`` from scratch, back to back.

    python -m benchmarks.keyword_ready --folder /work/realfolder --runs 2

Each run, one after the other: ``recollindex -c CONF -z`` (Recoll with its default filters, a private
configuration whose ``topdirs`` is the folder; the time until it exits), then ``sleuth index FOLDER`` into
a private index (its own data, config, state and runtime folders; the model cache is the user's), timed from
the start of the process until it prints the line that starts with ``Keyword search ready`` (every file's
text is in the full-text index; embedding comes next). Sleuth is then stopped (Ctrl+C), unless ``--full``
lets it finish. The folder is only read. The machine's other load affects both alike: compare the ratio of
medians measured in one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import log, save

ROOT = Path(__file__).resolve().parents[1]
READY = "Keyword search ready"


def recoll_seconds(folder: Path, work: Path) -> float:
    """``recollindex`` from scratch (a new configuration folder, ``-z``) until it exits."""
    conf = work / "recoll"
    shutil.rmtree(conf, ignore_errors=True)
    conf.mkdir(parents=True)
    (conf / "recoll.conf").write_text(f"topdirs = {folder}\n", encoding="utf-8")
    started = time.perf_counter()
    subprocess.run(
        ["recollindex", "-c", str(conf), "-z"],
        env={**os.environ, "RECOLL_CONFDIR": str(conf)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def sleuth_command() -> list[str]:
    """The installed ``sleuth`` beside this interpreter, else its entry module."""
    script = Path(sys.executable).parent / "sleuth"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "app.launch"]


def sleuth_env(work: Path, model: str | None, root: Path = ROOT) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "HF_HUB_OFFLINE": "1",
        "SLEUTH_DATA_DIR": str(work / "data"),
        "SLEUTH_CONFIG_DIR": str(work / "config"),
        "SLEUTH_STATE_DIR": str(work / "state"),
        "SLEUTH_RUNTIME_DIR": str(work / "run"),
        "SLEUTH_DB": str(work / "data" / "index.lancedb"),
    }
    if model:
        (work / "config").mkdir(parents=True, exist_ok=True)
        (work / "config" / "settings.json").write_text(f'{{"model": "{model}"}}\n', encoding="utf-8")
    return env


def start_index(folder: Path, work: Path, model: str | None, root: Path = ROOT) -> subprocess.Popen[str]:
    """``sleuth index FOLDER`` into a fresh private index under ``work``, its output (both streams) piped;
    ``root``: the Sleuth source tree it runs (another checkout, to compare two versions)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return subprocess.Popen(
        [*sleuth_command(), "index", str(folder), "--no-progress"],
        env=sleuth_env(work, model, root),
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def sleuth_seconds(
    folder: Path, work: Path, model: str | None, full: bool, root: Path = ROOT
) -> tuple[float, float | None]:
    """(seconds until the ``Keyword search ready`` line, seconds until exit with ``full``) in a fresh index."""
    started = time.perf_counter()
    process = start_index(folder, work, model, root)
    ready: float | None = None
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if ready is None and line.startswith(READY):
            ready = time.perf_counter() - started
            if not full:
                process.send_signal(signal.SIGINT)
    process.wait()
    finished = time.perf_counter() - started if full else None
    if ready is None:
        tail = "\n".join(lines[-20:])
        raise SystemExit(f"sleuth index never said '{READY}' (exit status {process.returncode}):\n{tail}")
    return ready, finished


def warm(folder: Path) -> int:
    """Read every file once, so neither indexer pays for a cold disk cache alone."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += len(path.read_bytes())
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("/work/realfolder"))
    parser.add_argument("--runs", type=int, default=2, help="repetitions of the pair (default: 2)")
    parser.add_argument("--model", default=None, help="the model setting (default: Sleuth's default)")
    parser.add_argument("--full", action="store_true", help="let sleuth finish embedding too (timed as well)")
    parser.add_argument("--work-dir", type=Path, default=None, help="where the private indexes go (default: a temp)")
    parser.add_argument(
        "--baseline", type=Path, default=None, help="another Sleuth checkout, timed in each run too (before/after)"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if shutil.which("recollindex") is None:
        raise SystemExit("recollindex is not installed (apt-get install recollcmd)")
    folder = args.folder.resolve()
    load = os.getloadavg()[0]
    log(f"{folder}: {warm(folder) / 1e6:.1f} MB read once to warm the cache")
    recoll: list[float] = []
    sleuth: list[float] = []
    finished: list[float] = []
    baseline: list[float] = []
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sleuth-kwready-", dir=args.work_dir) as tmp:
        work = Path(tmp)
        for run in range(1, args.runs + 1):
            recoll.append(recoll_seconds(folder, work))
            ready, done = sleuth_seconds(folder, work / "sleuth", args.model, args.full)
            sleuth.append(ready)
            if done is not None:
                finished.append(done)
            if args.baseline is not None:
                baseline.append(sleuth_seconds(folder, work / "sleuth", args.model, False, args.baseline.resolve())[0])
            before = f", baseline {baseline[-1]:.2f} s" if baseline else ""
            log(f"run {run}: recollindex {recoll[-1]:.2f} s, sleuth keyword-ready {ready:.2f} s{before}")
    medians = {"recoll_s": round(statistics.median(recoll), 2), "sleuth_s": round(statistics.median(sleuth), 2)}
    ratio = round(medians["sleuth_s"] / medians["recoll_s"], 2)
    log(f"median: recollindex {medians['recoll_s']:.2f} s, sleuth {medians['sleuth_s']:.2f} s, ratio {ratio:.2f}x")
    result = {
        "folder": str(folder),
        "files": sum(1 for p in folder.rglob("*") if p.is_file()),
        "runs": args.runs,
        "model": args.model or "default",
        "recoll_s": [round(s, 2) for s in recoll],
        "sleuth_s": [round(s, 2) for s in sleuth],
        "median": medians,
        "ratio": ratio,
        "cpus": os.cpu_count(),
        "load_before": round(load, 2),
    }
    if finished:
        result["sleuth_full_s"] = [round(s, 2) for s in finished]
    if baseline:
        result["baseline"] = str(args.baseline)
        result["baseline_s"] = [round(s, 2) for s in baseline]
        result["median"]["baseline_s"] = round(statistics.median(baseline), 2)
        result["baseline_ratio"] = round(result["median"]["baseline_s"] / medians["recoll_s"], 2)
        log(f"baseline median {result['median']['baseline_s']:.2f} s, ratio {result['baseline_ratio']:.2f}x")
    save("keyword_ready", result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
