"""A scripted engine for the child-process tests, registered under the registry name "fake".

It lives in a module of its own (not in the test file) because the spawned child imports it by
name: the child gets the test process's ``sys.path``, which holds this folder.

What it does is chosen by the model name (for load) and the prompt (for generate):

* model "missing" / "no-deps" / "load-abort": load raises ModelNotInstalledError, raises
  DependencyMissingError, or aborts the process;
* prompt "abort" / "memory" / "bug": generate calls ``os.abort()``, raises MemoryError, or
  raises a TypeError (a programming error in an engine);
* any other prompt: streams ``max_tokens`` pieces "w0 ", "w1 ", ... one per
  :data:`PIECE_S` (a decode step), checking ``cancel`` between them as the real engines do,
  and says the size and mean of each image it was given.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

import numpy as np

from voxrad.backends.vlm.base import (
    GenerationCancelledError,
    GenerationRequest,
    GenerationResult,
    TokenCallback,
)
from voxrad.backends.vlm.registry import ModelSpec
from voxrad.core.errors import DependencyMissingError, ModelNotInstalledError
from voxrad.core.settings import PrivacySettings, VlmSettings

logger = logging.getLogger(__name__)

#: One simulated decode step.
PIECE_S = 0.02


def _abort() -> None:
    """``os.abort()`` as llama.cpp's ggml does, without leaving a core file in the tests' folder."""
    if sys.platform != "win32":
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.abort()


class FakeScriptedVLM:
    is_remote = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.loaded = False
        self.timings: dict[str, float] = {}

    def load(self) -> None:
        if self.name == "missing":
            raise ModelNotInstalledError(
                "The model file missing.gguf is missing.", hint="Copy it back into models/."
            )
        if self.name == "no-deps":
            raise DependencyMissingError("The fake engine", "fake")
        if self.name == "load-abort":
            _abort()
        self.loaded = True
        self.timings = {"load": 0.001}
        logger.info("fake engine %s loaded in process %d", self.name, os.getpid())

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        prompt = request.messages[-1].text
        logger.debug("prompt: %s", prompt)
        logger.info("fake engine answering with up to %d pieces", request.max_tokens)
        if prompt == "abort":
            _abort()
        if prompt == "memory":
            raise MemoryError("fake allocation failed")
        if prompt == "bug":
            raise TypeError("a bug in the engine")
        seen = [
            f"image {img.size[0]}x{img.size[1]} mean {float(np.mean(img.pixels)):.1f} "
            for img in request.images
        ]
        pieces: list[str] = []
        if prompt == "abort-mid":
            for piece in ("Final Answer: ", "The le"):
                if on_token is not None:
                    on_token(piece)
            _abort()
        for i in range(request.max_tokens):
            if cancel is not None and cancel.is_set():
                raise GenerationCancelledError("The question was cancelled.")
            time.sleep(PIECE_S)  # the decode step this fake stands in for
            piece = seen.pop(0) if seen else f"w{i} "
            pieces.append(piece)
            if on_token is not None:
                on_token(piece)
        return GenerationResult(
            text="".join(pieces),
            tokens=tuple(pieces),
            completion_tokens=len(pieces),
            model=self.name,
        )

    def close(self) -> None:
        self.loaded = False


def create(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> FakeScriptedVLM:
    return FakeScriptedVLM(spec.name)
