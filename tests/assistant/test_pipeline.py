"""The assistant pipeline with scripted backends: states, policies, barge-in, faults, timings."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from pipeline_fakes import EventLog, FakeAnswerer, FakeSpeaker, FakeTranscriber, FakeViewer

from voxrad.assistant.commands.grammar import Action
from voxrad.assistant.loop.pipeline import NOTHING_HEARD, AssistantPipeline, PipelineOptions
from voxrad.assistant.loop.question_run import LOADING, NO_STUDY, OUT_OF_MEMORY
from voxrad.assistant.loop.turns import STAGES, PipelineState, TurnRecord
from voxrad.backends.tts.base import Speaker
from voxrad.core.errors import BackendError, MicrophoneError, ModelNotInstalledError
from voxrad.core.study import PatientIdentity, SeriesInfo

S = PipelineState
AUDIO = np.zeros(16_000, dtype=np.float32)
REPLY = "The lungs are clear. No effusion is seen."

Make = Callable[..., tuple[AssistantPipeline, EventLog]]


@pytest.fixture
def make() -> Iterator[Make]:
    """Builds started pipelines and shuts each down (bounded) after the test."""
    made: list[AssistantPipeline] = []
    gates: list[threading.Event] = []

    def build(
        *,
        heard: str = "",
        transcriber: FakeTranscriber | None = None,
        answerer: FakeAnswerer | None = None,
        speaker: FakeSpeaker | None = None,
        viewer: FakeViewer | None = None,
        saved: list[TurnRecord] | None = None,
        **options: Any,
    ) -> tuple[AssistantPipeline, EventLog]:
        t = transcriber or FakeTranscriber(heard)
        a = answerer or FakeAnswerer(REPLY)
        s = speaker or FakeSpeaker()
        for gate in (a.gate, a.load_gate, s.release):
            if gate is not None:
                gates.append(gate)
        pipeline = AssistantPipeline(
            viewer or FakeViewer(),
            transcriber_factory=lambda: t,
            answerer_factory=lambda: a,
            speaker_factory=lambda: s,
            options=PipelineOptions(**options),
            on_turn_finished=saved.append if saved is not None else None,
        )
        log = EventLog()
        pipeline.add_listener(log)
        pipeline.start()
        made.append(pipeline)
        return pipeline, log

    yield build
    for gate in gates:
        gate.set()
    for pipeline in made:
        assert pipeline.shutdown(timeout=5.0)


def speak_into(pipeline: AssistantPipeline) -> int:
    pipeline.start_listening()
    return pipeline.submit_audio(AUDIO)


def dedupe(states: list[PipelineState]) -> list[PipelineState]:
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


# --- state sequences -----------------------------------------------------------------------


def test_command_turn_acts_on_the_viewer_with_its_state_sequence(make: Make) -> None:
    viewer = FakeViewer()
    pipeline, log = make(heard="Lung window.", viewer=viewer)
    turn = log.finished(speak_into(pipeline))
    assert viewer.window == "lung"
    assert turn.kind == "command" and turn.command.action is Action.WINDOW
    assert turn.transcript == "Lung window."
    log.wait_for(lambda e: e.kind == "state" and e.state is S.IDLE)
    assert log.states() == [S.LISTENING, S.TRANSCRIBING, S.IDLE]
    assert {"capture", "transcription", "total", "overhead"} <= set(turn.timings)


def test_question_turn_state_sequence_and_answer(make: Make) -> None:
    # Not streamed: speech starts after the answer, so the sequence is exact.
    answerer = FakeAnswerer(REPLY, stream_answer_text=False)
    speaker = FakeSpeaker()
    pipeline, log = make(heard="Is there an effusion?", answerer=answerer, speaker=speaker)
    turn = log.finished(speak_into(pipeline))
    assert turn.ok and turn.kind == "question"
    assert turn.answer.answer == REPLY and turn.model == "fake-vlm-4b"
    assert speaker.said == ["The lungs are clear.", "No effusion is seen."]
    log.wait_for(lambda e: e.kind == "state" and e.state is S.IDLE)
    assert log.states() == [S.LISTENING, S.TRANSCRIBING, S.THINKING, S.SPEAKING, S.IDLE]
    kinds = log.kinds()
    assert kinds.index("transcript") < kinds.index("token") < kinds.index("answer")
    assert kinds.index("answer") < kinds.index("sentence") < kinds.index("finished")


def test_low_confidence_is_spoken_as_such(make: Make) -> None:
    speaker = FakeSpeaker()
    low = FakeAnswerer(REPLY, stream_answer_text=False, confidence=0.35)
    pipeline, log = make(answerer=low, speaker=speaker)
    assert log.finished(pipeline.submit_text("Is there an effusion?")).ok
    log.wait_for(lambda e: e.kind == "state" and e.state is S.IDLE)
    assert speaker.said[-1] == "Low confidence, 35 percent. Treat this answer with caution."
    high_speaker = FakeSpeaker()
    high = FakeAnswerer(REPLY, stream_answer_text=False, confidence=0.9)
    pipeline, log = make(answerer=high, speaker=high_speaker)
    assert log.finished(pipeline.submit_text("Is there an effusion?")).ok
    log.wait_for(lambda e: e.kind == "state" and e.state is S.IDLE)
    assert high_speaker.said == ["The lungs are clear.", "No effusion is seen."]


def test_question_goes_to_the_answerer_with_the_study_it_is_about(make: Make) -> None:
    # The answerer needs the identity to strip it and the series to audit the answer.
    identity = PatientIdentity("QUOKKA^WILHELMINA", "ZX-99173")
    series = SeriesInfo("1.2.3", "CT", "chest", (4, 8, 8), study_uid="1.2")
    answerer = FakeAnswerer(REPLY)
    viewer = FakeViewer(identity=identity, series=series)
    pipeline, log = make(answerer=answerer, viewer=viewer)
    assert log.finished(pipeline.submit_text("Is the heart enlarged?")).ok
    assert answerer.contexts == [(identity, series)]


def test_reply_is_spoken_while_the_answer_is_still_streaming(make: Make) -> None:
    gate = threading.Event()
    answerer = FakeAnswerer(REPLY, gate=gate, gate_at=4)  # holds after "The lungs are clear."
    speaker = FakeSpeaker(hold=True)
    pipeline, log = make(answerer=answerer, speaker=speaker)
    turn_id = pipeline.submit_text("Is there an effusion?")
    assert speaker.speaking.wait(5)
    assert pipeline.state is S.SPEAKING
    assert "answer" not in log.kinds()  # the model has not finished
    gate.set()
    speaker.release.set()
    turn = log.finished(turn_id)
    assert speaker.said == ["The lungs are clear.", "No effusion is seen."]
    assert turn.timings["first_audio"] < turn.timings["total"]


def test_question_carries_the_view_and_the_history(make: Make) -> None:
    answerer = FakeAnswerer(REPLY)
    pipeline, log = make(answerer=answerer)
    log.finished(pipeline.submit_text("Is there an effusion?"))
    log.finished(pipeline.submit_text("And on the left?"))
    first, second = answerer.questions
    assert (second.slice_index, second.window, second.series_uid) == (2, (40.0, 400.0), "")
    assert answerer.history_lengths == [0, 1]
    assert [t.question.text for t in answerer.last_history] == [first.text]
    assert answerer.threads == {"voxrad-vlm"}


def test_each_backend_lives_on_its_own_thread(make: Make) -> None:
    t, a, s = FakeTranscriber("Is the heart enlarged?"), FakeAnswerer(REPLY), FakeSpeaker()
    pipeline, log = make(transcriber=t, answerer=a, speaker=s)
    log.finished(speak_into(pipeline))
    assert (t.threads, a.threads, s.threads) == ({"voxrad-asr"}, {"voxrad-vlm"}, {"voxrad-tts"})


def test_filler_only_utterance_gives_a_hint_not_a_question(make: Make) -> None:
    answerer = FakeAnswerer(REPLY)
    pipeline, log = make(heard="Um.", answerer=answerer)
    turn = log.finished(speak_into(pipeline))
    assert turn.kind == "empty" and NOTHING_HEARD in turn.messages
    assert answerer.questions == []


def test_hands_free_needs_the_wake_phrase(make: Make) -> None:
    viewer = FakeViewer()
    t = FakeTranscriber("next slice", script=["next slice", "Vox Rad, next slice."])
    pipeline, log = make(transcriber=t, viewer=viewer, wake_phrase="VoxRad")
    pipeline.submit_audio(AUDIO, hands_free=True)
    turn = log.finished(pipeline.submit_audio(AUDIO, hands_free=True))
    assert [c.action for c in viewer.commands] == [Action.NEXT_SLICE]
    assert turn.command.action is Action.NEXT_SLICE
    assert t.wake_phrases == ["VoxRad", "VoxRad"]  # ASR is told the invented word
    pipeline.submit_text("next slice")  # typed and push-to-talk need no wake phrase
    log.finished(speak_into(pipeline))
    assert t.wake_phrases[-1] == "" and len(viewer.commands) == 3


def test_hands_free_room_talk_is_never_a_turn(make: Make) -> None:
    # Talk in the room without the wake phrase: not shown (no event of its turn), not saved,
    # never sent to the model. Only the utterance addressed to VoxRad is a turn.
    t = FakeTranscriber(script=["Is the heart enlarged here?", "Vox Rad, next slice."])
    answerer, saved = FakeAnswerer(REPLY), []
    pipeline, log = make(transcriber=t, answerer=answerer, saved=saved, wake_phrase="VoxRad")
    room = pipeline.submit_audio(AUDIO, hands_free=True)
    addressed = pipeline.submit_audio(AUDIO, hands_free=True)
    assert log.finished(addressed).command.action is Action.NEXT_SLICE
    log.wait_for(lambda e: e.kind == "state" and e.state is S.IDLE)
    assert [e.kind for e in log.events if e.turn is not None and e.turn.turn_id == room] == []
    assert [r.turn_id for r in saved] == [addressed]
    assert [r.turn_id for r in pipeline.turns()] == [addressed]
    assert answerer.questions == []


# --- one turn at a time ----------------------------------------------------------------------


def test_queue_policy_answers_in_order_never_interleaved(make: Make) -> None:
    gate = threading.Event()
    answerer = FakeAnswerer(REPLY, gate=gate)
    pipeline, log = make(answerer=answerer, busy_policy="queue")
    first = pipeline.submit_text("Is there an effusion?")
    assert answerer.started.wait(5)
    second = pipeline.submit_text("Is the heart enlarged?")
    log.wait_for(lambda e: e.kind == "message" and e.turn.turn_id == second)
    assert "Waiting for the answer before this one." in log.messages(second)
    gate.set()
    a, b = log.finished(first), log.finished(second)
    assert a.ok and b.ok and answerer.max_active == 1
    asked = [q.text for q in answerer.questions]
    assert asked == ["Is there an effusion?", "Is the heart enlarged?"]


def test_queue_is_bounded(make: Make) -> None:
    gate = threading.Event()
    answerer = FakeAnswerer(REPLY, gate=gate)
    pipeline, log = make(answerer=answerer, max_queued=1)
    pipeline.submit_text("Is there an effusion?")
    assert answerer.started.wait(5)
    pipeline.submit_text("Is the heart enlarged?")
    third = log.finished(pipeline.submit_text("Any fracture?"))
    assert third.cancelled and "Too many questions" in third.messages[-1]


def test_cancel_policy_replaces_the_running_question(make: Make) -> None:
    gate = threading.Event()
    answerer = FakeAnswerer(REPLY, gate=gate)
    pipeline, log = make(answerer=answerer, busy_policy="cancel")
    first = pipeline.submit_text("Is there an effusion?")
    assert answerer.started.wait(5)
    second = pipeline.submit_text("Is the heart enlarged?")
    old = log.finished(first)
    assert old.cancelled and old.answer is None
    assert "Replaced by a newer question." in old.messages
    gate.set()
    assert log.finished(second).answer.answer == REPLY


def test_cancel_while_thinking_then_the_next_question_works(make: Make) -> None:
    gate = threading.Event()
    answerer = FakeAnswerer(REPLY, gate=gate)
    pipeline, log = make(answerer=answerer)
    first = pipeline.submit_text("Is there an effusion?")
    assert answerer.started.wait(5)
    assert pipeline.state is S.THINKING
    pipeline.cancel()
    turn = log.finished(first)
    assert turn.cancelled and "Cancelled." in turn.messages
    log.wait_for(lambda e: e.kind == "state" and e.state is S.IDLE)
    gate.set()
    assert log.finished(pipeline.submit_text("Is the heart enlarged?")).ok
    assert answerer.loads == 1  # a cancel is not a fault: the model is not reloaded


def test_a_command_acts_while_the_model_is_thinking(make: Make) -> None:
    gate = threading.Event()
    answerer = FakeAnswerer(REPLY, gate=gate)
    viewer = FakeViewer()
    pipeline, log = make(answerer=answerer, viewer=viewer, heard="next slice")
    question = pipeline.submit_text("Is there an effusion?")
    assert answerer.started.wait(5)
    before = len(log.events)
    command = log.finished(speak_into(pipeline))
    assert command.kind == "command" and viewer.commands[-1].action is Action.NEXT_SLICE
    # Back to the question still being answered:
    log.wait_for(lambda e: e.state is S.THINKING and any(x is e for x in log.events[before:]))
    assert not gate.is_set() and answerer.active == 1
    gate.set()
    assert log.finished(question).ok


def test_voice_cancel_command_cancels_the_question(make: Make) -> None:
    gate = threading.Event()
    answerer = FakeAnswerer(REPLY, gate=gate)
    t = FakeTranscriber("never mind")
    pipeline, log = make(answerer=answerer, transcriber=t)
    first = pipeline.submit_text("Is there an effusion?")
    assert answerer.started.wait(5)
    speak_into(pipeline)
    assert log.finished(first).cancelled


# --- speech: barge-in, stop, mute, repeat -----------------------------------------------------


def test_barge_in_stops_speech_within_200_ms(make: Make) -> None:
    speaker = FakeSpeaker(hold=True)
    pipeline, log = make(speaker=speaker)
    turn_id = pipeline.submit_text("Is there an effusion?")
    assert speaker.speaking.wait(5)
    t0 = time.perf_counter()
    pipeline.start_listening()
    assert speaker.returned.wait(1)
    assert time.perf_counter() - t0 < 0.2
    assert pipeline.state is S.LISTENING
    turn = log.finished(turn_id)
    assert turn.ok and turn.answer is not None  # the answer stays; only the voice stopped
    assert speaker.stopped == ["The lungs are clear."] and speaker.said == []


def test_stop_talking_command_and_mute(make: Make) -> None:
    speaker = FakeSpeaker(hold=True)
    t = FakeTranscriber("stop talking")
    pipeline, log = make(speaker=speaker, transcriber=t)
    first = pipeline.submit_text("Is there an effusion?")
    assert speaker.speaking.wait(5)
    log.finished(speak_into(pipeline))
    log.finished(first)
    assert speaker.said == []
    pipeline.set_muted(True)
    muted = log.finished(pipeline.submit_text("Is the heart enlarged?"))
    assert muted.answer is not None and not muted.spoken and speaker.said == []


def test_repeat_speaks_the_last_answer_again(make: Make) -> None:
    speaker = FakeSpeaker()
    pipeline, log = make(speaker=speaker)
    log.finished(pipeline.submit_text("Is there an effusion?"))
    log.finished(pipeline.submit_text("repeat that"))
    # The repeat is queued on the speech thread: wait for its last sentence.
    log.wait_for(lambda e: e.kind == "state" and e.state is S.IDLE and len(speaker.said) == 4)
    assert speaker.said == ["The lungs are clear.", "No effusion is seen."] * 2


# --- faults ---------------------------------------------------------------------------------


def test_model_still_loading_says_so_then_answers(make: Make) -> None:
    load_gate = threading.Event()
    pipeline, log = make(answerer=FakeAnswerer(REPLY, load_gate=load_gate))
    turn_id = pipeline.submit_text("Is there an effusion?")
    log.wait_for(lambda e: e.kind == "message" and e.text == LOADING)
    load_gate.set()
    assert log.finished(turn_id).answer.answer == REPLY


def test_no_model_installed_is_a_message_and_commands_still_work(make: Make) -> None:
    viewer = FakeViewer()
    error = ModelNotInstalledError("The model medgemma-1.5-4b-it is not installed.")
    pipeline, log = make(answerer=FakeAnswerer(load_error=error), viewer=viewer)
    turn = log.finished(pipeline.submit_text("Is there an effusion?"))
    assert "is not installed" in turn.error and "voxrad models pull" in turn.error
    assert log.finished(pipeline.submit_text("next slice")).ok
    assert viewer.commands[-1].action is Action.NEXT_SLICE
    assert "is not installed" in log.finished(pipeline.submit_text("Any fracture?")).error


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (RuntimeError("CUDA kernel failed"), "internal error (RuntimeError)"),
        (MemoryError(), OUT_OF_MEMORY),
        (BackendError("The model stopped responding."), "The model stopped responding."),
    ],
)
def test_model_crash_or_oom_is_a_message_and_the_next_question_works(
    make: Make, fault: BaseException, expected: str
) -> None:
    faults = [fault]
    answerer = FakeAnswerer(REPLY, fail=lambda: faults.pop() if faults else None)
    pipeline, log = make(answerer=answerer)
    bad = log.finished(pipeline.submit_text("Is there an effusion?"))
    assert expected in bad.error and bad.answer is None
    good = log.finished(pipeline.submit_text("Is the heart enlarged?"))
    assert good.ok and good.answer.answer == REPLY
    if not isinstance(fault, RuntimeError):
        assert answerer.loads == 2  # a crashed or out-of-memory model is loaded afresh
    assert [t.turn_id for t in pipeline.turns()] == [bad.turn_id, good.turn_id]


def test_microphone_unplugged_mid_question(make: Make) -> None:
    pipeline, log = make()
    pipeline.start_listening()
    pipeline.microphone_failed(MicrophoneError("The microphone was disconnected."))
    failed = log.wait_for(lambda e: e.kind == "finished").turn
    assert "microphone was disconnected" in failed.error and "Typing" in failed.error
    assert pipeline.state is S.IDLE
    assert log.finished(pipeline.submit_text("Is there an effusion?")).ok


def test_speech_recognition_failure_is_a_message(make: Make) -> None:
    t = FakeTranscriber(fail=BackendError("Speech recognition failed on this recording."))
    pipeline, log = make(transcriber=t)
    turn = log.finished(speak_into(pipeline))
    assert "Speech recognition failed" in turn.error
    assert log.finished(pipeline.submit_text("Is there an effusion?")).ok


def test_tts_failure_keeps_the_answer(make: Make) -> None:
    speaker = FakeSpeaker(fail=BackendError("No text-to-speech voice is installed."))
    pipeline, log = make(speaker=speaker)
    turn = log.finished(pipeline.submit_text("Is there an effusion?"))
    assert turn.answer.answer == REPLY and not turn.error
    assert any("could not be spoken" in m and "No text-to-speech" in m for m in turn.messages)


def test_question_without_a_study(make: Make) -> None:
    viewer = FakeViewer()
    viewer.session.show_study(None)
    pipeline, log = make(viewer=viewer)
    assert log.finished(pipeline.submit_text("Is there an effusion?")).error == NO_STUDY


def test_the_conversation_survives_faults_and_is_saved(make: Make) -> None:
    saved: list[TurnRecord] = []
    faults = [MemoryError()]
    answerer = FakeAnswerer(REPLY, fail=lambda: faults.pop() if faults else None)
    pipeline, log = make(answerer=answerer, saved=saved)
    ids = [pipeline.submit_text(q) for q in ("Effusion?", "Lung window", "Heart size?")]
    log.finished(ids[-1])
    log.finished(ids[0])
    # The command acts at once, so it may be saved before the earlier question's failure.
    assert sorted(t.turn_id for t in saved) == ids
    assert [t.turn_id for t in pipeline.turns()] == ids  # the conversation keeps asking order
    assert [t.kind for t in pipeline.turns()] == ["question", "command", "question"]
    assert pipeline.turns()[0].error == OUT_OF_MEMORY and pipeline.turns()[2].ok


# --- timings, shutdown, soak ----------------------------------------------------------------


def test_question_timings_and_overhead(make: Make) -> None:
    pipeline, log = make(heard="Is there an effusion?")
    turn = log.finished(speak_into(pipeline))
    assert set(STAGES) <= set(turn.timings)
    t = turn.timings
    assert t["image_preparation"] == pytest.approx(0.002)
    assert 0 <= t["first_token"] <= t["full_answer"] <= t["total"]
    assert 0 <= t["overhead"] <= t["total"]


def test_shutdown_is_bounded_when_a_backend_hangs() -> None:
    gate = threading.Event()
    answerer = FakeAnswerer(REPLY, gate=gate, ignore_cancel=True)
    pipeline = AssistantPipeline(
        FakeViewer(),
        transcriber_factory=FakeTranscriber,
        answerer_factory=lambda: answerer,
        speaker_factory=FakeSpeaker,
    )
    pipeline.start()
    pipeline.submit_text("Is there an effusion?")
    assert answerer.started.wait(5)
    t0 = time.perf_counter()
    assert pipeline.shutdown(timeout=0.3) is False
    assert time.perf_counter() - t0 < 2.0
    gate.set()


def test_soak_200_questions_no_thread_growth_bounded_memory(make: Make) -> None:
    baseline = threading.active_count()
    answerer = FakeAnswerer(REPLY)
    pipeline, log = make(answerer=answerer, heard="Is there an effusion?")
    running = threading.active_count()
    assert running - baseline <= 5  # intake, questions, asr, vlm, tts

    def cycle() -> None:
        turn = log.finished(speak_into(pipeline), timeout=10)
        assert turn.ok
        log.events.clear()

    for _ in range(50):
        cycle()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(150):
            cycle()
            assert threading.active_count() <= running
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    # The conversation itself is kept (150 turns); everything else must be flat.
    assert grown < 150 * 8_000, grown
    assert threading.active_count() == running
    assert len(pipeline.turns()) == 200


def test_model_installed_later_works_after_reload(make: Make) -> None:
    answerer = FakeAnswerer(REPLY, load_error=ModelNotInstalledError("Not installed."))
    pipeline, log = make(answerer=answerer)
    assert "Not installed." in log.finished(pipeline.submit_text("Effusion?")).error
    answerer.load_error = None  # the user ran `voxrad models pull`
    pipeline.reload_models()
    assert log.finished(pipeline.submit_text("Effusion?")).answer.answer == REPLY


def test_no_speech_model_still_allows_typing(make: Make) -> None:
    class Missing(FakeTranscriber):
        def load(self) -> None:
            raise ModelNotInstalledError("The speech model tiny.en is not installed.")

    pipeline, log = make(transcriber=Missing())
    assert "tiny.en is not installed" in log.finished(speak_into(pipeline)).error
    assert log.finished(pipeline.submit_text("Is there an effusion?")).ok


def test_sentences_are_spoken_in_words_and_shown_as_written(make: Make) -> None:
    speaker = FakeSpeaker()
    assert isinstance(speaker, Speaker)
    pipeline, log = make(
        answerer=FakeAnswerer("A 5 mm nodule, -600 HU. Nothing else."), speaker=speaker
    )
    log.finished(pipeline.submit_text("Any nodule?"))
    assert speaker.said == [
        "A 5 millimetres nodule, minus 600 Hounsfield units.",
        "Nothing else.",
    ]
    shown = [e.text for e in log.events if e.kind == "sentence"]
    assert shown == ["A 5 mm nodule, -600 HU.", "Nothing else."]


def test_cancel_while_transcribing_drops_the_utterance(make: Make) -> None:
    release = threading.Event()

    class Slow(FakeTranscriber):
        def transcribe(self, audio: np.ndarray, **kwargs: Any) -> Any:
            release.wait(5)
            return super().transcribe(audio, **kwargs)

    viewer = FakeViewer()
    pipeline, log = make(transcriber=Slow("next slice"), viewer=viewer)
    turn_id = speak_into(pipeline)
    log.wait_for(lambda e: e.state is S.TRANSCRIBING)
    pipeline.cancel()
    release.set()
    turn = log.finished(turn_id)
    assert turn.cancelled and viewer.commands == []
    log.wait_for(lambda e: e.kind == "state" and e.state is S.IDLE)
