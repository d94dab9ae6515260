"""ModelAnswerer: the pipeline's questions through answering.ask to an engine, on the model
thread; a model that is not installed is a message, not a crash."""

from __future__ import annotations

import threading
from pathlib import Path

from pipeline_fakes import EventLog, FakeSpeaker, FakeTranscriber, FakeViewer

from voxrad.assistant.model_answerer import ModelAnswerer
from voxrad.assistant.pipeline import AssistantPipeline
from voxrad.backends.tts.base import Speaker
from voxrad.backends.vlm.base import GenerationRequest, GenerationResult, TokenCallback
from voxrad.backends.vlm.registry import ModelSpec
from voxrad.core import paths
from voxrad.core.settings import PrivacySettings, VlmSettings

REPLY = "The lungs are clear. No effusion is seen."


class FakeEngine:
    """A VisionLanguageModel that streams a fixed reply and records what it was sent."""

    def __init__(self, spec: ModelSpec) -> None:
        self.name = spec.name
        self.requests: list[GenerationRequest] = []
        self.threads: set[str] = set()
        self.closed = 0

    def load(self) -> None:
        self.threads.add(threading.current_thread().name)

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        self.threads.add(threading.current_thread().name)
        self.requests.append(request)
        for word in REPLY.split(" "):
            if on_token is not None:
                on_token(word + " ")
        return GenerationResult(REPLY, model=self.name, timings={"generate": 0.01})

    def close(self) -> None:
        self.closed += 1


def run_pipeline(answerer: ModelAnswerer, speaker: Speaker, text: str) -> object:
    pipeline = AssistantPipeline(
        FakeViewer(),
        transcriber_factory=FakeTranscriber,
        answerer_factory=lambda: answerer,
        speaker_factory=lambda: speaker,
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.start()
    try:
        return log.finished(pipeline.submit_text(text), timeout=30)
    finally:
        assert pipeline.shutdown()


def test_question_reaches_the_engine_and_the_answer_is_spoken(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny-medgemma.gguf"
    gguf.write_bytes(b"GGUF")
    engines: list[FakeEngine] = []

    def factory(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> FakeEngine:
        engines.append(FakeEngine(spec))
        return engines[-1]

    answerer = ModelAnswerer(VlmSettings(model=str(gguf)), tmp_path, engine_factory=factory)
    speaker = FakeSpeaker()
    turn = run_pipeline(answerer, speaker, "Is there an effusion?")
    assert turn.ok, turn.messages
    assert turn.answer.answer == REPLY and turn.model == "tiny-medgemma"
    assert {"prepare", "parse"} <= set(turn.answer.timings)
    assert turn.timings["image_preparation"] == turn.answer.timings["prepare"]
    (engine,) = engines
    assert engine.threads == {"voxrad-vlm"} and engine.closed == 1
    (request,) = engine.requests
    assert len(request.images) == 1  # the slice on screen, as pixels only
    assert "Is there an effusion?" in " ".join(m.text for m in request.messages)
    assert speaker.said == ["The lungs are clear.", "No effusion is seen."]


def test_model_not_installed_is_a_message_on_the_turn() -> None:
    answerer = ModelAnswerer(VlmSettings(), paths.default_models_dir())  # nothing installed
    turn = run_pipeline(answerer, FakeSpeaker(), "Is there an effusion?")
    assert turn.answer is None
    assert "voxrad models pull" in turn.error, turn.error
