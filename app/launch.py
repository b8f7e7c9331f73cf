"""The ``sleuth`` command: with no arguments it opens the window, otherwise it runs the engine's CLI.

It lives in ``app`` because the engine never imports the GUI; Qt is imported only when the window opens.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import core  # noqa: F401  first: it switches every dependency's telemetry off before anything loads one


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        from core.cli import main as cli_main

        return cli_main(args)
    from app.main import main as window_main

    return int(window_main())


if __name__ == "__main__":
    sys.exit(main())
