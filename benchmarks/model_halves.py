"""One embedding model against another, on one half of each evaluation set: dense and hybrid search's gain.

Each pair is two ``sleuth eval`` reports of one set, each model on its own index (each model's tokenizer cuts
its own passages); the queries of the chosen half are kept from both, paired by id, and the later model's
figures are compared with the earlier's per set, pooled and per query kind (core.evaluation.pooled).
Reports made on all queries, before the sets were split, serve either half.

    python -m benchmarks.model_halves --half test \\
        --pair real-folder eval-real-folder-minilm-s34.json eval-real-folder-llara-s34.json … --out R.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from benchmarks.common import save
from core.evaluation.halves import Half, in_half
from core.evaluation.pooled import QueryRow, markdown, pool, report_rows

MODES = ("bm25", "dense", "hybrid")


def paired_rows(name: str, earlier: Path, later: Path, half: Half) -> list[QueryRow]:
    """The half's queries of one set, each holding ``earlier:<mode>`` and ``later:<mode>`` figures."""
    first = {r.id: r for r in report_rows(json.loads(earlier.read_text(encoding="utf-8")), name)}
    second = {r.id: r for r in report_rows(json.loads(later.read_text(encoding="utf-8")), name)}
    rows = []
    for query in sorted(first.keys() & second.keys()):
        if not in_half(query, half):
            continue
        figures = {f"earlier:{m}": first[query].figures[m] for m in MODES if m in first[query].figures}
        figures |= {f"later:{m}": second[query].figures[m] for m in MODES if m in second[query].figures}
        rows.append(QueryRow(name, query, first[query].kind, figures))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pair", nargs=3, action="append", required=True, metavar=("SET", "EARLIER", "LATER"))
    parser.add_argument("--half", type=Half, default=Half.TEST)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = [row for name, a, b in args.pair for row in paired_rows(name, Path(a), Path(b), args.half)]
    stages = [(f"later:{m}", f"earlier:{m}") for m in MODES]
    pooled = pool(rows, stages)
    print(markdown(pooled))
    save("model-halves", {"half": str(args.half), "pairs": args.pair, "pooled": pooled}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
