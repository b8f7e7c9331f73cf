"""Reading a training checkpoint cannot run code, and checkpoints still resume (test_training covers that)."""

from __future__ import annotations

from pathlib import Path

import torch

from core.training.trainer import STATE_FILE, Checkpoints


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


def test_a_checkpoint_holding_a_pickled_object_is_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    checkpoints = Checkpoints(tmp_path / "run", {"model": "m", "steps": 3})
    checkpoints.dir.mkdir(parents=True)
    torch.save(
        {"key": checkpoints._key_text(), "stage": "x", "payload": _Payload(marker)}, checkpoints.dir / STATE_FILE
    )
    assert checkpoints.load() is None
    assert not marker.exists(), "loading the checkpoint ran the code it carried"


def test_a_checkpoint_of_tensors_and_plain_values_reads_back(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    checkpoints = Checkpoints(tmp_path / "run", {"model": "m", "path": tmp_path, "steps": 3})
    checkpoints.save(model, "ebae", 7, optimizer)
    state = checkpoints.load()
    assert state is not None and state["step"] == 7 and state["optimizer"]["state"]
