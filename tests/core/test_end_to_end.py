"""The default set-up on a fresh machine: the bundled model for the device (all-MiniLM-L6-v2 on a CPU), and the
bundled SmolLM2 LLaRA model chosen in the settings; real files, the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.embedding.device import wants_int8
from tests.core.corpus import write_corpus

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["auto", "smollm2-135m"])
def test_bundled_default_indexes_and_finds_the_right_file(
    model: str,
    tmp_path: Path,
    bundled_cache_dir: Path,
    bundled_embedder: object,  # converts the bundled model once per session into bundled_cache_dir
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SLEUTH_CACHE_DIR", str(bundled_cache_dir))
    monkeypatch.setenv("SLEUTH_DB", str(tmp_path / "db"))
    folder = write_corpus(tmp_path / "docs")
    if model != "auto":
        assert main(["config", "set", "model", model]) == 0
    assert main(["index", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "5 new" in out and "embedded" in out
    assert main(["status"]) == 0
    shown = capsys.readouterr().out
    # People read the model's name; its exact identity (with the adapter's digest) is for --json and --verbose.
    if model == "auto":  # these machines have no GPU: the default is the bundled encoder
        assert "Model: all-MiniLM-L6-v2, 384 dimensions" in shown
        identity_start = "encoder:minilm-l6-v2"
    else:
        # ", int8" where the CPU lacks native bf16 and `auto` runs int8 (core.embedding.device.wants_int8).
        precision = ", int8" if wants_int8("cpu") else ""
        assert f"Model: SmolLM2-135M, Sleuth's bundled adapter{precision}, 576 dimensions" in shown
        identity_start = "llara:smollm2-135m+adapter:bundled@"  # the shipped adapter, by default
    assert "llara:" not in shown and "encoder:" not in shown
    assert main(["status", "--json"]) == 0
    identity = json.loads(capsys.readouterr().out)["model"]["identity"]
    assert identity.startswith(identity_start)
    assert main(["status", "--verbose"]) == 0
    assert f"Model identity: {identity}" in capsys.readouterr().out

    for query, expected in [
        ("when did Vesuvius bury Pompeii", "volcano.txt"),
        ("how do I feed a sourdough starter", "bread.md"),
        ("filing deadline for the income tax return", "return.txt"),
    ]:
        assert main(["search", query, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["mode"] == "hybrid"
        assert Path(data["results"][0]["path"]).name == expected, (query, data["results"][0])
        assert data["results"][0]["highlights"]

    assert main(["search", "volcanic eruption", "--mode", "dense", "--json"]) == 0
    dense = json.loads(capsys.readouterr().out)
    assert len(dense["results"]) == 5 and all("dense" in r["scores"] for r in dense["results"])

    assert main(["index", str(folder)]) == 0
    assert "nothing to embed" in capsys.readouterr().out
