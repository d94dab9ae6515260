"""``voxrad transcribe``: a WAV file through the configured model, and clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speech_support import espeak_wav, word_error_rate
from voxrad.cli import main


@pytest.mark.models
def test_transcribe_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wav = espeak_wav("Scroll down five slices.", tmp_path)
    assert main(["transcribe", "--json", str(wav)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert word_error_rate("scroll down five slices", out["text"]) <= 0.25
    assert out["language"] == "en"
    assert out["duration_s"] == pytest.approx(1.9, abs=0.6)
    assert {"load", "prepare", "features_vad", "decode", "total"} <= set(out["timings_s"])
    assert out["understood_as"] == {
        "kind": "command",
        "action": "next_slice",
        "args": {"count": 5},
    }


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["transcribe", str(tmp_path / "none.wav")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_not_a_wav(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert main(["transcribe", str(bad)]) == 1
    assert "not a readable WAV" in capsys.readouterr().err


def test_missing_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wav = espeak_wav("Zoom in.", tmp_path)
    assert main(["transcribe", "--model", "large-v3-turbo", str(wav)]) == 1
    assert "not installed" in capsys.readouterr().err


@pytest.mark.models
def test_wake_phrase_report_for_a_room_recording(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    called = espeak_wav("VoxRad, next slice.", tmp_path, voice="en-gb")
    assert main(["transcribe", "--json", "--wake-phrase", "VoxRad", str(called)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["woke"] is True, out["text"]
    assert "next slice" in out["after_wake_phrase"].lower()
    assert out["understood_as"]["action"] == "next_slice"
    assert "wake_decision" in out["timings_s"]

    room = espeak_wav("The lab results came back normal.", tmp_path, voice="en-gb")
    assert main(["transcribe", "--json", "--wake-phrase", "--", str(room)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["wake_phrase"] == "VoxRad"  # the one in settings
    assert out["woke"] is False and out["after_wake_phrase"] == ""
    assert out["understood_as"] == {"kind": "nothing"}  # room talk is never a request
