"""The marker a PACS retrieve leaves in its folder, read by whoever opens that folder.

:mod:`voxrad.pacs.cache` writes it; the imaging readers read it (through
:func:`incomplete_warning`) so that a half-retrieved study opened from disk says so, in the
viewer, ``voxrad info`` and ``voxrad ask`` alike. It lives in core because both sides need it
and neither may import the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARKER_NAME = "voxrad-retrieve.json"


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a retrieved folder, or None when there is none (not from a retrieve)."""
    try:
        data = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(folder: Path) -> bool:
    """True only when the folder's last retrieve got every image it listed."""
    marker = read_marker(folder)
    return marker is not None and marker.get("state") == "complete"


def incomplete_warning(folder: Path) -> str | None:
    """A warning for a folder whose retrieve did not finish, or None (complete, or no marker)."""
    marker = read_marker(folder)
    if marker is None or marker.get("state") == "complete":
        return None
    have, want = marker.get("present"), marker.get("expected")
    counts = f" ({have} of {want} images)" if have is not None and want else ""
    return (
        f"This study was retrieved from PACS node '{marker.get('node', '?')}' INCOMPLETE"
        f"{counts}: images may be missing. Run `voxrad pacs get` again to fetch the rest."
    )
