"""One question's run through the model and speech: the part of a turn after transcription.

The question queue schedules runs (one at a time); a :class:`QuestionRun` does the work of
one and keeps its timings. It is handed the loop's context (engines, options) and reports
through the turn book, never through the pipeline. Sentences are
handed to the speech thread as soon as the model completes them, so the first sentence is
heard while the rest is still being generated.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

from voxrad.assistant.checks.safety import confidence_display
from voxrad.assistant.loop.context import LoopContext
from voxrad.assistant.loop.turns import TurnRecord, busy_seconds
from voxrad.assistant.loop.workers import Job
from voxrad.assistant.speech.sentences import SentenceSplitter, split_sentences
from voxrad.assistant.speech.speakable import speakable
from voxrad.backends.tts.base import Speaker
from voxrad.core.conversation import CUT_OFF_SPOKEN, Answer, Question
from voxrad.core.errors import VoxRadError
from voxrad.core.session import ViewContext

logger = logging.getLogger(__name__)

#: How a finished sentence ends; a cut-off answer's last piece without one is left unsaid.
_ENDS = (".", "!", "?", "…")
NO_STUDY = "Open a study first: questions are answered about the image on screen."
NO_MODEL = "No model is set up to answer questions. Choose one in Settings, then ask again."
LOADING = "The model is still loading; your question will be answered as soon as it is ready."
OUT_OF_MEMORY = (
    "The model ran out of memory on this question. Close other programs, choose a smaller "
    "model or fewer GPU layers in Settings, or ask about a smaller region."
)


class TurnFailedError(VoxRadError):
    """A backend call failed; ``message`` is what the clinician reads on the turn."""


def message_for(exc: BaseException, engine: str) -> str:
    """The clinician's message for a backend failure (the traceback goes to the log)."""
    if isinstance(exc, VoxRadError):
        return exc.user_message()
    if isinstance(exc, MemoryError):
        return OUT_OF_MEMORY
    logger.error("%s failed", engine, exc_info=exc)
    return (
        f"The {engine} stopped with an internal error ({type(exc).__name__}); it restarts for "
        "the next turn. See the log for details."
    )


def wait_job(
    job: Job[Any], wake: threading.Event | None, engine: str = "speech recognition"
) -> Any:
    """Wait for ``job`` (or for ``wake``); raise :class:`TurnFailedError` if the job failed."""
    if wake is None:
        job.done.wait()
    else:
        job.add_done_callback(lambda _job: wake.set())
        wake.wait()
    if job.done.is_set() and job.error is not None:
        raise TurnFailedError(message_for(job.error, engine))
    return job.result


