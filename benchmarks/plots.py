"""The plots in docs/benchmarks.md, from the JSON results the benchmarks and ``sleuth eval`` wrote.

    python -m benchmarks.plots --eval benchmarks/results/eval-*.json --latency benchmarks/results/latency.json

Writes docs/quality-vs-dimension.svg and docs/latency-vs-size.svg.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1] / "docs"
STYLE = {"bm25": "k--", "dense": "-o", "hybrid": "-s", "hybrid_rrf": "-^"}
LABEL = {"bm25": "BM25", "dense": "dense", "hybrid": "hybrid (measured weight)", "hybrid_rrf": "plain RRF"}


def quality(reports: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = sorted({r["dataset"]["name"] for r in reports})
    models = sorted({r["model"]["name"] for r in reports}, reverse=True)
    fig, axes = plt.subplots(len(models), len(sets), figsize=(5 * len(sets), 3.6 * len(models)), squeeze=False)
    for report in reports:
        ax = axes[models.index(report["model"]["name"])][sets.index(report["dataset"]["name"])]
        dims = sorted(report["dims"])
        for mode in ("bm25", "dense", "hybrid", "hybrid_rrf"):
            values = [report["results"][str(d)].get(mode, {}).get("ndcg@10") for d in dims]
            if None not in values:
                ax.plot(dims, values, STYLE[mode], label=LABEL[mode], markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        data = report["dataset"]
        ax.set_title(
            f"{data['name']} ({data['documents']} docs, {data['queries']} queries)\n{report['model']['name']}",
            fontsize=9,
        )
        ax.set_xlabel("search dimension")
        ax.set_ylabel("nDCG@10")
    axes[0][0].legend(fontsize=8, loc="center right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def latency(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(int(n) for n in result["sizes"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    kinds = sorted({k for n in sizes for k in result["sizes"][str(n)]["configs"]}, key=lambda k: (k != "none", k))
    for ax, what in zip(axes, ("search", "end_to_end"), strict=True):
        for kind in kinds:
            for mode, style in (("hybrid", "-o"), ("bm25", ":")):
                xs, ys = [], []
                for n in sizes:
                    config = result["sizes"][str(n)]["configs"].get(kind, {})
                    figure = config.get(what, {}).get(mode)
                    if figure:
                        xs.append(n)
                        ys.append(figure["p95_ms"])
                if xs:
                    ax.plot(xs, ys, style, label=f"{mode}, {kind}", markersize=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks")
        ax.set_ylabel("p95 latency (ms)")
        ax.axhline(150, color="r", lw=0.6, ls="--")
        ax.axhline(200, color="r", lw=0.6, ls=":")
        ax.grid(alpha=0.3, which="both")
        ax.set_title(
            "engine only (query vector precomputed)" if what == "search" else "end to end (query embedded)", fontsize=9
        )
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval", nargs="*", type=Path, default=[])
    parser.add_argument("--latency", type=Path, default=None)
    parser.add_argument("--out-dir", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.eval:
        reports = [json.loads(p.read_text()) for p in args.eval]
        quality(reports, args.out_dir / "quality-vs-dimension.svg")
    if args.latency:
        latency(json.loads(args.latency.read_text()), args.out_dir / "latency-vs-size.svg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
