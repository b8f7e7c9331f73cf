"""Pool the test halves of several evaluation reports: what each stage of search adds, with paired intervals.

Each report (``sleuth eval`` of a BEIR set or of a real folder) keeps its per-query figures. A stage is a
pair of modes, the later one against the earlier one (dense over BM25, hybrid over BM25, reranking over
hybrid); its gain is the mean over queries of the later mode's figure minus the earlier one's, with a 95%
paired bootstrap interval. Pooled over sets, every query counts once and the bootstrap resamples queries
within each set, so a set's size is kept in every resample. Reported per set, pooled, and per query kind
(a BEIR set's queries are all of one kind, ``summary``: a synopsis or a manual page's one-line description).

    python -m benchmarks.pooled eval-a.json eval-b.json … --out pooled.json
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.evaluation.beir import EvaluationError

#: Figures every report holds per query, under the names the real-folder reports use.
POOLED_METRICS = ("mrr@10", "hit@1")
#: (later, earlier): what each stage of the default pipeline adds.
STAGES = (("dense", "bm25"), ("hybrid", "bm25"), ("hybrid_rerank", "hybrid"))
BEIR_KIND = "summary"
BOOTSTRAP_SAMPLES = 10_000


@dataclass(frozen=True)
class QueryRow:
    """One query of one set: its kind and each mode's figures."""

    set: str
    id: str
    kind: str
    figures: Mapping[str, Mapping[str, float]]  # mode -> metric -> value


def report_rows(report: Mapping[str, Any], name: str | None = None) -> list[QueryRow]:
    """The per-query figures of a ``sleuth eval`` report, BEIR or real folder, at the full dimension."""
    set_name = name or str(report.get("dataset", {}).get("name", "set"))
    per_query = report.get("per_query")
    if not per_query:
        raise EvaluationError(f"The report of {set_name} has no per-query figures; run sleuth eval again.")
    if "queries" in per_query:  # a BEIR report: lists in query order, by dimension
        ids = [str(q) for q in per_query["queries"]]
        by_mode = per_query[str(max(int(d) for d in report["dims"]))]
        names = {"mrr@10": "mrr", "hit@1": "hit1"}
        modes = [m for m in report["modes"] if m in by_mode]
        rows = []
        for i, query in enumerate(ids):
            figures = {
                mode: {
                    metric: float(by_mode[f"{mode}:{names[metric]}"][i])
                    for metric in POOLED_METRICS
                    if f"{mode}:{names[metric]}" in by_mode
                }
                for mode in modes
            }
            for values in figures.values():  # reports older than hit@1 per query: a first-place hit has MRR 1
                if "hit@1" not in values and "mrr@10" in values:
                    values["hit@1"] = float(values["mrr@10"] == 1.0)
            rows.append(QueryRow(set_name, query, BEIR_KIND, figures))
        return rows
    return [
        QueryRow(
            set_name,
            str(query),
            str(entry.get("kind", BEIR_KIND)),
            {
                mode: {metric: float(values.get(metric) or 0.0) for metric in POOLED_METRICS}
                for mode, values in entry.items()
                if isinstance(values, Mapping)
            },
        )
        for query, entry in per_query.items()
    ]


def _gains(rows: Sequence[QueryRow], later: str, earlier: str, metric: str) -> np.ndarray:
    return np.array([r.figures[later][metric] - r.figures[earlier][metric] for r in rows], dtype=np.float64)


def stratified_interval(
    groups: Sequence[np.ndarray], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of the pooled per-query differences and its 95% interval, resampling within each group."""
    pooled = np.concatenate(groups) if groups else np.zeros(0)
    if pooled.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    sums = np.zeros(samples)
    for diff in groups:
        if diff.size:
            sums += diff[rng.integers(0, diff.size, size=(samples, diff.size))].sum(axis=1)
    means = sums / pooled.size
    low, high = np.percentile(means, [2.5, 97.5])
    return float(pooled.mean()), float(low), float(high)


def _cell(rows: Sequence[QueryRow], later: str, earlier: str, metric: str, seed: int) -> dict[str, float] | None:
    usable = [r for r in rows if later in r.figures and earlier in r.figures and metric in r.figures[later]]
    if not usable:
        return None
    sets = sorted({r.set for r in usable})
    groups = [_gains([r for r in usable if r.set == s], later, earlier, metric) for s in sets]
    diff, low, high = stratified_interval(groups, seed=seed)
    return {
        "queries": len(usable),
        "earlier": float(np.mean([r.figures[earlier][metric] for r in usable])),
        "later": float(np.mean([r.figures[later][metric] for r in usable])),
        "diff": diff,
        "ci95_low": low,
        "ci95_high": high,
    }


def pool(rows: Sequence[QueryRow], stages: Sequence[tuple[str, str]] = STAGES, seed: int = 0) -> dict[str, Any]:
    """Every stage's gain per set, pooled and per kind: ``{stage: {scope: {metric: cell}}}``."""
    out: dict[str, Any] = {}
    scopes: dict[str, list[QueryRow]] = {"pooled": list(rows)}
    for name in sorted({r.set for r in rows}):
        scopes[f"set:{name}"] = [r for r in rows if r.set == name]
    for kind in sorted({r.kind for r in rows}):
        scopes[f"kind:{kind}"] = [r for r in rows if r.kind == kind]
    for later, earlier in stages:
        stage: dict[str, Any] = {}
        for scope, members in scopes.items():
            cells = {m: _cell(members, later, earlier, m, seed) for m in POOLED_METRICS}
            if any(cells.values()):
                stage[scope] = cells
        if stage:
            out[f"{later} - {earlier}"] = stage
    return out


def _shown(cell: Mapping[str, float] | None) -> str:
    if cell is None:
        return "–"
    interval = f"({cell['ci95_low']:+.3f} … {cell['ci95_high']:+.3f})"
    return f"{cell['earlier']:.3f} → {cell['later']:.3f}, {cell['diff']:+.3f} {interval}"


def markdown(pooled: Mapping[str, Any]) -> str:
    """One table per stage: scope, queries, then each metric as ``earlier → later, gain (interval)``."""
    lines: list[str] = []
    for stage, scopes in pooled.items():
        lines += [f"\n**{stage}**\n", "| scope | queries | " + " | ".join(POOLED_METRICS) + " |"]
        lines.append("|---|---:|" + "---|" * len(POOLED_METRICS))
        for scope, cells in scopes.items():
            queries = next(c["queries"] for c in cells.values() if c)
            shown = [_shown(c) for c in cells.values()]
            lines.append(f"| {scope} | {queries} | " + " | ".join(shown) + " |")
    return "\n".join(lines).lstrip()
