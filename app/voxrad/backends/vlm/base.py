"""The VisionLanguageModel protocol, the request it takes and the raw result it returns.

A request holds only what a model needs: the chat messages (text and RGB pixels) and the
sampling options. It never holds a study, a DICOM header or a file name, so no backend can
send a patient identifier anywhere, local or remote. The result is the model's raw text with
its token log-probabilities (when the backend gives them) and timings; turning it into an
answer with boxes is the assistant's job (:mod:`voxrad.assistant.answering`).
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from voxrad.core.conversation import FinishReason
from voxrad.core.errors import BackendError

__all__ = ["FinishReason"]  # re-exported: the engines name it from here

Role = Literal["system", "user", "assistant"]
#: Called with each piece of text as it is generated (on the backend's thread).
TokenCallback = Callable[[str], None]


class GenerationCancelledError(BackendError):
    """The clinician cancelled the question; not a fault."""


@dataclass(frozen=True, eq=False)
class ImageInput:
    """One RGB uint8 image, shape (H, W, 3)."""

    pixels: np.ndarray

    def __post_init__(self) -> None:
        p = self.pixels
        if p.ndim != 3 or p.shape[2] != 3 or p.dtype != np.uint8:
            raise ValueError(f"ImageInput needs (H, W, 3) uint8 pixels, got {p.shape} {p.dtype}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    def png_bytes(self) -> bytes:
        """The pixels as a PNG (lossless: a model sees exactly what VoxRad prepared)."""
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(self.pixels), mode="RGB").save(buf, format="PNG")
        return buf.getvalue()

    def data_url(self) -> str:
        """``data:image/png;base64,...``: no file name, no metadata, only pixels."""
        return "data:image/png;base64," + base64.b64encode(self.png_bytes()).decode("ascii")


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    parts: tuple[str | ImageInput, ...]

    @property
    def text(self) -> str:
        return "\n".join(p for p in self.parts if isinstance(p, str))

    @property
    def images(self) -> tuple[ImageInput, ...]:
        return tuple(p for p in self.parts if isinstance(p, ImageInput))


@dataclass(frozen=True)
class GenerationRequest:
    """What to ask a model. ``request_id`` lets a GUI drop stale results."""

    messages: tuple[ChatMessage, ...]
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 0.95
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    want_logprobs: bool = True
    request_id: int = 0

    @property
    def images(self) -> tuple[ImageInput, ...]:
        return tuple(img for m in self.messages for img in m.images)

    def openai_messages(self) -> list[dict[str, object]]:
        """The messages in OpenAI chat format, images as PNG data URLs."""
        out: list[dict[str, object]] = []
        for message in self.messages:
            if all(isinstance(p, str) for p in message.parts):
                out.append({"role": message.role, "content": message.text})
                continue
            content: list[dict[str, object]] = []
            for part in message.parts:
                if isinstance(part, str):
                    content.append({"type": "text", "text": part})
                else:
                    content.append({"type": "image_url", "image_url": {"url": part.data_url()}})
            out.append({"role": message.role, "content": content})
        return out


@dataclass(frozen=True)
class GenerationResult:
    """A model's raw reply.

    ``tokens`` and ``token_logprobs`` are the generated pieces and their natural-log
    probabilities under the model (None when the backend cannot give them). ``timings`` holds
    seconds: ``first_token`` (time to first token, image encoding included), ``generate``
    (whole call) and ``tokens_per_s`` (decode speed after the first token).

    ``finish_reason`` says how the reply ended (:data:`~voxrad.core.conversation.FinishReason`):
    an engine whose connection or process broke after some text returns that text with
    "connection" or "engine" and says why in ``finish_detail`` (a sentence a clinician can act
    on), rather than passing a fragment off as a whole reply or throwing the text away.
    """

    text: str
    finish_reason: FinishReason = "complete"
    finish_detail: str = ""
    tokens: tuple[str, ...] = ()
    token_logprobs: tuple[float, ...] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    model: str = ""


@runtime_checkable
class VisionLanguageModel(Protocol):
    """A vision-language model engine. One instance lives on one thread for its whole life.

    After a :class:`BackendError` the instance may be loaded again (``close()`` then
    ``load()``) without restarting the app.
    """

    name: str

    @property
    def is_remote(self) -> bool:
        """True when requests leave this workstation: the privacy checks depend on it, so every
        engine must say (a plain ``is_remote = False`` class attribute will do)."""
        ...

    def load(self) -> None:
        """Load the weights; raises ModelNotInstalledError, DependencyMissingError or
        BackendError with a hint a clinician or IT can act on."""
        ...

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """Answer ``request``, streaming text to ``on_token``.

        Setting ``cancel`` stops generation at the next token boundary and raises
        :class:`GenerationCancelledError`: within 200 ms wherever one decode step is faster
        than that (a forward pass, or an image being encoded, is not interrupted).

        A reply that ends before the model ended it is returned with its ``finish_reason``
        ("length", "connection", "engine") when some text came; with no text at all, the
        failure is raised as a :class:`BackendError`.
        """
        ...

    def close(self) -> None:
        """Free the model's memory; safe to call twice."""
        ...


class DecodeClock:
    """Timing bookkeeping shared by the backends: first-token latency and decode speed."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self.start = now()
        self.first: float | None = None
        self.pieces = 0

    def piece(self) -> None:
        if self.first is None:
            self.first = self._now()
        self.pieces += 1

    def timings(self, completion_tokens: int | None = None) -> dict[str, float]:
        end = self._now()
        out = {"generate": end - self.start}
        if self.first is not None:
            out["first_token"] = self.first - self.start
            n = (completion_tokens if completion_tokens is not None else self.pieces) - 1
            if n > 0 and end > self.first:
                out["tokens_per_s"] = n / (end - self.first)
        return out
