"""Streaming voice activity detection with the silero VAD model bundled in faster-whisper.

faster-whisper's own VAD helper scores a whole recording at once; hands-free mode needs a
probability for every 32 ms chunk as it arrives, so this wrapper runs the same ONNX session
one chunk at a time and carries the model's recurrent state between chunks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from voxrad.core.errors import DependencyMissingError

SAMPLE_RATE = 16_000
#: Samples per VAD step at 16 kHz (the model's fixed window: 32 ms).
CHUNK = 512
_CONTEXT = 64


class StreamingVad:
    """Speech probability per 512-sample chunk of 16 kHz audio.

    Create and use on one thread (the capture worker). :meth:`reset` between utterances is
    not needed; the model's state adapts, as in silero's own streaming iterator.
    """

    def __init__(self) -> None:
        try:
            from faster_whisper.vad import get_vad_model
        except ImportError as exc:
            raise DependencyMissingError(
                "Voice activity detection (faster-whisper)", "speech"
            ) from exc
        self._session: Any = get_vad_model().session
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)

    def __call__(self, chunk: np.ndarray) -> float:
        """Probability in [0, 1] that ``chunk`` (512 float32 samples at 16 kHz) is speech."""
        if chunk.shape != (CHUNK,):
            raise ValueError(f"VAD chunks are {CHUNK} samples, got {chunk.shape}")
        window = np.concatenate([self._context, chunk.astype(np.float32, copy=False)])[None, :]
        prob, self._h, self._c = self._session.run(
            None, {"input": window, "h": self._h, "c": self._c}
        )
        self._context = chunk[-_CONTEXT:].astype(np.float32, copy=True)
        return float(prob[0])
