"""Peak resident memory while indexing, and resident memory when idle, each in a separate process.

    python -m benchmarks.memory --dataset /work/evalsets/manpages --limit-docs 300
    python -m benchmarks.memory --window --dataset /work/evalsets/manpages --limit-docs 12

Indexing is the real command line (``python -m core.cli --db DB index FOLDER``) in a child process: its
peak is the kernel's high-water mark (``ru_maxrss`` from ``wait4``, the same figure as VmHWM), and its
resident size is sampled every 100 ms for the timeline plot. Idle is a child that opens the index, loads
the model, answers one search and then waits; its VmRSS is read after it has been idle for a while.

``--window`` measures the window instead (``benchmarks.window_memory``): one child runs the real window
through index, search, a chunk-size change that rebuilds, an adapt run cancelled, search again; a second
child opens a fresh window on the finished index and searches once, the figure the first should return to.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log, real_documents, save, write_folder

ROOT = Path(__file__).resolve().parents[1]


def status_kb(field: str, pid: str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def idle_child(db: Path, query: str) -> None:
    """Stages of an idle engine process; prints one JSON line of VmRSS (MB) per stage."""
    stages: dict[str, float] = {"python": status_kb("VmRSS") / 1024}
    from core.index.store import Store
    from core.search.searcher import Searcher

    store = Store(db)
    profile = store.active_profile()
    assert profile is not None
    index = store.profile_index(profile)
    stages["engine imported, index open"] = status_kb("VmRSS") / 1024
    from core.embedding import load_embedder

    embedder = load_embedder(profile.model, device="cpu")
    stages["model loaded"] = status_kb("VmRSS") / 1024
    Searcher(index, embedder, None, dense_weight=store.dense_weight(profile)).search(query, k=10)
    time.sleep(5)
    stages["idle after a hybrid search"] = status_kb("VmRSS") / 1024
    stages["peak (VmHWM)"] = status_kb("VmHWM") / 1024
    print(json.dumps({k: round(v, 1) for k, v in stages.items()}))


def index_child(db: Path, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "core.cli", "--db", str(db), "index", str(folder), "--no-progress"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timeline: list[tuple[float, float]] = []
    while process.poll() is None:
        try:
            timeline.append((time.perf_counter() - started, status_kb("VmRSS", str(process.pid)) / 1024))
        except OSError:
            break
        time.sleep(0.1)
    output = process.stdout.read() if process.stdout else ""
    # The kernel's high-water mark of the finished child (ru_maxrss is in KiB on Linux).
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if process.returncode != 0:
        raise SystemExit(f"indexing failed:\n{output}")
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak, 1),
        "sampled_peak_rss_mb": round(max(r for _, r in timeline), 1) if timeline else None,
        "timeline": [(round(t, 1), round(r, 1)) for t, r in timeline[::5]],
        "output_tail": output.strip().splitlines()[-3:],
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [t for t, _ in result["indexing"]["timeline"]]
    rss = [r for _, r in result["indexing"]["timeline"]]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(times, rss, label="sleuth index (RSS)")
    ax.axhline(result["indexing"]["peak_rss_mb"], color="k", ls="--", lw=0.8, label="peak (ru_maxrss)")
    ax.axhline(2048, color="r", ls=":", lw=0.8, label="target 2 GB")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("MB")
    ax.set_ylim(0, max(2200, max(rss, default=0) * 1.1))
    ax.set_title(f"{result['documents']} documents, {result['chunks']} chunks", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def window(args: argparse.Namespace) -> int:
    """Both window children over one small folder; saves ``memory-window``."""
    from core.settings import Settings, save_settings

    beir = real_documents(args.dataset, args.limit_docs)
    with tempfile.TemporaryDirectory(prefix="sleuth-winmem-") as tmp:
        folder = Path(tmp) / "docs"
        write_folder(beir, folder)
        queries = Path(tmp) / "queries.json"  # the first is searched between jobs, all in the long session
        queries.write_text(json.dumps(list(beir.queries.values())), encoding="utf-8")
        config = Path(tmp) / "config"
        env = {
            **os.environ,
            "SLEUTH_CONFIG_DIR": str(config),
            "SLEUTH_DATA_DIR": str(Path(tmp) / "data"),  # adapters and training checkpoints
            "PYTHONPATH": str(ROOT),
            "QT_QPA_PLATFORM": "offscreen",
        }
        settings = Settings(device="cpu")
        if args.adapter is not None:
            settings = dataclasses.replace(settings, adapter=args.adapter)
        save_settings(settings, config / "settings.json")
        db = Path(tmp) / "db"
        result: dict[str, Any] = {"documents": len(beir.corpus), "dataset": str(args.dataset), "model": settings.model}
        for mode in ("sequence", "fresh"):
            log(f"window: {mode}…")
            command = [sys.executable, "-m", "benchmarks.memory", "--adapt-steps", str(args.adapt_steps)]
            command += ["--searches", str(args.searches), "--edit-every", str(args.edit_every)]
            command += ["--window-child", mode, str(config / "settings.json"), str(db), str(folder), str(queries)]
            out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                kept = Path(tempfile.gettempdir()) / f"sleuth-window-{mode}.log"
                kept.write_text(out.stderr, encoding="utf-8")
                raise SystemExit(
                    f"the {mode} window failed (exit {out.returncode}; its whole log: {kept}):\n{out.stderr[-4000:]}"
                )
            result[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            log(f"  {result[mode]}")
    final = result["sequence"]["after the long session" if args.searches else "searched again (final)"]
    baseline = result["fresh"]["fresh window after one search"]
    result["final_over_fresh"] = round(final / baseline, 3)
    log(f"final {final} MB against a fresh window's {baseline} MB: x{result['final_over_fresh']}")
    save("memory-window", result, args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=None)
    parser.add_argument("--limit-docs", type=int, default=300)
    parser.add_argument("--plot", type=Path, default=None, help="write the RSS timeline plot here")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--adapter", default=None, help="the adapter setting for the run (default: Sleuth's; empty: the bare model)"
    )
    parser.add_argument("--window", action="store_true", help="the window through a sequence of jobs")
    parser.add_argument("--adapt-steps", type=int, default=10_000, help="--window: steps asked (it is cancelled)")
    parser.add_argument("--searches", type=int, default=0, help="--window: searches in a long session after the jobs")
    parser.add_argument("--edit-every", type=int, default=50, help="--searches: a file edited every N searches")
    parser.add_argument("--idle-child", nargs=2, metavar=("DB", "QUERY"), help=argparse.SUPPRESS)
    parser.add_argument("--window-child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.idle_child:
        idle_child(Path(args.idle_child[0]), args.idle_child[1])
        return 0
    if args.window_child:
        from benchmarks.window_memory import child

        mode, settings_file, db, folder, queries = args.window_child
        child(mode, settings_file, db, folder, queries, args.adapt_steps, args.searches, args.edit_every)
        return 0
    if args.window:
        return window(args)
    from core.settings import Settings, save_settings

    beir = real_documents(args.dataset, args.limit_docs)
    with tempfile.TemporaryDirectory(prefix="sleuth-mem-") as tmp:
        folder = Path(tmp) / "docs"
        write_folder(beir, folder)
        env = {**os.environ, "SLEUTH_CONFIG_DIR": str(Path(tmp) / "config"), "PYTHONPATH": str(ROOT)}
        settings = Settings() if args.adapter is None else dataclasses.replace(Settings(), adapter=args.adapter)
        save_settings(settings, Path(tmp) / "config" / "settings.json")
        db = Path(tmp) / "db"
        log(f"indexing {len(beir.corpus)} documents in a child process…")
        indexing = index_child(db, folder, env)
        log(f"  peak {indexing['peak_rss_mb']} MB in {indexing['seconds']} s")
        query = next(iter(beir.queries.values()))
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", "--idle-child", str(db), query],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        idle = json.loads(out.stdout.strip().splitlines()[-1])
        log(f"  idle: {idle}")
        from core.index.store import Store

        store = Store(db)
        profile = store.active_profile()
        chunks = store.profile_index(profile).chunks.count_rows() if profile else 0
    result = {
        "documents": len(beir.corpus),
        "chunks": chunks,
        "dataset": str(args.dataset),
        "adapter": settings.adapter,
        "indexing": indexing,
        "idle_mb": idle,
    }
    if args.plot:
        plot(result, args.plot)
    save("memory", result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
