from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxrad.core import paths
from voxrad.core.errors import SettingsError
from voxrad.core.settings import SCHEMA_VERSION, load_settings, save_settings


def test_defaults_and_paths_under_voxrad_home(voxrad_home: Path) -> None:
    settings = load_settings()
    assert settings.schema_version == SCHEMA_VERSION
    assert settings.logging.level == "INFO"
    assert settings.models.resolved_directory() == voxrad_home / "data" / "models"
    assert paths.settings_path() == voxrad_home / "config" / "settings.json"


def test_file_then_environment_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    settings.logging.level = "WARNING"
    settings.models.directory = "/srv/models"
    path = save_settings(settings)
    assert json.loads(path.read_text())["logging"]["level"] == "WARNING"
    assert load_settings().models.directory == "/srv/models"
    monkeypatch.setenv("VOXRAD_LOGGING__LEVEL", "DEBUG")
    merged = load_settings()
    assert merged.logging.level == "DEBUG"  # environment wins
    assert merged.models.directory == "/srv/models"  # the rest of the file still applies


def test_damaged_file_is_set_aside_not_lost() -> None:
    path = paths.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"logging": {"level": "LOUD"}}')
    settings = load_settings()
    assert settings.logging.level == "INFO"
    backups = list(path.parent.glob("settings.json.damaged-*"))
    assert len(backups) == 1 and "LOUD" in backups[0].read_text()
    assert not path.exists()


def test_newer_schema_is_read_for_known_fields() -> None:
    """After a downgrade the newer file still applies what this version understands."""
    path = paths.settings_path()
    path.parent.mkdir(parents=True)
    newer = {"schema_version": SCHEMA_VERSION + 1, "logging": {"level": "ERROR"}, "future": {}}
    path.write_text(json.dumps(newer))
    settings = load_settings()
    assert settings.logging.level == "ERROR"
    assert settings.schema_version == SCHEMA_VERSION + 1
    assert not list(path.parent.glob("settings.json.damaged-*"))


def test_invalid_environment_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXRAD_LOGGING__LEVEL", "LOUD")
    with pytest.raises(SettingsError, match=r"Invalid setting logging\.level"):
        load_settings()
