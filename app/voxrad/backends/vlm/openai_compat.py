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
from collections.abc import Iterator
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
    from voxrad.backends.vlm.engines import ModelSpec
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
        reply = _Reply(on_token, clock)
        # How far the exchange got decides what a failure means: not reached, reached but
        # no answer, or an answer cut off after some text.
        stage = "connect"
        response: http.client.HTTPResponse | None = None
        try:
            conn.connect()
            stage = "send"
            conn.request("POST", self.path, body=self._body(request, logprobs), headers=headers)
            if conn.sock is not None:
                conn.sock.settimeout(self.read_timeout_s)
            response = conn.getresponse()
            stage = "reply"
            if response.status != 200:
                detail = response.read(2000).decode("utf-8", errors="replace")
                if logprobs and response.status in (400, 422, 500) and "logprob" in detail.lower():
                    raise _LogprobsRejectedError
                logger.warning("model server answered HTTP %d", response.status)
                raise _http_error(response.status, self.host)
            content_type = (response.getheader("Content-Type") or "").lower()
            if "json" in content_type:
                # Some servers ignore "stream": the whole reply comes as one JSON object.
                reply.whole(response.read())
            elif "html" in content_type:
                raise _UnreadableError(content_type)
            else:
                reply.stream(response, request.max_tokens, cancel)
        except _UnreadableError as exc:
            if reply.pieces:
                return self._cut_off(
                    reply, clock, "engine", f"the model server {self.host} {_UNREADABLE_CUT}"
                )
            raise BackendError(
                f"The model server {self.host} answered, but not with a chat reply VoxRad can "
                f"read ({exc}).",
                hint=_UNREADABLE_HINT,
            ) from exc
        except _ServerFailedError as exc:
            logger.warning("model server reported an error mid-answer")
            if reply.pieces:
                return self._cut_off(
                    reply, clock, "engine", f"the model server {self.host} reported an error."
                )
            raise BackendError(
                f"The model server {self.host} reported an error instead of an answer.",
                hint="Ask again; if it persists, the server's log says why.",
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            if cancel is not None and cancel.is_set():
                raise GenerationCancelledError("The question was cancelled.") from exc
            timed_out = isinstance(exc, socket.timeout | TimeoutError)
            logger.warning("model server exchange failed at %s: %s", stage, type(exc).__name__)
            if stage == "reply" and reply.pieces:
                why = (
                    f"the model server {self.host} stopped sending for {self.read_timeout_s:g} s."
                    if timed_out
                    else f"the connection to the model server {self.host} was lost."
                )
                return self._cut_off(reply, clock, "connection", why)
            raise self._failure(exc, stage, timed_out) from exc
        finally:
            done.set()
            if response is not None:
                response.close()  # it holds the socket once the connection handed it over
            conn.close()
            if watcher is not None:
                watcher.join(timeout=1.0)
        if cancel is not None and cancel.is_set():
            raise GenerationCancelledError("The question was cancelled.")
        if reply.finish is None:
            # The stream ended without saying so (no finish_reason, no [DONE]): the
            # connection closed mid-answer. A fragment must not pass for a whole reply.
            logger.warning("model server stream ended without a finish")
            if reply.unreadable_lines and not reply.pieces:
                raise BackendError(
                    f"The model server {self.host} answered, but not with a chat reply VoxRad "
                    "can read (no events).",
                    hint=_UNREADABLE_HINT,
                )
            if not reply.pieces:
                raise BackendError(
                    f"The model server {self.host} closed the connection without answering.",
                    hint=_CLOSED_HINT,
                )
            return self._cut_off(
                reply,
                clock,
                "connection",
                f"the connection to the model server {self.host} closed before the answer ended.",
            )
        return self._result(reply, clock, reply.finish, reply.finish_detail)

    def _failure(self, exc: BaseException, stage: str, timed_out: bool) -> BackendError:
        """The clinician's message for a failure before any text came."""
        if isinstance(exc, ssl.SSLError):
            return BackendError(
                f"The secure connection to {self.host} failed (certificate?).",
                hint="Ask IT to install the server's certificate; vlm.verify_tls=false "
                "only on a trusted network.",
            )
        if timed_out and stage != "connect":
            return BackendError(
                f"The model server {self.host} did not answer within {self.read_timeout_s:g} s.",
                hint="The server may be busy; ask again, or raise vlm.read_timeout_s.",
            )
        if stage == "connect":
            return BackendError(
                f"The model server {self.host}:{self.port} could not be reached "
                f"({type(exc).__name__}).",
                hint="Check vlm.server_url and that the server is running.",
            )
        return BackendError(
            f"The model server {self.host} closed the connection without answering "
            f"({type(exc).__name__}).",
            hint=_CLOSED_HINT,
        )

    def _cut_off(
        self, reply: _Reply, clock: DecodeClock, finish: FinishReason, why: str
    ) -> GenerationResult:
        logger.warning("answer cut off (%s) after %d pieces", finish, len(reply.pieces))
        return self._result(reply, clock, finish, why)

    def _result(
        self, reply: _Reply, clock: DecodeClock, finish: FinishReason, detail: str
    ) -> GenerationResult:
        usage = reply.usage
        n = int(usage.get("completion_tokens") or len(reply.tokens) or clock.pieces)
        return GenerationResult(
            text="".join(reply.pieces),
            finish_reason=finish,
            finish_detail=detail,
            tokens=tuple(reply.tokens),
            token_logprobs=tuple(reply.token_logprobs) if reply.tokens else None,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=n,
            timings=clock.timings(n or None),
            model=self.name,
        )


_CLOSED_HINT = (
    "The server was reached but may have restarted or be overloaded; ask again. If it "
    "persists, the server's log says why."
)
_UNREADABLE_HINT = (
    "Check that vlm.server_url is the server's OpenAI-compatible API (ending in /v1), not a "
    "web page or proxy; the server's log says more."
)
_UNREADABLE_CUT = "sent something VoxRad cannot read mid-answer."
#: Finish reasons of the OpenAI API (and vLLM, llama.cpp, Ollama) that mean the model ended
#: its message; "length" is the token limit; any other ("content_filter", "abort", ...) is an
#: answer the server ended early.
_COMPLETE = frozenset({"stop", "eos", "eos_token", "stop_sequence", "tool_calls"})


class _UnreadableError(Exception):
    """The server answered 200 but not with a chat reply (HTML, non-JSON, malformed SSE)."""


class _ServerFailedError(Exception):
    """The server sent an error object in place of the next piece."""


class _Reply:
    """What a reply has brought so far: the text pieces, token log-probs, usage and how
    it ended (``finish`` stays None until the server says the answer ended)."""

    def __init__(self, on_token: TokenCallback | None, clock: DecodeClock) -> None:
        self.on_token = on_token
        self.clock = clock
        self.pieces: list[str] = []
        self.tokens: list[str] = []
        self.token_logprobs: list[float] = []
        self.usage: dict[str, Any] = {}
        self.finish: FinishReason | None = None
        self.finish_detail = ""
        self.unreadable_lines = 0

    def stream(
        self,
        response: http.client.HTTPResponse,
        max_tokens: int,
        cancel: threading.Event | None,
    ) -> None:
        events = _SseEvents(response)
        for event in events:
            if cancel is not None and cancel.is_set():
                return
            if event == "[DONE]":
                self.finish = self.finish or "complete"
                return
            self.chunk(_json(event))
            if self.finish is None and len(self.pieces) > max_tokens:
                # A server that ignores max_tokens would stream forever: stop reading.
                self.finish = "length"
                logger.warning("model server kept streaming past %d tokens", max_tokens)
                return
        self.unreadable_lines = events.unreadable

    def whole(self, body: bytes) -> None:
        data = _json(body.decode("utf-8", errors="replace"))
        for choice in data.get("choices", [])[:1]:
            text = (choice.get("message") or {}).get("content")
            if not isinstance(text, str):
                raise _UnreadableError("a JSON reply without a message")
            self.piece(text)
            self.finish_from(choice.get("finish_reason") or "stop")
        if not data.get("choices"):
            raise _UnreadableError("a JSON reply without choices")
        self.usage = data.get("usage") or {}

    def chunk(self, data: dict[str, Any]) -> None:
        if data.get("error"):
            raise _ServerFailedError
        self.usage = data.get("usage") or self.usage
        choices = data.get("choices", [])
        if not isinstance(choices, list):
            raise _UnreadableError("an event without choices")
        for choice in choices[:1]:
            text = (choice.get("delta") or {}).get("content") or ""
            if text:
                self.piece(str(text))
            for item in (choice.get("logprobs") or {}).get("content") or []:
                self.tokens.append(str(item.get("token", "")))
                self.token_logprobs.append(float(item.get("logprob", 0.0)))
            if choice.get("finish_reason"):
                self.finish_from(str(choice["finish_reason"]))

    def piece(self, text: str) -> None:
        if not text:
            return
        self.clock.piece()
        self.pieces.append(text)
        if self.on_token is not None:
            self.on_token(text)

    def finish_from(self, reason: str) -> None:
        if reason in _COMPLETE:
            self.finish = "complete"
        elif reason == "length":
            self.finish = "length"
        else:
            self.finish = "engine"
            self.finish_detail = f"the model server ended the answer early ({reason[:40]})."


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise _UnreadableError("not JSON") from None
    if not isinstance(data, dict):
        raise _UnreadableError("not a JSON object")
    return data


class _LogprobsRejectedError(Exception):
    pass


def _http_error(status: int, host: str) -> BackendError:
    if status in (401, 403):
        return BackendError(
            f"The model server {host} refused the API key (HTTP {status}).",
            hint="Set vlm.api_key, or the variable named by vlm.api_key_env.",
        )
    if status in (400, 413, 422):
        return BackendError(
            f"The model server {host} refused the request (HTTP {status}).",
            hint="The question may be too long for the server (fewer slices, a smaller "
            "region); the server's log says why.",
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


class _SseEvents:
    """The ``data:`` payloads of a server-sent event stream; counts lines that are not SSE."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self._response = response
        self.unreadable = 0

    def __iter__(self) -> Iterator[str]:
        data: list[str] = []
        while True:
            raw = self._response.readline()
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
            elif not line.startswith((":", "event:", "id:", "retry:")):
                self.unreadable += 1
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
