"""One question at a time: the ``voxrad-questions`` thread and the questions waiting for it.

The pipeline owns the other threads; the turn book owns the turn list and the lock.
A question asked while another runs waits ("queue" policy, at most ``max_queued``) or
replaces it ("cancel" policy); questions are never interleaved. The queue shares the turn
book's lock, so the loop's state (thinking, speaking) reads a consistent picture.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from voxrad.assistant.loop.question_run import QuestionRun
from voxrad.assistant.loop.turns import BusyPolicy, TurnRecord

logger = logging.getLogger(__name__)

TOO_MANY = "Too many questions are waiting; ask again when an answer is done."
REPLACED = "Replaced by a newer question."
WAITING = "Waiting for the answer before this one."


class QuestionQueue:
    """Runs :class:`QuestionRun` s one after another on its own thread.

    Parameters
    ----------
    lock
        The turn book's lock (re-entrant); every field here is read and written under it.
    finish
        Called with each run's record when it ends, ran or dropped (not under the lock).
    update_state
        Called after each run, so the pipeline can announce its new state.
    """

    def __init__(
        self,
        lock: threading.RLock,
        *,
        busy_policy: BusyPolicy,
        max_queued: int,
        finish: Callable[[TurnRecord], None],
        update_state: Callable[[], None],
    ) -> None:
        self.busy_policy = busy_policy
        self.max_queued = max_queued
        self._finish = finish
        self._update_state = update_state
        self._cond = threading.Condition(lock)
        self.pending: deque[QuestionRun] = deque()
        self.current: QuestionRun | None = None
        #: The run whose reply was spoken last ("stop talking" and barge-in stop it).
        self.last_spoken: QuestionRun | None = None
        #: When the previous question finished: a queued question's wait for it is not
        #: counted in its own time.
        self._last_end = 0.0
        self._stopping = False
        self.thread = threading.Thread(target=self._loop, name="voxrad-questions", daemon=True)

    def put(self, run: QuestionRun) -> None:
        """Queue ``run``, or let it replace the running one, as the busy policy says."""
        dropped: list[QuestionRun] = []
        rejected = False
        with self._cond:
            busy = self.current is not None or bool(self.pending)
            run.queued_behind = busy
            if busy and self.busy_policy == "cancel":
                dropped = list(self.pending)
                self.pending.clear()
                if self.current is not None:
                    self.current.cancel(REPLACED)
            elif busy and len(self.pending) >= self.max_queued:
                rejected = True
            if not rejected:
                self.pending.append(run)
                self._cond.notify_all()
        for old in dropped:
            self.drop(old, REPLACED)
        if rejected:
            self.drop(run, TOO_MANY)
        elif busy and self.busy_policy == "queue":
            run.note(WAITING)

    def cancel_all(self, why: str = "Cancelled.") -> None:
        """Drop the waiting questions and cancel the running one."""
        with self._cond:
            dropped = list(self.pending)
            self.pending.clear()
            current = self.current
        for run in dropped:
            self.drop(run, why)
        if current is not None:
            current.cancel()

    def speaking_runs(self) -> list[QuestionRun]:
        """The runs that may be speaking now (the running one and the last one spoken)."""
        with self._cond:
            return [r for r in (self.current, self.last_spoken) if r is not None]

    def speaking_again(self, run: QuestionRun) -> None:
        """``run`` speaks an earlier reply again ("repeat"): "stop talking" stops it."""
        with self._cond:
            self.last_spoken = run

    def drop(self, run: QuestionRun, why: str) -> None:
        run.record.cancelled = True
        run.note(why)
        self._finish(run.record)

    def stop(self) -> None:
        """Let the thread end after the running question (cancel it first)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self.pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                run = self.pending.popleft()
                self.current = run
                self.last_spoken = run
            try:
                run.execute(self._last_end)
            except Exception:
                logger.exception("question turn %d failed unexpectedly", run.record.turn_id)
                run.record.error = "Something went wrong with this question; see the log."
            finally:
                with self._cond:
                    self.current = None
                    self._last_end = time.perf_counter()
                self._finish(run.record)
                self._update_state()
