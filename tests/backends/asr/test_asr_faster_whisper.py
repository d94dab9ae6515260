"""faster-whisper tiny.en on synthesised and real human speech: accuracy, biasing, guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech_support import (
    POCKETSPHINX_DATA,
    espeak_wav,
    librivox_clips,
    read_raw16,
    read_wav,
    word_error_rate,
)
from voxrad.backends.asr.base import Transcriber
from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber, WhisperOptions

pytestmark = pytest.mark.models

#: Questions with medical words, commands and numbers, as a clinician would say them.
SENTENCES = (
    "Is there a pneumothorax in the left lung?",
    "Next slice.",
    "Scroll down twenty slices.",
    "Lung window.",
    "Is there a pleural effusion on the right?",
    "How large is the nodule in the right upper lobe?",
    "Select finding two.",
    "Zoom in.",
    "Is there free fluid in the abdomen?",
    "Stop talking.",
    "Is the fracture displaced?",
    "Is there any consolidation or atelectasis?",
)


def test_is_a_transcriber(tiny_en: FasterWhisperTranscriber) -> None:
    assert isinstance(tiny_en, Transcriber)
    assert tiny_en.device == "cpu" and tiny_en.compute_type == "int8"


def test_synthesised_speech_word_error_rate(
    tiny_en: FasterWhisperTranscriber, speech_dir: Path
) -> None:
    rates = []
    for sentence in SENTENCES:
        result = tiny_en.transcribe(read_wav(espeak_wav(sentence, speech_dir)))
        rates.append(word_error_rate(sentence, result.text))
        assert result.language == "en"
        assert {"prepare", "features_vad", "decode", "total"} <= set(result.timings)
    # Measured: mean 0.0 to 0.07 on espeak-ng voices; one bad sentence must not hide.
    assert np.mean(rates) <= 0.15, rates
    assert max(rates) <= 0.5, rates


def test_real_human_speech_word_error_rate(tiny_en: FasterWhisperTranscriber) -> None:
    clips = librivox_clips()
    assert len(clips) == 5
    rates = [word_error_rate(text, tiny_en.transcribe(read_wav(path)).text) for path, text in clips]
    # Measured 0.02 mean (LibriVox readings, pocketsphinx-testdata).
    assert np.mean(rates) <= 0.1, rates


def test_real_command_from_a_human(tiny_en: FasterWhisperTranscriber) -> None:
    result = tiny_en.transcribe(read_raw16(POCKETSPHINX_DATA / "goforward.raw"))
    assert word_error_rate("go forward ten meters", result.text) <= 0.25, result.text


def test_pneumothorax_needs_and_gets_biasing(speech_dir: Path) -> None:
    """The issue's case: without biasing tiny.en mishears the word; study words fix it."""
    audio = read_wav(espeak_wav("Is there a pneumothorax in the left lung?", speech_dir))
    plain = FasterWhisperTranscriber(WhisperOptions(biasing="off", warm_up=False))
    plain.load()
    try:
        assert "pneumothorax" not in plain.transcribe(audio).text.lower()
        plain.options = WhisperOptions(warm_up=False)
        # A chest CT brings the chest vocabulary, pneumothorax included.
        biased = plain.transcribe(audio, context=["CT", "chest"])
        assert "pneumothorax" in biased.text.lower()
    finally:
        plain.close()


def test_site_lexicon_biases_recognition(speech_dir: Path, tmp_path: Path) -> None:
    from voxrad.backends.asr.faster_whisper import from_settings
    from voxrad.core.settings import AsrSettings

    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("# site terms\npneumothorax\nhaemothorax  # British spelling\n")
    transcriber = from_settings(AsrSettings(lexicon_path=str(lexicon)))
    assert isinstance(transcriber, FasterWhisperTranscriber)
    assert transcriber.options.lexicon == ("pneumothorax", "haemothorax")
    transcriber.options = WhisperOptions(lexicon=transcriber.options.lexicon, warm_up=False)
    transcriber.load()
    audio = read_wav(espeak_wav("Is there a pneumothorax in the left lung?", speech_dir))
    assert "pneumothorax" in transcriber.transcribe(audio).text.lower()
    transcriber.close()


