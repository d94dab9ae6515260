"""Where VoxRad keeps its files: per-user directories from platformdirs.

``VOXRAD_HOME`` puts everything (config, data, logs, models) under one folder: portable
installs, kiosk accounts and tests use it.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "VoxRad"


def _home() -> Path | None:
    value = os.environ.get("VOXRAD_HOME", "").strip()
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = _home()
    if home is not None:
        return home / "config"
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    home = _home()
    if home is not None:
        return home / "data"
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    home = _home()
    if home is not None:
        return home / "logs"
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP_NAME, appauthor=False))


def default_models_dir() -> Path:
    return data_dir() / "models"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def install_root() -> Path:
    """The folder holding ``assets/``, ``models/`` and ``CHANGELOG.md``.

    In a source checkout that is the repository; the packaged builds lay these out the same
    way relative to the ``voxrad`` package (see installers/pyinstaller/voxrad.spec).
    """
    return Path(__file__).resolve().parents[3]


def release_notes(max_releases: int = 2) -> str:
    """The newest ``max_releases`` sections of CHANGELOG.md, or "" when it is not shipped."""
    try:
        text = (install_root() / "CHANGELOG.md").read_text(encoding="utf-8")
    except OSError:
        return ""
    lines: list[str] = []
    seen = 0
    for line in text.splitlines():
        if line.startswith("## ["):
            seen += 1
            if seen > max_releases:
                break
        if seen:
            lines.append(line)
    return "\n".join(lines).strip()
