"""Hands-free in a real window (Xvfb): talk in the room never shows up as a turn."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from assistant_support import FakeTranscriber, make_window, turn_event

from voxrad.assistant.loop.pipeline import PipelineOptions
from voxrad.ui.main_window import MainWindow

pytestmark = pytest.mark.gl


def test_room_talk_without_the_wake_phrase_is_not_shown(qtbot: Any, made: list[MainWindow]) -> None:
    heard = FakeTranscriber(script=["Is the heart enlarged here?", "Vox Rad, next slice."])
    win, bridge = make_window(qtbot, transcriber=heard)
    made.append(win)
    bridge.pipeline.update_options(PipelineOptions(wake_phrase="VoxRad"))
    audio = np.zeros(16_000, np.float32)
    ids: list[int] = []
    with qtbot.waitSignal(
        bridge.event_received, timeout=10_000, check_params_cb=turn_event("finished", ids)
    ):
        room = bridge.pipeline.submit_audio(audio, hands_free=True)
        ids.append(bridge.pipeline.submit_audio(audio, hands_free=True))
    panel = bridge.panel
    assert room not in panel.turns
    assert list(panel.turns) == ids
    assert panel.turns[ids[0]].transcript.text() == "Vox Rad, next slice."
