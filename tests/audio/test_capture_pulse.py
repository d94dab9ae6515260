"""End to end through a real audio device: PulseAudio virtual microphone -> capture -> VAD ->
faster-whisper -> command grammar. Also: missing, unknown and unplugged microphones."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from speech_support import espeak_wav, word_error_rate
from voxrad.assistant.commands.grammar import Action, Command, CommandGrammar, split_wake_phrase
from voxrad.audio.capture import STALL_S, Microphone, record_utterance
from voxrad.audio.devices import find_input_device, list_input_devices
from voxrad.audio.endpointer import Level, Utterance
from voxrad.core.errors import MicrophoneError
from voxrad.core.settings import AudioSettings

pytestmark = pytest.mark.audio

MIC = AudioSettings(input_device="pulse", silence_s=0.6)


@pytest.mark.models
def test_spoken_command_end_to_end(pulse, tiny_en, speech_dir: Path) -> None:  # type: ignore[no-untyped-def]
    wav = espeak_wav("VoxRad, scroll down five slices.", speech_dir)
    players = []
    utterance = record_utterance(
        MIC, mode="hands_free", timeout=20, on_ready=lambda: players.append(pulse.play(wav))
    )
    players[0].wait(10)
    assert utterance.reason == "silence"
    assert 1.5 < utterance.duration < 5.0
    transcript = tiny_en.transcribe(utterance.audio, wake_phrase="VoxRad")
    assert word_error_rate("voxrad scroll down five slices", transcript.text) <= 0.4, transcript
    rest = split_wake_phrase(transcript.text, "VoxRad")
    assert rest is not None, transcript.text
    assert CommandGrammar().parse(rest) == Command(Action.NEXT_SLICE, (("count", 5),))


@pytest.mark.models
def test_spoken_question_end_to_end(pulse, tiny_en, speech_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sentence = "Is there a pleural effusion on the right?"
    wav = espeak_wav(sentence, speech_dir)
    players = []
    utterance = record_utterance(
        MIC, mode="hands_free", timeout=20, on_ready=lambda: players.append(pulse.play(wav))
    )
    players[0].wait(10)
    transcript = tiny_en.transcribe(utterance.audio)
    assert word_error_rate(sentence, transcript.text) <= 0.2, transcript.text
    assert not isinstance(CommandGrammar().parse(transcript.text), Command)


def test_push_to_talk_records_between_press_and_release(pulse, speech_dir: Path) -> None:  # type: ignore[no-untyped-def]
    wav = espeak_wav("Next slice.", speech_dir)
    got: list[Utterance] = []
    levels: list[Level] = []
    done = threading.Event()
    first_level = threading.Event()

    def on_level(level: Level) -> None:
        levels.append(level)
        first_level.set()

    def on_utterance(u: Utterance) -> None:
        got.append(u)
        done.set()

    mic = Microphone(MIC, on_utterance=on_utterance, on_level=on_level)
    mic.start()
    try:
        assert first_level.wait(5), "no audio blocks from the virtual microphone"
        mic.press()
        player = pulse.play(wav)
        player.wait(10)
        mic.release()
        assert done.wait(5)
    finally:
        mic.stop()
    (utterance,) = got
    assert utterance.reason == "released"
    assert utterance.duration > 1.0
    assert max(lv.rms_dbfs for lv in levels) > -40.0  # speech reached the level meter
    assert not mic.running


def test_devices_are_listed(pulse) -> None:  # type: ignore[no-untyped-def]
    names = [d.name for d in list_input_devices()]
    assert "pulse" in names
    assert find_input_device("PULSE").name == "pulse"
    assert find_input_device("").is_default


def test_unknown_microphone_is_a_clear_error(pulse) -> None:  # type: ignore[no-untyped-def]
    mic = Microphone(AudioSettings(input_device="USB Dictation Mike 3000"), on_utterance=print)
    with pytest.raises(MicrophoneError) as info:
        mic.start()
    assert "USB Dictation Mike 3000" in info.value.message
    assert "Available:" in info.value.hint and "pulse" in info.value.hint
    assert "Typing" in info.value.hint
    assert not mic.running


def test_microphone_without_sound_server_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # No sound card on this machine and no PulseAudio: opening the input must fail cleanly.
    import sounddevice as sd

    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-such-socket'}")
    sd._terminate()
    sd._initialize()
    try:
        with pytest.raises(MicrophoneError) as info:
            Microphone(AudioSettings(input_device="pulse"), on_utterance=print).start()
        assert "microphone" in info.value.user_message().lower()
    finally:
        monkeypatch.undo()
        sd._terminate()
        sd._initialize()


def test_unplugged_microphone_reports_an_error(tmp_path: Path) -> None:
    child = Path(__file__).with_name("unplug_child.py")
    proc = subprocess.run(
        [sys.executable, str(child), str(tmp_path)],
        check=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # PortAudio's ALSA error spam
        text=True,
        timeout=60,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["reported"], result
    assert result["error_type"] == "MicrophoneError"
    assert "microphone" in result["message"].lower()
    assert result["seconds"] <= STALL_S + 1.0
    assert result["stop_returned"]  # the app is not blocked by the dead device
