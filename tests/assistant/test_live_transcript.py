"""The live transcript with scripted backends: partials while speaking, never after, at most
one in flight, stale ones dropped, the final transcript unchanged, and off when switched off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pipeline_fakes import EventLog, FakeAnswerer, FakeTranscriber, FakeViewer

from voxrad.assistant.loop.pipeline import AssistantPipeline, PipelineOptions
from voxrad.assistant.loop.turns import TurnRecord
from voxrad.audio.endpointer import PartialUtterance

HEARD = "Is there an effusion on the left?"
SR = 16_000


def so_far(seconds: float, *, hands_free: bool = False) -> PartialUtterance:
    return PartialUtterance(np.full(int(seconds * SR), 0.1, np.float32), 0.0, hands_free)


def partial_texts(log: EventLog) -> list[str]:
    with log._cond:
        return [e.text for e in log.events if e.kind == "partial"]


def is_partial(text: str) -> Any:
    return lambda e: e.kind == "partial" and e.text == text


@pytest.fixture
def live() -> Iterator[Any]:
    """Builds started pipelines over a FakeTranscriber; opens every gate and shuts each down."""
    made: list[tuple[AssistantPipeline, FakeTranscriber]] = []

    def build(
        transcriber: FakeTranscriber | None = None,
        saved: list[TurnRecord] | None = None,
        **options: Any,
    ) -> tuple[AssistantPipeline, EventLog, FakeTranscriber]:
        t = transcriber or FakeTranscriber(HEARD)
        pipeline = AssistantPipeline(
            FakeViewer(),
            transcriber_factory=lambda: t,
            answerer_factory=FakeAnswerer,
            options=PipelineOptions(**options),
            on_turn_finished=saved.append if saved is not None else None,
        )
        log = EventLog()
        pipeline.add_listener(log)
        pipeline.start()
        made.append((pipeline, t))
        return pipeline, log, t

    yield build
    for pipeline, t in made:
        for gate in (t.gate, t.partial_gate):
            if gate is not None:
                gate.set()
        assert pipeline.shutdown(timeout=5.0)


def test_partials_show_while_speaking_and_the_final_takes_their_place(live: Any) -> None:
    saved: list[TurnRecord] = []
    pipeline, log, t = live(saved=saved)
    pipeline.start_listening()
    assert pipeline.submit_partial(so_far(1.0))
    log.wait_for(is_partial("Is"))
    assert pipeline.submit_partial(so_far(2.0))
    log.wait_for(is_partial("Is there"))
    pipeline.stop_listening()  # released: the last words heard stay until the final comes
    turn_id = pipeline.submit_audio(np.zeros(3 * SR, np.float32))
    turn = log.finished(turn_id)
    log.wait_for(is_partial(""))
    assert turn.transcript == HEARD  # the final transcript, not a partial one
    assert partial_texts(log) == ["Is", "Is there", ""]
    # The line clears as the final transcription ends, just before its text is shown.
    events = list(log.events)
    cleared = next(i for i, e in enumerate(events) if e.kind == "partial" and not e.text)
    assert cleared < next(i for i, e in enumerate(events) if e.kind == "transcript")
    partials = [e for e in events if e.kind == "partial"]
    assert all(e.turn is None for e in partials)  # never a turn: never saved nor audited
    assert [r.transcript for r in saved] == [HEARD]
    assert t.calls == [("partial", 1.0), ("partial", 2.0), ("final", 3.0)]
    assert pipeline.live_transcript.stats.emitted == 2


def test_no_partial_after_release(live: Any) -> None:
    pipeline, log, t = live()
    pipeline.start_listening()
    pipeline.stop_listening()
    # Audio recorded before the release reaches the pipeline after it: no pass for it.
    assert not pipeline.submit_partial(so_far(1.0))
    log.finished(pipeline.submit_audio(np.zeros(SR, np.float32)))
    assert [kind for kind, _ in t.calls] == ["final"]
    assert partial_texts(log) == []


def test_at_most_one_partial_in_flight(live: Any) -> None:
    gate = threading.Event()
    pipeline, log, t = live(FakeTranscriber(HEARD, partial_gate=gate))
    pipeline.start_listening()
    assert pipeline.submit_partial(so_far(1.0))
    assert t.partial_started.wait(5)
    assert not any(pipeline.submit_partial(so_far(s)) for s in (2.0, 3.0, 4.0))
    assert pipeline.live_transcript.stats.skipped == 3
    gate.set()
    log.wait_for(is_partial("Is"))
    # The pass is over before its text is emitted: the next offer is taken.
    assert pipeline.submit_partial(so_far(5.0))
    log.wait_for(is_partial("Is there an effusion on"))
    assert [c for c in t.calls if c[0] == "partial"] == [("partial", 1.0), ("partial", 5.0)]


def test_partial_finishing_after_release_is_dropped(live: Any) -> None:
    gate = threading.Event()
    pipeline, log, t = live(FakeTranscriber(HEARD, partial_gate=gate))
    pipeline.start_listening()
    assert pipeline.submit_partial(so_far(2.0))
    assert t.partial_started.wait(5)
    pipeline.stop_listening()
    turn_id = pipeline.submit_audio(np.zeros(3 * SR, np.float32))
    gate.set()  # the partial ends after its utterance did
    assert log.finished(turn_id).transcript == HEARD
    assert partial_texts(log) == []
    assert pipeline.live_transcript.stats.dropped_late == 1
    # The final waited for at most the one pass already running.
    assert [kind for kind, _ in t.calls] == ["partial", "final"]


def test_partial_still_queued_when_the_utterance_ends_is_never_run(live: Any) -> None:
    final_gate = threading.Event()
    pipeline, log, t = live(FakeTranscriber(HEARD, gate=final_gate))
    # Hands-free: the first utterance's final transcription holds the ASR thread while the
    # next utterance is spoken; its partial queues behind, and that utterance ends too.
    first = pipeline.submit_audio(np.zeros(SR, np.float32), hands_free=True)
    # The intake thread hands the final pass to the ASR thread: only once it runs is the
    # partial sure to queue behind it.
    assert t.final_started.wait(5)
    assert pipeline.submit_partial(so_far(1.0, hands_free=True))
    second = pipeline.submit_audio(np.zeros(2 * SR, np.float32), hands_free=True)
    final_gate.set()
    log.finished(first)
    log.finished(second)
    assert t.calls == [("final", 1.0), ("final", 2.0)]
    assert pipeline.live_transcript.stats.dropped_queued == 1
    assert partial_texts(log) == []


def test_cancel_clears_the_line_and_drops_the_running_partial(live: Any) -> None:
    gate = threading.Event()
    pipeline, log, t = live(FakeTranscriber(HEARD, partial_gate=gate))
    gate.set()
    pipeline.start_listening()
    assert pipeline.submit_partial(so_far(1.0))
    log.wait_for(is_partial("Is"))
    gate.clear()
    t.partial_started.clear()
    assert pipeline.submit_partial(so_far(2.0))
    assert t.partial_started.wait(5)
    pipeline.cancel()
    log.wait_for(is_partial(""))
    gate.set()
    # The next utterance's final runs after that partial on the one ASR thread.
    pipeline.stop_listening()
    log.finished(pipeline.submit_audio(np.zeros(SR, np.float32)))
    assert pipeline.live_transcript.stats.dropped_late == 1
    assert partial_texts(log) == ["Is", ""]


def test_microphone_failure_clears_the_line(live: Any) -> None:
    from voxrad.core.errors import MicrophoneError

    pipeline, log, _ = live()
    pipeline.start_listening()
    assert pipeline.submit_partial(so_far(1.0))
    log.wait_for(is_partial("Is"))
    pipeline.microphone_failed(MicrophoneError("The microphone was disconnected."))
    log.wait_for(is_partial(""))


def test_switched_off_there_are_no_partials(live: Any) -> None:
    pipeline, log, t = live(live_transcript=False)
    pipeline.start_listening()
    assert not pipeline.submit_partial(so_far(1.0))
    pipeline.stop_listening()
    turn = log.finished(pipeline.submit_audio(np.zeros(SR, np.float32)))
    assert turn.transcript == HEARD
    assert [kind for kind, _ in t.calls] == ["final"]
    assert partial_texts(log) == []


def test_options_from_settings_turn_it_off_at_the_next_offer(live: Any) -> None:
    from dataclasses import replace

    pipeline, _, t = live()
    pipeline.start_listening()
    pipeline.update_options(replace(pipeline.options, live_transcript=False))
    assert not pipeline.submit_partial(so_far(1.0))
    assert t.calls == []


def test_partial_failure_stays_quiet_and_the_final_still_comes(live: Any) -> None:
    class FailingPartials(FakeTranscriber):
        def transcribe(self, audio: np.ndarray, **kwargs: Any) -> Any:
            if kwargs.get("partial"):
                raise RuntimeError("decoder crashed")
            return super().transcribe(audio, **kwargs)

    pipeline, log, _ = live(FailingPartials(HEARD))
    pipeline.start_listening()
    assert pipeline.submit_partial(so_far(1.0))
    pipeline.stop_listening()
    turn = log.finished(pipeline.submit_audio(np.zeros(SR, np.float32)))
    assert turn.transcript == HEARD and turn.ok
    assert partial_texts(log) == []
    assert log.messages(turn.turn_id) == []


def test_settings_defaults_match_the_pipeline_and_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from voxrad.core.settings import AssistantSettings, Settings

    prefs = Settings().assistant
    defaults = PipelineOptions()
    # Without the composition root passing them on, the defaults already give the feature.
    assert (prefs.live_transcript, prefs.live_transcript_interval_s) == (
        defaults.live_transcript,
        defaults.live_transcript_interval_s,
    )
    monkeypatch.setenv("VOXRAD_ASSISTANT__LIVE_TRANSCRIPT", "false")
    assert Settings().assistant.live_transcript is False
    with pytest.raises(ValidationError):
        AssistantSettings(live_transcript_interval_s=0.1)  # a pass takes ~0.3 s on a CPU


def test_hands_free_room_talk_without_the_wake_phrase_is_not_shown(live: Any) -> None:
    room = FakeTranscriber("the patient is stable today")
    pipeline, log, _ = live(room, wake_phrase="VoxRad")
    assert pipeline.submit_partial(so_far(3.0, hands_free=True))
    done = pipeline.submit_audio(np.zeros(3 * SR, np.float32), hands_free=True)
    # Room talk is never a turn. The intake takes turns in order: once a later typed one has
    # finished, the utterance has been transcribed and dropped.
    log.finished(pipeline.submit_text("lung window"))
    assert [e for e in log.events if e.turn is not None and e.turn.turn_id == done] == []
    assert pipeline.live_transcript.stats.submitted == 1
    assert partial_texts(log) == []
    addressed = FakeTranscriber("VoxRad, next slice please")
    pipeline, log, _ = live(addressed, wake_phrase="VoxRad")
    asr = pipeline._ctx.asr
    assert asr is not None
    assert pipeline.submit_partial(so_far(1.0, hands_free=True))  # "VoxRad," alone
    assert asr.submit(lambda _t: None, "after the pass").done.wait(5)
    assert pipeline.live_transcript.stats.emitted == 0
    assert pipeline.submit_partial(so_far(3.0, hands_free=True))
    log.wait_for(is_partial("VoxRad, next slice"))
