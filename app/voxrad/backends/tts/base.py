"""The Speaker protocol."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Speaker(Protocol):
    """A text-to-speech engine. One instance lives on one thread for its whole life."""

    def load(self) -> None:
        """Start the engine; raises a VoxRadError a clinician can act on."""
        ...

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """``text`` (already speakable) as float32 mono samples and their sample rate."""
        ...

    def say(
        self,
        sentences: Sequence[str],
        *,
        cancel: threading.Event | None = None,
        on_sentence: Callable[[int, str], None] | None = None,
    ) -> bool:
        """Speak ``sentences`` in order; stop at once when ``cancel`` is set.

        The caller prepares the text (``voxrad.assistant.speech.speakable``: units in words, split
        into sentences) so that speech starts after the first sentence is synthesised.
        ``on_sentence(index, text)`` is called as each sentence starts playing.
        Returns True when everything was spoken, False when cancelled.
        """
        ...

    def close(self) -> None:
        """Release the engine. Safe to call twice."""
        ...
