"""Sleuth's engine: extraction, chunking, embedding, storage and search. Never imports Qt."""

__version__ = "0.1.0"
