"""What each stage of search adds, pooled over the evaluation sets' test halves (core.evaluation.pooled).

    python -m benchmarks.pooled REPORT.json [REPORT.json …] [--name NAME …] [--out FILE]

Each REPORT is a ``sleuth eval`` report (the test half unless it was run with ``--half``); a report of a
half other than the others is refused, so a pooled figure never mixes the half that was tuned on with the
half that is reported. Prints one table per stage (per set, pooled, per query kind) and writes the JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.common import save
from core.evaluation.pooled import markdown, pool, report_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", type=Path, nargs="+")
    parser.add_argument("--name", action="append", default=None, help="a set's name, one per report (in order)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    names = args.name or [None] * len(args.reports)
    if len(names) != len(args.reports):
        parser.error("give one --name per report, or none")
    rows = []
    halves = {}
    for path, name in zip(args.reports, names, strict=True):
        report = json.loads(path.read_text(encoding="utf-8"))
        halves[str(path)] = report.get("command", {}).get("half", "all (before the halves)")
        rows += report_rows(report, name)
    if len(set(halves.values())) > 1:
        raise SystemExit(f"The reports measure different halves: {halves}")
    pooled = pool(rows)
    print(markdown(pooled))
    save("pooled", {"reports": halves, "pooled": pooled}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
