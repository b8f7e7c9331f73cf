"""Distillation: a student that runs fewer layers learns the full model's vectors, with a read-out map that
ships beside its adapter (tiny real LLaMA: 2 layers, random weights; the real trainer and loader)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.embedding import load_embedder
from core.embedding.llara import PROJECTION_FILE
from core.errors import Cancelled, ConfigError
from core.jobs import CancelToken
from core.training import Adaptation
from core.training.data import contrastive_pairs
from tests.conftest import TINY_CORPUS
from tests.core.test_depth import PASSAGES, llara, options


def student(tiny_llama_dir: Path, tmp_path: Path, **changes: object) -> Adaptation:
    """A distill run of the 1-layer student against the 2-layer teacher, in ``tmp_path``."""
    torch.set_num_threads(1)
    settings: dict[str, object] = {"stage": "distill", "steps": 8, "projection": True, "lr": 1e-3}
    settings.update(changes)
    return Adaptation(
        llara(tiny_llama_dir, depth=1),
        PASSAGES,
        options(**settings),
        run_dir=tmp_path / "run",
        adapter_dir=tmp_path / "student",
        teacher=llara(tiny_llama_dir),
    )


def distill(tiny_llama_dir: Path, tmp_path: Path, **changes: object) -> tuple[Adaptation, list[dict[str, float]]]:
    adaptation = student(tiny_llama_dir, tmp_path, **changes)
    return adaptation, [e.details for e in adaptation.run() if e.phase == "distill" and e.loss is not None]


def cosine_to(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum(axis=1).mean())


def test_a_distilled_student_moves_towards_the_teacher_and_loads_as_it_trained(
    tiny_llama_dir: Path, tmp_path: Path
) -> None:
    teacher = llara(tiny_llama_dir)
    before = cosine_to(llara(tiny_llama_dir, depth=1).embed_passages(TINY_CORPUS), teacher.embed_passages(TINY_CORPUS))
    _plain, without_map = distill(tiny_llama_dir, tmp_path / "plain", projection=False)
    assert without_map[-1]["cosine"] < without_map[0]["cosine"], without_map
    adaptation, steps = distill(tiny_llama_dir, tmp_path)
    assert len(steps) == 8 and set(steps[0]) == {"cosine", "ranking"}
    # The map starts at the least-squares fit to the teacher: far closer than LoRA alone gets in 8 steps.
    assert steps[0]["cosine"] < without_map[-1]["cosine"] / 10, (steps, without_map)
    student_dir = tmp_path / "student"
    assert (student_dir / PROJECTION_FILE).is_file()
    assert json.loads((student_dir / "sleuth-adapter.json").read_text()) == {
        "depth": 1,
        "exits": [],
        "projection": True,
    }
    trained_view = adaptation.embedder.embed_passages(TINY_CORPUS)  # the student training left behind
    loaded = llara(tiny_llama_dir, adapter=str(student_dir))  # depth 0: the adapter's own, with its map
    assert loaded.early_exit == 1 and loaded.projection is not None
    np.testing.assert_allclose(loaded.embed_passages(TINY_CORPUS), trained_view, atol=1e-4)
    after = cosine_to(loaded.embed_passages(TINY_CORPUS), teacher.embed_passages(TINY_CORPUS))
    assert 1 - after < 0.85 * (1 - before), (before, after)  # on texts it did not train on
    np.testing.assert_allclose(np.linalg.norm(loaded.embed_queries(["basalt lava"]), axis=1), 1.0, atol=1e-5)


def test_the_teacher_embeds_once_and_a_cancelled_run_continues(tiny_llama_dir: Path, tmp_path: Path) -> None:
    cancel = CancelToken()
    adaptation = student(tiny_llama_dir, tmp_path, steps=6)
    with pytest.raises(Cancelled, match="distill step 3 of 6"):
        for event in adaptation.run(cancel):
            if event.phase == "distill" and event.step == 3:
                cancel.cancel()
    cached = list((tmp_path / "run").glob("teacher-*.npz"))
    assert len(cached) == 1
    with np.load(cached[0]) as stored:
        pairs = len(contrastive_pairs(PASSAGES, True))
        assert stored["queries"].shape == stored["passages"].shape == (pairs, 64)
    events = list(student(tiny_llama_dir, tmp_path, steps=6).run())
    assert not any(e.phase == "prepare" and e.total for e in events), "the teacher's vectors came from the cache"
    assert [e.step for e in events if e.phase == "distill"] == [4, 5, 6]
    assert (tmp_path / "student" / PROJECTION_FILE).is_file()


def test_distilling_needs_a_teacher_of_the_same_size(tiny_llama_dir: Path, tmp_path: Path) -> None:
    def start(teacher: object, **changes: object) -> None:
        Adaptation(
            llara(tiny_llama_dir, depth=1),
            PASSAGES,
            options(**changes),
            run_dir=tmp_path / "r",
            adapter_dir=tmp_path / "a",
            teacher=teacher,  # type: ignore[arg-type]
        )

    with pytest.raises(ConfigError, match="needs a teacher"):
        start(None, stage="distill")
    with pytest.raises(ConfigError, match="needs a teacher"):
        start(llara(tiny_llama_dir), stage="contrastive")
    with pytest.raises(ConfigError, match="same prompts, cut at the same length"):
        start(load_embedder(str(tiny_llama_dir), device="cpu", precision="fp32", max_length=32), stage="distill")
    with pytest.raises(ConfigError, match="without early exits"):
        start(None, projection=True, exits=(1,))
