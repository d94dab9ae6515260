"""The OpenAI-compatible engine against llama-cpp-python's own server on 127.0.0.1 (serving
the real Gemma 3 270M Q4_K_M GGUF): streaming, API key, cancel; plus what goes over the wire."""

from __future__ import annotations

import base64
import io
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from vlm_support import measure_cancel
from voxrad.backends.vlm.base import ChatMessage, GenerationRequest, ImageInput
from voxrad.backends.vlm.openai_compat import (
    OpenAICompatVLM,
    RemoteBackendRefusedError,
    create,
    is_loopback,
)
from voxrad.backends.vlm.registry import ModelSpec
from voxrad.core.errors import BackendError
from voxrad.core.settings import PrivacySettings, VlmSettings

KEY = "test-key-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(gemma270m: Path) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free loopback port, with an API key."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gemma270m),
            "--chat_format",
            "gemma",
            "--n_ctx",
            "1024",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--api_key",
            KEY,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = threading.Event()
    log: list[str] = []

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            if "Uvicorn running on" in line:
                ready.set()
        ready.set()

    threading.Thread(target=watch, daemon=True).start()
    ready.wait(120)
    if proc.poll() is not None or not any("Uvicorn running" in x for x in log):
        proc.kill()
        pytest.fail("llama_cpp.server did not start:\n" + "".join(log[-20:]))
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    if proc.stderr is not None:
        proc.stderr.close()


def _ask(text: str, max_tokens: int = 16) -> GenerationRequest:
    return GenerationRequest((ChatMessage("user", (text,)),), max_tokens=max_tokens)


@pytest.mark.models
def test_streams_a_real_reply(server: str) -> None:
    client = OpenAICompatVLM(server, "gemma", api_key=KEY)
    client.load()
    pieces: list[str] = []
    result = client.generate(_ask("Name three colours."), on_token=pieces.append)
    assert result.text.strip()
    assert len(pieces) > 1 and "".join(pieces) == result.text
    assert result.timings["first_token"] > 0
    assert result.completion_tokens > 0


@pytest.mark.models
def test_wrong_api_key_is_explained(server: str) -> None:
    client = OpenAICompatVLM(server, "gemma", api_key="wrong")
    with pytest.raises(BackendError, match="refused the API key"):
        client.generate(_ask("Hello"))


@pytest.mark.models
def test_api_key_from_the_environment(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITE_VLM_KEY", KEY)
    settings = VlmSettings(backend="openai", server_url=server, api_key_env="SITE_VLM_KEY")
    client = create(ModelSpec("gemma", "medgemma", "openai"), settings, PrivacySettings())
    assert client.generate(_ask("Hello", 4)).completion_tokens > 0


@pytest.mark.models
def test_cancel_closes_the_stream_within_200_ms(server: str) -> None:
    client = OpenAICompatVLM(server, "gemma", api_key=KEY)
    latency, raised = measure_cancel(client, _ask("Count from 1 to 1000: 1, 2, 3,", 1500))
    assert raised == "GenerationCancelledError"
    assert latency < 0.2
    # The server is still serving.
    assert client.generate(_ask("Hello", 4)).completion_tokens > 0


def test_remote_server_is_refused_unless_allowed() -> None:
    client = OpenAICompatVLM("https://ai.hospital.example/v1", "m")
    with pytest.raises(RemoteBackendRefusedError):
        client.load()
    OpenAICompatVLM("https://ai.hospital.example/v1", "m", allow_remote=True).load()
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("10.0.0.5")


def test_unreachable_server_is_a_clear_error() -> None:
    client = OpenAICompatVLM(f"http://127.0.0.1:{_free_port()}/v1", "m", connect_timeout_s=2)
    with pytest.raises(BackendError, match="could not be reached"):
        client.generate(_ask("Hello"))


def test_no_server_configured() -> None:
    with pytest.raises(BackendError, match="No model server"):
        create(
            ModelSpec("m", "medgemma", "openai"), VlmSettings(backend="openai"), PrivacySettings()
        )


class FakeSiteServer(ThreadingHTTPServer):
    """Records what a site server receives and answers with a two-piece SSE stream."""

    bodies: list[dict[str, object]]
    headers_seen: list[dict[str, str]]


class _Handler(BaseHTTPRequestHandler):
    server: FakeSiteServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        self.server.headers_seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ("Final Answer: ", "no."):
            chunk = {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: object) -> None:
        pass


def test_only_pixels_and_the_question_go_over_the_wire() -> None:
    from PIL import Image

    srv = FakeSiteServer(("127.0.0.1", 0), _Handler)
    srv.bodies, srv.headers_seen = [], []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        pixels = np.random.default_rng(1).integers(0, 255, (20, 30, 3), dtype=np.uint8)
        client = OpenAICompatVLM(f"http://127.0.0.1:{srv.server_address[1]}/v1", "m", api_key="k")
        request = GenerationRequest(
            (ChatMessage("user", (ImageInput(pixels), "Is there a nodule?")),), max_tokens=8
        )
        result = client.generate(request)
    finally:
        srv.shutdown()
        srv.server_close()
    assert result.text == "Final Answer: no."
    body = srv.bodies[0]
    assert set(body) <= {
        "messages",
        "stream",
        "max_tokens",
        "temperature",
        "top_p",
        "model",
        "seed",
        "logprobs",
    }
    content = body["messages"][0]["content"]  # type: ignore[index]
    assert [c["type"] for c in content] == ["image_url", "text"]
    url = content[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(decoded, pixels)  # lossless, and nothing but pixels
    assert content[1]["text"] == "Is there a nodule?"
    assert srv.headers_seen[0]["Authorization"] == "Bearer k"
