"""The live transcript through the real pipeline with faster-whisper tiny.en: the growing
audio of an espeak-ng question gives partials, and the last one is close to the final text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pipeline_fakes import EventLog, FakeAnswerer, FakeSpeaker, FakeViewer

from voxrad.assistant.loop.pipeline import AssistantPipeline
from voxrad.audio.endpointer import PartialUtterance

pytestmark = pytest.mark.models

SENTENCE = "Is there a pleural effusion on the right side of the chest?"
SR = 16_000


def test_growing_audio_gives_partials_that_end_close_to_the_final(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from speech_support import espeak_wav, read_wav, word_error_rate
    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber, WhisperOptions

    audio = read_wav(espeak_wav(SENTENCE, tmp_path))
    answerer = FakeAnswerer()
    pipeline = AssistantPipeline(
        FakeViewer(),
        transcriber_factory=lambda: FasterWhisperTranscriber(WhisperOptions(model="tiny.en")),
        answerer_factory=lambda: answerer,
        speaker_factory=FakeSpeaker,
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.start()
    asr = pipeline._ctx.asr
    assert asr is not None
    try:
        pipeline.start_listening()
        # One second more each time, as the microphone offers it; each pass is let finish
        # (a no-op job behind it on the ASR thread) so every offer is taken.
        for end in range(SR, audio.size, SR):
            assert pipeline.submit_partial(PartialUtterance(audio[:end].copy(), 0.0, False))
            assert asr.submit(lambda _t: None, "barrier").done.wait(120)
        pipeline.stop_listening()
        turn = log.finished(pipeline.submit_audio(audio), timeout=120)
        log.wait_for(lambda e: e.kind == "partial" and e.text == "", timeout=10)
    finally:
        assert pipeline.shutdown(timeout=10)
    with log._cond:
        shown = [e.text for e in log.events if e.kind == "partial" and e.text]
    assert len(shown) >= 2, shown
    assert word_error_rate(SENTENCE, turn.transcript) <= 0.2, turn.transcript
    assert word_error_rate(turn.transcript, shown[-1]) <= 0.3, (shown, turn.transcript)
    # Partials are never a turn: the model saw the final question only.
    assert [q.text for q in answerer.questions] == [turn.question.text]