class QuestionRun:
    """Answer one question and speak the reply; every step can be cancelled."""

    def __init__(
        self,
        ctx: LoopContext,
        record: TurnRecord,
        text: str,
        t_submit: float,
        intervals: list[tuple[float, float]],
        view: ViewContext | None = None,
    ) -> None:
        self.ctx = ctx
        self.book = ctx.book
        self.record = record
        self.text = text
        self.view = view
        self.t_submit = t_submit
        self.t_enqueued = time.perf_counter()
        #: Set by the scheduler when another question was running or waiting.
        self.queued_behind = False
        self.intervals = intervals
        self.cancelled = threading.Event()
        self.speech_stop = threading.Event()
        self.answered = False
        self.cancel_reason = "Cancelled."
        self._lock = threading.Lock()
        #: What the question thread is waiting on: a model job, or the end of speech.
        self._waiter: threading.Event | None = None
        self._speech_waiter: threading.Event | None = None
        self._splitter = SentenceSplitter()
        #: Sentences completed while the answer streamed (spoken then, unless muted).
        self._streamed_sentences: list[str] = []
        self._speech_failed = False
        self._speech_started = False
        self._outstanding = 0
        #: Sentences (shown, spoken form) waiting for the speech thread, and whether a call
        #: that will take them is already queued there.
        self._unsaid: list[tuple[str, str]] = []
        self._say_queued = False
        self._speech_idle = threading.Event()
        self._speech_idle.set()
        self._t_sent = 0.0
        self._first_token: float | None = None
        self._first_audio: float | None = None
        self._callback_s = 0.0

    # --- control (any thread) ---------------------------------------------------------------

    @property
    def speaking(self) -> bool:
        """A sentence has been heard and more are queued (while the answer still streams)."""
        return self._speech_started and self.speech_pending

    @property
    def speech_pending(self) -> bool:
        """Sentences are queued or playing (after the answer is complete)."""
        return self._outstanding > 0 and not self.speech_stop.is_set()

    def cancel(self, reason: str = "Cancelled.") -> None:
        self.cancel_reason = reason
        self.cancelled.set()
        self.stop_speech()
        self._wake()

    def stop_speech(self) -> None:
        self.speech_stop.set()
        # Only the wait for speech ends here; a running model call is not disturbed.
        with self._lock:
            waiter = self._speech_waiter
        if waiter is not None:
            waiter.set()

    def note(self, message: str) -> None:
        with self._lock:
            self.record.messages.append(message)
        self.book.emit("message", self.record, message)

    # --- the run (question thread) ----------------------------------------------------------

    def execute(self, previous_end: float = 0.0) -> None:
        """Run the question; ``previous_end`` is when the question before it finished."""
        t_start = time.perf_counter()
        # Time spent waiting for an earlier question is neither this turn's nor overhead.
        waited = max(0.0, min(t_start, previous_end) - self.t_enqueued)
        try:
            self._answer_and_speak()
        finally:
            self._close_timings(waited if self.queued_behind else 0.0)

    def _answer_and_speak(self) -> None:
        rec = self.record
        vlm = self.ctx.vlm
        if self.cancelled.is_set():
            rec.cancelled = True
            return
        if vlm is None:
            self._fail(NO_MODEL)
            return
        view = self.view
        if view is None or view.volume is None:
            self._fail(NO_STUDY)
            return
        volume, identity, series = view.volume, view.identity, view.series
        question = Question(
            self.text,
            slice_index=view.slice_index,
            region=view.region,
            scope=view.scope,
            window=view.window,
        )
        rec.question = question
        self.book.update_state()
        if vlm.load_error is None and not vlm.loaded.is_set():
            self.note(LOADING)
        history = self.ctx.history()
        self._t_sent = time.perf_counter()
        job = vlm.submit(
            lambda a: (
                a.answer(
                    question,
                    volume,
                    history=history,
                    on_token=self._on_token,
                    on_answer_text=self._on_answer_text,
                    cancel=self.cancelled,
                    identity=identity,
                    series=series,
                ),
                str(getattr(a, "name", "")),
            ),
            "answer",
        )
        self._wait(job)
        # A cancelled call may still run: count its wait up to now as model time.
        self.intervals.append((job.submitted, job.ended or time.perf_counter()))
        if job.ended is not None:
            rec.timings["full_answer"] = job.ended - self._t_sent
        if self.cancelled.is_set():
            rec.cancelled = True
            self.note(self.cancel_reason)
            return
        if job.error is not None:
            self._fail(message_for(job.error, "model"))
            return
        if job.result is None:
            self._fail(message_for(RuntimeError("no answer returned"), "model"))
            return
        answer, name = job.result
        if not answer.model:
            answer = _with_model(answer, name or "unknown model")
        rec.answer = answer
        rec.model = answer.model
        if "prepare" in answer.timings:
            rec.timings["image_preparation"] = answer.timings["prepare"]
        self.book.emit("answer", rec)
        # A hold on the speech count while the last sentences are queued, so no thread sees
        # "answered, nothing to say" in between: the state goes thinking -> speaking directly.
        with self._lock:
            self._outstanding += 1
            self._speech_idle.clear()
        self.answered = True
        try:
            # The parsed answer is the truth: say those of its sentences not said while it
            # streamed (the stream may have stopped early at box syntax, or never started).
            said = {_plain(s) for s in self._streamed_sentences}
            sentences = split_sentences(answer.answer)
            if answer.cut_off and sentences and not sentences[-1].rstrip().endswith(_ENDS):
                sentences = sentences[:-1]  # "The le" is not read out as if it were a sentence
            for sentence in sentences:
                if _plain(sentence) not in said:
                    self._speak(sentence)
            if answer.cut_off:
                self._speak(CUT_OFF_SPOKEN)
            # A low-confidence answer must never sound like a confident one.
            shown = confidence_display(answer.confidence)
            if shown.level == "low":
                self._speak(shown.spoken)
        finally:
            self._release_hold()
        self.book.update_state()
        self._wait_speech()

    def speak_text(self, text: str) -> None:
        """Speak a finished text (a non-streaming answer, or "repeat")."""
        for sentence in split_sentences(text):
            self._speak(sentence)

    def _fail(self, message: str) -> None:
        self.record.error = message
        self.note(message)

    def _wait(self, job: Job[Any]) -> None:
        wake = threading.Event()
        with self._lock:
            self._waiter = wake
        job.add_done_callback(lambda _job: wake.set())
        if self.cancelled.is_set():
            wake.set()
        wake.wait()
        with self._lock:
            self._waiter = None

    def _wake(self) -> None:
        with self._lock:
            waiters = (self._waiter, self._speech_waiter)
        for waiter in waiters:
            if waiter is not None:
                waiter.set()

    def _wait_speech(self) -> None:
        wake = threading.Event()
        with self._lock:
            self._speech_waiter = wake
            if self._speech_idle.is_set() or self.speech_stop.is_set() or self.cancelled.is_set():
                wake.set()
        wake.wait()
        with self._lock:
            self._speech_waiter = None

    # --- streaming callbacks (model thread) -------------------------------------------------

    def _on_token(self, piece: str) -> None:
        t0 = time.perf_counter()
        if self._first_token is None:
            self._first_token = t0 - self._t_sent
        self.book.emit("token", self.record, piece)
        self._callback_s += time.perf_counter() - t0

    def _on_answer_text(self, piece: str) -> None:
        t0 = time.perf_counter()
        if self._first_token is None:
            self._first_token = t0 - self._t_sent
        for sentence in self._splitter.feed(piece):
            self._streamed_sentences.append(sentence)
            self._speak(sentence)
        self._callback_s += time.perf_counter() - t0

    # --- speech -----------------------------------------------------------------------------

    def _speak(self, sentence: str) -> None:
        tts = self.ctx.tts
        if tts is None or self.ctx.muted or self.speech_stop.is_set() or self._speech_failed:
            return
        convert = self.ctx.options.speech_text or speakable
        spoken = convert(sentence)
        if not spoken.strip():
            return
        with self._lock:
            self._unsaid.append((sentence, spoken))
            if self._say_queued:
                return  # the queued call takes this sentence too
            self._say_queued = True
            self._outstanding += 1
            self._speech_idle.clear()
        job = tts.submit(self._say_unsaid, "say")
        job.add_done_callback(self._speech_done)

    def _say_unsaid(self, speaker: Speaker) -> None:
        """Runs on the speech thread: says every sentence that arrived since the last call in
        one ``Speaker.say``, so the engine can synthesise the next while one plays."""
        with self._lock:
            batch, self._unsaid = self._unsaid, []
            self._say_queued = False
        if not batch or self.speech_stop.is_set() or self.ctx.muted:
            return
        self._speech_started = True
        self.book.update_state()

        def started(index: int, _text: str) -> None:
            if self._first_audio is None:
                self._first_audio = time.perf_counter() - self.t_submit
                self.record.spoken = True
            self.book.emit("sentence", self.record, batch[index][0])

        t0 = time.perf_counter()
        try:
            speaker.say([s for _, s in batch], cancel=self.speech_stop, on_sentence=started)
        finally:
            self.intervals.append((t0, time.perf_counter()))

    def _release_hold(self) -> None:
        with self._lock:
            self._outstanding -= 1
            if self._outstanding == 0:
                self._speech_idle.set()

    def _speech_done(self, job: Job[Any]) -> None:
        """Runs on the speech thread after each sentence."""
        if job.error is not None and not self.speech_stop.is_set() and not self._speech_failed:
            self._speech_failed = True
            self.note(
                "The reply could not be spoken: "
                + message_for(job.error, "speech output")
                + " The answer is shown on screen."
            )
        with self._lock:
            self._outstanding -= 1
            idle = self._outstanding == 0
            if idle:
                self._speech_idle.set()
                waiter = self._speech_waiter
            else:
                waiter = None
        if waiter is not None:
            waiter.set()
        if idle:
            self.book.update_state()

    # --- timings ----------------------------------------------------------------------------

    def _close_timings(self, waited: float) -> None:
        t_end = time.perf_counter()
        t = self.record.timings
        if self._first_token is not None:
            t["first_token"] = self._first_token
        if self._first_audio is not None:
            t["first_audio"] = self._first_audio
        total = t_end - self.t_submit - waited
        inside = busy_seconds([(a, min(b, t_end)) for a, b in self.intervals])
        t["total"] = total
        t["overhead"] = max(total - inside + self._callback_s, 0.0)


def _plain(sentence: str) -> str:
    """A sentence compared by its words only (the parser may tidy spacing or markdown)."""
    return " ".join(re.findall(r"\w+", sentence.lower()))


def _with_model(answer: Answer, name: str) -> Answer:
    from dataclasses import replace

    return replace(answer, model=name)
