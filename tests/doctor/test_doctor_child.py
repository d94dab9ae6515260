"""The child-process side of the probes: its result line, its errors, its usage message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from voxrad.doctor import child


def test_child_reports_an_exception_as_a_result_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_mode() -> dict[str, Any]:
        raise OSError("PortAudio library not found")

    monkeypatch.setitem(child.MODES, "audio", fake_mode)
    assert child.main(["audio"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(child.MARKER))
    assert json.loads(line[len(child.MARKER) :]) == {
        "error": "PortAudio library not found",
        "error_type": "OSError",
    }


def test_child_refuses_an_unknown_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert child.main(["bogus"]) == 2
    assert "usage" in capsys.readouterr().err


def test_run_child_returns_the_parsed_result_of_a_real_child() -> None:
    result = child.run_child("audio", timeout=30)
    assert set(result) >= {"portaudio", "inputs", "outputs", "default_input"}
