"""The dev and test halves of the evaluation sets, and the pooled figures of the test halves."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.evaluation.beir import BeirSet, Doc
from core.evaluation.halves import Half, half_of
from core.evaluation.pooled import pool, report_rows, stratified_interval

ROOT = Path(__file__).resolve().parents[2]


def test_a_query_s_half_depends_on_its_id_alone_and_splits_sets_about_evenly() -> None:
    ids = [f"q{n:04d}" for n in range(2000)]
    halves = Counter(half_of(i) for i in ids)
    assert abs(halves[Half.DEV] - halves[Half.TEST]) < 150
    assert [half_of(i) for i in reversed(ids)] == [half_of(i) for i in ids][::-1]  # order plays no part
    for queries in ("real-folder", "real-folder-2"):
        rows = [json.loads(line) for line in (ROOT / "benchmarks" / queries / "queries.jsonl").open()]
        assert {half_of(r["id"]) for r in rows} == {Half.DEV, Half.TEST}, "both halves have queries"


def test_a_beir_half_keeps_every_document_and_only_its_queries() -> None:
    beir = BeirSet(
        corpus={f"d{n}": Doc(f"d{n}", f"text {n}") for n in range(20)},
        queries={f"q{n}": f"query {n}" for n in range(20)},
        qrels={f"q{n}": {f"d{n}": 1} for n in range(20)},
    )
    dev, test = beir.half(Half.DEV), beir.half(Half.TEST)
    assert dev.corpus == test.corpus == beir.corpus, "one index serves both halves"
    assert set(dev.judged_queries()) | set(test.judged_queries()) == set(beir.judged_queries())
    assert not set(dev.judged_queries()) & set(test.judged_queries())
    assert beir.half(Half.ALL).judged_queries() == beir.judged_queries()


def _folder_report(name: str, gains: list[float], kind: str) -> dict[str, object]:
    return {
        "dataset": {"name": name},
        "per_query": {
            f"{name}-{i}": {"kind": kind, "hybrid": {"mrr@10": 0.5, "hit@1": 0.0}, "hybrid_rerank": {"mrr@10": 0.5 + g}}
            for i, g in enumerate(gains)
        },
    }


def test_pooling_counts_every_query_once_and_keeps_each_set_apart() -> None:
    rows = report_rows(_folder_report("a", [0.5] * 10, "question")) + report_rows(
        _folder_report("b", [-0.1] * 30, "keywords")
    )
    stage = pool(rows, stages=[("hybrid_rerank", "hybrid")])["hybrid_rerank - hybrid"]
    assert stage["pooled"]["mrr@10"]["diff"] == pytest.approx((10 * 0.5 - 30 * 0.1) / 40)
    assert stage["set:a"]["mrr@10"]["diff"] == pytest.approx(0.5)
    assert stage["kind:keywords"]["mrr@10"]["diff"] == pytest.approx(-0.1)
    # Constant gains within each set: every stratified resample has the same mean, so the interval is a point.
    assert stage["pooled"]["mrr@10"]["ci95_low"] == pytest.approx(stage["pooled"]["mrr@10"]["ci95_high"])


def test_the_stratified_interval_holds_the_mean_and_narrows_with_more_queries() -> None:
    rng = np.random.default_rng(1)
    small = [rng.normal(0.02, 0.2, 40), rng.normal(0.02, 0.2, 40)]
    large = [rng.normal(0.02, 0.2, 400), rng.normal(0.02, 0.2, 400)]
    mean, low, high = stratified_interval(small)
    assert low <= mean <= high
    _, low_large, high_large = stratified_interval(large)
    assert high_large - low_large < high - low


def test_a_beir_report_pools_beside_a_folder_report() -> None:
    report = {
        "dataset": {"name": "pkgs"},
        "dims": [384],
        "modes": ["bm25", "hybrid"],
        "per_query": {
            "queries": ["x", "y"],
            "384": {
                "bm25": [1.0, 0.0],
                "bm25:mrr": [1.0, 0.0],
                "bm25:hit1": [1.0, 0.0],
                "hybrid": [1.0, 1.0],
                "hybrid:mrr": [1.0, 1.0],
                "hybrid:hit1": [1.0, 1.0],
            },
        },
    }
    rows = report_rows(report)
    assert [(r.id, r.kind) for r in rows] == [("x", "summary"), ("y", "summary")]
    stage = pool(rows)["hybrid - bm25"]["pooled"]
    assert stage["hit@1"]["diff"] == pytest.approx(0.5) and stage["mrr@10"]["later"] == pytest.approx(1.0)
