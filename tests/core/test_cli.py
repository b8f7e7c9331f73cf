from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.errors import ConfigError
from core.settings import SCHEMA_VERSION, Settings


@pytest.fixture
def env(tmp_path: Path, tiny_llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config and database; the tiny real model as the embedding model."""
    monkeypatch.setenv("SLEUTH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SLEUTH_DB", str(tmp_path / "db"))
    assert main(["config", "set", "model", str(tiny_llama_dir)]) == 0
    assert main(["config", "set", "chunk_size", "48"]) == 0
    return tmp_path


def test_index_search_status_remove(env: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "5 new" in out
    assert main(["search", "Vesuvius Pompeii", "--mode", "bm25", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert Path(data["results"][0]["path"]).name == "volcano.txt"
    assert data["results"][0]["highlights"]
    assert main(["search", "sourdough", "-k", "2", "--no-rerank"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(" 1. ") and "bread.md" in out.splitlines()[0]
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert str(corpus.resolve()) in out and "Files: 5 indexed" in out
    model = next(line for line in out.splitlines() if line.startswith("Model: "))
    assert "llara:" not in model and "dimensions; passages of 48 tokens" in model
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["model"]["identity"].startswith("llara:") and status["files"] == 5
    assert main(["status", "--verbose"]) == 0
    assert f"Model identity: {status['model']['identity']}" in capsys.readouterr().out
    assert main(["remove", str(corpus)]) == 0
    assert "5 files forgotten" in capsys.readouterr().out
    assert main(["search", "sourdough", "--mode", "bm25"]) == 1  # nothing found: 1, as grep and ripgrep say
    out, err = capsys.readouterr()
    assert out == "" and "No results." in err


def test_config_roundtrip_and_errors(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "get", "chunk_size"]) == 0
    assert capsys.readouterr().out.strip() == "48"
    assert main(["config", "set", "chunk_overlap", "100"]) == 2
    assert "chunk_overlap" in capsys.readouterr().err
    assert main(["config", "set", "no_such_key", "1"]) == 2
    assert "Unknown setting" in capsys.readouterr().err
    assert main(["config", "set", "dense_weight", "2"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["config", "set", "dense_weight", "0.6"]) == 0


def test_settings_from_before_score_fusion_drop_their_rrf_weight() -> None:
    old = Settings.from_dict({"schema_version": 1, "dense_weight": 2.0, "chunk_size": 300})
    assert old.dense_weight == -1.0 and old.chunk_size == 300 and old.schema_version == SCHEMA_VERSION
    assert Settings.from_dict({"schema_version": 2, "dense_weight": 0.4}).dense_weight == 0.4
    with pytest.raises(ConfigError, match="between 0 and 1"):
        Settings.from_dict({"schema_version": 2, "dense_weight": 2.0})


def test_search_before_indexing_is_one_clear_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "anything"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "sleuth: error: Nothing is indexed yet. Run: sleuth index FOLDER"


def test_missing_folder_and_missing_model(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    folder = tmp_path / "f"
    folder.mkdir()
    assert main(["config", "set", "model", str(tmp_path / "no-model-here")]) == 0
    assert main(["index", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sleuth: error:") and "Traceback" not in err


def test_console_script_runs_as_a_process(env: Path, corpus: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "index", str(corpus)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_search_groups_by_document_with_syntax_and_json(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    (docs / "garden").mkdir(parents=True)
    (docs / "garden" / "handbook.md").write_text(
        "\n\n".join(f"Tomatoes in bed {n} want staking and steady watering every single week." for n in range(8))
    )
    (docs / "garden" / "blight.txt").write_text("Blight strikes tomatoes and potatoes in warm wet weather.")
    (docs / "kitchen.md").write_text("Tomatoes, garlic and olive oil make a quick sauce.")
    assert main(["index", str(docs)]) == 0
    capsys.readouterr()

    assert main(["search", "tomatoes", "--mode", "bm25"]) == 0
    out = capsys.readouterr().out
    listed = [line for line in out.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert len(listed) == 3 and sum("handbook.md" in line for line in listed) == 1
    assert "more passages in this file: line" in out
    assert "score" not in out

    assert main(["search", "tomatoes", "--mode", "bm25", "--passages", "-k", "5"]) == 0
    flat = [line for line in capsys.readouterr().out.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert len(flat) == 5 and sum("handbook.md" in line for line in flat) >= 3

    assert main(["search", "tomatoes -potato type:md in:garden", "--mode", "bm25", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [Path(d["path"]).name for d in data["documents"]] == ["handbook.md"]
    assert len(data["documents"][0]["passages"]) > 1 and data["documents"][0]["modified"]
    assert {r["document"] for r in data["results"]} == {0}

    assert main(["search", "tomatos stakng", "--mode", "bm25", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["corrected"] == "tomatos staking"  # "tomatos" stems as "tomato": an exact hit
    assert Path(data["documents"][0]["path"]).name == "handbook.md"
    assert "Showing results for tomatos staking" in data["notes"]
