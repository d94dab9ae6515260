"""The utterance so far, for the live transcript: its cadence in recorded speech, push-to-talk
and hands-free (real silero VAD on espeak-ng speech), and through a real microphone."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from speech_support import espeak_wav, read_wav
from voxrad.audio.capture import Microphone
from voxrad.audio.endpointer import (
    CHUNK,
    PARTIAL_PAUSE_S,
    Endpointer,
    PartialUtterance,
    Utterance,
)
from voxrad.audio.vad import StreamingVad
from voxrad.core.settings import AudioSettings

SR = 16_000
QUESTION = "Is there a pneumothorax in the left lung?"


def _feed_with_partials(
    ep: Endpointer, audio: np.ndarray, interval_s: float, block: int = CHUNK
) -> tuple[list[Utterance], list[PartialUtterance]]:
    done: list[Utterance] = []
    partials: list[PartialUtterance] = []
    for i in range(0, audio.size, block):
        done += ep.feed(audio[i : i + block])
        partial = ep.partial_due(interval_s)
        if partial is not None:
            partials.append(partial)
    return done, partials


@pytest.mark.parametrize("interval_s", [0.5, 1.0])
def test_push_to_talk_partials_every_interval_of_recording(interval_s: float) -> None:
    ep = Endpointer(mode="push_to_talk", pre_roll_s=0.3, post_roll_s=0.15)
    _feed_with_partials(ep, np.full(SR, 0.05, np.float32), interval_s)  # fills the pre-roll
    assert ep.partial_due(interval_s) is None  # not pressed: nothing is being recorded
    ep.press()
    held = np.random.default_rng(1).uniform(-0.1, 0.1, int(3.3 * SR)).astype(np.float32)
    done, partials = _feed_with_partials(ep, held, interval_s)
    assert done == []
    recorded = 0.3 + 3.3
    # Every interval of recording (pre-roll included), each to within one block.
    durations = [p.duration for p in partials]
    assert interval_s <= durations[0] < interval_s + CHUNK / SR
    assert all(interval_s <= d < interval_s + CHUNK / SR for d in np.diff(durations)), durations
    assert len(partials) >= int(recorded / (interval_s + CHUNK / SR))
    assert all(not p.hands_free and p.sample_rate == SR for p in partials)
    assert ep.release() is None
    done, after = _feed_with_partials(ep, np.zeros(SR, np.float32), interval_s)
    assert after == []  # none from the post-roll or after release
    (utterance,) = done
    # Each partial is the start of the utterance, copied (later blocks do not change it).
    for partial in partials:
        assert np.array_equal(utterance.audio[: partial.audio.size], partial.audio)
    ep.press()  # the next utterance counts from its own start
    _, again = _feed_with_partials(ep, held[: int(1.2 * SR)], interval_s)
    assert again and again[0].duration < interval_s + CHUNK / SR


def test_a_long_block_skips_missed_partials_instead_of_bursting() -> None:
    ep = Endpointer(mode="push_to_talk", pre_roll_s=0.0, post_roll_s=0.0)
    ep.press()
    ep.feed(np.full(int(3.5 * SR), 0.1, np.float32))
    first = ep.partial_due(1.0)
    assert first is not None and first.duration == pytest.approx(3.5)
    assert ep.partial_due(1.0) is None
    ep.feed(np.full(int(0.9 * SR), 0.1, np.float32))  # 4.4 s: not yet a second on
    assert ep.partial_due(1.0) is None
    ep.feed(np.full(int(0.2 * SR), 0.1, np.float32))
    second = ep.partial_due(1.0)
    assert second is not None and second.duration == pytest.approx(4.6)


def test_no_partial_while_the_speaker_pauses(speech_dir: Path) -> None:
    """A pause may be the end of the utterance: no pass then, so the final never waits behind
    one; the overdue partial comes as soon as speech resumes."""
    speech = read_wav(espeak_wav("Next slice.", speech_dir))
    pause = np.zeros(int(1.5 * SR), np.float32)
    ep = Endpointer(mode="push_to_talk", pre_roll_s=0.0, post_roll_s=0.0)
    ep.press()
    _, during_speech = _feed_with_partials(ep, speech, 0.5)
    assert during_speech
    _, in_pause = _feed_with_partials(ep, pause, 0.5)
    # Only while the pause is shorter than PARTIAL_PAUSE_S.
    assert all(p.duration <= speech.size / SR + PARTIAL_PAUSE_S for p in in_pause)
    assert len(in_pause) <= 1
    _, resumed = _feed_with_partials(ep, speech[: CHUNK * 4], 0.5)
    assert len(resumed) == 1 and resumed[0].duration == pytest.approx(
        (speech.size + pause.size) / SR + CHUNK / SR, abs=CHUNK / SR
    )
    # A quiet microphone is not taken for a pause: the rule is relative to the loudest block.
    ep = Endpointer(mode="push_to_talk", pre_roll_s=0.0, post_roll_s=0.0)
    ep.press()
    _, quiet = _feed_with_partials(ep, speech * 0.01, 0.5)
    assert len(quiet) == len(during_speech)


def test_hands_free_partials_only_once_speech_is_heard(speech_dir: Path) -> None:
    speech = read_wav(espeak_wav(QUESTION, speech_dir))
    gap = np.zeros(2 * SR, np.float32)
    ep = Endpointer(mode="hands_free", silence_s=0.8, vad=StreamingVad())
    done, partials = _feed_with_partials(ep, np.concatenate([gap, speech, gap]), 1.0)
    (utterance,) = done
    assert partials, "no partial while the question was spoken"
    assert all(p.hands_free and p.start_s == utterance.start_s for p in partials)
    # Only while the question is spoken: never in the lead gap, nor in the silence that ends
    # the utterance (the VAD hears the pause).
    spoken = utterance.speech_end_s - utterance.start_s
    assert len(partials) >= int(spoken) - 1
    assert all(p.duration <= spoken + PARTIAL_PAUSE_S + CHUNK / SR for p in partials)
    for partial in partials:
        assert np.array_equal(utterance.audio[: partial.audio.size], partial.audio)


@pytest.mark.audio
def test_microphone_hands_out_the_speech_so_far_while_held(pulse, speech_dir: Path) -> None:  # type: ignore[no-untyped-def]
    wav = espeak_wav(QUESTION, speech_dir)
    partials: list[PartialUtterance] = []
    threads: set[str] = set()
    got: list[Utterance] = []
    done = threading.Event()
    first_level = threading.Event()

    def on_partial(partial: PartialUtterance) -> None:
        threads.add(threading.current_thread().name)
        partials.append(partial)

    def on_utterance(u: Utterance) -> None:
        got.append(u)
        done.set()

    mic = Microphone(
        AudioSettings(input_device="pulse"),
        on_utterance=on_utterance,
        on_level=lambda _level: first_level.set(),
    )
    mic.on_partial = on_partial  # set after the microphone is built, as push-to-talk does
    mic.partial_interval_s = 0.5
    mic.start()
    try:
        assert first_level.wait(5), "no audio blocks from the virtual microphone"
        mic.press()
        pulse.play(wav).wait(10)
        mic.release()
        assert done.wait(5)
    finally:
        mic.stop()
    (utterance,) = got
    assert threads == {"voxrad-capture"}
    # Every half second of the recording, each one the start of the final utterance.
    assert len(partials) >= int(utterance.duration / 0.5) - 1 >= 4
    durations = [p.duration for p in partials]
    assert np.allclose(np.diff(durations), 0.5, atol=0.07), durations
    for partial in partials:
        assert np.array_equal(utterance.audio[: partial.audio.size], partial.audio)
