"""Sleuth's engine: extraction, chunking, embedding, storage and search. Never imports Qt."""

from core.lancedb_import import defer_lancedb_validators
from core.privacy import switch_off_telemetry

__version__ = "0.1.0"

# First, before any module of the engine can load a library that reads them (core.privacy says which).
switch_off_telemetry()
# LanceDB's import without building its unused REST client's checks (core.lancedb_import says why).
defer_lancedb_validators()
