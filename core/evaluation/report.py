"""Turn an evaluation report into a table and a plot of quality against the Matryoshka dimension."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LABELS = {
    "bm25": "BM25",
    "dense": "dense",
    "hybrid": "hybrid (measured weight)",
    "hybrid_rrf": "hybrid, plain RRF (weight 1)",
    "hybrid_rerank": "hybrid + rerank",
}


def table(report: dict[str, Any]) -> str:
    """A Markdown table: one row per dimension and mode."""
    metrics = report["metrics"]
    lines = [
        "| dim | mode | " + " | ".join(metrics) + " | dense weight |",
        "|---:|---|" + "---:|" * len(metrics) + "---:|",
    ]
    for dim in report["dims"]:
        row = report["results"][str(dim)]
        for mode in report["modes"]:
            figures = row.get(mode, {})
            if "skipped" in figures:
                lines.append(f"| {dim} | {mode} | {figures['skipped']} |" + " |" * len(metrics))
                continue
            weight = figures.get("dense_weight")
            cells = " | ".join(f"{figures[m]:.3f}" for m in metrics)
            lines.append(f"| {dim} | {mode} | {cells} | {'' if weight is None else f'{weight:g}'} |")
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def plot(report: dict[str, Any], path: Path) -> Path | None:
    """nDCG@10 and Recall@100 against the search dimension; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    dims = sorted(report["dims"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, metric in zip(axes, ("ndcg@10", "recall@100"), strict=True):
        for mode in report["modes"]:
            values = [report["results"][str(d)].get(mode, {}).get(metric) for d in dims]
            if any(v is None for v in values):
                continue
            if mode == "bm25":
                ax.plot(dims, values, "k--", label=LABELS[mode], zorder=5)
            else:
                ax.plot(dims, values, "-", marker="o", label=LABELS.get(mode, mode))
        ax.set_xscale("log", base=2)
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.set_xlabel("search dimension (candidates rescored at full dimension)")
        ax.set_ylabel(metric)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="best")
    data = report["dataset"]
    fig.suptitle(
        f"{data.get('name', '')}: {data['documents']} documents, {data['queries']} queries; {report['model']['name']}",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
