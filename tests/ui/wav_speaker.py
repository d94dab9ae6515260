"""A real pyttsx3/espeak-ng speaker whose playback is a WAV file (the test machine has no sound
card). Synthesis is the product's own (:meth:`Pyttsx3Speaker.synthesize`); only ``play`` is
replaced, so what the file holds is what a clinician would have heard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from voxrad.backends.tts.pyttsx3_engine import Pyttsx3Speaker


class WavFileSpeaker(Pyttsx3Speaker):
    """Says each sentence by synthesising it with the real engine and appending the samples to
    ``path`` (rewritten after every sentence, so it is complete whenever ``say`` returns)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.spoken: list[str] = []
        self.rate = 0
        self._chunks: list[np.ndarray] = []
        self._lock = threading.Lock()

    def say(
        self,
        sentences: Sequence[str],
        *,
        cancel: threading.Event | None = None,
        on_sentence: Callable[[int, str], None] | None = None,
    ) -> bool:
        parts = [s for s in sentences if s.strip()]
        for index, sentence in enumerate(parts):
            samples, rate = self.synthesize(sentence)
            if cancel is not None and cancel.is_set():
                return False
            if on_sentence is not None:
                on_sentence(index, sentence)
            with self._lock:
                if self.rate and rate != self.rate:
                    raise AssertionError(f"sample rate changed from {self.rate} to {rate}")
                self.rate = rate
                self._chunks.append(samples)
                self.spoken.append(sentence)
                pcm = np.clip(np.concatenate(self._chunks), -1.0, 1.0)
                wavfile.write(self.path, rate, (pcm * 32767).astype(np.int16))
        return True
