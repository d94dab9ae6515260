"""The assistant's turn loop: audio or typed text -> command or question -> answer -> speech.

Threads (each backend on its own, STYLE.md section 3):

* ``voxrad-asr``, ``voxrad-vlm``, ``voxrad-tts``: :class:`BackendWorker` s owning the
  transcriber, the answerer and the speech output.
* ``voxrad-intake``: takes utterances and typed text in order, transcribes, parses with the
  command grammar and either acts on the viewer at once or hands a question on. Commands are
  never stuck behind a slow answer ("next slice" works while the model thinks).
* ``voxrad-questions``: answers one question at a time (never interleaved); a question asked
  meanwhile is queued or cancels the running one (:attr:`PipelineOptions.busy_policy`).

Every wait is on an event set by a job's completion or by a cancel, never a sleep loop.
Faults end the turn with a message a clinician can act on; the pipeline stays usable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from voxrad.assistant.loop.context import LoopContext, PipelineOptions
from voxrad.assistant.loop.intake import NOTHING_HEARD, STOP, Intake, IntakeItem
from voxrad.assistant.loop.live_transcript import LiveTranscript
from voxrad.assistant.loop.question_queue import QuestionQueue
from voxrad.assistant.loop.turn_book import SAVE_FAILED_TAIL, TurnBook
from voxrad.assistant.loop.turns import (
    Answerer,
    Listener,
    PipelineState,
    TurnRecord,
    ViewerActions,
)
from voxrad.assistant.loop.workers import BackendWorker
from voxrad.audio.endpointer import PartialUtterance
from voxrad.backends.asr.base import Transcriber
from voxrad.backends.tts.base import Speaker
from voxrad.core.conversation import Turn
from voxrad.core.errors import VoxRadError

logger = logging.getLogger(__name__)

__all__ = ["NOTHING_HEARD", "SAVE_FAILED_TAIL", "AssistantPipeline", "PipelineOptions"]


class AssistantPipeline:
    """One clinician's assistant loop. The UI drives it and listens to its events.

    Parameters
    ----------
    viewer
        The viewer's side (:class:`ViewerActions`).
    transcriber_factory, answerer_factory, speaker_factory
        Build the backends; each is called on its own worker thread. ``speaker_factory`` may
        be None (no speech output: replies are shown only).
    on_turn_finished
        Called with each finished :class:`TurnRecord` (e.g. the conversation store's
        ``append``); a failure there is reported as a message, never lost silently.
    """

    def __init__(
        self,
        viewer: ViewerActions,
        *,
        transcriber_factory: Callable[[], Transcriber] | None,
        answerer_factory: Callable[[], Answerer] | None,
        speaker_factory: Callable[[], Speaker] | None = None,
        options: PipelineOptions | None = None,
        on_turn_finished: Callable[[TurnRecord], None] | None = None,
    ) -> None:
        self.viewer = viewer
        asr, vlm, tts = transcriber_factory, answerer_factory, speaker_factory
        self._book = TurnBook(on_turn_finished)
        self._ctx = LoopContext(
            self._book,
            options or PipelineOptions(),
            asr=BackendWorker("voxrad-asr", asr) if asr else None,
            vlm=BackendWorker("voxrad-vlm", vlm) if vlm else None,
            tts=BackendWorker("voxrad-tts", tts) if tts else None,
        )
        opts = self._ctx.options
        self.questions = QuestionQueue(
            self._book.lock,
            busy_policy=opts.busy_policy,
            max_queued=opts.max_queued,
            finish=self._book.finish,
            update_state=self._book.update_state,
        )
        self._book.set_state_source(self._questions_state)
        self._intake = Intake(self._ctx, self.questions, viewer, self)
        self.live_transcript = LiveTranscript(self._ctx)
        self._threads = [self._intake.thread, self.questions.thread]
        self._started = False

    @property
    def options(self) -> PipelineOptions:
        return self._ctx.options

    @property
    def _workers(self) -> tuple[BackendWorker | None, ...]:
        return (self._ctx.asr, self._ctx.vlm, self._ctx.tts)

    # --- public API (any thread) -------------------------------------------------------------

    def start(self, *, load_models: bool = True) -> None:
        """Start the threads; with ``load_models`` the backends begin loading now."""
        if self._started:
            return
        self._started = True
        for worker in self._workers:
            if worker is not None:
                worker.start(load_now=load_models)
        for thread in self._threads:
            thread.start()

    def reload_models(
        self, *, asr: bool = True, vlm: bool = True, tts: bool = True, load_now: bool = False
    ) -> None:
        """Load the chosen backends afresh: after a model was installed, or the engine, model
        or voice was changed in Settings (the factories read the new settings). A job already
        running ends on the old backend; ``load_now`` loads in the background at once."""
        for worker, chosen in zip(self._workers, (asr, vlm, tts), strict=True):
            if worker is not None and chosen:
                worker.reload(load_now=load_now and self._started)

    def update_options(self, options: PipelineOptions) -> None:
        """Use ``options`` from the next utterance or question on (Settings saved while the
        app runs). The running question is not touched, nor is the mute button's state
        (``options.muted`` is how a session starts)."""
        with self._book.lock:
            self._ctx.use_options(options)
            self.questions.busy_policy = options.busy_policy
            self.questions.max_queued = options.max_queued

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` for every :class:`PipelineEvent`, on pipeline threads.

        Listeners must return quickly and never wait on the pipeline (a Qt adapter re-emits
        the event as a queued signal): events are delivered one at a time, in order.
        """
        self._book.add_listener(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._book.remove_listener(listener)

    @property
    def state(self) -> PipelineState:
        return self._book.state

    @property
    def muted(self) -> bool:
        return self._ctx.muted

    def set_muted(self, muted: bool) -> None:
        """Mute stops the current speech too."""
        self._ctx.muted = muted
        if muted:
            self.stop_speaking()

    def set_study_words(self, words: Sequence[str]) -> None:
        """Words from the open study (body part, series names) that speech recognition favours."""
        self._ctx.use_study_words(words)

    def turns(self) -> list[TurnRecord]:
        """Snapshots of the conversation so far, oldest first."""
        return self._book.snapshots()

    def load_history(self, records: Sequence[TurnRecord]) -> None:
        """Start from a stored conversation (a study reopened)."""
        self._book.load(records)

    def open_conversation(
        self,
        history: Sequence[TurnRecord],
        on_turn_finished: Callable[[TurnRecord], None] | None,
    ) -> None:
        """Switch to another study's conversation: stop what is running, show ``history``
        and save new turns with ``on_turn_finished`` (e.g. ``StudyConversation.append``)."""
        self.cancel()
        self._book.save_with(on_turn_finished)
        self._book.load(history)

    def clear_history(self) -> None:
        self._book.clear()

    def history(self) -> tuple[Turn, ...]:
        """Answered questions so far, as the answerer replays them."""
        return self._ctx.history()

    def start_listening(self) -> None:
        """Push-to-talk pressed (or hands-free speech began). Stops any speech: barge-in."""
        self.stop_speaking()
        self._book.start_listening()
        self._book.update_state()

    def stop_listening(self) -> None:
        """Listening ended without an utterance (released at once, or cancelled)."""
        self._book.stop_listening()
        self.live_transcript.stop()
        self._book.update_state()

    def submit_partial(self, partial: PartialUtterance) -> bool:
        """Speech so far: shown as a "partial" event, never a turn (:class:`LiveTranscript`)."""
        return self.live_transcript.submit(partial)

    def submit_audio(
        self,
        audio: np.ndarray,
        *,
        sample_rate: int = 16_000,
        capture_s: float | None = None,
        hands_free: bool = False,
    ) -> int:
        """An utterance is complete (push-to-talk released). Returns the turn id."""
        now = time.perf_counter()
        since = self._book.stop_listening()
        if capture_s is None:
            capture_s = now - since if since is not None else audio.size / sample_rate
        self.start()  # no-op once started
        record = self._book.new_record("voice")
        record.timings["capture"] = float(capture_s)
        epoch = self._book.utterance_submitted()
        transcribed = self.live_transcript.end_utterance()
        item = IntakeItem(record, now, audio, sample_rate, hands_free, epoch, transcribed)
        self._intake.put(item)
        self._book.update_state()
        return record.turn_id

    def submit_text(self, text: str) -> int:
        """A typed (or edited and re-asked) command or question. Returns the turn id."""
        self.start()
        record = self._book.new_record("typed")
        record.transcript = text.strip()
        self._intake.put(IntakeItem(record, time.perf_counter(), epoch=self._book.epoch))
        return record.turn_id

    def microphone_failed(self, error: VoxRadError) -> None:
        """The microphone failed or was unplugged, possibly mid-question."""
        was_listening = self._book.stop_listening() is not None
        self.live_transcript.clear()
        record = self._book.new_record("voice")
        record.kind = "empty"
        record.error = error.user_message()
        record.messages.append(record.error)
        logger.warning("microphone failed (listening=%s): %s", was_listening, error.message)
        self._book.emit("message", record, record.error)
        self._book.finish(record)
        self._book.update_state()

    def cancel(self) -> None:
        """Cancel the running question, the ones waiting, utterances being transcribed and
        any speech."""
        self._book.bump_epoch()
        self.live_transcript.clear()
        self.questions.cancel_all()
        self.stop_speaking()
        self._book.update_state()

    def stop_speaking(self) -> None:
        """Barge-in / "stop talking": the reply stops within the speech engine's cancel bound."""
        for run in self.questions.speaking_runs():
            run.stop_speech()
        self._book.update_state()

    def shutdown(self, timeout: float | None = None) -> bool:
        """Cancel everything, end every thread and close the backends. False if any thread
        did not end in time (logged); the app can still exit (daemon threads)."""
        limit = self.options.shutdown_timeout_s if timeout is None else timeout
        self.cancel()
        self.questions.stop()
        self._intake.put(STOP)
        ok = True
        for thread in self._threads:
            if thread.is_alive():
                thread.join(limit)
                if thread.is_alive():
                    logger.warning("%s did not stop within %.1f s", thread.name, limit)
                    ok = False
        for worker in self._workers:
            if worker is not None:
                ok = worker.stop(limit) and ok
        return ok

    # --- internals ---------------------------------------------------------------------------

    def _questions_state(self) -> PipelineState:
        """Thinking, speaking or idle, from the questions (called under the book's lock)."""
        q = self.questions
        run = q.current
        if run is not None and not run.answered:
            return PipelineState.SPEAKING if run.speaking else PipelineState.THINKING
        for r in (run, q.last_spoken):
            if r is not None and r.speech_pending:
                return PipelineState.SPEAKING
        return PipelineState.THINKING if q.pending else PipelineState.IDLE
