"""Interruptible playback through sounddevice.

pyttsx3's own playback cannot be stopped mid-sentence on every platform (on Linux it runs
``aplay`` to the end), so VoxRad synthesises with the engine and plays the samples itself:
setting the cancel event aborts the output stream at once (barge-in).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from voxrad.core.errors import AudioError, DependencyMissingError

logger = logging.getLogger(__name__)

#: Seconds of audio handed to the sound system per callback.
BLOCK_S = 0.02


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as exc:
        raise DependencyMissingError("Sound output (sounddevice)", "speech") from exc
    except OSError as exc:
        raise AudioError(
            "The sound system library (PortAudio) is missing.",
            hint="Install PortAudio (Debian/Ubuntu: sudo apt install libportaudio2).",
        ) from exc
    return sounddevice


def play(
    samples: np.ndarray,
    sample_rate: int,
    *,
    cancel: threading.Event | None = None,
    device: int | str | None = None,
) -> bool:
    """Play mono float32 ``samples``; True when played to the end, False when cancelled.

    Raises
    ------
    AudioError
        No output device, or it could not be opened.
    """
    sd = _sounddevice()
    data = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1, 1)
    position = 0
    done = threading.Event()

    def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        nonlocal position
        # The audio thread asks for a block every few milliseconds anyway: checking the
        # cancel event here stops speech within one block, without a polling loop of ours.
        if cancel is not None and cancel.is_set():
            outdata[:] = 0
            raise sd.CallbackAbort
        chunk = data[position : position + frames]
        outdata[: len(chunk)] = chunk
        outdata[len(chunk) :] = 0
        position += len(chunk)
        if len(chunk) < frames:
            raise sd.CallbackStop

    try:
        stream = sd.OutputStream(
            samplerate=sample_rate,
            channels=1,
            dtype="float32",
            device=device,
            callback=callback,
            finished_callback=done.set,
            # Small blocks and low latency: with the default (high) latency the sound system
            # buffers over a second ahead, and barge-in would let that second play out.
            blocksize=int(sample_rate * BLOCK_S),
            latency="low",
        )
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioError(
            "Spoken replies could not be played: no working speaker or headset.",
            hint="Check the sound output; answers are still shown on screen.",
        ) from exc
    bound = len(data) / sample_rate + 5.0
    if cancel is not None:
        # The sound system may ask for audio only every few hundred milliseconds (measured
        # with PulseAudio's null sink), so the callback alone cannot stop speech at once. A
        # watcher blocked on the cancel event wakes this thread instead; it ends by itself
        # at the bound when the sentence finishes first.
        threading.Thread(
            target=_relay, args=(cancel, done, bound), name="voxrad-tts-cancel", daemon=True
        ).start()
    stream.start()
    try:
        finished = done.wait(bound)
    finally:
        # abort() drops what the sound system still buffers; stop() would play it out.
        if not finished or (cancel is not None and cancel.is_set()):
            stream.abort()
        stream.close()
    if not finished:
        raise AudioError("The speaker stopped responding.", hint="Check the sound output.")
    completed = position >= len(data)
    if not completed:
        logger.info("tts: playback interrupted after %.2f s", position / sample_rate)
    return completed


def _relay(cancel: threading.Event, wake: threading.Event, bound: float) -> None:
    if cancel.wait(bound):
        wake.set()
