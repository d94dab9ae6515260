"""Helpers for tests with real speech: espeak-ng synthesis, WAV reading, word error rate.

Imported by the speech tests' conftest files (which put this folder on ``sys.path``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from voxrad.assistant.commands.textnorm import normalize

SAMPLE_RATE = 16_000
POCKETSPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after normalisation."""
    ref = normalize(reference).split()
    hyp = normalize(hypothesis).split()
    if not ref:
        return float(bool(hyp))
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)


def require_tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise RuntimeError(f"missing system tools {missing}: run ./dev.sh setup")


def espeak_wav(text: str, folder: Path, *, speed: int = 150, voice: str = "en-us") -> Path:
    """``text`` spoken by espeak-ng, as a 16 kHz mono 16-bit WAV in ``folder`` (cached)."""
    require_tools("espeak-ng", "sox")
    key = hashlib.sha1(f"{voice}|{speed}|{text}".encode()).hexdigest()[:16]
    out = folder / f"espeak-{key}.wav"
    if not out.exists():
        raw = folder / f"espeak-{key}-raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True
        )
        subprocess.run(
            ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out)], check=True
        )
        raw.unlink()
    return out


def read_wav(path: Path) -> np.ndarray:
    """A 16 kHz mono WAV as float32 in [-1, 1]."""
    rate, data = wavfile.read(path)
    assert rate == SAMPLE_RATE, rate
    if data.dtype == np.int16:
        return (data.astype(np.float32) / 32768.0).reshape(-1)
    return data.astype(np.float32).reshape(-1)


def read_raw16(path: Path) -> np.ndarray:
    """Headerless 16 kHz 16-bit little-endian mono PCM (pocketsphinx test files)."""
    return np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0


def librivox_clips() -> list[tuple[Path, str]]:
    """Real human speech (LibriVox, public domain) from Debian's pocketsphinx-testdata."""
    folder = POCKETSPHINX_DATA / "librivox"
    if not (folder / "transcription").is_file():
        raise RuntimeError("Debian pocketsphinx-testdata is missing: run ./dev.sh setup")
    clips = []
    for line in (folder / "transcription").read_text().splitlines():
        text, _, name = line.rpartition("(")
        words = text.replace("<s>", "").replace("</s>", "").strip()
        clips.append((folder / f"{name.strip(') ')}.wav", words))
    return clips
