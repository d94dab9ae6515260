"""Block-by-block resampling to 16 kHz for microphones that cannot record at 16 kHz.

Resampling each block independently (``resample_poly`` per block) clicks at every block edge;
this resampler keeps its filter state and fractional read position between blocks.
"""

from __future__ import annotations

import numpy as np


class StreamResampler:
    """Converts a stream at ``source_rate`` to ``target_rate``, one block at a time."""

    def __init__(self, source_rate: int, target_rate: int = 16_000) -> None:
        from scipy.signal import butter, sosfilt_zi

        self.source_rate = int(source_rate)
        self.target_rate = int(target_rate)
        self._step = self.source_rate / self.target_rate
        self._passthrough = self.source_rate == self.target_rate
        self._sos = None
        if self.source_rate > self.target_rate:
            # Anti-aliasing low-pass just below the target Nyquist frequency.
            self._sos = butter(8, 0.45 * self.target_rate, fs=self.source_rate, output="sos")
            self._zi = sosfilt_zi(self._sos) * 0.0
        self._pos = 0.0  # read position (in source samples) relative to the current block
        self._last = np.zeros(1, dtype=np.float32)  # previous block's last sample

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """The next stretch of output for one mono float32 ``block``."""
        x = np.asarray(block, dtype=np.float32).reshape(-1)
        if self._passthrough or x.size == 0:
            return x
        if self._sos is not None:
            from scipy.signal import sosfilt

            x, self._zi = sosfilt(self._sos, x, zi=self._zi)
            x = x.astype(np.float32)
        # Prepend the previous block's last sample so interpolation spans the block edge.
        joined = np.concatenate([self._last, x])
        positions = np.arange(self._pos + 1.0, joined.size - 1 + 1e-9, self._step)
        out = np.interp(positions, np.arange(joined.size), joined).astype(np.float32)
        self._pos = (
            (positions[-1] + self._step - (joined.size - 1) - 1.0)
            if positions.size
            else (self._pos - x.size)
        )
        self._last = joined[-1:]
        return out
