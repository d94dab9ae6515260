"""The Transcriber protocol and what it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Segment:
    """One decoded stretch of speech; times in seconds from the start of the audio."""

    start: float
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True)
class Word:
    """One decoded word with the recogniser's probability for it (0..1)."""

    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Transcript:
    """What a transcriber heard.

    ``text`` is empty when nothing was said (silence, noise, breathing): never invented words.
    ``timings`` holds seconds per stage (e.g. ``prepare``, ``features_vad``, ``decode``,
    ``total``), logged and shown by ``voxrad transcribe``.
    """

    text: str
    language: str
    duration: float
    segments: tuple[Segment, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    #: Seconds of audio the VAD kept (equal to ``duration`` without VAD).
    speech_duration: float = 0.0
    #: The words with their probabilities, when the engine reports them (empty otherwise).
    words: tuple[Word, ...] = ()
    #: Medical words of ``text`` the recogniser was unsure of, in order (lower case): the
    #: panel marks them so the clinician can check them before the question is answered.
    uncertain: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.text.strip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "duration_s": round(self.duration, 3),
            "speech_s": round(self.speech_duration, 3),
            "segments": [
                {
                    "start": round(s.start, 2),
                    "end": round(s.end, 2),
                    "text": s.text,
                    "avg_logprob": round(s.avg_logprob, 3),
                    "no_speech_prob": round(s.no_speech_prob, 3),
                }
                for s in self.segments
            ],
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "uncertain": list(self.uncertain),
        }


@runtime_checkable
class Transcriber(Protocol):
    """A speech-to-text engine. One instance lives on one thread for its whole life."""

    def load(self) -> None:
        """Load (and warm up) the model; raises a VoxRadError a clinician can act on."""
        ...

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        sample_rate: int = SAMPLE_RATE,
        context: Sequence[str] = (),
        wake_phrase: str = "",
        partial: bool = False,
    ) -> Transcript:
        """Transcribe mono ``audio``.

        ``context`` are words from the open study to favour; ``wake_phrase`` is the phrase a
        hands-free utterance starts with (an invented word the model must be told about).
        ``partial``: the audio is an utterance still being spoken, shown as a live transcript
        and then replaced; an engine may decode it more cheaply (but must still drop what it
        made up) and should log it only at DEBUG.
        """
        ...

    def close(self) -> None:
        """Release the model. Safe to call twice."""
        ...
