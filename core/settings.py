"""One typed settings object with a schema version, stored as JSON in the config directory."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.embedding.registry import DEFAULT_ADAPTER, DEFAULT_MODEL
from core.errors import ConfigError
from core.paths import config_dir

SCHEMA_VERSION = 7

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git/",
    ".hg/",
    ".svn/",
    "node_modules/",
    "__pycache__/",
    ".venv/",
    "venv/",
    ".tox/",
    ".cache/",
    ".*",  # hidden files and folders
    "*.swp",
    "*.swo",
    "*~",
    "~$*",  # office lock files
    ".~lock.*#",
)


class Cost(StrEnum):
    """What changing a setting costs; the settings panel and ``sleuth config set`` both say it."""

    REBUILD = "rebuild"  # a new index profile is built beside the current one (core.index.store.IndexProfile)
    RESCAN = "rescan"  # the folders are scanned again; only the files the change affects are read
    REWRITE = "rewrite"  # the search vectors are re-derived from the stored full vectors
    RESTART = "restart"  # the model is loaded again
    IMMEDIATE = "immediate"


COST_TEXT = {
    Cost.REBUILD: "a new index is built in the background; the current one keeps answering until it is done",
    Cost.RESCAN: "folders are scanned again; only files this affects are read",
    Cost.REWRITE: "search vectors are re-derived from the stored ones (no re-embedding); takes a moment",
    Cost.IMMEDIATE: "takes effect at once",
    Cost.RESTART: "the model is reloaded at the next search or indexing run",
}
COST_SHORT = {
    Cost.REBUILD: "builds a new index in the background",
    Cost.RESCAN: "rescans the folders",
    Cost.REWRITE: "rewrites the search vectors, no re-embedding",
    Cost.IMMEDIATE: "applies at once",
    Cost.RESTART: "reloads the model",
}
# Dearest first: a change of several settings costs what its dearest one costs.
_ORDER = (Cost.IMMEDIATE, Cost.RESTART, Cost.REWRITE, Cost.RESCAN, Cost.REBUILD)


@dataclass
class Settings:
    """Everything a user can tune. Field metadata carries the label, help and what a change costs."""

    schema_version: int = SCHEMA_VERSION
    chunk_size: int = field(
        default=256, metadata={"label": "Chunk size (tokens)", "effect": "rebuild", "min": 32, "max": 2048}
    )
    chunk_overlap: int = field(
        default=32, metadata={"label": "Chunk overlap (tokens)", "effect": "rebuild", "min": 0, "max": 1024}
    )
    search_dim: int = field(default=0, metadata={"label": "Search dimension (0 = full)", "effect": "rewrite", "min": 0})
    model: str = field(
        default=DEFAULT_MODEL,
        metadata={
            "label": "Embedding model (auto = all-MiniLM-L6-v2 on a CPU; the bundled SmolLM2, LLaRA, on a GPU or "
            "with an adapter of your own)",
            "effect": "rebuild",
        },
    )
    adapter: str = field(
        default=DEFAULT_ADAPTER,
        metadata={"label": "LoRA adapter (bundled = trained for the bundled model; empty = none)", "effect": "rebuild"},
    )
    depth: int = field(
        default=0,
        metadata={"label": "Embedding depth (layers; 0 = all)", "effect": "rebuild", "min": 0, "max": 64},
    )
    device: str = field(default="auto", metadata={"label": "Device", "effect": "restart"})
    precision: str = field(default="auto", metadata={"label": "Precision", "effect": "restart"})
    search_mode: str = field(default="hybrid", metadata={"label": "Search mode", "effect": "immediate"})
    dense_weight: float = field(
        default=-1.0,
        metadata={
            "label": "Dense weight in fusion (0 to 1; -1 = measured on your documents)",
            "effect": "immediate",
        },
    )
    # Off by default: on the evaluation sets' test halves no reranker that runs offline ranked above hybrid
    # search alone by enough to be trusted (core.search.rerank.WHY_OFF; docs/benchmarks.md, "Reranking").
    reranker: str = field(
        default="",
        metadata={
            "label": "Reranker (empty = off, the default; bundled = Sleuth's own; a model name or folder)",
            "effect": "immediate",
        },
    )
    # How many of the fused top passages the reranker reads; 0: the reranker's own number, measured with it
    # (core.search.rerank.top_n_for: 5 for the bundled language model, whose 5 candidates take 0.25 s at p95 on a
    # 2-core CPU; 20 for a cross-encoder; docs/benchmarks.md, "Reranking").
    rerank_top_n: int = field(
        default=0, metadata={"label": "Rerank top N (0 = the reranker's own)", "effect": "immediate", "min": 0}
    )
    # The reranker's standardised score counts this much against the fused one's (core.search.searcher.mixed_scores);
    # -1: the reranker's own share (core.search.rerank.weight_for: 0.5 for the bundled language model, 0.3 for a
    # cross-encoder). Alone (1.0) the MiniLM reranker fell below hybrid search on every evaluation set, and at
    # the language model's 0.5 it fell below it on two (docs/benchmarks.md, "Reranking").
    rerank_weight: float = field(
        default=-1.0,
        metadata={"label": "Reranker's share of the order (0 to 1; -1 = the reranker's own)", "effect": "immediate"},
    )
    results_per_page: int = field(default=10, metadata={"label": "Results per page", "effect": "immediate", "min": 1})
    exclude: list[str] = field(
        default_factory=lambda: list(DEFAULT_EXCLUDES), metadata={"label": "Exclude patterns", "effect": "rescan"}
    )
    max_file_mb: float = field(default=50.0, metadata={"label": "Maximum file size (MB)", "effect": "rescan"})
    respect_gitignore: bool = field(
        default=True, metadata={"label": "Skip what .gitignore files in your folders exclude", "effect": "rescan"}
    )
    keep_watching: bool = field(
        default=False,
        metadata={"label": "Keep folders up to date when the window is closed", "effect": "immediate"},
    )
    reconcile_minutes: float = field(
        default=10.0,
        metadata={"label": "Re-check all folders every (minutes), for changes the watcher missed", "effect": "restart"},
    )

    @staticmethod
    def cost_of_field(name: str) -> Cost:
        return Cost(next(f for f in fields(Settings) if f.name == name).metadata.get("effect", "immediate"))

    def changes(self, new: Settings) -> dict[str, Cost]:
        """Each setting that differs in ``new``, with what changing it costs."""
        changed = {
            f.name: self.cost_of_field(f.name)
            for f in fields(Settings)
            if f.name != "schema_version" and getattr(self, f.name) != getattr(new, f.name)
        }
        if "precision" in changed and "int8" in (self.precision, new.precision):
            changed["precision"] = Cost.REBUILD  # int8 vectors differ from fp32's: an index profile of their own
        return changed

    def cost_of(self, before: Settings) -> Cost:
        """What the change from ``before`` to these settings costs, all changed settings together."""
        return max(before.changes(self).values(), key=_ORDER.index, default=Cost.IMMEDIATE)

    def validate(self) -> None:
        if self.chunk_size < 32:
            raise ConfigError("chunk_size must be at least 32 tokens.")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError("chunk_overlap must be at least 0 and smaller than chunk_size.")
        if self.search_dim < 0:
            raise ConfigError("search_dim must be 0 (full dimension) or a positive number.")
        if self.search_mode not in ("bm25", "dense", "hybrid"):
            raise ConfigError("search_mode must be one of: bm25, dense, hybrid.")
        if self.dense_weight != -1 and not 0 <= self.dense_weight <= 1:
            raise ConfigError("dense_weight must be between 0 and 1, or -1 for the weight measured on your documents.")
        if self.rerank_weight != -1 and not 0.0 <= self.rerank_weight <= 1.0:
            raise ConfigError("rerank_weight must be between 0 and 1, or -1 for the reranker's own share.")
        if self.rerank_top_n < 0 or self.results_per_page < 1:
            raise ConfigError("rerank_top_n must be 0 (the reranker's own) or more; results_per_page at least 1.")
        if self.max_file_mb <= 0:
            raise ConfigError("max_file_mb must be positive.")
        if self.reconcile_minutes <= 0:
            raise ConfigError("reconcile_minutes must be positive.")

    def set(self, key: str, raw: str) -> None:
        """Set one field from a string, as typed on the command line."""
        known = {f.name: f for f in fields(self)}
        if key not in known or key == "schema_version":
            raise ConfigError(
                f"Unknown setting {key!r}. Known: {', '.join(k for k in known if k != 'schema_version')}."
            )
        current = getattr(self, key)
        try:
            if isinstance(current, bool):
                value: Any = raw.lower() in ("1", "true", "yes", "on")
            elif isinstance(current, int):
                value = int(raw)
            elif isinstance(current, float):
                value = float(raw)
            elif isinstance(current, list):
                value = [part.strip() for part in raw.split(",") if part.strip()]
            else:
                value = raw
        except ValueError as exc:
            raise ConfigError(f"{key} expects a {type(current).__name__}, not {raw!r}.") from exc
        setattr(self, key, value)
        self.validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        known = {f.name for f in fields(cls)}
        data = dict(data)
        if data.get("schema_version", 1) < 2 and data.get("dense_weight", -1) != -1:
            data["dense_weight"] = -1.0  # a reciprocal-rank-fusion weight (before version 2) means nothing now
        if data.get("schema_version", 1) < 3 and not data.get("reranker"):
            data["reranker"] = "bundled"  # before version 3 an empty reranker was the default, not a choice
        if data.get("schema_version", 1) < 4:  # the MiniLM reranker's defaults become the bundled reranker's
            for key, before in (("rerank_top_n", 20), ("rerank_weight", 0.3)):
                if data.get(key) == before:
                    del data[key]
        if data.get("schema_version", 1) < 5:  # the numbers every reranker shared become each reranker's own
            for key, before in (("rerank_top_n", 5), ("rerank_weight", 0.5)):
                if data.get(key) == before:
                    del data[key]
        saved = (data.get("model"), data.get("adapter", DEFAULT_ADAPTER), data.get("depth", 0))
        if data.get("schema_version", 1) < 6 and saved == ("smollm2-135m", DEFAULT_ADAPTER, 0):
            # The model and adapter every installation saved before "auto" became the default: the automatic
            # choice now, which is the same model on a GPU (core.embedding.registry.chosen_model).
            del data["model"]
        if data.get("schema_version", 1) < 7 and data.get("reranker") == "bundled":
            # The reranker every installation saved while it was the default: off now, as it is by default.
            data["reranker"] = ""
        settings = cls(**{k: v for k, v in data.items() if k in known})
        settings.schema_version = SCHEMA_VERSION
        settings.validate()
        return settings


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read settings from {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"Settings file {path} does not hold a JSON object.")
    return Settings.from_dict(data)


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write atomically so a crash never leaves a half-written settings file."""
    settings.validate()
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".settings-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(settings.to_dict(), handle, indent=2)
    os.replace(tmp, path)
