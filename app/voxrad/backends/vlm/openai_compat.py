"""A site server speaking the OpenAI chat API (vLLM, llama.cpp's server, Ollama).

Only the request's pixels (as PNG data URLs) and text go over the wire: a
:class:`~voxrad.backends.vlm.base.GenerationRequest` cannot hold a study, a file name or a
DICOM header. A server that is not on this machine is refused unless IT switched on
``privacy.allow_remote_backends``. Replies stream as server-sent events; closing the
connection is how a cancelled question stops the server's work too.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import json
import logging
import os
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from voxrad.backends.vlm.base import (
    DecodeClock,
    FinishReason,
    GenerationCancelledError,
    GenerationRequest,
    GenerationResult,
    TokenCallback,
)
from voxrad.core.errors import BackendError, VoxRadError

if TYPE_CHECKING:
    from voxrad.backends.vlm.registry import ModelSpec
    from voxrad.core.settings import PrivacySettings, VlmSettings

logger = logging.getLogger(__name__)

#: How often the cancel watcher looks at the cancel event. threading.Event cannot be waited on
#: together with a socket, so this tick bounds the cancel latency (well under 200 ms).
CANCEL_TICK_S = 0.05


class RemoteBackendRefusedError(VoxRadError):
    """A non-local server was configured while remote backends are switched off."""

    default_hint = (
        "Ask IT to switch on privacy.allow_remote_backends for the site server, or use a "
        "local model."
    )


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class OpenAICompatVLM:
    """Chat completions on ``base_url`` (e.g. ``http://127.0.0.1:8080/v1``)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "",
        verify_tls: bool = True,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 120.0,
        allow_remote: bool = False,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BackendError(
                f"The model server address {base_url!r} is not an http(s) URL.",
                hint="Set vlm.server_url, e.g. http://127.0.0.1:8080/v1.",
            )
        self.name = model or "server"
        self.model = model
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.https = parts.scheme == "https"
        self.path = parts.path.rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self.verify_tls = verify_tls
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.allow_remote = allow_remote
        self._logprobs_supported = True

    @property
    def is_remote(self) -> bool:
        """True when requests leave this workstation (the privacy gate must know)."""
        return not is_loopback(self.host)

    def load(self) -> None:
        if not is_loopback(self.host) and not self.allow_remote:
            raise RemoteBackendRefusedError(
                f"The model server {self.host} is not on this workstation, and sending images "
                "to other machines is switched off."
            )
        if not is_loopback(self.host) and not self.https:
            logger.warning("model server %s uses plain http: images travel unencrypted", self.host)

    def close(self) -> None:
        """Nothing is held between questions."""

    def _connection(self) -> http.client.HTTPConnection:
        if self.https:
            ctx = ssl.create_default_context()
            if not self.verify_tls:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.connect_timeout_s, context=ctx
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout_s)

    def _body(self, request: GenerationRequest, logprobs: bool) -> bytes:
        body: dict[str, Any] = {
            "messages": request.openai_messages(),
            "stream": True,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if self.model:
            body["model"] = self.model
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if logprobs:
            body["logprobs"] = True
        return json.dumps(body).encode("utf-8")

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        self.load()
        want = request.want_logprobs and self._logprobs_supported
        try:
            return self._generate(request, want, on_token, cancel)
        except _LogprobsRejectedError:
            self._logprobs_supported = False
            logger.info("model server rejected logprobs; asking without them")
            return self._generate(request, False, on_token, cancel)

    def _generate(
        self,
        request: GenerationRequest,
        logprobs: bool,
        on_token: TokenCallback | None,
        cancel: threading.Event | None,
    ) -> GenerationResult:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        clock = DecodeClock(time.perf_counter)
        conn = self._connection()
        done = threading.Event()
        watcher = None
        if cancel is not None:
            watcher = threading.Thread(
                target=_close_on_cancel, args=(cancel, done, conn), daemon=True
            )
            watcher.start()
        pieces: list[str] = []
        tokens: list[str] = []
        token_logprobs: list[float] = []
        finish: FinishReason = "stop"
        usage: dict[str, Any] = {}
        try:
            conn.request("POST", self.path, body=self._body(request, logprobs), headers=headers)
            if conn.sock is not None:
                conn.sock.settimeout(self.read_timeout_s)
            response = conn.getresponse()
            if response.status != 200:
                detail = response.read(2000).decode("utf-8", errors="replace")
                if logprobs and response.status in (400, 422, 500) and "logprob" in detail.lower():
                    raise _LogprobsRejectedError
                raise _http_error(response.status, self.host)
            for event in _sse_events(response):
                if cancel is not None and cancel.is_set():
                    break
                if event == "[DONE]":
                    break
                data = json.loads(event)
                usage = data.get("usage") or usage
                for choice in data.get("choices", [])[:1]:
                    text = (choice.get("delta") or {}).get("content") or ""
                    if text:
                        clock.piece()
                        pieces.append(text)
                        if on_token is not None:
                            on_token(text)
                    for item in (choice.get("logprobs") or {}).get("content") or []:
                        tokens.append(str(item.get("token", "")))
                        token_logprobs.append(float(item.get("logprob", 0.0)))
                    if choice.get("finish_reason") == "length":
                        finish = "length"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if cancel is not None and cancel.is_set():
                raise GenerationCancelledError("The question was cancelled.") from exc
            if isinstance(exc, socket.timeout | TimeoutError):
                raise BackendError(
                    f"The model server {self.host} did not answer within "
                    f"{self.read_timeout_s:g} s.",
                    hint="The server may be busy; ask again, or raise vlm.read_timeout_s.",
                ) from exc
            if isinstance(exc, ssl.SSLError):
                raise BackendError(
                    f"The secure connection to {self.host} failed (certificate?).",
                    hint="Ask IT to install the server's certificate; vlm.verify_tls=false "
                    "only on a trusted network.",
                ) from exc
            raise BackendError(
                f"The model server {self.host}:{self.port} could not be reached "
                f"({type(exc).__name__}).",
                hint="Check vlm.server_url and that the server is running.",
            ) from exc
        finally:
            done.set()
            conn.close()
            if watcher is not None:
                watcher.join(timeout=1.0)
        if cancel is not None and cancel.is_set():
            raise GenerationCancelledError("The question was cancelled.")
        n = int(usage.get("completion_tokens") or len(tokens) or clock.pieces)
        return GenerationResult(
            text="".join(pieces),
            finish_reason=finish,
            tokens=tuple(tokens),
            token_logprobs=tuple(token_logprobs) if tokens else None,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=n,
            timings=clock.timings(n or None),
            model=self.name,
        )


class _LogprobsRejectedError(Exception):
    pass


def _http_error(status: int, host: str) -> BackendError:
    if status in (401, 403):
        return BackendError(
            f"The model server {host} refused the API key (HTTP {status}).",
            hint="Set vlm.api_key, or the variable named by vlm.api_key_env.",
        )
    if status == 404:
        return BackendError(
            f"The model server {host} has no chat endpoint or model by that name (HTTP 404).",
            hint="Check vlm.server_url (ending in /v1) and vlm.server_model.",
        )
    return BackendError(
        f"The model server {host} answered with an error (HTTP {status}).",
        hint="Ask again; if it persists, the server's log says why.",
    )


def _sse_events(response: http.client.HTTPResponse) -> Any:
    """The ``data:`` payloads of a server-sent event stream."""
    data: list[str] = []
    while True:
        raw = response.readline()
        if not raw:
            break
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield "\n".join(data)


def _close_on_cancel(
    cancel: threading.Event, done: threading.Event, conn: http.client.HTTPConnection
) -> None:
    while not done.is_set():
        if cancel.wait(CANCEL_TICK_S):
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            return


def api_key_from(settings: VlmSettings) -> str:
    return settings.api_key or os.environ.get(settings.api_key_env, "")


def create(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> OpenAICompatVLM:
    """Registry factory."""
    if not settings.server_url:
        raise BackendError(
            "No model server is configured.",
            hint="Set vlm.server_url (e.g. https://ai-server.hospital.local/v1).",
        )
    return OpenAICompatVLM(
        settings.server_url,
        settings.server_model or spec.name,
        api_key=api_key_from(settings),
        verify_tls=settings.verify_tls,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        allow_remote=privacy.allow_remote_backends,
    )
