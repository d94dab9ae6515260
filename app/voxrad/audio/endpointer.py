"""Cutting a 16 kHz stream into utterances: push-to-talk and hands-free (VAD) endpointing.

Pure numpy and single-threaded: the capture worker feeds it blocks and key events in the
order they happened, and tests feed it recorded audio directly.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
CHUNK = 512  # the VAD's step: 32 ms
#: A float sample at or above this is clipped (int16 full scale is 32767/32768).
CLIP_LEVEL = 0.999
#: No partial (live transcript) is taken after this long without speech: a pause may be the
#: end. Push-to-talk has no VAD: a block this far below the utterance's loudest one (RMS
#: ratio, -20 dB) counts as no speech. Relative, so a quiet microphone still gets partials;
#: a noisy room only loses the pause rule.
PARTIAL_PAUSE_S = 0.25
PARTIAL_QUIET_RATIO = 0.1

Mode = Literal["push_to_talk", "hands_free"]
EndReason = Literal["released", "silence", "max_length"]


@dataclass(frozen=True)
class Level:
    """Input level of one block, for a level meter."""

    rms_dbfs: float
    peak: float
    clipped: bool


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech, ready to transcribe. Times are seconds of stream audio."""

    audio: np.ndarray
    reason: EndReason
    start_s: float
    #: End of the last chunk the VAD heard as speech (hands-free), or the release time.
    speech_end_s: float
    #: Stream time at which the end was decided (speech_end_s + silence in hands-free).
    decided_s: float
    clipped: bool = False
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return self.audio.size / self.sample_rate


@dataclass(frozen=True)
class PartialUtterance:
    """The utterance still being recorded, so far: for a live transcript, never for a turn.

    ``audio`` is a copy: the endpointer keeps recording while it is transcribed elsewhere.
    """

    audio: np.ndarray
    start_s: float
    hands_free: bool
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return self.audio.size / self.sample_rate


def measure_level(block: np.ndarray) -> Level:
    """RMS in dBFS (floor -100), peak and clipping of a float block."""
    if block.size == 0:
        return Level(-100.0, 0.0, False)
    peak = float(np.max(np.abs(block)))
    rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64))))
    db = 20.0 * np.log10(rms) if rms > 1e-5 else -100.0
    return Level(round(float(db), 1), peak, peak >= CLIP_LEVEL)


