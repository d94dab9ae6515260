"""pyttsx3 with espeak-ng: real synthesis, playback through PulseAudio, barge-in."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voxrad.assistant.speech.speakable import sentences, speakable
from voxrad.backends.tts.base import Speaker
from voxrad.backends.tts.pyttsx3_engine import Pyttsx3Speaker
from voxrad.backends.tts.registry import create_speaker
from voxrad.backends.tts.worker import SpeechWorker
from voxrad.core.errors import BackendError
from voxrad.core.settings import TtsSettings

ANSWER = (
    "There is a 5 mm nodule in the right upper lobe. It measures -600 HU. "
    "No pleural effusion is seen. The heart size is normal. "
    "Follow-up CT in 12 months is suggested. This is decision support, not a diagnosis."
)


@pytest.fixture
def speaker():  # type: ignore[no-untyped-def]
    s = Pyttsx3Speaker(TtsSettings(rate=175))
    s.load()
    yield s
    s.close()


def _rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64)))))


def test_synthesis_duration_and_loudness_are_plausible(speaker: Pyttsx3Speaker) -> None:
    assert isinstance(speaker, Speaker)
    text = "There is a five millimetre nodule in the right upper lobe."
    samples, rate = speaker.synthesize(text)
    seconds = samples.size / rate
    words = len(text.split())
    # Conversational speech: roughly 2 to 4 words per second at 175 words per minute.
    assert words / 4.5 < seconds < words / 1.5, seconds
    voiced = samples[np.abs(samples) > 0.01]
    assert -30.0 < _rms_dbfs(voiced) < -3.0
    assert float(np.max(np.abs(samples))) < 1.0  # not clipped


def test_rate_and_volume_settings_apply() -> None:
    text = "Is there a pneumothorax in the left lung?"
    results = {}
    for name, settings in {
        "slow": TtsSettings(rate=110),
        "fast": TtsSettings(rate=260),
        "quiet": TtsSettings(rate=175, volume=0.3),
        "loud": TtsSettings(rate=175, volume=1.0),
    }.items():
        s = Pyttsx3Speaker(settings)
        s.load()
        try:
            results[name] = s.synthesize(text)[0]
        finally:
            s.close()
    assert results["slow"].size > 1.6 * results["fast"].size
    assert _rms_dbfs(results["quiet"]) < _rms_dbfs(results["loud"]) - 4.0


@pytest.mark.models
def test_spoken_answer_is_intelligible(speaker: Pyttsx3Speaker) -> None:
    """Round trip: what VoxRad says, tiny.en understands (numbers and units read naturally)."""
    from speech_support import word_error_rate
    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber

    spoken = speakable("The nodule measures 5 mm.")
    assert spoken == "The nodule measures 5 millimetres."
    samples, rate = speaker.synthesize(spoken)
    asr = FasterWhisperTranscriber()
    asr.load()
    try:
        heard = asr.transcribe(samples, sample_rate=rate).text
    finally:
        asr.close()
    assert word_error_rate("the nodule measures five millimetres", heard) <= 0.4, heard
    assert "millimet" in heard.lower(), heard


def test_unknown_engine_and_unloaded_speaker() -> None:
    with pytest.raises(BackendError, match="Unknown text-to-speech") as info:
        create_speaker(TtsSettings(backend="festival"))
    assert "pyttsx3" in info.value.hint
    with pytest.raises(BackendError, match="not loaded"):
        Pyttsx3Speaker().say(["Hello."])


@pytest.mark.audio
def test_speaks_sentence_by_sentence_through_a_device(pulse) -> None:  # type: ignore[no-untyped-def]
    started: list[tuple[int, str]] = []
    s = Pyttsx3Speaker(TtsSettings(rate=300))
    s.load()
    try:
        parts = sentences(speakable("Zoom in. Next slice."))
        t0 = time.perf_counter()
        assert s.say(parts, on_sentence=lambda i, t: started.append((i, t))) is True
        elapsed = time.perf_counter() - t0
    finally:
        s.close()
    assert [i for i, _ in started] == [0, 1]
    assert elapsed > 0.5  # really played, in real time


@pytest.mark.audio
def test_barge_in_stops_speech_at_once(pulse) -> None:  # type: ignore[no-untyped-def]
    first_sentence = threading.Event()
    started: list[int] = []

    def on_sentence(index: int, text: str) -> None:
        started.append(index)
        first_sentence.set()

    worker = SpeechWorker(Pyttsx3Speaker(TtsSettings(rate=150)), on_sentence=on_sentence)
    try:
        parts = sentences(speakable(ANSWER))
        assert len(parts) == 6
        worker.speak(parts)
        assert first_sentence.wait(20)
        assert not worker.idle.is_set()
        time.sleep(0.5)  # the clinician presses push-to-talk half a second into the answer
        assert not worker.idle.is_set()
        t0 = time.perf_counter()
        worker.stop()  # push-to-talk pressed / "stop" said
        assert worker.idle.wait(2)
        stopped_after = time.perf_counter() - t0
    finally:
        worker.close()
    assert stopped_after < 0.3, stopped_after
    assert started == [0]  # the rest of the answer was never spoken


@pytest.mark.audio
def test_new_answer_replaces_the_old_one(pulse) -> None:  # type: ignore[no-untyped-def]
    said: list[str] = []
    second = threading.Event()

    def on_sentence(index: int, text: str) -> None:
        said.append(text)
        if text.startswith("Second"):
            second.set()

    worker = SpeechWorker(Pyttsx3Speaker(TtsSettings(rate=300)), on_sentence=on_sentence)
    try:
        worker.speak(sentences(ANSWER))
        worker.speak(["Second answer."])
        assert second.wait(20)
        assert worker.idle.wait(10)
    finally:
        worker.close()
    assert said[-1] == "Second answer."
    assert len(said) <= 2  # at most the first sentence of the old answer started


def test_cli_say_writes_a_wav(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scipy.io import wavfile

    from voxrad.cli import main

    out = tmp_path / "reply.wav"
    assert main(["say", "--show", "--out", str(out), "A 5 mm nodule. Density -600 HU."]) == 0
    printed = capsys.readouterr().out
    assert "5 millimetres" in printed and "minus 600 Hounsfield units" in printed
    rate, data = wavfile.read(out)
    assert rate == 22_050 and data.dtype == np.int16
    assert 2.0 < data.size / rate < 10.0


@pytest.mark.audio
def test_playback_stops_mid_sentence(pulse) -> None:  # type: ignore[no-untyped-def]
    from voxrad.backends.tts.playback import play

    rate = 22_050
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate)).astype(np.float32)
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def barge_in() -> None:
        cancelled_at.append(time.perf_counter())
        cancel.set()

    timer = threading.Timer(0.6, barge_in)
    timer.start()
    start = time.perf_counter()
    assert play(tone, rate, cancel=cancel) is False
    returned = time.perf_counter()
    timer.cancel()
    assert returned - cancelled_at[0] < 0.3
    assert returned - start < 1.5  # not the whole 3 s tone
    assert play(tone[: rate // 4], rate) is True  # a short one plays to the end
