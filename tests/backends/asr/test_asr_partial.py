"""Partial (live-transcript) decoding with the real tiny.en: cheaper, bounded on audio cut
mid-word, still guarded against invented text, and quiet in the log."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest

from speech_support import espeak_wav, read_wav, word_error_rate
from voxrad.backends.asr.faster_whisper import MAX_WORDS_PER_S, FasterWhisperTranscriber

pytestmark = pytest.mark.models

SENTENCE = "Is there a pleural effusion on the right side of the chest?"


def test_partial_of_the_whole_sentence_reads_like_the_final(
    tiny_en: FasterWhisperTranscriber, speech_dir: Path
) -> None:
    audio = read_wav(espeak_wav(SENTENCE, speech_dir))
    final = tiny_en.transcribe(audio)
    partial = tiny_en.transcribe(audio, partial=True)
    assert word_error_rate(SENTENCE, final.text) <= 0.2, final.text
    assert word_error_rate(final.text, partial.text) <= 0.3, (final.text, partial.text)


def test_partial_of_audio_cut_mid_word_is_bounded(
    tiny_en: FasterWhisperTranscriber, speech_dir: Path
) -> None:
    """Greedy decoding of a cut word loops ("very, very, very ..."): the token cap stops it
    early, and the words-per-second guard drops what it made up."""
    audio = read_wav(espeak_wav(SENTENCE, speech_dir))
    for seconds in (0.7, 1.0, 1.3, 1.7):
        cut = audio[: int(seconds * 16_000)]
        # CPU time of this process (all its threads), not wall time: other work on a busy
        # machine must not decide the comparison.
        full_start = time.process_time()
        tiny_en.transcribe(cut)
        full_s = time.process_time() - full_start
        start = time.process_time()
        result = tiny_en.transcribe(cut, partial=True)
        partial_s = time.process_time() - start
        assert len(result.text.split()) <= MAX_WORDS_PER_S * seconds, result.text
        # Never much dearer than the final decode of the same audio (beam 5 with fallback).
        assert partial_s <= 1.5 * full_s + 0.1, (seconds, partial_s, full_s)


def test_partial_of_silence_is_empty_and_logged_only_at_debug(
    tiny_en: FasterWhisperTranscriber, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal(32_000) * 0.01).astype(np.float32)
    with caplog.at_level(logging.DEBUG, logger="voxrad.backends.asr.faster_whisper"):
        assert tiny_en.transcribe(noise, partial=True).text == ""
    records = [r for r in caplog.records if r.name == "voxrad.backends.asr.faster_whisper"]
    assert records and all(r.levelno == logging.DEBUG for r in records)
