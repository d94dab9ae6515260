"""Reading and writing WAV files (``voxrad transcribe``, ``voxrad say --out``, tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxrad.core.errors import AudioError


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A WAV file as float32 samples in [-1, 1] (mono: shape (n,); else (n, channels)).

    Raises
    ------
    AudioError
        The file is missing, unreadable, or not a PCM/float WAV file.
    """
    from scipy.io import wavfile

    path = Path(path)
    try:
        rate, data = wavfile.read(path)
    except FileNotFoundError as exc:
        raise AudioError(f"The audio file {path} does not exist.", hint="Check the path.") from exc
    except (OSError, ValueError, EOFError) as exc:
        raise AudioError(
            f"{path.name} is not a readable WAV file.",
            hint="Convert it to 16-bit PCM WAV (e.g. `sox in.mp3 -b 16 out.wav`).",
        ) from exc
    if np.issubdtype(data.dtype, np.integer):
        if data.dtype == np.uint8:
            samples = (data.astype(np.float32) - 128.0) / 128.0
        else:
            samples = data.astype(np.float32) / float(-np.iinfo(data.dtype).min)
    else:
        samples = data.astype(np.float32)
    if samples.size == 0:
        raise AudioError(f"{path.name} holds no audio.", hint="Record it again.")
    return samples, int(rate)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write float samples in [-1, 1] as 16-bit PCM WAV."""
    from scipy.io import wavfile

    path = Path(path)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    wavfile.write(path, sample_rate, pcm)
    return path
