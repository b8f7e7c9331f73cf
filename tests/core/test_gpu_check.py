"""The GPU check (benchmarks/gpu_check.py) through its own entry point: its dry run takes the same path as on a GPU
(index a real folder with both models, embed, search, evaluate the test half through core.evaluation) on the CPU
with the tiny models, and writes a report with every field a GPU run fills."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import child_pythonpath

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_dry_run_reports_throughput_latency_memory_and_quality_for_both_models(tmp_path: Path) -> None:
    out = tmp_path / "report"
    env = {
        **os.environ,
        "PYTHONPATH": child_pythonpath(ROOT),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "2",
        "SLEUTH_CACHE_DIR": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", "--dry-run", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "gpu-check.json").read_text(encoding="utf-8"))
    assert report["dry_run"] is True and report["device"] == "cpu" and report["half"] == "test"
    assert report["precision"] in ("bf16", "fp32")
    assert "dpkg-status" in report["sets"]
    folder_files = len(list(Path(report["folder"]).glob("*.txt")))
    assert folder_files > 0
    models = report["models"]
    assert [m["model"].split(":")[0] for m in models] == ["llara", "encoder"]  # the two backends, as on a GPU
    for row in models:
        assert row["device"] == "cpu"
        assert row["indexing"]["files"] == folder_files
        assert row["indexing"]["passages"] >= folder_files and row["indexing"]["tokens"] > 0
        emb = row["embedding"]
        assert emb["passages"] == row["indexing"]["passages"]
        assert emb["passages_per_s"] > 0 and emb["tokens_per_s"] > emb["passages_per_s"]
        latency = row["query_latency_ms"]
        assert latency["mode"] == "hybrid" and latency["queries"] > 0
        assert 0 < latency["median"] <= latency["p95"]
        assert row["peak_gpu_memory_mb"] is None  # no GPU: not measured, not made up
        quality = row["quality"]["dpkg-status"]
        assert quality["queries"] > 0
        for mode in ("bm25", "dense", "hybrid"):
            assert set(quality[mode]) == {"mrr@10", "ndcg@10", "hit@1"}
            assert all(0.0 <= value <= 1.0 for value in quality[mode].values())
        # BM25 on description-like queries finds some answers whatever the random model does.
        assert quality["bm25"]["mrr@10"] > 0
    table = (out / "gpu-check.md").read_text(encoding="utf-8")
    assert "dry run" in table and "dpkg-status" in table and "encoder:" in table
