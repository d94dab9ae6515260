"""PACS node settings and where a node's secret comes from (no server needed)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from voxrad.core.errors import PacsAuthError, SettingsError
from voxrad.core.settings import PacsNode, PacsSettings, load_settings, save_settings
from voxrad.pacs.secrets import KEYRING_SERVICE, node_secret


def test_default_node_and_unknown_names(voxrad_home: Path) -> None:
    settings = load_settings()
    node = settings.pacs.node()
    assert (node.name, node.protocol, node.url) == (
        "orthanc",
        "dicomweb",
        "http://localhost:8042/dicom-web",
    )
    assert settings.pacs.resolved_cache_dir() == voxrad_home / "data" / "pacs-cache"
    with pytest.raises(SettingsError) as err:
        settings.pacs.node("archive")
    assert "known: orthanc" in str(err.value)


def test_nodes_survive_a_save_and_hold_no_secret(
    voxrad_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SITE_PACS_PASSWORD", "s3cret-value")
    node = PacsNode(
        name="main", url="https://pacs.example.org/dicom-web", auth="basic", username="vox",
        secret_env="SITE_PACS_PASSWORD",
    )  # fmt: skip
    settings = load_settings().model_copy(
        update={"pacs": PacsSettings(nodes=[node], default_node="main")}
    )
    path = save_settings(settings)
    text = path.read_text()
    assert "s3cret-value" not in text and "SITE_PACS_PASSWORD" in text
    again = load_settings()
    assert again.pacs.node() == node
    assert node_secret(again.pacs.node()) == "s3cret-value"


def test_env_override_of_the_node_list(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = [{"name": "ct", "protocol": "dimse", "host": "10.0.0.5", "called_ae": "ARCH"}]
    monkeypatch.setenv("VOXRAD_PACS__NODES", json.dumps(nodes))
    monkeypatch.setenv("VOXRAD_PACS__DEFAULT_NODE", "ct")
    node = load_settings().pacs.node()
    assert (node.protocol, node.host, node.port, node.calling_ae) == (
        "dimse",
        "10.0.0.5",
        104,
        "VOXRAD",
    )
    monkeypatch.setenv("VOXRAD_PACS__NODES", json.dumps([{"name": "bad name!"}]))
    with pytest.raises(SettingsError):
        load_settings()


class _Keyring(types.ModuleType):
    """Stands in for the ``keyring`` package (not installed in the test environment)."""

    def __init__(self, store: dict[tuple[str, str], str]) -> None:
        super().__init__("keyring")
        self.store = store

    def get_password(self, service: str, user: str) -> str | None:
        return self.store.get((service, user))


def test_secret_from_env_first_then_keyring_else_an_actionable_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = PacsNode(name="main", url="http://x/dicom-web", auth="bearer", secret_env="TOKEN_VAR")
    assert node_secret(node.model_copy(update={"auth": "none"})) == ""
    monkeypatch.setitem(
        sys.modules, "keyring", _Keyring({(KEYRING_SERVICE, "main"): "from-keyring"})
    )
    assert node_secret(node) == "from-keyring"
    monkeypatch.setenv("TOKEN_VAR", "from-env")
    assert node_secret(node) == "from-env"
    monkeypatch.delenv("TOKEN_VAR")
    monkeypatch.setitem(sys.modules, "keyring", _Keyring({}))
    with pytest.raises(PacsAuthError) as err:
        node_secret(node)
    assert "needs a token" in str(err.value)
    assert "TOKEN_VAR" in err.value.hint and KEYRING_SERVICE in err.value.hint