@pytest.mark.parametrize(
    "kind", ["silence", "quiet_noise", "loud_noise", "hum", "click", "too_short"]
)
def test_no_words_from_non_speech(tiny_en: FasterWhisperTranscriber, kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 16_000 * 3
    t = np.arange(n) / 16_000
    audio = {
        "silence": np.zeros(n),
        "quiet_noise": rng.standard_normal(n) * 0.01,
        "loud_noise": rng.standard_normal(n) * 0.2,
        "hum": 0.1 * np.sin(2 * np.pi * 50 * t),
        "click": np.where(np.arange(n) % 8000 == 0, 0.8, 0.0),
        "too_short": rng.standard_normal(3200) * 0.1,
    }[kind].astype(np.float32)
    result = tiny_en.transcribe(audio)
    assert result.text == "", (kind, result.text)
    assert result.is_empty


@pytest.mark.parametrize("seed", range(8))
def test_breathing_like_noise_gives_no_words(tiny_en: FasterWhisperTranscriber, seed: int) -> None:
    # Band-limited noise bursts with a slow envelope, the closest synthetic stand-in for
    # breathing into a headset microphone (before the guard: "Music playing.", "This is the
    # end of the video...").
    from scipy.signal import butter, sosfilt

    rng = np.random.default_rng(seed)
    n = 16_000 * 4
    sos = butter(4, [300, 2000], btype="band", fs=16_000, output="sos")
    noise = sosfilt(sos, rng.standard_normal(n))
    envelope = np.clip(np.sin(2 * np.pi * 0.5 * np.arange(n) / 16_000), 0, None)
    audio = (0.3 * noise * envelope).astype(np.float32)
    assert tiny_en.transcribe(audio).text == ""


def test_other_sample_rates_and_int16(tiny_en: FasterWhisperTranscriber, speech_dir: Path) -> None:
    from scipy.signal import resample_poly

    sentence = "Is there a pneumothorax in the left lung?"
    audio = read_wav(espeak_wav(sentence, speech_dir))
    at_44k = resample_poly(audio, 441, 160).astype(np.float32)
    as_int16 = (audio * 32767).astype(np.int16)
    stereo = np.stack([audio, audio], axis=1)
    for data, rate in ((at_44k, 44_100), (as_int16, 16_000), (stereo, 16_000)):
        result = tiny_en.transcribe(data, sample_rate=rate)
        assert word_error_rate(sentence, result.text) <= 0.25, result.text
        assert result.duration == pytest.approx(audio.size / 16_000, abs=0.01)


def test_wake_phrase_is_heard_only_when_said(
    tiny_en: FasterWhisperTranscriber, speech_dir: Path
) -> None:
    from voxrad.assistant.commands.grammar import split_wake_phrase

    said = read_wav(espeak_wav("VoxRad, scroll down five slices.", speech_dir))
    # Unprompted, tiny.en writes the invented word as "Mark said": a spelling match missed it
    # (issue 22); compared by sound it is the phrase.
    unprompted = tiny_en.transcribe(said).text
    assert unprompted.startswith("Mark said")
    assert split_wake_phrase(unprompted, "VoxRad") == "scroll down five slices."
    heard = tiny_en.transcribe(said, wake_phrase="VoxRad").text
    assert split_wake_phrase(heard, "VoxRad") == "scroll down five slices."
    for room_talk in ("Next slice.", "I think the patient is stable."):
        text = tiny_en.transcribe(
            read_wav(espeak_wav(room_talk, speech_dir)), wake_phrase="VoxRad"
        ).text
        assert split_wake_phrase(text, "VoxRad") is None, text


def test_transcriber_thread_runs_everything_on_one_thread(speech_dir: Path) -> None:
    import threading

    from voxrad.backends.asr.worker import TranscriberThread

    seen: set[str] = set()

    class Recording(FasterWhisperTranscriber):
        def load(self) -> None:
            seen.add(threading.current_thread().name)
            super().load()

        def transcribe(self, audio, **kwargs):  # type: ignore[no-untyped-def]
            seen.add(threading.current_thread().name)
            return super().transcribe(audio, **kwargs)

    worker = TranscriberThread(Recording(WhisperOptions(warm_up=False)))
    worker.load().result(30)
    audio = read_wav(espeak_wav("Zoom in.", speech_dir))
    futures = [worker.transcribe(audio), worker.transcribe(np.zeros(16_000, np.float32))]
    assert word_error_rate("zoom in", futures[0].result(30).text) <= 0.5
    assert futures[1].result(30).text == ""
    worker.close()
    assert len(seen) == 1 and next(iter(seen)).startswith("voxrad-asr")
    assert threading.current_thread().name not in seen


def test_same_audio_gives_the_same_text(
    tiny_en: FasterWhisperTranscriber, speech_dir: Path
) -> None:
    """Hard audio makes Whisper fall back to sampling; the fixed seed keeps it reproducible."""
    rng = np.random.default_rng(5)
    speech = read_wav(espeak_wav("Accession A C C 5 5 8 2 1 X from Saint Bartleby.", speech_dir))
    noisy = (speech + rng.standard_normal(speech.size) * 0.08).astype(np.float32)
    texts = {tiny_en.transcribe(noisy).text for _ in range(3)}
    assert len(texts) == 1, texts
