"""Recently opened studies, kept in a small JSON file in the user config folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from voxrad.core import paths

logger = logging.getLogger(__name__)

MAX_RECENT = 10


def _file() -> Path:
    return paths.config_dir() / "recent-studies.json"


def load_recent() -> list[str]:
    """Paths opened recently, newest first (missing or damaged file: empty list)."""
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return (
        [str(p) for p in data if isinstance(p, str)][:MAX_RECENT] if isinstance(data, list) else []
    )


def add_recent(path: str) -> list[str]:
    """Put ``path`` first and save; returns the new list. Failing to save is only logged."""
    resolved = str(Path(path).expanduser().resolve())
    items = [resolved] + [p for p in load_recent() if p != resolved]
    items = items[:MAX_RECENT]
    try:
        _file().parent.mkdir(parents=True, exist_ok=True)
        _file().write_text(json.dumps(items, indent=1), encoding="utf-8")
    except OSError:
        logger.warning("could not save the recent-studies list")
    return items
