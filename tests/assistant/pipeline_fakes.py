"""Scripted stand-ins for the pipeline's backends and viewer (tests only).

Each fake blocks on events the test controls, never on sleeps, so a test can hold the model
"thinking" or the voice "speaking" for exactly as long as it needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from voxrad.assistant.commands.grammar import Command
from voxrad.assistant.loop.turns import PipelineEvent, PipelineState
from voxrad.backends.asr.base import Transcript
from voxrad.backends.vlm.base import GenerationCancelledError
from voxrad.core.conversation import Answer, Question, Turn
from voxrad.core.session import Session
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.core.volume import Volume


class FakeTranscriber:
    """Hears ``text`` in any audio; with ``script``, hears its items in turn first.

    A partial pass (``partial=True``) hears one word of ``text`` per second of audio, and
    waits for ``partial_gate`` when given (set ``partial_started`` first); a final one waits
    for ``gate`` when given. ``calls`` lists ("partial" | "final", seconds of audio) in order.
    """

    def __init__(
        self,
        text: str = "",
        *,
        script: Sequence[str] = (),
        fail: BaseException | None = None,
        gate: threading.Event | None = None,
        partial_gate: threading.Event | None = None,
    ) -> None:
        self.text = text
        self.script = list(script)
        self.wake_phrases: list[str] = []
        #: The words each final pass was asked to favour.
        self.contexts: list[tuple[str, ...]] = []
        self.fail = fail
        self.gate = gate
        self.partial_gate = partial_gate
        self.partial_started = threading.Event()
        #: Set when a final pass starts (before it waits for ``gate``).
        self.final_started = threading.Event()
        self.calls: list[tuple[str, float]] = []
        self.threads: set[str] = set()
        self.closed = 0

    def load(self) -> None:
        self.threads.add(threading.current_thread().name)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        sample_rate: int = 16_000,
        context: Sequence[str] = (),
        wake_phrase: str = "",
        partial: bool = False,
    ) -> Transcript:
        self.threads.add(threading.current_thread().name)
        seconds = audio.size / sample_rate
        self.calls.append(("partial" if partial else "final", seconds))
        if partial:
            self.partial_started.set()
            if self.partial_gate is not None:
                self.partial_gate.wait()
            words = self.text.split()[: max(int(seconds), 1)]
            return Transcript(" ".join(words), "en", seconds)
        self.final_started.set()
        self.wake_phrases.append(wake_phrase)
        self.contexts.append(tuple(context))
        if self.gate is not None:
            self.gate.wait()
        if self.fail is not None:
            raise self.fail
        text = self.script.pop(0) if self.script else self.text
        return Transcript(text, "en", seconds)

    def close(self) -> None:
        self.closed += 1


class FakeAnswerer:
    """Streams ``reply`` word by word; can be held at a gate, fail, or load slowly.

    ``gate``: generation waits for it (or for cancel) before the first token.
    ``load_gate``: load() waits for it (a model "still loading").
    """

    name = "fake-vlm-4b"

    def __init__(
        self,
        reply: str = "The lungs are clear. No effusion is seen.",
        *,
        stream_answer_text: bool = True,
        gate: threading.Event | None = None,
        load_gate: threading.Event | None = None,
        load_error: BaseException | None = None,
        fail: BaseException | Callable[[], BaseException | None] | None = None,
        prepare_s: float = 0.002,
        gate_at: int = 0,
        ignore_cancel: bool = False,
        confidence: float | None = None,
    ) -> None:
        self.reply = reply
        self.confidence = confidence
        self.stream_answer_text = stream_answer_text
        self.gate = gate
        self.load_gate = load_gate
        self.load_error = load_error
        self.fail = fail
        self.prepare_s = prepare_s
        self.gate_at = gate_at
        self.ignore_cancel = ignore_cancel
        self.active = 0
        self.max_active = 0
        self._count_lock = threading.Lock()
        self.questions: list[Question] = []
        #: The study context each question came with: (identity, series).
        self.contexts: list[tuple[PatientIdentity | None, SeriesInfo | None]] = []
        #: The history sent with the last question, and the length of each one sent.
        self.last_history: tuple[Turn, ...] = ()
        self.history_lengths: list[int] = []
        self.threads: set[str] = set()
        self.loads = 0
        self.closed = 0
        self.started = threading.Event()

    def load(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.loads += 1
        if self.load_gate is not None:
            self.load_gate.wait()
        if self.load_error is not None:
            raise self.load_error

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
        self.threads.add(threading.current_thread().name)
        self.questions.append(question)
        self.contexts.append((identity, series))
        self.last_history = tuple(history)
        self.history_lengths.append(len(history))
        with self._count_lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.started.set()
        try:
            fail = self.fail() if callable(self.fail) else self.fail
            if fail is not None:
                raise fail
            for i, word in enumerate(self.reply.split(" ")):
                if i == self.gate_at and self.gate is not None:
                    _wait_either(self.gate, None if self.ignore_cancel else cancel)
                if cancel is not None and cancel.is_set() and not self.ignore_cancel:
                    raise GenerationCancelledError("Cancelled.")
                piece = word + " "
                if on_token is not None:
                    on_token(piece)
                if on_answer_text is not None and self.stream_answer_text:
                    on_answer_text(piece)
            return Answer(
                self.reply, confidence=self.confidence, timings={"prepare": self.prepare_s}
            )
        finally:
            with self._count_lock:
                self.active -= 1

    def close(self) -> None:
        self.closed += 1


class FakeSpeaker:
    """A :class:`voxrad.backends.tts.base.Speaker` that records what it said.

    With ``hold``, each sentence lasts until ``release`` or cancel.
    """

    def __init__(self, *, hold: bool = False, fail: BaseException | None = None) -> None:
        self.hold = hold
        self.fail = fail
        self.said: list[str] = []
        self.stopped: list[str] = []
        self.calls = 0
        self.release = threading.Event()
        self.speaking = threading.Event()
        self.returned = threading.Event()
        self.threads: set[str] = set()

    def load(self) -> None:
        self.threads.add(threading.current_thread().name)

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        return np.zeros(160 * len(text), dtype=np.float32), 16_000

    def say(
        self,
        sentences: Sequence[str],
        *,
        cancel: threading.Event | None = None,
        on_sentence: Callable[[int, str], None] | None = None,
    ) -> bool:
        self.threads.add(threading.current_thread().name)
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        self.returned.clear()
        try:
            for index, text in enumerate(sentences):
                if cancel is not None and cancel.is_set():
                    return False
                if on_sentence is not None:
                    on_sentence(index, text)
                self.speaking.set()
                if self.hold:
                    _wait_either(self.release, cancel)
                    if cancel is not None and cancel.is_set():
                        self.stopped.append(text)
                        return False
                self.said.append(text)
            return True
        finally:
            self.speaking.clear()
            self.returned.set()

    def close(self) -> None:
        pass


class FakeViewer:
    """Records commands; shows a small CT-like volume on slice 2 (of ``identity``'s study,
    series ``series``, when given)."""

    def __init__(
        self,
        volume: Volume | None = None,
        *,
        identity: PatientIdentity | None = None,
        series: SeriesInfo | None = None,
    ) -> None:
        self.volume = volume if volume is not None else small_volume()
        self.identity = identity
        self.series = series
        self.commands: list[Command] = []
        self.window = "default"
        self.applied = threading.Event()
        self.session = Session()
        self.session.show_study(self.volume, identity=identity, series=series)
        self.session.show_slice(2)
        self.session.show_window(40.0, 400.0)

    def apply_command(self, command: Command) -> None:
        self.commands.append(command)
        if command.action == "window":
            self.window = str(command.arg("preset"))
        self.applied.set()


def small_volume() -> Volume:
    voxels = np.arange(4 * 8 * 8, dtype=np.int16).reshape(4, 8, 8)
    return Volume(voxels, (2.5, 0.7, 0.7), modality="CT", units="HU")


class EventLog:
    """Collects pipeline events; lets a test wait for one without polling."""

    def __init__(self) -> None:
        self.events: list[PipelineEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: PipelineEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[PipelineEvent], bool], timeout: float = 5.0
    ) -> PipelineEvent:
        with self._cond:
            found: list[PipelineEvent] = []

            def hit() -> bool:
                found[:] = [e for e in self.events if predicate(e)]
                return bool(found)

            if not self._cond.wait_for(hit, timeout):
                raise AssertionError(f"no matching event in {timeout} s: {self.kinds()}")
            return found[0]

    def finished(self, turn_id: int, timeout: float = 5.0) -> Any:
        event = self.wait_for(
            lambda e: e.kind == "finished" and e.turn is not None and e.turn.turn_id == turn_id,
            timeout,
        )
        return event.turn

    def states(self) -> list[PipelineState]:
        with self._cond:
            return [e.state for e in self.events if e.kind == "state"]

    def kinds(self) -> list[str]:
        with self._cond:
            return [e.kind for e in self.events]

    def messages(self, turn_id: int) -> list[str]:
        with self._cond:
            return [
                e.text
                for e in self.events
                if e.kind == "message" and e.turn is not None and e.turn.turn_id == turn_id
            ]


def _wait_either(gate: threading.Event, cancel: threading.Event | None) -> None:
    """Wait until ``gate`` or ``cancel`` is set, without polling.

    Two relay threads each wait on one event; the loser stays blocked until its event is set
    (daemon, a handful per test module). The soak test uses no gate, so it creates none.
    """
    if cancel is None:
        gate.wait()
        return
    if gate.is_set() or cancel.is_set():
        return
    either = threading.Event()

    def relay(source: threading.Event) -> None:
        source.wait()
        either.set()

    for source in (gate, cancel):
        threading.Thread(target=relay, args=(source,), daemon=True, name="fake-relay").start()
    either.wait()
