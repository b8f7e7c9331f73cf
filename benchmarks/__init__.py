"""Sleuth's benchmarks: each module is a command (``python -m benchmarks.NAME --help``); see docs/benchmarks.md."""
