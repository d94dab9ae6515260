"""pyttsx3 (SAPI5 on Windows, NSSpeechSynthesizer on macOS, espeak-ng on Linux) as a Speaker.

pyttsx3 only synthesises here (``save_to_file``); VoxRad plays the samples itself so that
barge-in stops speech mid-word on every platform (pyttsx3's Linux driver plays through
``aplay`` and cannot be interrupted). Sentences are synthesised one ahead of playback, so the
first sentence is heard while the rest of a long answer is still being prepared.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from voxrad.backends.tts.playback import play
from voxrad.core.errors import BackendError, DependencyMissingError
from voxrad.core.settings import TtsSettings

logger = logging.getLogger(__name__)


class Pyttsx3Speaker:
    """Spoken replies with pyttsx3. Create, :meth:`load` and use on one thread.

    The pyttsx3 engine lives on a private synthesis thread of its own (engines must not be
    shared across threads); playback happens on the calling thread.
    """

    def __init__(self, settings: TtsSettings | None = None, *, output_device: Any = None) -> None:
        self.settings = settings or TtsSettings()
        self.output_device = output_device
        self._engine: Any = None
        self._synth: ThreadPoolExecutor | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._count = 0
        self.voice_id = ""

    def load(self) -> None:
        if self._synth is not None:
            return
        self._synth = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxrad-tts")
        self._folder = tempfile.TemporaryDirectory(prefix="voxrad-tts-")
        try:
            self._synth.submit(self._init_engine).result(timeout=30)
        except BaseException:
            self.close()
            raise

    def _init_engine(self) -> None:
        try:
            import pyttsx3
        except ImportError as exc:
            raise DependencyMissingError("Spoken replies (pyttsx3)", "speech") from exc
        try:
            engine = pyttsx3.init()
        except (RuntimeError, OSError, ImportError) as exc:
            raise BackendError(
                "No text-to-speech voice is available on this workstation.",
                hint="Install espeak-ng (Linux) or enable system voices; answers are still "
                "shown on screen.",
            ) from exc
        engine.setProperty("rate", self.settings.rate)
        engine.setProperty("volume", self.settings.volume)
        if self.settings.voice:
            voice = _find_voice(engine.getProperty("voices"), self.settings.voice)
            if voice is None:
                logger.warning("tts: voice %r not found; using the default", self.settings.voice)
            else:
                engine.setProperty("voice", voice.id)
        self.voice_id = str(engine.getProperty("voice") or "")
        self._engine = engine
        logger.info("tts: pyttsx3 ready (voice %s)", self.voice_id or "default")

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        if self._synth is None:
            raise BackendError("The speech engine is not loaded.", hint="Load it, then try again.")
        return self._synth.submit(self._synthesize_here, text).result(timeout=60)

    def _synthesize_here(self, text: str) -> tuple[np.ndarray, int]:
        from scipy.io import wavfile

        assert self._folder is not None
        self._count += 1
        path = Path(self._folder.name) / f"s{self._count}.wav"
        # pyttsx3's espeak driver prints "Audio saved to ..." on stdout; keep it off the CLI.
        with contextlib.redirect_stdout(io.StringIO()):
            self._engine.save_to_file(text, str(path))
            self._engine.runAndWait()
        try:
            rate, data = wavfile.read(path)
        except (OSError, ValueError) as exc:
            raise BackendError("The speech engine produced no audio.") from exc
        finally:
            path.unlink(missing_ok=True)
        samples = data.astype(np.float32)
        if data.dtype == np.int16:
            samples /= 32768.0
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        return samples, int(rate)

    def say(
        self,
        sentences: Sequence[str],
        *,
        cancel: threading.Event | None = None,
        on_sentence: Callable[[int, str], None] | None = None,
    ) -> bool:
        if self._synth is None:
            raise BackendError("The speech engine is not loaded.", hint="Load it, then try again.")
        parts = [s for s in sentences if s.strip()]
        if not parts:
            return True
        pending: Future[tuple[np.ndarray, int]] = self._synth.submit(
            self._synthesize_here, parts[0]
        )
        for index, sentence in enumerate(parts):
            samples, rate = pending.result(timeout=60)
            if index + 1 < len(parts):  # prepare the next sentence while this one plays
                pending = self._synth.submit(self._synthesize_here, parts[index + 1])
            if cancel is not None and cancel.is_set():
                return False
            if on_sentence is not None:
                on_sentence(index, sentence)
            if not play(samples, rate, cancel=cancel, device=self.output_device):
                return False
        return True

    def close(self) -> None:
        synth, self._synth = self._synth, None
        if synth is not None:
            synth.submit(self._drop_engine)
            synth.shutdown(wait=True, cancel_futures=True)
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def _drop_engine(self) -> None:
        self._engine = None


def _find_voice(voices: Any, wanted: str) -> Any:
    wanted = wanted.lower()
    for voice in voices or ():
        if str(voice.id).lower() == wanted or str(voice.name).lower() == wanted:
            return voice
    for voice in voices or ():
        if wanted in str(voice.id).lower() or wanted in str(voice.name).lower():
            return voice
    return None


def from_settings(settings: TtsSettings) -> Pyttsx3Speaker:
    """A speaker configured from the ``tts`` settings section."""
    return Pyttsx3Speaker(settings)
