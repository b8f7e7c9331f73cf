"""Where Sleuth keeps its own files. Never inside the user's document folders."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "sleuth"


def _override(var: str) -> Path | None:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Index database and trained adapters (``SLEUTH_DATA_DIR`` overrides)."""
    return _override("SLEUTH_DATA_DIR") or Path(platformdirs.user_data_dir(APP_NAME))


def config_dir() -> Path:
    """Settings file (``SLEUTH_CONFIG_DIR`` overrides)."""
    return _override("SLEUTH_CONFIG_DIR") or Path(platformdirs.user_config_dir(APP_NAME))


def cache_dir() -> Path:
    """Converted model weights and other re-creatable files (``SLEUTH_CACHE_DIR`` overrides)."""
    return _override("SLEUTH_CACHE_DIR") or Path(platformdirs.user_cache_dir(APP_NAME))


def default_db_path() -> Path:
    """The LanceDB directory (``SLEUTH_DB`` overrides, as does ``--db`` on the command line)."""
    return _override("SLEUTH_DB") or data_dir() / "index.lancedb"


def state_dir() -> Path:
    """The log (``SLEUTH_STATE_DIR`` overrides): ``$XDG_STATE_HOME/sleuth`` on Linux."""
    return _override("SLEUTH_STATE_DIR") or Path(platformdirs.user_state_dir(APP_NAME))


def log_path() -> Path:
    """The window's and ``sleuth watch``'s log, where a user is told to look when something went wrong."""
    return state_dir() / "sleuth.log"
