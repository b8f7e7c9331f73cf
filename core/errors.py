"""Typed errors whose messages a user can read as they are."""

from __future__ import annotations


class SleuthError(Exception):
    """Base class: the message is shown to the user verbatim."""


class ConfigError(SleuthError):
    """A setting has a value Sleuth cannot use."""


class ExtractionError(SleuthError):
    """A file's text could not be read. ``reason`` is a short user-facing phrase."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UnreadableFile(ExtractionError):
    """The file cannot be opened: gone, a folder, or no permission."""


class UnsupportedFile(ExtractionError):
    """No extractor handles this kind of file."""


class EncryptedFile(ExtractionError):
    """The document is password protected."""


class CorruptFile(ExtractionError):
    """The file is damaged, truncated, or not what its name says."""


class NoTextLayer(ExtractionError):
    """A PDF with pages but no extractable text (usually a scan)."""


class ExtractionTimeout(ExtractionError):
    """Extraction took longer than the time box allows."""


class ModelUnavailable(SleuthError):
    """A model cannot be loaded: not installed, no network, or a bad path."""


class StoreError(SleuthError):
    """The index database cannot be opened or written."""


class Cancelled(SleuthError):
    """A long job was cancelled by the user."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


def describe(exc: BaseException) -> str:
    """A user-readable sentence for an exception: Sleuth's own messages as they are, others by kind."""
    if isinstance(exc, SleuthError):
        return str(exc)
    detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
