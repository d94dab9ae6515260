"""The live transcript: what VoxRad hears while the clinician is still speaking.

faster-whisper cannot stream, so the audio recorded so far is transcribed again about every
second, on the same ASR thread as the final transcripts (one backend, one thread). The final
transcript must never wait long behind such a pass, hence:

* at most one partial job queued or running; a partial offered meanwhile is skipped;
* a partial job still queued when its utterance ends (or is cancelled) does no work;
* a partial result that arrives after its utterance ended or was cancelled is dropped.

Utterances are told apart by a generation number, bumped when one ends (released, submitted,
cancelled); every decision about a partial is taken under one lock, together with emitting
it, so a dropped partial can never be shown after the line was cleared.

Partial text is only ever emitted as a ``"partial"`` :class:`PipelineEvent` with no turn: it
is not a turn, so it is never saved, audited or sent to the model, and it is logged at DEBUG.
Hands-free with a wake phrase, only speech that starts with the phrase is shown (and only
once words follow it): room talk VoxRad ignores does not scroll past on screen.
An empty ``"partial"`` event clears the line: when the utterance's final transcript is known,
on cancel, and when the microphone stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voxrad.assistant.commands.grammar import split_wake_phrase
from voxrad.assistant.loop.context import LoopContext
from voxrad.audio.endpointer import PartialUtterance

if TYPE_CHECKING:
    from voxrad.assistant.loop.workers import Job
    from voxrad.backends.asr.base import Transcriber, Transcript

logger = logging.getLogger(__name__)


@dataclass
class LiveStats:
    """Counts since the pipeline started, for tests, benchmarks and the debug log."""

    submitted: int = 0
    #: Offered while the previous partial was still queued or running.
    skipped: int = 0
    #: Queued when their utterance ended: never transcribed.
    dropped_queued: int = 0
    #: Transcribed, but their utterance had ended (or was cancelled) by then.
    dropped_late: int = 0
    emitted: int = 0


class LiveTranscript:
    """Schedules partial transcriptions of one pipeline and emits their text.

    Owned by :class:`~voxrad.assistant.loop.pipeline.AssistantPipeline`, which hands it the
    loop's context; every method may be called from any thread.
    """

    def __init__(self, ctx: LoopContext) -> None:
        self.ctx = ctx
        self.book = ctx.book
        self._lock = threading.Lock()
        self._generation = 0
        self._in_flight: Job[Any] | None = None
        #: Generation of the partial on screen; None when the line is clear.
        self._shown: int | None = None
        self.stats = LiveStats()

    def submit(self, partial: PartialUtterance) -> bool:
        """Offer the utterance recorded so far; True if a partial pass was queued, False when
        skipped: the live transcript is off, there is no ASR, push-to-talk was already
        released, or the previous partial is still queued or running."""
        ctx, audio, hands_free = self.ctx, partial.audio, partial.hands_free
        asr, opts = ctx.asr, ctx.options
        if not opts.live_transcript or asr is None:
            return False
        # Push-to-talk: audio recorded before the release can still arrive after it (the
        # capture thread lags the key); that utterance is ending, so no pass for it.
        if not hands_free and not self.book.listening:
            return False
        words = ctx.study_words
        wake = opts.wake_phrase if hands_free else ""
        with self._lock:
            if self._in_flight is not None:
                self.stats.skipped += 1
                return False
            generation = self._generation
            self.stats.submitted += 1

            def run(transcriber: Transcriber) -> Transcript | None:
                with self._lock:
                    if generation != self._generation:
                        self.stats.dropped_queued += 1
                        return None  # its utterance ended while it waited: free the thread
                return transcriber.transcribe(
                    audio,
                    sample_rate=partial.sample_rate,
                    context=words,
                    wake_phrase=wake,
                    partial=True,
                )

            job = asr.submit(run, "partial transcript")
            self._in_flight = job
        job.add_done_callback(lambda done: self._finished(done, generation, wake))
        return True

    def end_utterance(self) -> Callable[[Any], None]:
        """The utterance ended (its audio goes to the final transcription). Partials still
        queued or running for it are dropped; the returned callable, run when the final
        transcription ends, clears the line unless a later utterance's partial is shown."""
        with self._lock:
            ended = self._generation
            self._generation += 1
        return lambda _job: self._clear_if_shown(up_to=ended)

    def stop(self) -> None:
        """Listening stopped (push-to-talk released): drop this utterance's partials, but
        keep the last one shown until the final transcript takes its place."""
        with self._lock:
            self._generation += 1

    def clear(self) -> None:
        """Cancelled, or the microphone stopped: drop partials and clear the line."""
        with self._lock:
            self._generation += 1
        self._clear_if_shown(up_to=None)

    # --- internals ---------------------------------------------------------------------------

    def _finished(self, job: Job[Any], generation: int, wake_phrase: str) -> None:
        # The pipeline's emit lock first, as every emitter takes it: a listener that calls
        # clear() while an event is delivered then cannot deadlock with this thread.
        with self.book.emit_lock, self._lock:
            if self._in_flight is job:
                self._in_flight = None
            result = job.result
            if job.error is not None:
                # A failure shows in the final transcript; a partial only stays quiet.
                logger.debug("partial transcript failed: %r", job.error)
                return
            if result is None:
                return  # dropped while queued (counted there)
            if generation != self._generation:
                self.stats.dropped_late += 1
                return
            text = result.text.strip()
            logger.debug(
                "partial transcript of %.1f s in %.2f s: %s", result.duration, job.seconds, text
            )
            # An empty pass (silence so far, or text the guard dropped) keeps the last one.
            if not text:
                return
            # Hands-free with a wake phrase: talk in the room that does not start with it is
            # not for VoxRad (the final transcript is ignored too), so it is not put on screen.
            opts = self.ctx.options
            if wake_phrase and not split_wake_phrase(
                text, wake_phrase, variants=opts.wake_variants, sensitivity=opts.wake_sensitivity
            ):
                return
            self.stats.emitted += 1
            self._shown = generation
            # Emitted under the lock: clear() cannot slip between the check and the event.
            self.book.emit("partial", None, text)

    def _clear_if_shown(self, *, up_to: int | None) -> None:
        with self.book.emit_lock, self._lock:
            if self._shown is None or (up_to is not None and self._shown > up_to):
                return
            self._shown = None
            self.book.emit("partial", None, "")