class Endpointer:
    """Turns 16 kHz mono float32 blocks into :class:`Utterance` objects.

    Parameters
    ----------
    mode
        "push_to_talk": an utterance spans press() to release() (plus pre- and post-roll).
        "hands_free": the VAD starts an utterance at speech and ends it after ``silence_s``.
    vad
        A callable giving the speech probability of a 512-sample chunk (hands-free only).
    """

    def __init__(
        self,
        *,
        mode: Mode = "push_to_talk",
        pre_roll_s: float = 0.3,
        post_roll_s: float = 0.15,
        max_utterance_s: float = 30.0,
        silence_s: float = 0.8,
        vad_threshold: float = 0.5,
        min_speech_s: float = 0.1,
        vad: Callable[[np.ndarray], float] | None = None,
    ) -> None:
        if mode == "hands_free" and vad is None:
            raise ValueError("hands-free mode needs a VAD")
        self.mode: Mode = mode
        self.pre_roll = int(pre_roll_s * SAMPLE_RATE)
        self.post_roll = int(post_roll_s * SAMPLE_RATE)
        self.max_samples = int(max_utterance_s * SAMPLE_RATE)
        self.silence_s = silence_s
        self.threshold = vad_threshold
        # Hysteresis, as silero's own iterator: speech continues until the probability drops
        # clearly below the start threshold.
        self.neg_threshold = max(vad_threshold - 0.15, 0.01)
        self.min_speech_chunks = max(1, round(min_speech_s * SAMPLE_RATE / CHUNK))
        self.vad = vad
        self._history: deque[np.ndarray] = deque()  # pre-roll ring (hands-free: VAD chunks)
        self._history_len = 0
        self._pending = np.zeros(0, dtype=np.float32)  # samples not yet a full VAD chunk
        self._samples_seen = 0
        self._active = False
        self._pressed = False
        self._post_left = -1  # push-to-talk: post-roll samples still to take after release
        self._parts: list[np.ndarray] = []
        self._length = 0
        self._start_s = 0.0
        self._speech_run = 0
        self._last_speech_end_s = 0.0
        self._silence_samples = 0
        self._clipped = False
        self._release_s = 0.0
        self._exhausted = False  # push-to-talk: max length hit, wait for release
        self._next_partial = 0  # samples recorded at which the next partial is due (0: unset)
        self._heard_at = 0  # samples recorded when speech was last heard (partials only)
        self._loudest_rms = 0.0  # push-to-talk: the utterance's loudest block so far

    # --- events from the app (key, mouse button, pedal) ---------------------------------------

    def press(self) -> None:
        """Push-to-talk pressed: start recording, with the pre-roll already buffered."""
        if self.mode != "push_to_talk" or self._pressed:
            return
        self._pressed = True
        self._exhausted = False
        self._post_left = -1
        self._begin()

    def release(self) -> Utterance | None:
        """Push-to-talk released: the utterance ends after the post-roll arrives.

        Returns the utterance at once when there is no post-roll, else None (it comes out of
        :meth:`feed`).
        """
        if self.mode != "push_to_talk" or not self._pressed:
            return None
        self._pressed = False
        self._release_s = self._samples_seen / SAMPLE_RATE
        if not self._active:
            return None
        if self.post_roll <= 0:
            return self._finish("released", self._release_s)
        self._post_left = self.post_roll
        return None

    def cancel(self) -> None:
        """Drop the utterance in progress (e.g. the microphone was switched off)."""
        self._active = self._pressed = False
        self._parts, self._length, self._post_left = [], 0, -1

    @property
    def recording(self) -> bool:
        """An utterance is being recorded and may go on (not ending in its post-roll)."""
        return self._active and self._post_left < 0 and not self._exhausted

    def partial_due(self, interval_s: float) -> PartialUtterance | None:
        """The utterance so far when another ``interval_s`` of it has been recorded, else None.

        Called after each :meth:`feed`; only the due call copies audio (one concatenation of
        the utterance so far), so a live transcript costs nothing per block. None, too, while
        the speaker pauses (:data:`PARTIAL_PAUSE_S` without speech): the utterance may be
        ending, and its final transcript must not wait behind a partial pass that adds no
        words; the overdue partial comes with the first block of speech after the pause.
        """
        step = max(int(interval_s * SAMPLE_RATE), CHUNK)
        if not self.recording:
            return None
        if self._length < (self._next_partial or step):
            return None
        if self._length - self._heard_at >= PARTIAL_PAUSE_S * SAMPLE_RATE:
            return None
        self._next_partial = self._length + step
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        return PartialUtterance(audio, self._start_s, self.mode == "hands_free")

    # --- audio -------------------------------------------------------------------------------

    def feed(self, block: np.ndarray) -> list[Utterance]:
        """Take one block of 16 kHz audio; return the utterances it completed."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if self.mode == "push_to_talk":
            return self._feed_ptt(block)
        done = []
        data = np.concatenate([self._pending, block]) if self._pending.size else block
        usable = data.size - data.size % CHUNK
        for offset in range(0, usable, CHUNK):
            utterance = self._feed_vad_chunk(data[offset : offset + CHUNK])
            if utterance is not None:
                done.append(utterance)
        self._pending = data[usable:].copy()
        return done

    def _feed_ptt(self, block: np.ndarray) -> list[Utterance]:
        done: list[Utterance] = []
        if not self._active:
            self._samples_seen += block.size
            self._remember(block)
            return done
        if self._post_left >= 0:
            take = block[: self._post_left]
            self._append(take)
            self._post_left -= take.size
            self._samples_seen += block.size
            if self._post_left <= 0:
                done.append(self._finish("released", self._release_s))
            self._remember(block)
            return done
        room = self.max_samples - self._length
        self._append(block[:room])
        self._note_level(block[:room])
        self._samples_seen += block.size
        if self._length >= self.max_samples:
            done.append(self._finish("max_length", self._samples_seen / SAMPLE_RATE))
            self._exhausted = True
        return done

    def _feed_vad_chunk(self, chunk: np.ndarray) -> Utterance | None:
        assert self.vad is not None
        prob = self.vad(chunk)
        self._samples_seen += CHUNK
        now_s = self._samples_seen / SAMPLE_RATE
        if not self._active:
            self._remember(chunk)
            self._speech_run = self._speech_run + 1 if prob >= self.threshold else 0
            if self._speech_run >= self.min_speech_chunks:
                self._begin()  # the pre-roll holds the speech chunks seen so far
                self._last_speech_end_s = now_s
                self._silence_samples = 0
            return None
        self._append(chunk)
        if prob >= self.neg_threshold:
            self._heard_at = self._length
            self._last_speech_end_s = now_s
            self._silence_samples = 0
        else:
            self._silence_samples += CHUNK
        if self._silence_samples >= self.silence_s * SAMPLE_RATE:
            return self._finish("silence", self._last_speech_end_s)
        if self._length >= self.max_samples:
            return self._finish("max_length", self._last_speech_end_s)
        return None

    # --- buffers -----------------------------------------------------------------------------

    def _remember(self, samples: np.ndarray) -> None:
        if self.pre_roll <= 0 or samples.size == 0:
            return
        self._history.append(samples.copy())
        self._history_len += samples.size
        while self._history and self._history_len - self._history[0].size >= self.pre_roll:
            self._history_len -= self._history.popleft().size

    def _begin(self) -> None:
        history = np.concatenate(list(self._history)) if self._history else np.zeros(0, np.float32)
        keep = history[-self.pre_roll :] if self.pre_roll > 0 else history[:0]
        self._history.clear()
        self._history_len = 0
        self._parts = [keep] if keep.size else []
        self._length = keep.size
        self._clipped = bool(keep.size and np.max(np.abs(keep)) >= CLIP_LEVEL)
        self._start_s = (self._samples_seen - keep.size) / SAMPLE_RATE
        self._active = True
        self._next_partial = 0
        self._heard_at = self._length
        self._loudest_rms = 0.0

    def _append(self, samples: np.ndarray) -> None:
        if samples.size:
            self._parts.append(samples.copy())
            self._length += samples.size
            if not self._clipped and np.max(np.abs(samples)) >= CLIP_LEVEL:
                self._clipped = True

    def _note_level(self, samples: np.ndarray) -> None:
        """Push-to-talk: remember when speech was last heard (for :meth:`partial_due`)."""
        if not samples.size:
            return
        rms = float(np.sqrt(np.mean(np.square(samples))))
        self._loudest_rms = max(self._loudest_rms, rms)
        if rms >= self._loudest_rms * PARTIAL_QUIET_RATIO:
            self._heard_at = self._length

    def _finish(self, reason: EndReason, speech_end_s: float) -> Utterance:
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        utterance = Utterance(
            audio=audio,
            reason=reason,
            start_s=self._start_s,
            speech_end_s=speech_end_s,
            decided_s=self._samples_seen / SAMPLE_RATE,
            clipped=self._clipped,
        )
        self._active = False
        self._parts, self._length, self._post_left = [], 0, -1
        self._speech_run = 0
        self._silence_samples = 0
        logger.info(
            "audio: utterance %.2f s (%s)%s",
            utterance.duration,
            reason,
            ", clipped" if utterance.clipped else "",
        )
        return utterance
