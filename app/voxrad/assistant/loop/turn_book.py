"""The turn book: the one owner of a session's turns while the loop runs.

The loop's parts (intake, live transcript, question runs, the question queue) each do one
step of a turn on their own thread. What they share lives here and only here: the lock, the
turn ids, the cancel epoch, what the clinician is doing (listening, utterances being
transcribed), the listeners, and :meth:`TurnBook.finish`, the one way a turn ends (filed in
asking order, saved, announced). The parts are handed the book, never the pipeline.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from voxrad.assistant.loop.turns import (
    Listener,
    PipelineEvent,
    PipelineState,
    TurnRecord,
    TurnSource,
)
from voxrad.core.conversation import Turn
from voxrad.core.errors import VoxRadError

logger = logging.getLogger(__name__)

#: Follows the store's own message when a finished turn cannot be saved: nothing is lost yet.
SAVE_FAILED_TAIL = "This turn stays on screen until VoxRad closes."


class TurnBook:
    """Turn ids, the turn list, the cancel epoch, listeners and the end of every turn.

    Every method may be called from any thread. Events are delivered one at a time, in
    order, under :attr:`emit_lock`; a part that decides something and emits it in one step
    (the live transcript) takes :attr:`emit_lock` before its own lock, as every emitter does.

    Parameters
    ----------
    on_turn_finished
        Called with a snapshot of each finished :class:`TurnRecord` (e.g. the conversation
        store's ``append``); a failure there is reported on the turn, never lost silently.
    """

    def __init__(self, on_turn_finished: Callable[[TurnRecord], None] | None = None) -> None:
        #: Re-entrant: held while a state is computed from the question queue's fields.
        self.lock = threading.RLock()
        self.emit_lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._on_turn_finished = on_turn_finished
        self._turns: list[TurnRecord] = []
        self._next_id = 1
        self._cancel_epoch = 0
        self._listening_since: float | None = None
        self._transcribing = 0
        self._state = PipelineState.IDLE
        self._questions_state: Callable[[], PipelineState] = lambda: PipelineState.IDLE

    # --- listeners and events ----------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        with self.emit_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self.emit_lock:
            self._listeners.remove(listener)

    def emit(self, kind: Any, record: TurnRecord | None, text: str = "") -> None:
        """Deliver one :class:`PipelineEvent` (with a snapshot of ``record``) to every listener."""
        event = PipelineEvent(kind, self._state, record.snapshot() if record else None, text)
        with self.emit_lock:
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:
                    logger.exception("pipeline listener failed on %s", kind)

    # --- turns -------------------------------------------------------------------------------

    def new_record(self, source: TurnSource) -> TurnRecord:
        """A new turn with the next id (ids never repeat within a session)."""
        with self.lock:
            record = TurnRecord(self._next_id, source, created=time.time())
            self._next_id += 1
        return record

    def finish(self, record: TurnRecord) -> None:
        """The one way a turn ends: filed in asking order, saved, then announced."""
        with self.lock:
            # Kept in asking order: a command finishes before a question asked earlier.
            bisect.insort(self._turns, record, key=lambda t: t.turn_id)
            save = self._on_turn_finished
        logger.info(
            "turn %d %s finished: %s",
            record.turn_id,
            record.kind,
            ", ".join(f"{k}={v * 1000:.0f}ms" for k, v in record.timings.items()),
        )
        if save is not None:
            try:
                save(record.snapshot())
            except Exception as exc:
                logger.exception("saving turn %d failed", record.turn_id)
                note = "This turn could not be saved; it stays on screen until VoxRad closes."
                if isinstance(exc, VoxRadError):
                    # Say why (the disk is full, the folder is read-only) and what to do.
                    note = f"{exc.message} {SAVE_FAILED_TAIL} {exc.hint}".strip()
                record.messages.append(note)
                self.emit("message", record, note)
        self.emit("finished", record)

    def snapshots(self) -> list[TurnRecord]:
        with self.lock:
            return [t.snapshot() for t in self._turns]

    def load(self, records: Sequence[TurnRecord]) -> None:
        """Start from a stored conversation (a study reopened)."""
        with self.lock:
            self._turns = [r.snapshot() for r in records]
            # Ids never repeat within a session, so an event of the previous study's turn
            # can never be taken for one of this study's.
            last = max((r.turn_id for r in records), default=0)
            self._next_id = max(self._next_id, last + 1)

    def save_with(self, on_turn_finished: Callable[[TurnRecord], None] | None) -> None:
        """Save turns finished from now on with ``on_turn_finished`` (another study's store)."""
        with self.lock:
            self._on_turn_finished = on_turn_finished

    def clear(self) -> None:
        with self.lock:
            self._turns = []

    def history(self, keep: int) -> tuple[Turn, ...]:
        """The last ``keep`` answered questions, as the answerer replays them."""
        with self.lock:
            answered = [
                Turn(t.question, t.answer)
                for t in self._turns
                if t.question is not None and t.answer is not None
            ]
        return tuple(answered[-keep:]) if keep > 0 else ()

    def last_answered(self) -> TurnRecord | None:
        """The latest turn with a non-empty answer ("repeat that")."""
        with self.lock:
            answered = [t for t in self._turns if t.answer is not None and t.answer.answer]
            return answered[-1].snapshot() if answered else None

    # --- cancel epoch ------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        """Bumped by every cancel: an utterance submitted before it is dropped."""
        return self._cancel_epoch

    def bump_epoch(self) -> None:
        with self.lock:
            self._cancel_epoch += 1

    # --- what the clinician is doing ---------------------------------------------------------

    @property
    def listening(self) -> bool:
        return self._listening_since is not None

    def start_listening(self) -> None:
        with self.lock:
            self._listening_since = time.perf_counter()

    def stop_listening(self) -> float | None:
        """Listening ended; returns when it began (perf_counter), or None."""
        with self.lock:
            since, self._listening_since = self._listening_since, None
        return since

    def utterance_submitted(self) -> int:
        """An utterance goes to transcription; returns the cancel epoch it was taken in."""
        with self.lock:
            self._transcribing += 1
            return self._cancel_epoch

    def utterance_taken(self) -> None:
        """Its transcription and parsing ended (a question is queued by now)."""
        with self.lock:
            self._transcribing -= 1
        self.update_state()

    # --- state -------------------------------------------------------------------------------

    @property
    def state(self) -> PipelineState:
        return self._state

    def set_state_source(self, questions_state: Callable[[], PipelineState]) -> None:
        """``questions_state()`` says thinking, speaking or idle from the questions; it
        decides when the clinician is neither speaking nor being transcribed. Called under
        :attr:`lock`."""
        self._questions_state = questions_state

    def update_state(self) -> None:
        """Recompute the state; announce it ("state" event) when it changed."""
        with self.emit_lock:
            with self.lock:
                state = self._listen_state() or self._questions_state()
                if state == self._state:
                    return
                self._state = state
            self.emit("state", None)

    def _listen_state(self) -> PipelineState | None:
        if self._listening_since is not None:
            return PipelineState.LISTENING
        if self._transcribing > 0:
            return PipelineState.TRANSCRIBING
        return None
