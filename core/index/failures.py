"""LanceDB's raw errors turned into messages a user can act on."""

from __future__ import annotations

import errno

from core.errors import StoreError

DISK_FULL = "The disk holding the index is full: free some space, and Sleuth carries on where it stopped."
VANISHED = (
    "The index folder was deleted or moved while Sleuth was running; "
    "restart Sleuth (or run the command again) to build it again."
)


def store_error(exc: BaseException) -> StoreError | None:
    """The user-facing error for a failed index operation, or None where the raw error is all there is."""
    text = str(exc)
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "os error 28" in text:
        return StoreError(DISK_FULL)
    if "No space left on device" in text:
        return StoreError(DISK_FULL)
    if "lance error: Not found" in text or "LanceError(NotFound)" in text:
        return StoreError(VANISHED)
    return None
