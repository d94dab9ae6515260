"""The result of one workstation check, and how results add up to an overall verdict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How a check came out, from best to worst.

    ``WARNING`` means VoxRad works but something is slower or missing (no GPU, no microphone);
    ``PROBLEM`` means a part of VoxRad cannot work until someone fixes it.
    """

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.OK: 0, Status.WARNING: 1, Status.PROBLEM: 2}


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report.

    Parameters
    ----------
    name
        Stable short identifier (``"cpu"``, ``"opengl"``), also the JSON key scripts use.
    status
        :class:`Status` of the item.
    summary
        One line for IT: what was found.
    detail
        JSON-serialisable facts behind the summary (versions, sizes, device names).
    hint
        What to do about a warning or problem; empty when there is nothing to do.
    seconds
        How long the check took (set by the runner).
    """

    name: str
    status: Status
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)
    hint: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain types for JSON output."""
        return {
            "name": self.name,
            "status": self.status.value,
            "summary": self.summary,
            "hint": self.hint,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


def overall_status(checks: Iterable[Check]) -> Status:
    """The worst status among ``checks`` (``OK`` for none)."""
    worst = Status.OK
    for check in checks:
        if check.status.rank > worst.rank:
            worst = check.status
    return worst


def count_by_status(checks: Iterable[Check]) -> dict[Status, int]:
    """How many checks ended in each status (every status present, possibly 0)."""
    counts = dict.fromkeys(Status, 0)
    for check in checks:
        counts[check.status] += 1
    return counts


def gib(n_bytes: float) -> str:
    """Bytes as a short GiB/MiB string for summaries."""
    if n_bytes >= 1024**3:
        return f"{n_bytes / 1024**3:.1f} GiB"
    return f"{n_bytes / 1024**2:.0f} MiB"
