"""The frozen program's entry point: the same ``sleuth`` as ``app.launch:main``, for PyInstaller.

In the frozen program ``sys.executable`` is the program itself, so the PDF reader's ``spawn`` worker
(core.ingest.pdf_extract) starts it again with multiprocessing's own arguments; ``freeze_support`` turns
that start into the worker before anything else runs (no argument parsing, no window).
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from app.launch import main

    sys.exit(main())
