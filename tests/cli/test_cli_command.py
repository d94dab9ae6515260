"""``voxrad command``: the grammar from the command line, with synonyms from settings."""

from __future__ import annotations

import json

import pytest

from voxrad.cli import main
from voxrad.core.settings import load_settings, save_settings


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["command", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "Uh, scroll down twenty-one slices please")
    assert out == {"kind": "command", "action": "next_slice", "args": {"count": 21}}


def test_question_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = _run(capsys, "What about the next slice?")
    assert out == {"kind": "question", "text": "What about the next slice?"}


def test_synonyms_from_settings(capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings()
    settings.commands.synonyms = {"chest please": "lung window"}
    save_settings(settings)
    assert _run(capsys, "Chest, please.")["action"] == "window"


def test_wake_phrase(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "is there a nodule", "--wake-phrase")["kind"] == "ignored"
    out = _run(capsys, "Vox Rad, lung window", "--wake-phrase")
    assert out["args"] == {"preset": "lung"}


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["command", "zoom in"]) == 0
    assert capsys.readouterr().out.strip() == "command: zoom_in"
