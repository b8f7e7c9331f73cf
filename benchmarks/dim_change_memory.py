"""Peak resident memory and time of a search-dimension change on a large index, in a process of its own.

    python -m benchmarks.matryoshka_scale measure --work-dir W100 --dims full --engines lancedb --db-dir DB
    python -m benchmarks.dim_change_memory --db DB --dim 64 --runs 2 [--code OTHER_CHECKOUT]

Copies the index at DB (one Sleuth index, e.g. the 100,000 passages ``matryoshka_scale`` stores through Sleuth's
own tables) to a temporary folder for each run, opens its active profile and calls
``ProfileIndex.set_search_dim(DIM)`` (with the repair the writer runs first) in a fresh process. Reported per run:
the process's peak RSS (``ru_maxrss``) before and after the change, and the change's seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import log, save

_ONE_RUN = """
import json, resource, sys, time
from pathlib import Path
from core.index.store import Store
store = Store(Path(sys.argv[1]))
profile = store.active_profile()
index = store.profile_index(profile)
index.repair()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
start = time.perf_counter()
index.set_search_dim(int(sys.argv[2]))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
rows = index.chunks.count_rows()
turned = index.search_space()[1] is not None
print(json.dumps({"rows": rows, "peak_mb_before": before, "peak_mb": peak, "seconds": round(seconds, 1),
                  "turned": turned}))
"""


def one_run(db: Path, dim: int, code: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sleuth-dim-") as tmp:
        copy = Path(tmp) / "index"
        shutil.copytree(db, copy)
        root = str(code)
        done = subprocess.run(
            [sys.executable, "-c", _ONE_RUN, str(copy), str(dim)],
            check=True,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
            cwd=root,
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="a Sleuth index folder (copied for each run)")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1], help="a Sleuth checkout")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    runs = []
    for number in range(args.runs):
        runs.append(one_run(args.db, args.dim, args.code))
        log(f"run {number + 1}: {runs[-1]}")
    save("dim_change_memory", {"db": str(args.db), "dim": args.dim, "code_dir": str(args.code), "runs": runs}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
