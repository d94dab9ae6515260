"""``voxrad listen`` through the PulseAudio virtual microphone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speech_support import espeak_wav
from voxrad.cli import main

pytestmark = [pytest.mark.audio, pytest.mark.models]


def test_listen_hears_a_command(pulse, speech_dir: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from voxrad.audio import capture

    wav = espeak_wav("VoxRad, lung window.", speech_dir)
    original = capture.record_utterance
    players = []

    def record_and_play(*args, **kwargs):  # type: ignore[no-untyped-def]
        ready = kwargs.pop("on_ready")

        def on_ready() -> None:
            ready()
            players.append(pulse.play(wav))

        return original(*args, on_ready=on_ready, **kwargs)

    monkeypatch.setattr(capture, "record_utterance", record_and_play)
    assert main(["listen", "--json", "--device", "pulse", "--wake-phrase", "--timeout", "20"]) == 0
    players[0].wait(10)
    out = json.loads(capsys.readouterr().out)
    assert out["wake_phrase_heard"] is True
    understood = out["understood_as"]
    assert understood == {"kind": "command", "action": "window", "args": {"preset": "lung"}}
    assert out["utterance"]["reason"] == "silence"


def test_listen_lists_devices(pulse, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["listen", "--list", "--json"]) == 0
    names = [d["name"] for d in json.loads(capsys.readouterr().out)]
    assert "pulse" in names


def test_listen_unknown_device(pulse, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["listen", "--device", "No Such Mic", "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "No Such Mic" in err and "Typing" in err
