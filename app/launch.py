"""The ``sleuth`` command: with no arguments it opens the window, otherwise it runs the engine's CLI.

``sleuth FOLDER…`` (folders only, the first not a command's name) opens the window with those folders
added. Where a window is open on the index already, the launch hands over to it (app.handover): that
window comes forward, adds the folders, and this process exits 0 without loading Qt. It lives in ``app``
because the engine never imports the GUI; Qt is imported only when a window opens.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import core  # noqa: F401  first: it switches every dependency's telemetry off before anything loads one


def window_folders(args: Sequence[str]) -> list[str] | None:
    """The folders a window launch names (none for a bare ``sleuth``), or None when ``args`` are a command."""
    if not args:
        return []
    if args[0].startswith("-") or not all(Path(arg).expanduser().is_dir() for arg in args):
        return None
    from core.cli import command_names

    if args[0] in command_names():  # a folder named like a command: write ./index
        return None
    return [str(Path(arg).expanduser().resolve()) for arg in args]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    folders = window_folders(args)
    if folders is None:
        from core.cli import main as cli_main

        return cli_main(args)
    from app.handover import NotAnswering, hand_over
    from core.paths import default_db_path

    try:
        reply = hand_over(default_db_path(), folders)
    except NotAnswering as exc:
        print(f"sleuth: error: {exc} Close it, or end its process, then start Sleuth again.", file=sys.stderr)
        return 2
    if reply is not None:
        if "error" in reply:
            print(f"sleuth: error: the open Sleuth window refused: {reply['error']}", file=sys.stderr)
            return 2
        added = f", adding {', '.join(folders)}" if folders else ""
        print(
            f"sleuth: Sleuth is already open (pid {reply.get('pid')}): brought its window forward{added}.",
            file=sys.stderr,
        )
        return 0
    from app.main import main as window_main

    return int(window_main(folders=folders))


if __name__ == "__main__":
    sys.exit(main())
