"""Quality against indexing speed: each embedding configuration's dense and hybrid nDCG@10 on every evaluation
set, beside how fast its indexing pipeline ran in one throughput run.

    python -m benchmarks.quality_speed --throughput benchmarks/results/throughput-quality-speed.json \\
        --config "30 layers (default)" 0 eval-dpkg-status-full-s28.json eval-manpages-full-s28.json ... \\
        --config "7 layers, distilled" 1 eval-dpkg-status-depth7-distilled.json ... \\
        --out benchmarks/results/quality-speed.json --plot docs/quality-vs-speed.svg

``--config LABEL N REPORT...``: the Nth configuration of the throughput report (``benchmarks.throughput``)
gives the speed; the ``sleuth eval`` reports give the quality, one per evaluation set. Speeds are the
pipeline's characters per second as a multiple of the throughput report's first configuration, so the
first ``--config`` should be the baseline. Configurations that share an architecture (two adapters trained
for the same depth) may share a throughput configuration: speed depends on the layers that run, not on the
weights.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.common import save

MODES = ("dense", "hybrid")
#: Issue 15's bar: at least this many times today's indexing speed, within this nDCG@10 of today's quality.
TARGET_SPEED = 4.0
QUALITY_MARGIN = 0.01


def set_scores(report: dict[str, Any]) -> dict[str, float]:
    """nDCG@10 per mode from a ``sleuth eval`` report: a folder's file-level figures, or a BEIR set's at the
    largest dimension it was evaluated at."""
    results = report["results"]
    if "dims" in report:
        results = results[str(max(report["dims"]))]
    return {mode: float(results[mode]["ndcg@10"]) for mode in ("bm25", *MODES) if mode in results}


def set_name(report: dict[str, Any]) -> str:
    """The evaluation set: a BEIR set's name, or "real folder" for a folder evaluated at file level."""
    return "real folder" if "folder" in report["dataset"] else str(report["dataset"]["name"])


def collect(throughput: dict[str, Any], configs: list[list[str]]) -> list[dict[str, Any]]:
    points = []
    for label, index, *paths in configs:
        measured = throughput["configurations"][int(index)]
        sets = {}
        for path in paths:
            report = json.loads(Path(path).read_text())
            sets[set_name(report)] = {"report": Path(path).name, **set_scores(report)}
        points.append(
            {
                "label": label,
                "throughput": measured["name"],
                "pipeline_speed": measured["pipeline_speed_vs_first"],
                "pipeline_characters_per_s": measured["pipeline"].get("characters_per_s"),  # older reports: tokens
                "query_embedding_p95_ms": measured["query_embedding"]["p95_ms"],
                "sets": sets,
            }
        )
    return points


def plot(points: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = sorted({name for point in points for name in point["sets"]})
    columns = min(2, len(sets))
    rows = (len(sets) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 3.8 * rows), squeeze=False)
    speeds = [point["pipeline_speed"] for point in points]
    baseline_name = points[0]["label"].split(" (")[0]
    ticks = [2**k for k in range(-1, 5) if min(speeds) / 1.5 <= 2**k <= max(max(speeds), TARGET_SPEED) * 1.5]
    markers = {"dense": "o", "hybrid": "s"}
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes.flat, sets, strict=False):
        for number, point in enumerate(points):
            scores = point["sets"].get(name)
            if scores is None:
                continue
            for mode in MODES:
                ax.plot(
                    point["pipeline_speed"],
                    scores[mode],
                    markers[mode],
                    color=colours[number % len(colours)],
                    fillstyle="full" if mode == "hybrid" else "none",
                    label=f"{point['label']}, {mode}",
                )
        baseline = points[0]["sets"].get(name, {})
        if "bm25" in baseline:
            ax.axhline(baseline["bm25"], color="k", linestyle="--", linewidth=0.8, label="BM25")
        if "hybrid" in baseline:
            ax.axhspan(
                baseline["hybrid"] - QUALITY_MARGIN,
                baseline["hybrid"],
                color="grey",
                alpha=0.2,
                label=f"within {QUALITY_MARGIN} of {baseline_name}'s hybrid",
            )
        ax.axvline(TARGET_SPEED, color="grey", linestyle=":", linewidth=1, label=f"{TARGET_SPEED:g}× target")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [f"{t:g}×" for t in ticks])
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(f"indexing speed, × {baseline_name}")
        ax.set_ylabel("nDCG@10")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(sets) :]:
        ax.set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.035 * ((len(labels) + 2) // 3) / rows * 2, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--throughput", type=Path, required=True, help="a benchmarks.throughput report")
    parser.add_argument(
        "--config",
        nargs="+",
        action="append",
        required=True,
        metavar="LABEL N REPORT",
        help="a label, the throughput configuration's number, and its sleuth eval reports",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    if any(len(config) < 3 for config in args.config):
        parser.error("--config needs a label, a configuration number and at least one report")
    points = collect(json.loads(args.throughput.read_text()), args.config)
    for point in points:
        figures = "; ".join(
            f"{name} " + " / ".join(f"{scores[mode]:.3f}" for mode in MODES) for name, scores in point["sets"].items()
        )
        print(f"{point['label']}: {point['pipeline_speed']:.2f}x; dense / hybrid nDCG@10: {figures}")
    save("quality-speed", {"throughput": str(args.throughput), "points": points}, args.out)
    if args.plot:
        plot(points, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
