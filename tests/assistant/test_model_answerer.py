"""ModelAnswerer: the pipeline's questions through answering.ask to an engine, on the model
thread; a model that is not installed is a message, not a crash."""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    """A VisionLanguageModel that streams a fixed reply and records what it was sent.

    With ``gate``, streaming pauses before the word ``pause_at`` until the gate is set.
    """

    def __init__(
        self,
        spec: ModelSpec,
        reply: str = REPLY,
        gate: threading.Event | None = None,
        pause_at: str = "",
    ) -> None:
        self.name = spec.name
        self.reply = reply
        self.gate = gate
        self.pause_at = pause_at
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
        for word in self.reply.split(" "):
            if self.gate is not None and word == self.pause_at:
                self.gate.wait(10)
            if on_token is not None:
                on_token(word + " ")
        return GenerationResult(self.reply, model=self.name, timings={"generate": 0.01})

    def close(self) -> None:
        self.closed += 1


def run_pipeline(
    answerer: ModelAnswerer,
    speaker: Speaker,
    text: str,
    during: Callable[[EventLog], None] | None = None,
) -> object:
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
        turn_id = pipeline.submit_text(text)
        if during is not None:
            during(log)
        return log.finished(turn_id, timeout=30)
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


MEDGEMMA_REPLY = (
    "The image shows fluid.\nFinal Answer: There is a small right effusion. No pneumothorax.\n"
    '```json\n[{"box_2d": [100, 200, 300, 400], "label": "effusion"}]\n```\nConfidence: 80%'
)


def test_answer_is_spoken_while_generating_without_reasoning_or_boxes(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny-medgemma.gguf"
    gguf.write_bytes(b"GGUF")
    gate = threading.Event()
    engines: list[FakeEngine] = []

    def factory(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> FakeEngine:
        engines.append(FakeEngine(spec, MEDGEMMA_REPLY, gate, pause_at="No"))
        return engines[-1]

    def while_generating(log: EventLog) -> None:
        first = log.wait_for(lambda e: e.kind == "sentence")
        assert first.text == "There is a small right effusion."
        assert "answer" not in log.kinds()  # spoken before the model finished
        gate.set()

    answerer = ModelAnswerer(VlmSettings(model=str(gguf)), tmp_path, engine_factory=factory)
    speaker = FakeSpeaker()
    turn = run_pipeline(answerer, speaker, "Is there an effusion?", while_generating)
    assert turn.answer.answer == "There is a small right effusion. No pneumothorax."
    assert len(turn.answer.findings) == 1
    assert speaker.said == ["There is a small right effusion.", "No pneumothorax."]
