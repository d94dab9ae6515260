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

import bisect
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxrad.assistant.commands import CommandGrammar
from voxrad.assistant.intake import NOTHING_HEARD, STOP, Intake, IntakeItem
from voxrad.assistant.live_transcript import LiveTranscript
from voxrad.assistant.question_queue import QuestionQueue
from voxrad.assistant.turns import (
    Answerer,
    BusyPolicy,
    Listener,
    PipelineEvent,
    PipelineState,
    TurnRecord,
    ViewerActions,
)
from voxrad.assistant.workers import BackendWorker
from voxrad.audio.endpointer import PartialUtterance
from voxrad.backends.asr.base import Transcriber
from voxrad.backends.tts.base import Speaker
from voxrad.core.conversation import Turn
from voxrad.core.errors import VoxRadError

logger = logging.getLogger(__name__)

#: Follows the store's own message when a finished turn cannot be saved: nothing is lost yet.
SAVE_FAILED_TAIL = "This turn stays on screen until VoxRad closes."

__all__ = ["NOTHING_HEARD", "AssistantPipeline", "PipelineOptions"]


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
    #: :func:`voxrad.assistant.speech_text.speakable` (units and symbols in words).
    speech_text: Callable[[str], str] | None = None
    #: Show words heard so far while speaking ("partial" events), every interval seconds.
    live_transcript: bool = True
    live_transcript_interval_s: float = 1.0


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
        self.options = options or PipelineOptions()
        self._grammar = CommandGrammar(self.options.synonyms)
        asr, vlm, tts = transcriber_factory, answerer_factory, speaker_factory
        self._asr = BackendWorker("voxrad-asr", asr) if asr else None
        self._vlm = BackendWorker("voxrad-vlm", vlm) if vlm else None
        self._tts = BackendWorker("voxrad-tts", tts) if tts else None
        self._on_turn_finished = on_turn_finished
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._emit_lock = threading.RLock()
        self._state = PipelineState.IDLE
        self._muted = self.options.muted
        self._listening_since: float | None = None
        self._transcribing = 0
        #: Bumped by cancel(): an utterance submitted before it is dropped after transcription.
        self._cancel_epoch = 0
        self._next_id = 1
        self._turns: list[TurnRecord] = []
        self._study_words: tuple[str, ...] = ()
        self._intake = Intake(self)
        self.live_transcript = LiveTranscript(self)
        self.questions = QuestionQueue(
            self._lock,
            busy_policy=self.options.busy_policy,
            max_queued=self.options.max_queued,
            finish=self._finish,
            update_state=self._update_state,
        )
        self._threads = [self._intake.thread, self.questions.thread]
        self._started = False

    # --- public API (any thread) -------------------------------------------------------------

    def start(self, *, load_models: bool = True) -> None:
        """Start the threads; with ``load_models`` the backends begin loading now."""
        if self._started:
            return
        self._started = True
        for worker in (self._asr, self._vlm, self._tts):
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
        for worker, chosen in ((self._asr, asr), (self._vlm, vlm), (self._tts, tts)):
            if worker is not None and chosen:
                worker.reload(load_now=load_now and self._started)

    def update_options(self, options: PipelineOptions) -> None:
        """Use ``options`` from the next utterance or question on (Settings saved while the
        app runs). The running question is not touched, nor is the mute button's state
        (``options.muted`` is how a session starts)."""
        with self._lock:
            self.options = options
            self._grammar = CommandGrammar(options.synonyms)
            self.questions.busy_policy = options.busy_policy
            self.questions.max_queued = options.max_queued

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` for every :class:`PipelineEvent`, on pipeline threads.

        Listeners must return quickly and never wait on the pipeline (a Qt adapter re-emits
        the event as a queued signal): events are delivered one at a time, in order.
        """
        with self._emit_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._emit_lock:
            self._listeners.remove(listener)

    @property
    def state(self) -> PipelineState:
        return self._state

    @property
    def muted(self) -> bool:
        return self._muted

    def set_muted(self, muted: bool) -> None:
        """Mute stops the current speech too."""
        self._muted = muted
        if muted:
            self.stop_speaking()

    def set_study_words(self, words: Sequence[str]) -> None:
        """Words from the open study (body part, series names) that speech recognition favours."""
        self._study_words = tuple(words)

    def turns(self) -> list[TurnRecord]:
        """Snapshots of the conversation so far, oldest first."""
        with self._lock:
            return [t.snapshot() for t in self._turns]

    def load_history(self, records: Sequence[TurnRecord]) -> None:
        """Start from a stored conversation (a study reopened)."""
        with self._lock:
            self._turns = [r.snapshot() for r in records]
            # Ids never repeat within a session, so an event of the previous study's turn
            # can never be taken for one of this study's.
            last = max((r.turn_id for r in records), default=0)
            self._next_id = max(self._next_id, last + 1)

    def open_conversation(
        self,
        history: Sequence[TurnRecord],
        on_turn_finished: Callable[[TurnRecord], None] | None,
    ) -> None:
        """Switch to another study's conversation: stop what is running, show ``history``
        and save new turns with ``on_turn_finished`` (e.g. ``StudyConversation.append``)."""
        self.cancel()
        with self._lock:
            self._on_turn_finished = on_turn_finished
        self.load_history(history)

    def clear_history(self) -> None:
        with self._lock:
            self._turns = []

    def start_listening(self) -> None:
        """Push-to-talk pressed (or hands-free speech began). Stops any speech: barge-in."""
        self.stop_speaking()
        with self._lock:
            self._listening_since = time.perf_counter()
        self._update_state()

    def stop_listening(self) -> None:
        """Listening ended without an utterance (released at once, or cancelled)."""
        with self._lock:
            self._listening_since = None
        self.live_transcript.stop()
        self._update_state()

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
        with self._lock:
            since, self._listening_since = self._listening_since, None
        if capture_s is None:
            capture_s = now - since if since is not None else audio.size / sample_rate
        self.start()  # no-op once started
        record = self._new_record("voice")
        record.timings["capture"] = float(capture_s)
        with self._lock:
            self._transcribing += 1
            epoch = self._cancel_epoch
        transcribed = self.live_transcript.end_utterance()
        item = IntakeItem(record, now, audio, sample_rate, hands_free, epoch, transcribed)
        self._intake.put(item)
        self._update_state()
        return record.turn_id

    def submit_text(self, text: str) -> int:
        """A typed (or edited and re-asked) command or question. Returns the turn id."""
        self.start()
        record = self._new_record("typed")
        record.transcript = text.strip()
        self._intake.put(IntakeItem(record, time.perf_counter(), epoch=self._cancel_epoch))
        return record.turn_id

    def microphone_failed(self, error: VoxRadError) -> None:
        """The microphone failed or was unplugged, possibly mid-question."""
        with self._lock:
            was_listening = self._listening_since is not None
            self._listening_since = None
        self.live_transcript.clear()
        record = self._new_record("voice")
        record.kind = "empty"
        record.error = error.user_message()
        record.messages.append(record.error)
        logger.warning("microphone failed (listening=%s): %s", was_listening, error.message)
        self._emit("message", record, record.error)
        self._finish(record)
        self._update_state()

    def cancel(self) -> None:
        """Cancel the running question, the ones waiting, utterances being transcribed and
        any speech."""
        with self._lock:
            self._cancel_epoch += 1
        self.live_transcript.clear()
        self.questions.cancel_all()
        self.stop_speaking()
        self._update_state()

    def stop_speaking(self) -> None:
        """Barge-in / "stop talking": the reply stops within the speech engine's cancel bound."""
        for run in self.questions.speaking_runs():
            run.stop_speech()
        self._update_state()

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
        for worker in (self._asr, self._vlm, self._tts):
            if worker is not None:
                ok = worker.stop(limit) and ok
        return ok

    # --- internals ---------------------------------------------------------------------------

    def _new_record(self, source: str) -> TurnRecord:
        with self._lock:
            record = TurnRecord(self._next_id, source, created=time.time())  # type: ignore[arg-type]
            self._next_id += 1
        return record

    def history(self) -> tuple[Turn, ...]:
        """Answered questions so far, as the answerer replays them."""
        with self._lock:
            answered = [
                Turn(t.question, t.answer)
                for t in self._turns
                if t.question is not None and t.answer is not None
            ]
        keep = self.options.history_turns
        return tuple(answered[-keep:]) if keep > 0 else ()

    def _finish(self, record: TurnRecord) -> None:
        with self._lock:
            # Kept in asking order: a command finishes before a question asked earlier.
            bisect.insort(self._turns, record, key=lambda t: t.turn_id)
        logger.info(
            "turn %d %s finished: %s",
            record.turn_id,
            record.kind,
            ", ".join(f"{k}={v * 1000:.0f}ms" for k, v in record.timings.items()),
        )
        if self._on_turn_finished is not None:
            try:
                self._on_turn_finished(record.snapshot())
            except Exception as exc:
                logger.exception("saving turn %d failed", record.turn_id)
                note = "This turn could not be saved; it stays on screen until VoxRad closes."
                if isinstance(exc, VoxRadError):
                    # Say why (the disk is full, the folder is read-only) and what to do.
                    note = f"{exc.message} {SAVE_FAILED_TAIL} {exc.hint}".strip()
                record.messages.append(note)
                self._emit("message", record, note)
        self._emit("finished", record)

    def _compute_state(self) -> PipelineState:
        if self._listening_since is not None:
            return PipelineState.LISTENING
        if self._transcribing > 0:
            return PipelineState.TRANSCRIBING
        q = self.questions
        run = q.current
        if run is not None and not run.answered:
            return PipelineState.SPEAKING if run.speaking else PipelineState.THINKING
        for r in (run, q.last_spoken):
            if r is not None and r.speech_pending:
                return PipelineState.SPEAKING
        return PipelineState.THINKING if q.pending else PipelineState.IDLE

    def _update_state(self) -> None:
        with self._emit_lock:
            with self._lock:
                state = self._compute_state()
                if state == self._state:
                    return
                self._state = state
            self._emit("state", None)

    def _emit(self, kind: Any, record: TurnRecord | None, text: str = "") -> None:
        event = PipelineEvent(kind, self._state, record.snapshot() if record else None, text)
        with self._emit_lock:
            listeners = list(self._listeners)
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    logger.exception("pipeline listener failed on %s", kind)
