"""Sleuth's desktop window (PySide6). Views, models, dialogs and workers over ``core``; no engine logic."""
