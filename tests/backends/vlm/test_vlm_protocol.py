"""Every engine says whether it is remote: the privacy checks read it from the protocol."""

from __future__ import annotations

import threading

import pytest

from voxrad.backends.vlm.base import GenerationRequest, GenerationResult, VisionLanguageModel
from voxrad.backends.vlm.isolated import IsolatedVLM
from voxrad.backends.vlm.llama_cpp import LlamaCppVLM
from voxrad.backends.vlm.openai_compat import OpenAICompatVLM
from voxrad.backends.vlm.transformers_bnb import TransformersVLM


class ForgetsIsRemote:
    """An engine as a new backend might be written: everything but ``is_remote``."""

    name = "forgetful"

    def load(self) -> None:
        pass

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: object = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        return GenerationResult("")

    def close(self) -> None:
        pass


def test_an_engine_without_is_remote_is_not_a_vision_language_model() -> None:
    # Before, `getattr(model, "is_remote", False)` counted such an engine as local.
    assert not isinstance(ForgetsIsRemote(), VisionLanguageModel)


@pytest.mark.parametrize("engine", [LlamaCppVLM, TransformersVLM, IsolatedVLM])
def test_local_engines_declare_they_are_local(engine: type) -> None:
    assert engine.is_remote is False


@pytest.mark.parametrize(
    ("url", "remote"),
    [
        ("http://127.0.0.1:8080/v1", False),
        ("http://localhost:8080/v1", False),
        ("https://ai-server.hospital.local/v1", True),
        ("http://10.1.2.3/v1", True),
    ],
)
def test_the_site_server_is_remote_unless_on_loopback(url: str, remote: bool) -> None:
    client = OpenAICompatVLM(url, "m")
    assert client.is_remote is remote
    assert isinstance(client, VisionLanguageModel)
