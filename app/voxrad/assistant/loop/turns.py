"""What the assistant pipeline works with and reports: states, turn records, events, protocols.

Qt-free on purpose (napari's model/view split): the pipeline reports :class:`PipelineEvent`
objects to plain callables, and a Qt front end re-emits them as signals on the GUI thread.
The protocols here are the seams the rest of VoxRad plugs into: the viewer (the UI implements
:class:`ViewerActions`) and the model side (:class:`Answerer`); speech output is the TTS
backends' :class:`voxrad.backends.tts.base.Speaker`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from voxrad.assistant.commands.grammar import Command
from voxrad.core.conversation import Answer, Question, Turn
from voxrad.core.session import Session
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.core.volume import Volume


class PipelineState(StrEnum):
    """What the assistant is doing, as the status bar shows it."""

    IDLE = "idle"
    LISTENING = "listening"
    TRANSCRIBING = "transcribing"
    THINKING = "thinking"
    SPEAKING = "speaking"


#: Stage names of :attr:`TurnRecord.timings`, in the order a turn passes them (seconds).
#: ``capture``: push-to-talk held (or the hands-free utterance); ``transcription``: inside ASR;
#: ``image_preparation``: reported by the answerer; ``first_token`` and ``full_answer``: from
#: sending the question to the first piece of text and to the finished answer;
#: ``first_audio``: from the end of the question (release or typed submit) to the first
#: spoken sentence starting; ``total``: the turn's own wall time; ``overhead``: the part of
#: ``total`` not spent inside ASR, the model or speech output.
STAGES = (
    "capture",
    "transcription",
    "image_preparation",
    "first_token",
    "full_answer",
    "first_audio",
    "total",
    "overhead",
)

TurnKind = Literal["pending", "command", "question", "empty"]
TurnSource = Literal["voice", "typed"]
#: What happens to a question asked while another is being answered.
BusyPolicy = Literal["queue", "cancel"]


@runtime_checkable
class ViewerActions(Protocol):
    """The viewer as the pipeline sees it. The UI implements it.

    ``apply_command`` is called on a pipeline thread: a Qt implementation must hand the work
    to the GUI thread (a queued signal) and return at once. What is on screen is read from
    ``session`` (the Qt-free model the viewer keeps up to date), never from a widget.
    """

    @property
    def session(self) -> Session:
        """The model of what is on screen; a question reads its view when it is asked."""
        ...

    def apply_command(self, command: Command) -> None:
        """Carry out a voice or typed command (window, slice, zoom, select finding ...)."""
        ...


@runtime_checkable
class Answerer(Protocol):
    """Question -> prompt -> model -> parsed :class:`Answer` (the VLM side).

    One instance lives on the pipeline's model thread for its whole life: ``load`` (which may
    take minutes), ``answer`` and ``close`` are all called there.
    """

    name: str

    def load(self) -> None:
        """Load the model; raises ModelNotInstalledError / BackendError with a hint."""
        ...

    def answer(
        self,
        question: Question,
        volume: Volume,
        *,
        history: Sequence[Turn] = (),
        on_token: Callable[[str], None] | None = None,
        on_answer_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        identity: PatientIdentity | None = None,
        series: SeriesInfo | None = None,
    ) -> Answer:
        """Answer ``question`` about ``volume``.

        ``on_token`` receives the raw generated text as it streams (for the live panel);
        ``on_answer_text`` receives only the answer proper as it streams (no reasoning, no box
        syntax), which is what gets spoken sentence by sentence. An answerer that cannot split
        the stream may skip ``on_answer_text``: the pipeline then speaks ``Answer.answer`` at
        the end. Setting ``cancel`` stops generation (GenerationCancelledError).
        ``Answer.timings["prepare"]`` is reported as the image-preparation stage.
        ``identity`` and ``series`` come from the :class:`~voxrad.core.session.ViewContext`
        (see there): the answerer must keep identifiers out of what it sends, and may record
        the answer.
        """
        ...

    def close(self) -> None:
        """Free the model; safe to call twice."""
        ...


@dataclass
class TurnRecord:
    """One exchange as the conversation panel shows it and the store keeps it.

    Mutated only by the pipeline thread that owns the turn; listeners get :meth:`snapshot`
    copies. ``messages`` are clinician-readable notes (faults, cancellations) in order;
    ``error`` is set when the turn failed.
    """

    turn_id: int
    source: TurnSource
    kind: TurnKind = "pending"
    transcript: str = ""
    command: Command | None = None
    question: Question | None = None
    answer: Answer | None = None
    model: str = ""
    messages: list[str] = field(default_factory=list)
    error: str = ""
    cancelled: bool = False
    spoken: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    created: float = 0.0

    def snapshot(self) -> TurnRecord:
        return TurnRecord(
            turn_id=self.turn_id,
            source=self.source,
            kind=self.kind,
            transcript=self.transcript,
            command=self.command,
            question=self.question,
            answer=self.answer,
            model=self.model,
            messages=list(self.messages),
            error=self.error,
            cancelled=self.cancelled,
            spoken=self.spoken,
            timings=dict(self.timings),
            created=self.created,
        )

    @property
    def ok(self) -> bool:
        return not self.error and not self.cancelled


EventKind = Literal[
    "state",  # the pipeline state changed (``state``)
    "transcript",  # the turn's transcript is known
    "partial",  # words heard so far while speaking (``text``; no turn; "" clears; never saved)
    "command",  # a command was handed to the viewer
    "token",  # raw model text arrived (``text``)
    "sentence",  # a sentence is being spoken (``text``)
    "answer",  # the parsed answer is ready
    "message",  # a note for the clinician (``text``): fault, cancellation, model loading
    "finished",  # the turn is over (answered, failed or cancelled)
]


@dataclass(frozen=True)
class PipelineEvent:
    """Something a listener may show. ``turn`` is a snapshot taken when the event fired."""

    kind: EventKind
    state: PipelineState
    turn: TurnRecord | None = None
    text: str = ""


Listener = Callable[[PipelineEvent], None]


def busy_seconds(intervals: Sequence[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals: time some backend was working.

    Speech and generation overlap when the reply is spoken as it streams; counting the union
    keeps that overlap from being subtracted twice from a turn's wall time.
    """
    total = 0.0
    cur_start: float | None = None
    cur_end = 0.0
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if cur_start is None or start > cur_end:
            if cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_start is not None:
        total += cur_end - cur_start
    return total
