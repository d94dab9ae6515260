"""The pipeline with the real faster-whisper tiny.en on espeak-ng speech: "lung window" changes
the (fake) viewer's window through the real command grammar."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest
from pipeline_fakes import EventLog, FakeAnswerer, FakeSpeaker, FakeViewer

from voxrad.assistant.commands.grammar import Action
from voxrad.assistant.loop.pipeline import AssistantPipeline
from voxrad.assistant.loop.turns import PipelineState

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def speech() -> ModuleType:
    """tests/speech_support.py (espeak-ng synthesis, WAV reading), shared with the ASR tests."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import speech_support

    return speech_support


def test_spoken_lung_window_changes_the_window(speech: ModuleType, tmp_path: Path) -> None:
    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber, WhisperOptions

    audio = speech.read_wav(speech.espeak_wav("Lung window.", tmp_path))
    viewer = FakeViewer()
    answerer = FakeAnswerer()
    pipeline = AssistantPipeline(
        viewer,
        transcriber_factory=lambda: FasterWhisperTranscriber(WhisperOptions(model="tiny.en")),
        answerer_factory=lambda: answerer,
        speaker_factory=FakeSpeaker,
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.start()
    try:
        pipeline.start_listening()
        turn = log.finished(pipeline.submit_audio(audio, sample_rate=16_000), timeout=120)
        assert turn.kind == "command", turn.transcript
        assert turn.command.action is Action.WINDOW
        assert viewer.window == "lung"
        assert answerer.questions == []  # a command never reaches the model
        assert "lung" in turn.transcript.lower()
        assert turn.timings["transcription"] > 0 and turn.timings["overhead"] < 0.05
        log.wait_for(lambda e: e.kind == "state" and e.state is PipelineState.IDLE)
        assert log.states() == [
            PipelineState.LISTENING,
            PipelineState.TRANSCRIBING,
            PipelineState.IDLE,
        ]
    finally:
        assert pipeline.shutdown(timeout=10)
