"""A matched passage, as every part of search hands it on: the searcher, grouping, the CLI and the window."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.index.names import display


@dataclass
class Hit:
    id: str
    path: str
    ordinal: int
    text: str
    page: int | None
    char_start: int
    char_end: int
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    highlights: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": display(self.path),
            "page": self.page,
            "ordinal": self.ordinal,
            "char_start": self.char_start,
            "char_end": self.char_end,
            "score": self.score,
            "scores": self.scores,
            "text": self.text,
            "highlights": [list(s) for s in self.highlights],
        }
