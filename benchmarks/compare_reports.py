"""Two `sleuth eval` reports of the same set, query by query: the difference and its paired interval.

    python -m benchmarks.compare_reports BASE.json OTHER.json [--modes bm25,dense,hybrid] [--out FILE]

For a BEIR set it compares nDCG@10 and MRR@10 at the full dimension, for a real folder hit@1, hit@5, MRR@10
and nDCG@10; OTHER − BASE with a 95% paired bootstrap interval (queries resampled with replacement). It is
how a configuration (another adapter, depth or precision) is set beside today's default: each report comes
from its own index, and the queries are the same.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.common import save
from core.evaluation.folder import paired_bootstrap


def per_query(report: dict[str, Any], modes: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """{mode: {metric: {query id: value}}} from a BEIR or a real-folder report."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    scores = report.get("per_query")
    if not scores:
        raise SystemExit("This report has no per-query figures: measure it again with today's `sleuth eval`.")
    if "queries" in scores:  # BEIR: lists in query order, by dimension
        ids = scores["queries"]
        at_full = scores[str(max(int(d) for d in scores if d != "queries"))]
        for mode in modes:
            if mode in at_full:
                out[mode] = {
                    "ndcg@10": dict(zip(ids, at_full[mode], strict=True)),
                    "mrr@10": dict(zip(ids, at_full[f"{mode}:mrr"], strict=True)),
                }
        return out
    for mode in modes:  # a real folder: {query id: {mode: {metric: value}}}
        if all(mode in row for row in scores.values()):
            out[mode] = {
                metric: {q: float(row[mode][metric] or 0.0) for q, row in scores.items()}
                for metric in ("hit@1", "hit@5", "mrr@10", "ndcg@10")
            }
    return out


def compare(base: dict[str, Any], other: dict[str, Any], modes: list[str]) -> dict[str, Any]:
    a, b = per_query(base, modes), per_query(other, modes)
    table: dict[str, Any] = {}
    for mode in modes:
        if mode not in a or mode not in b:
            continue
        for metric, values in a[mode].items():
            shared = sorted(set(values) & set(b[mode][metric]))
            if len(shared) != len(values):
                raise SystemExit(f"The reports judge different queries ({len(values)} against {len(shared)} shared).")
            first = [values[q] for q in shared]
            second = [b[mode][metric][q] for q in shared]
            table[f"{mode} {metric}"] = {
                "base": sum(first) / len(first),
                "other": sum(second) / len(second),
                **paired_bootstrap(first, second),
            }
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("other", type=Path)
    parser.add_argument("--modes", default="bm25,dense,hybrid")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    base, other = (json.loads(p.read_text(encoding="utf-8")) for p in (args.base, args.other))
    table = compare(base, other, [m.strip() for m in args.modes.split(",") if m.strip()])
    print(f"{'':22s} {'base':>7s} {'other':>7s} {'diff':>7s}  95% interval")
    for name, row in table.items():
        print(
            f"{name:22s} {row['base']:7.3f} {row['other']:7.3f} {row['diff']:+7.3f}  "
            f"{row['ci95_low']:+.3f} … {row['ci95_high']:+.3f}"
        )
    if args.out:
        save("compare", {"base": str(args.base), "other": str(args.other), "table": table}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
