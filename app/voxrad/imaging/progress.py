"""Progress and cancellation plumbing shared by the readers (no threads here)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from voxrad.core.errors import LoadCancelledError

#: ``progress(done, total, stage)``; stage is a short word such as "scanning" or "reading".
ProgressCallback = Callable[[int, int, str], None]


class CancelToken(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool: ...


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise :class:`LoadCancelledError` when the user asked to stop."""
    if cancel is not None and cancel.is_set():
        raise LoadCancelledError("Loading was cancelled.")


def report(progress: ProgressCallback | None, done: int, total: int, stage: str) -> None:
    if progress is not None:
        progress(done, total, stage)
