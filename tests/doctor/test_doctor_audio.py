"""Audio devices and text-to-speech voices, through the real sounddevice and pyttsx3."""

from __future__ import annotations

import sys

import pytest

from voxrad.doctor.audio import assess_audio, assess_tts, check_audio, check_tts, is_english
from voxrad.doctor.check import Status

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ALSA/espeak facts")


@linux_only
@pytest.mark.usefixtures("no_sound_server")
def test_no_sound_card_is_a_clear_warning_that_typing_still_works() -> None:
    check = check_audio()
    assert check.status is Status.WARNING
    assert "no microphone" in check.summary
    assert "push-to-talk is unavailable" in check.summary
    assert "Typing questions and commands still works" in check.hint
    assert check.detail["inputs"] == []
    assert check.detail["default_input"] is None
    assert "PortAudio" in check.detail["portaudio"]


@pytest.mark.audio
@linux_only
def test_pulseaudio_virtual_microphone_and_speaker_are_found(virtual_microphone: str) -> None:
    check = check_audio()
    assert check.status is Status.OK, check.summary
    names = [d["name"] for d in check.detail["inputs"]]
    assert "pulse" in names
    assert check.detail["default_input"]["max_input_channels"] > 0
    assert check.detail["default_output"]["max_output_channels"] > 0
    assert check.detail["speech_format_ok"] is True
    assert f"microphone: {check.detail['default_input']['name']}" in check.summary


def _devices(inputs: bool, outputs: bool) -> dict[str, object]:
    mic = {"name": "USB headset", "max_input_channels": 1, "max_output_channels": 0}
    speaker = {"name": "Speakers", "max_input_channels": 0, "max_output_channels": 2}
    return {
        "inputs": [mic] if inputs else [],
        "outputs": [speaker] if outputs else [],
        "default_input": mic if inputs else None,
        "default_output": speaker if outputs else None,
    }


def test_audio_assessment_of_described_machines() -> None:
    assert assess_audio(_devices(True, True)).status is Status.OK
    no_speaker = assess_audio(_devices(True, False))
    assert no_speaker.status is Status.WARNING
    assert "answers are not read aloud" in no_speaker.summary
    missing_lib = assess_audio({"error": "PortAudio library not found", "error_type": "OSError"})
    assert missing_lib.status is Status.WARNING
    assert "PortAudio library not found" in missing_lib.summary
    assert "Typing" in missing_lib.hint
    no_module = assess_audio(
        {"error": "No module named 'sounddevice'", "error_type": "ModuleNotFoundError"}
    )
    assert "voxrad[speech]" in no_module.hint


@linux_only
def test_tts_probe_with_espeak_ng_lists_english_voices_and_synthesises_a_phrase() -> None:
    check = check_tts()
    assert check.status is Status.OK, check.summary
    assert check.detail["driver"] == "espeak"
    assert check.detail["voice_count"] > 10
    assert any(v.endswith(("/en", "/en-us")) for v in check.detail["english_voices"])
    assert check.detail["synthesized_bytes"] > 1000
    assert "test phrase synthesised" in check.summary


def test_tts_probe_that_does_not_answer_in_time_is_a_warning() -> None:
    check = check_tts(timeout=0.01)
    assert check.status is Status.WARNING
    assert "did not answer within 0.01 s" in check.summary


def test_tts_assessment_of_described_engines() -> None:
    missing = assess_tts(
        {"error": "No module named 'pyttsx3'", "error_type": "ModuleNotFoundError"}
    )
    assert missing.status is Status.WARNING
    assert "voxrad[speech]" in missing.hint
    broken = assess_tts({"error": "libespeak.so.1: cannot open", "error_type": "OSError"})
    assert broken.status is Status.WARNING
    assert "libespeak" in broken.summary
    german = {"id": "de", "name": "German", "languages": ["de"]}
    only_german = assess_tts({"driver": "espeak", "voices": [german], "synthesized_bytes": 10})
    assert only_german.status is Status.WARNING
    assert "none English" in only_german.summary
    silent = assess_tts({"driver": "sapi5", "voices": [german], "synthesized_bytes": 0})
    assert "produced no sound data" in silent.summary
    assert assess_tts({"driver": "nsss", "voices": []}).status is Status.WARNING


@pytest.mark.parametrize(
    ("voice", "english"),
    [
        ({"id": "gmw/en-us", "name": "English (America)", "languages": ["en-us"]}, True),
        ({"id": "gmw/en", "name": "English (Great Britain)", "languages": ["en-gb"]}, True),
        ({"id": "TTS_MS_EN-US_ZIRA_11.0", "name": "Zira - English", "languages": []}, True),
        ({"id": "com.apple.voice.compact.en-US.Samantha", "languages": ["en_US"]}, True),
        ({"id": "gmw/de", "name": "German", "languages": ["de"]}, False),
        ({"id": "roa/es", "name": "Spanish", "languages": ["es"]}, False),
    ],
)  # fmt: skip
def test_english_voices_are_recognised(voice: dict[str, object], english: bool) -> None:
    assert is_english(voice) is english


def test_wake_check_says_how_the_phrase_is_matched(monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from voxrad.doctor.audio import check_wake

    if shutil.which("espeak-ng") is not None:
        found = check_wake()
        assert found.status is Status.OK and "by sound" in found.summary
        assert found.detail["phonemes"] == "v 0 k s r a d"  # "VoxRad", the default phrase
    monkeypatch.setattr(shutil, "which", lambda name: None)
    missing = check_wake()
    assert missing.status is Status.WARNING
    assert "espeak-ng was not found" in missing.summary and "espeak-ng" in missing.hint
