"""What the loop's parts read besides the turn book: engines, options, the study's words.

:class:`LoopContext` is configuration, not state a turn changes: the three backend workers,
the options in force (Settings can replace them between turns), the command grammar built
from them, the open study's words for speech recognition, and the mute button. Each part of
the loop (intake, live transcript, question runs) is handed the context and the book.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from voxrad.assistant.commands.grammar import CommandGrammar
from voxrad.assistant.loop.turn_book import TurnBook
from voxrad.assistant.loop.turns import BusyPolicy
from voxrad.assistant.loop.workers import BackendWorker
from voxrad.core.conversation import Turn


@dataclass(frozen=True)
class PipelineOptions:
    """How the loop behaves. Built from settings by the composition root."""

    busy_policy: BusyPolicy = "queue"
    #: Questions allowed to wait behind the running one ("queue" policy).
    max_queued: int = 3
    muted: bool = False
    #: Hands-free utterances must start with this phrase (empty: no wake phrase).
    wake_phrase: str = ""
    #: Accepted variants of the phrase, and how lenient the match by sound is (0..1).
    wake_variants: tuple[str, ...] = ()
    wake_sensitivity: float = 0.5
    synonyms: Mapping[str, str] | None = None
    #: Earlier answered turns sent with a question (the prompt replays them as context).
    history_turns: int = 6
    #: Seconds each thread gets to end at shutdown.
    shutdown_timeout_s: float = 5.0
    #: Text -> text applied to each sentence before speaking; None means
    #: :func:`voxrad.assistant.speech.speakable.speakable` (units and symbols in words).
    speech_text: Callable[[str], str] | None = None
    #: Show words heard so far while speaking ("partial" events), every interval seconds.
    live_transcript: bool = True
    live_transcript_interval_s: float = 1.0


class LoopContext:
    """The engines and options one pipeline's parts share (see the module docstring).

    Fields are replaced whole (never mutated in place), so a part that reads one field once
    per step sees a consistent value without a lock.
    """

    def __init__(
        self,
        book: TurnBook,
        options: PipelineOptions,
        *,
        asr: BackendWorker[Any] | None,
        vlm: BackendWorker[Any] | None,
        tts: BackendWorker[Any] | None,
    ) -> None:
        self.book = book
        self.asr = asr
        self.vlm = vlm
        self.tts = tts
        self.options = options
        self.grammar = CommandGrammar(options.synonyms)
        self.study_words: tuple[str, ...] = ()
        self.muted = options.muted

    def use_options(self, options: PipelineOptions) -> None:
        """Settings saved: these options from the next utterance or question on."""
        self.grammar = CommandGrammar(options.synonyms)
        self.options = options

    def use_study_words(self, words: Sequence[str]) -> None:
        self.study_words = tuple(words)

    def history(self) -> tuple[Turn, ...]:
        """Answered questions so far, as many as the options replay."""
        return self.book.history(self.options.history_turns)
