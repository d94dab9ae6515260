"""A remote (site server) engine is marked in the panel for as long as it is on."""

from __future__ import annotations

import pytest

from voxrad.core.settings import load_settings
from voxrad.ui.assistant_setup import remote_server_host
from voxrad.ui.conversation_panel import ConversationPanel

pytestmark = pytest.mark.gl


@pytest.mark.parametrize(
    ("backend", "url", "host"),
    [
        ("llama-cpp", "https://ai.hospital.local/v1", None),
        ("openai", "", None),
        ("openai", "http://127.0.0.1:8080/v1", None),
        ("openai", "http://localhost:8080/v1", None),
        ("openai", "https://ai.hospital.local/v1", "ai.hospital.local"),
        ("openai-compat", "https://10.1.2.3:8443/v1", "10.1.2.3"),
    ],
)
def test_remote_server_host(backend: str, url: str, host: str | None) -> None:
    settings = load_settings()
    settings.vlm.backend = backend
    settings.vlm.server_url = url
    assert remote_server_host(settings) == host


def test_banner_names_the_server_and_goes_away(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = ConversationPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.remote_banner.isVisible()
    panel.set_remote_server("ai.hospital.local")
    assert panel.remote_banner.isVisible()
    assert "ai.hospital.local" in panel.remote_banner.text()
    assert "not kept on this computer" in panel.remote_banner.text()
    panel.set_notice("No microphone is available.")  # other notices do not replace it
    assert panel.remote_banner.isVisible()
    panel.set_remote_server(None)
    assert not panel.remote_banner.isVisible()
