"""The live microphone: a sounddevice input stream feeding an :class:`Endpointer` on a worker.

Threads: PortAudio's callback only queues a copy of each block (anything slower there drops
audio). One worker thread owns the resampler, VAD and endpointer, and receives push-to-talk
presses through the same queue, so key events and audio stay in order. The callbacks given
to :class:`Microphone` run on that worker thread: a Qt front end re-emits them as signals.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from voxrad.audio.devices import InputDevice, capture_rate, find_input_device, sounddevice_module
from voxrad.audio.endpointer import (
    Endpointer,
    Level,
    Mode,
    PartialUtterance,
    Utterance,
    measure_level,
)
from voxrad.audio.resample import StreamResampler
from voxrad.core.errors import MicrophoneError, VoxRadError
from voxrad.core.settings import AudioSettings

logger = logging.getLogger(__name__)

#: Blocks per second delivered by PortAudio (32 ms at 16 kHz: one VAD step).
BLOCK_S = 0.032
#: No audio for this long from a running stream means the device went away.
STALL_S = 2.0

_STOP = object()


class Microphone:
    """Records from the configured input device and hands out utterances.

    Parameters
    ----------
    settings
        The ``audio`` settings section (device name, pre-roll, limits, VAD threshold).
    on_utterance
        Called with each finished :class:`Utterance` (worker thread).
    on_level
        Called with the :class:`Level` of every block, for a level meter (worker thread).
    on_error
        Called with a :class:`MicrophoneError` when the device fails or is unplugged while
        recording; the microphone is then stopped and can be started again.
    vad_factory
        Builds the VAD for hands-free mode; defaults to the silero model in faster-whisper.

    Attributes
    ----------
    on_partial
        When set, called (worker thread) with the :class:`PartialUtterance` recorded so far
        every ``partial_interval_s`` of an utterance: push-to-talk held, or hands-free once
        the VAD heard speech. Set by whoever shows a live transcript (push-to-talk's owner)
        after the microphone is built; read on each block, so it may be set or cleared at
        any time.
    partial_interval_s
        Seconds of recorded utterance between two ``on_partial`` calls.
    """

    def __init__(
        self,
        settings: AudioSettings | None = None,
        *,
        on_utterance: Callable[[Utterance], None],
        on_level: Callable[[Level], None] | None = None,
        on_error: Callable[[VoxRadError], None] | None = None,
        mode: Mode = "push_to_talk",
        vad_factory: Callable[[], Callable[[np.ndarray], float]] | None = None,
    ) -> None:
        self.settings = settings or AudioSettings()
        self.on_utterance = on_utterance
        self.on_level = on_level
        self.on_error = on_error
        self.mode: Mode = mode
        self.on_partial: Callable[[PartialUtterance], object] | None = None
        self.partial_interval_s = 1.0
        self._vad_factory = vad_factory
        self._queue: queue.Queue[Any] = queue.Queue()
        self._stream: Any = None
        self._worker: threading.Thread | None = None
        self.device: InputDevice | None = None
        self.rate = 0
        self.overflows = 0

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def start(self) -> None:
        """Open the device and start listening.

        Raises
        ------
        MicrophoneError
            No such device, or it is busy (used by another program) or cannot record.
        """
        if self.running:
            return
        sd = sounddevice_module()
        self.device = find_input_device(self.settings.input_device)
        self.rate = capture_rate(self.device)
        endpointer = self._make_endpointer()
        resampler = StreamResampler(self.rate)
        self._queue = queue.Queue()
        try:
            self._stream = sd.InputStream(
                device=self.device.index,
                samplerate=self.rate,
                channels=1,
                dtype="float32",
                blocksize=round(self.rate * BLOCK_S),
                callback=self._callback,
                finished_callback=self._finished,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._close_stream()
            raise MicrophoneError(
                f"The microphone {self.device.name!r} could not be opened: it may be in use by "
                "another program or unplugged.",
            ) from exc
        self._worker = threading.Thread(
            target=self._run, args=(endpointer, resampler), name="voxrad-capture", daemon=True
        )
        self._worker.start()
        logger.info("audio: listening on %s at %d Hz (%s)", self.device.name, self.rate, self.mode)

    def _make_endpointer(self) -> Endpointer:
        s = self.settings
        vad: Callable[[np.ndarray], float] | None = None
        if self.mode == "hands_free":
            if self._vad_factory is None:
                from voxrad.audio.vad import StreamingVad

                vad = StreamingVad()
            else:
                vad = self._vad_factory()
        return Endpointer(
            mode=self.mode,
            pre_roll_s=s.pre_roll_s,
            max_utterance_s=s.max_utterance_s,
            silence_s=s.silence_s,
            vad_threshold=s.vad_threshold,
            vad=vad,
        )

    # --- app events (any thread) -------------------------------------------------------------

    def press(self) -> None:
        """Push-to-talk pressed (key, mouse button or pedal)."""
        self._queue.put(("press", None))

    def release(self) -> None:
        """Push-to-talk released."""
        self._queue.put(("release", None))

    def stop(self, timeout: float = 2.0) -> None:
        """Stop listening; an utterance in progress is dropped. Bounded by ``timeout``."""
        self._close_stream()
        worker = self._worker
        if worker is not None:
            self._queue.put(_STOP)
            worker.join(timeout)
            if worker.is_alive():
                logger.warning("audio: capture worker did not stop within %.1f s", timeout)
        self._worker = None

    # --- PortAudio thread --------------------------------------------------------------------

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._queue.put(("audio", indata[:, 0].copy(), bool(status.input_overflow)))

    def _finished(self) -> None:
        self._queue.put(("finished", None))

    # --- worker thread -----------------------------------------------------------------------

    def _run(self, endpointer: Endpointer, resampler: StreamResampler) -> None:
        while True:
            try:
                item = self._queue.get(timeout=STALL_S)
            except queue.Empty:
                # A blocking wait with a watchdog, not a poll: a live stream delivers a block
                # every 32 ms, so silence from it means the device is gone.
                self._fail(endpointer, "The microphone stopped sending sound (unplugged?).")
                return
            if item is _STOP:
                return
            kind = item[0]
            if kind == "audio":
                _, block, overflow = item
                self.overflows += overflow
                samples = resampler(block)
                if self.on_level is not None:
                    self.on_level(measure_level(samples))
                for utterance in endpointer.feed(samples):
                    self.on_utterance(utterance)
                on_partial = self.on_partial
                if on_partial is not None:
                    partial = endpointer.partial_due(self.partial_interval_s)
                    if partial is not None:
                        self._offer_partial(on_partial, partial)
            elif kind == "press":
                endpointer.press()
            elif kind == "release":
                done = endpointer.release()
                if done is not None:
                    self.on_utterance(done)
            elif kind == "finished":
                if self._stream is not None:  # not a stop() we asked for
                    self._fail(endpointer, "The microphone was disconnected.")
                return

    def _offer_partial(
        self, on_partial: Callable[[PartialUtterance], object], partial: PartialUtterance
    ) -> None:
        try:
            on_partial(partial)
        except Exception:
            # A live transcript is a nicety: its failure must not end the recording.
            logger.exception("audio: the live transcript failed; turned off")
            self.on_partial = None

    def _fail(self, endpointer: Endpointer, message: str) -> None:
        endpointer.cancel()
        logger.warning("audio: %s", message)
        stream, self._stream = self._stream, None
        # Report first: closing a stream whose device vanished can block for good (PortAudio
        # 19.6's ALSA backend spins in its own thread when a PulseAudio source disappears),
        # so it is done on a throwaway thread and never holds up the app.
        if self.on_error is not None:
            self.on_error(MicrophoneError(message))
        if stream is not None:
            threading.Thread(
                target=_abort_quietly, args=(stream,), name="voxrad-capture-close", daemon=True
            ).start()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                logger.debug("audio: closing the stream raised", exc_info=True)


def _abort_quietly(stream: Any) -> None:
    try:
        stream.abort()
        stream.close()
    except Exception:  # the device is already gone; closing is best effort
        logger.debug("audio: closing a failed stream raised", exc_info=True)


def record_utterance(
    settings: AudioSettings | None = None,
    *,
    mode: Mode = "hands_free",
    timeout: float = 30.0,
    on_ready: Callable[[], None] | None = None,
) -> Utterance:
    """Listen until one utterance ends (hands-free) and return it; for the CLI and tests.

    Raises
    ------
    MicrophoneError
        The device failed, or nothing was said within ``timeout`` seconds.
    """
    done = threading.Event()
    result: list[Utterance | VoxRadError] = []

    def finish(item: Utterance | VoxRadError) -> None:
        if not done.is_set():
            result.append(item)
            done.set()

    mic = Microphone(settings, on_utterance=finish, on_error=finish, mode=mode)
    mic.start()
    try:
        if on_ready is not None:
            on_ready()
        started = time.monotonic()
        if not done.wait(timeout):
            raise MicrophoneError(
                f"Nothing was heard within {timeout:.0f} s.",
                hint="Check the microphone level and that the right input is chosen.",
            )
        logger.debug("audio: utterance after %.2f s", time.monotonic() - started)
    finally:
        mic.stop()
    item = result[0]
    if isinstance(item, VoxRadError):
        raise item
    return item
