"""Settings saved while VoxRad runs: new options and reloaded backends, without a restart."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
from pipeline_fakes import EventLog, FakeAnswerer, FakeSpeaker, FakeTranscriber, FakeViewer

from voxrad.assistant.commands.grammar import Action
from voxrad.assistant.loop.pipeline import AssistantPipeline, PipelineOptions

AUDIO = np.zeros(16_000, dtype=np.float32)


class FakeAnnouncingAnswerer(FakeAnswerer):
    """A scripted answerer that says when it has loaded."""

    def __init__(self, reply: str) -> None:
        super().__init__()
        self.loaded = threading.Event()

    def load(self) -> None:
        super().load()
        self.loaded.set()


@pytest.fixture
def parts() -> Iterator[tuple[AssistantPipeline, EventLog, dict[str, list[object]]]]:
    made: dict[str, list[object]] = {"asr": [], "vlm": [], "tts": []}

    def factory(kind: str, build: type) -> object:
        def make() -> object:
            obj = build("next slice") if build is not FakeSpeaker else build()
            made[kind].append(obj)
            return obj

        return make

    viewer = FakeViewer()
    made["viewer"] = [viewer]
    pipeline = AssistantPipeline(
        viewer,
        transcriber_factory=factory("asr", FakeTranscriber),  # type: ignore[arg-type]
        answerer_factory=factory("vlm", FakeAnnouncingAnswerer),  # type: ignore[arg-type]
        speaker_factory=factory("tts", FakeSpeaker),  # type: ignore[arg-type]
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.start()
    yield pipeline, log, made
    assert pipeline.shutdown(timeout=5.0)


def test_new_synonyms_and_wake_phrase_apply_to_the_next_utterance(parts) -> None:  # type: ignore[no-untyped-def]
    pipeline, log, made = parts
    viewer = made["viewer"][0]
    first = log.finished(pipeline.submit_text("chest films"))
    assert first.kind != "command"  # unknown phrase: a question
    pipeline.update_options(PipelineOptions(synonyms={"chest films": "lung window"}))
    turn = log.finished(pipeline.submit_text("chest films"))
    assert turn.kind == "command" and turn.command.action is Action.WINDOW
    pipeline.update_options(PipelineOptions(wake_phrase="VoxRad"))
    turn_id = pipeline.submit_audio(AUDIO, hands_free=True)
    # Turns are taken in order: once this typed one has finished, the utterance was heard.
    command = pipeline.submit_text("next slice")
    log.finished(command)
    assert made["asr"][0].wake_phrases == ["VoxRad"]  # type: ignore[attr-defined]
    # "next slice" without the wake phrase is not acted on, nor shown as a turn.
    assert [e for e in log.events if e.turn is not None and e.turn.turn_id == turn_id] == []
    assert [c.action for c in viewer.commands] == [Action.WINDOW, Action.NEXT_SLICE]


def test_busy_policy_changes_take_effect(parts) -> None:  # type: ignore[no-untyped-def]
    pipeline, log, made = parts
    pipeline.update_options(PipelineOptions(busy_policy="cancel"))
    log.finished(pipeline.submit_text("warm up?"))
    answerer = made["vlm"][0]
    gate = threading.Event()
    answerer.gate = gate  # type: ignore[attr-defined]
    answerer.started.clear()  # type: ignore[attr-defined]
    first = pipeline.submit_text("Is there an effusion?")
    assert answerer.started.wait(5)  # type: ignore[attr-defined]
    second = pipeline.submit_text("Is the heart enlarged?")
    assert log.finished(first).cancelled
    gate.set()
    assert log.finished(second).ok


def test_reload_replaces_only_the_chosen_backend_and_loads_it_now(parts) -> None:  # type: ignore[no-untyped-def]
    pipeline, log, made = parts
    assert log.finished(pipeline.submit_text("Is there an effusion?")).ok
    assert len(made["vlm"]) == 1 and len(made["asr"]) == 1
    pipeline.reload_models(asr=False, vlm=True, tts=False, load_now=True)
    old = made["vlm"][0]
    # Loaded in the background at once, before any question asks for it.
    with log._cond:
        assert log._cond.wait_for(lambda: len(made["vlm"]) == 2, timeout=5)
    assert made["vlm"][1].loaded.wait(5)  # type: ignore[attr-defined]
    assert old.closed == 1  # type: ignore[attr-defined]
    assert log.finished(pipeline.submit_text("Is the heart enlarged?")).ok
    assert made["vlm"][1].questions[-1].text == "Is the heart enlarged?"  # type: ignore[attr-defined]
    assert len(made["asr"]) == 1 and len(made["tts"]) == 1
