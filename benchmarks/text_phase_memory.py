"""Resident memory of the indexing process through a text phase, with glibc's default malloc arenas or Sleuth's cap.

    python -m benchmarks.text_phase_memory --folder /work/bigfolder/texlive-science-doc --arenas default
    python -m benchmarks.text_phase_memory --folder /work/bigfolder/texlive-science-doc --arenas sleuth

Indexes FOLDER into a fresh index in a temporary folder with the default settings (the model loads after the
text phase, as ``sleuth index`` does) and samples this process's VmRSS at each progress event until
``Keyword search ready``; the Python heap (tracemalloc) beside it tells Python's objects from the C heap.
Run each setting in its own process: an arena made before the cap stays.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import log, save


def rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--arenas", choices=("default", "sleuth"), default="sleuth")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.arenas == "sleuth":
        from core.heap import limit_arenas

        limit_arenas()
    tracemalloc.start()
    from core.index.indexer import Indexer, settings_embedder_in_background
    from core.index.store import Store
    from core.jobs import KEYWORD_READY, Phase
    from core.settings import Settings

    samples: list[tuple[float, int, int, int]] = []  # seconds, files read, RSS MB, Python heap MB
    with tempfile.TemporaryDirectory(prefix="sleuth-textmem-") as tmp:
        store = Store(Path(tmp) / "index.lancedb")
        store.add_folder(args.folder.resolve())
        settings = Settings()
        indexer = Indexer(store, settings, settings_embedder_in_background(settings))
        started = time.perf_counter()
        chunks = 0
        for event in indexer.run([args.folder.resolve()]):
            heap = tracemalloc.get_traced_memory()[0] // 2**20
            samples.append((round(time.perf_counter() - started, 1), event.files_done, rss_mb(), heap))
            if event.phase == Phase.TEXT and event.message.startswith(KEYWORD_READY):
                chunks = indexer.report.chunks_written
                break
    peak = max(s[2] for s in samples)
    log(
        f"{args.arenas} arenas: {chunks} passages; RSS {samples[0][2]} MB at the start, peak {peak} MB, "
        f"{samples[-1][2]} MB at keyword-ready; Python heap {samples[-1][3]} MB"
    )
    save(
        "text-phase-memory",
        {
            "folder": str(args.folder),
            "arenas": args.arenas,
            "passages": chunks,
            "peak_rss_mb": peak,
            "samples": [*samples[::40], samples[-1]],  # every 40th progress event, and the last
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
