"""Push-to-talk and hands-free endpointing on real speech with the real silero VAD."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech_support import espeak_wav, read_wav
from voxrad.audio.endpointer import CHUNK, Endpointer, measure_level
from voxrad.audio.resample import StreamResampler
from voxrad.audio.vad import StreamingVad

SR = 16_000


def _feed(endpointer: Endpointer, audio: np.ndarray, block: int = CHUNK) -> list:
    done = []
    for i in range(0, audio.size, block):
        done += endpointer.feed(audio[i : i + block])
    return done


QUESTION = "Is there a pneumothorax in the left lung?"


def _speech(speech_dir: Path, text: str = QUESTION) -> np.ndarray:
    return read_wav(espeak_wav(text, speech_dir))


def _speech_end(audio: np.ndarray) -> float:
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    return float(loud[-1] + 1) / SR


def test_vad_tells_speech_from_silence(speech_dir: Path) -> None:
    vad = StreamingVad()
    speech = _speech(speech_dir)
    probs = [vad(speech[i : i + CHUNK]) for i in range(0, speech.size - CHUNK, CHUNK)]
    silence = [vad(np.zeros(CHUNK, np.float32)) for _ in range(30)]
    assert np.mean(np.array(probs) > 0.5) > 0.5
    assert max(silence[5:]) < 0.2
    with pytest.raises(ValueError):
        vad(np.zeros(100, np.float32))


@pytest.mark.parametrize("silence_s", [0.5, 0.8, 1.5])
def test_hands_free_ends_after_configured_silence(speech_dir: Path, silence_s: float) -> None:
    speech = _speech(speech_dir)
    lead = np.zeros(SR, np.float32)
    tail = np.zeros(int(SR * (silence_s + 1.0)), np.float32)
    audio = np.concatenate([lead, speech, tail])
    ep = Endpointer(mode="hands_free", silence_s=silence_s, vad=StreamingVad())
    (utterance,) = _feed(ep, audio)
    assert utterance.reason == "silence"
    true_end = 1.0 + _speech_end(speech)
    # Issue budget: the end-of-utterance decision at most 300 ms beyond the configured silence.
    assert utterance.decided_s - true_end <= silence_s + 0.3
    assert utterance.decided_s - true_end >= silence_s - 0.05
    # The utterance holds the whole sentence, with the pre-roll before its first syllable.
    assert utterance.start_s <= 1.0
    assert utterance.start_s + utterance.duration >= true_end


def test_hands_free_ignores_silence_and_noise() -> None:
    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(SR * 2), rng.standard_normal(SR * 2) * 0.02]).astype(
        np.float32
    )
    ep = Endpointer(mode="hands_free", vad=StreamingVad())
    assert _feed(ep, audio) == []


def test_hands_free_two_utterances_and_odd_block_sizes(speech_dir: Path) -> None:
    one = _speech(speech_dir, "Next slice.")
    two = _speech(speech_dir, "Lung window.")
    gap = np.zeros(int(SR * 1.2), np.float32)
    audio = np.concatenate([gap, one, gap, two, gap])
    ep = Endpointer(mode="hands_free", silence_s=0.6, vad=StreamingVad())
    done = _feed(ep, audio, block=700)  # blocks that are not whole VAD chunks
    assert [u.reason for u in done] == ["silence", "silence"]
    assert done[0].decided_s < done[1].start_s


def test_hands_free_max_length(speech_dir: Path) -> None:
    speech = np.concatenate([_speech(speech_dir)] * 3)
    ep = Endpointer(mode="hands_free", max_utterance_s=2.0, vad=StreamingVad())
    done = _feed(ep, speech)
    assert done and done[0].reason == "max_length"
    assert done[0].duration <= 2.0 + CHUNK / SR


def test_push_to_talk_pre_roll_keeps_first_syllable(speech_dir: Path) -> None:
    speech = _speech(speech_dir)
    onset = int(np.flatnonzero(np.abs(speech) > 0.02)[0])
    audio = np.concatenate([np.zeros(SR, np.float32), speech, np.zeros(SR // 2, np.float32)])
    ep = Endpointer(mode="push_to_talk", pre_roll_s=0.3, post_roll_s=0.15)
    press_at = SR + onset + int(0.1 * SR)  # the key goes down 100 ms after speech starts
    assert _feed(ep, audio[:press_at]) == []
    ep.press()
    release_at = SR + speech.size
    assert _feed(ep, audio[press_at:release_at]) == []
    assert ep.release() is None  # waits for the post-roll
    (utterance,) = _feed(ep, audio[release_at:])
    assert utterance.reason == "released"
    # The pre-roll reaches back before the first syllable.
    assert utterance.start_s <= (SR + onset) / SR
    assert utterance.duration == pytest.approx((release_at - press_at) / SR + 0.3 + 0.15, abs=0.04)


def test_push_to_talk_max_length_and_release_without_press() -> None:
    ep = Endpointer(mode="push_to_talk", max_utterance_s=1.0, pre_roll_s=0.0, post_roll_s=0.0)
    assert ep.release() is None
    ep.press()
    done = _feed(ep, np.full(SR * 2, 0.1, np.float32))
    assert [u.reason for u in done] == ["max_length"]
    assert done[0].duration == pytest.approx(1.0)
    assert ep.release() is None  # already delivered; nothing more


def test_level_and_clipping() -> None:
    quiet = measure_level(np.full(512, 0.01, np.float32))
    assert quiet.rms_dbfs == pytest.approx(-40.0, abs=0.1) and not quiet.clipped
    assert measure_level(np.zeros(512, np.float32)).rms_dbfs == -100.0
    loud = np.sin(np.linspace(0, 40, 512)).astype(np.float32) * 1.5
    assert measure_level(np.clip(loud, -1, 1)).clipped
    ep = Endpointer(mode="push_to_talk", pre_roll_s=0.0, post_roll_s=0.0)
    ep.press()
    ep.feed(np.clip(loud, -1, 1))
    utterance = ep.release()
    assert utterance is not None and utterance.clipped


@pytest.mark.parametrize("rate", [44_100, 48_000, 8_000])
def test_stream_resampler_keeps_speech(speech_dir: Path, rate: int) -> None:
    from scipy.signal import resample_poly

    speech = _speech(speech_dir)
    source = resample_poly(speech, rate // 100, 160).astype(np.float32)
    resampler = StreamResampler(rate)
    block = round(rate * 0.032)
    out = np.concatenate([resampler(source[i : i + block]) for i in range(0, source.size, block)])
    assert abs(out.size - speech.size) <= 2
    lag = int(np.argmax(np.correlate(out[:8000], speech[:4000], mode="valid")))
    n = min(out.size - lag, speech.size) - 100
    corr = np.corrcoef(out[lag : lag + n], speech[:n])[0, 1]
    assert corr > (0.6 if rate == 8_000 else 0.95)
