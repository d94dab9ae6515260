"""The intake thread: utterances and typed text, in order, become commands or questions.

Split from :mod:`voxrad.assistant.loop.pipeline` along the seam between *understanding* a turn
(transcribe, parse, act on the viewer at once) and *answering* it (one question at a time).
A voice command is therefore never stuck behind a slow answer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from voxrad.assistant.commands.grammar import Action, Command, split_wake_phrase
from voxrad.assistant.loop.context import LoopContext
from voxrad.assistant.loop.question_queue import QuestionQueue
from voxrad.assistant.loop.question_run import QuestionRun, TurnFailedError, wait_job
from voxrad.assistant.loop.turns import TurnRecord, ViewerActions, busy_seconds
from voxrad.core.errors import VoxRadError

logger = logging.getLogger(__name__)

NOTHING_HEARD = "Nothing was heard. Hold the talk button while you speak, or type the question."
STOP = object()


@dataclass(frozen=True)
class IntakeItem:
    """One utterance or typed text waiting for the intake thread."""

    record: TurnRecord
    #: When it was submitted (perf_counter): the turn's own time counts from here.
    t_submit: float
    #: The utterance's samples; None for typed text (``record.transcript`` holds it).
    audio: Any = None
    sample_rate: int = 0
    hands_free: bool = False
    #: The pipeline's cancel epoch at submission: a cancel since then drops the utterance.
    epoch: int = 0
    #: Called when the final transcription ends (the live transcript clears its line).
    transcribed: Callable[[Any], None] | None = None


class LoopControls(Protocol):
    """What a voice command can do to the whole loop ("cancel", "stop talking")."""

    def cancel(self) -> None: ...

    def stop_speaking(self) -> None: ...


class Intake:
    """Owns the ``voxrad-intake`` thread and its queue.

    Parameters
    ----------
    ctx
        The loop's engines and options; its turn book ends every turn taken here.
    questions
        Where questions go to be answered, one at a time.
    viewer
        Acts on viewer commands and says what is on screen when a question is asked.
    controls
        Cancels the loop or stops its speech ("cancel", "stop talking").
    """

    def __init__(
        self,
        ctx: LoopContext,
        questions: QuestionQueue,
        viewer: ViewerActions,
        controls: LoopControls,
    ) -> None:
        self.ctx = ctx
        self.book = ctx.book
        self.questions = questions
        self.viewer = viewer
        self.controls = controls
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._intake_loop, name="voxrad-intake", daemon=True)

    def put(self, item: IntakeItem | object) -> None:
        """Queue an :class:`IntakeItem` (or :data:`STOP`)."""
        self._queue.put(item)

    def _intake_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is STOP:
                return
            record = item.record
            try:
                self._take(item)
            except Exception:  # a bug must not end the loop: the next turn still works
                logger.exception("turn %d failed unexpectedly", record.turn_id)
                record.error = "Something went wrong with this turn; see the log. Try again."
                self.book.finish(record)
            finally:
                if item.audio is not None:
                    # Only now: a question is already queued, so the state goes straight
                    # from transcribing to thinking.
                    self.book.utterance_taken()

    def _take(self, item: IntakeItem) -> None:
        record, t_submit, hands_free = item.record, item.t_submit, item.hands_free
        intervals: list[tuple[float, float]] = []
        wake = self.ctx.options.wake_phrase if hands_free else ""
        text = record.transcript
        if item.audio is not None:
            self._transcribe(record, item, intervals, wake)
            if record.error:
                self._close_intake(record, t_submit, intervals)
                return
            text = record.transcript
            if wake:
                # Room talk: not for VoxRad. It never becomes a turn, so it is not shown,
                # saved, audited or sent (nor its transcript logged above DEBUG).
                opts = self.ctx.options
                rest = split_wake_phrase(
                    text, wake, variants=opts.wake_variants, sensitivity=opts.wake_sensitivity
                )
                if rest is None:
                    logger.debug("hands-free utterance without the wake phrase ignored")
                    return
                text = rest
        self.book.emit("transcript", record)
        if item.audio is not None and item.epoch != self.book.epoch:
            record.cancelled = True
            record.messages.append("Cancelled.")
            self.book.emit("message", record, "Cancelled.")
            self._close_intake(record, t_submit, intervals)
            return
        parsed = self.ctx.grammar.parse(text)
        if parsed is None:
            record.kind = "empty"
            record.messages.append(NOTHING_HEARD)
            self.book.emit("message", record, NOTHING_HEARD)
            self._close_intake(record, t_submit, intervals)
            return
        if isinstance(parsed, Command):
            record.kind = "command"
            record.command = parsed
            self._run_command(record, parsed)
            self._close_intake(record, t_submit, intervals)
            return
        record.kind = "question"
        view = self.viewer.session.question_view()
        self.questions.put(QuestionRun(self.ctx, record, parsed.text, t_submit, intervals, view))

    def _transcribe(
        self,
        record: TurnRecord,
        item: IntakeItem,
        intervals: list[tuple[float, float]],
        wake_phrase: str,
    ) -> None:
        audio, rate, transcribed = item.audio, item.sample_rate, item.transcribed
        asr = self.ctx.asr
        if asr is None:
            record.error = "Speech recognition is not set up. Type the question instead."
            return
        words = self.ctx.study_words
        job = asr.submit(
            lambda t: t.transcribe(audio, sample_rate=rate, context=words, wake_phrase=wake_phrase),
            "transcribe",
        )
        if transcribed is not None:
            # On the ASR thread as the job ends, so before any later utterance's partial.
            job.add_done_callback(transcribed)
        try:
            wait_job(job, None)
        except TurnFailedError as exc:
            record.error = exc.message
            record.messages.append(exc.message)
            self.book.emit("message", record, exc.message)
            return
        finally:
            if job.ended is not None:
                intervals.append((job.submitted, job.ended))
            if job.started is not None:
                record.timings["transcription"] = job.seconds
        record.transcript = job.result.text.strip() if job.result is not None else ""

    def _run_command(self, record: TurnRecord, command: Command) -> None:
        if command.action is Action.CANCEL:
            self.controls.cancel()
        elif command.action is Action.STOP_SPEAKING:
            self.controls.stop_speaking()
        elif command.action is Action.REPEAT:
            self._repeat()
        else:
            try:
                self.viewer.apply_command(command)
            except VoxRadError as exc:
                record.error = exc.user_message()
            except Exception:
                logger.exception("viewer failed on %s", command.action)
                record.error = "The viewer could not do that; see the log."
            if record.error:
                record.messages.append(record.error)
                self.book.emit("message", record, record.error)
        self.book.emit("command", record)

    def _repeat(self) -> None:
        last = self.book.last_answered()
        if last is not None and last.answer is not None:
            run = QuestionRun(self.ctx, last, "", time.perf_counter(), [])
            self.questions.speaking_again(run)
            run.speak_text(last.answer.answer)

    def _close_intake(
        self, record: TurnRecord, t_submit: float, intervals: list[tuple[float, float]]
    ) -> None:
        total = time.perf_counter() - t_submit
        record.timings["total"] = total
        record.timings["overhead"] = max(total - busy_seconds(intervals), 0.0)
        self.book.finish(record)
