"""The live transcript in a real window (Xvfb): the panel shows what is heard while the talk
button is held, the final transcript takes its place, and cancel or a stopped microphone
clears it. Backends and microphone are scripted fakes; pipeline, bridge and panel are real."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pytest
from assistant_support import FakeMicrophone, FakeTranscriber, make_window

from voxrad.assistant.loop.turns import PipelineEvent
from voxrad.audio.endpointer import PartialUtterance
from voxrad.ui.main_window import MainWindow
from voxrad.ui.push_to_talk import LiveMicrophone

pytestmark = pytest.mark.gl


class FakeLiveMicrophone(FakeMicrophone):
    """A :class:`FakeMicrophone` with the live-transcript hook; the test plays the capture
    thread with :meth:`speak_so_far`."""

    made: ClassVar[list[FakeLiveMicrophone]] = []

    def __init__(self, on_utterance: Callable[[Any], None], on_error: Any) -> None:
        super().__init__(on_utterance, on_error)
        self.on_partial: Callable[[Any], None] | None = None
        self.partial_interval_s = 0.0
        FakeLiveMicrophone.made.append(self)

    def speak_so_far(self, seconds: float) -> None:
        audio = np.full(int(seconds * 16_000), 0.1, np.float32)
        on_partial = self.on_partial
        assert on_partial is not None, "push-to-talk did not attach the live transcript"
        capture = threading.Thread(
            target=on_partial, args=(PartialUtterance(audio, 0.0, False),), name="voxrad-capture"
        )
        capture.start()
        capture.join(5)


def partial(text: str) -> Callable[[PipelineEvent], bool]:
    return lambda e: e.kind == "partial" and e.text == text


def test_panel_shows_what_is_heard_and_the_final_transcript_replaces_it(
    qtbot: Any, made: list[MainWindow]
) -> None:
    transcriber = FakeTranscriber("is there an effusion")
    win, bridge = make_window(qtbot, transcriber=transcriber, microphone=FakeLiveMicrophone)
    made.append(win)
    panel = win.conversation_panel
    assert isinstance(bridge.talk.microphone, LiveMicrophone)
    mic = FakeLiveMicrophone.made[-1]
    assert mic.partial_interval_s == 1.0  # the pipeline's default
    assert panel.live_text.isHidden()
    panel.talk_button.pressed.emit()
    with qtbot.waitSignal(bridge.event_received, timeout=5_000, check_params_cb=partial("is")):
        mic.speak_so_far(1.0)
    assert panel.live_text.text() == "Hearing: is\u2026" and not panel.live_text.isHidden()
    assert panel.live_text.font().italic() or "italic" in panel.live_text.styleSheet()
    with qtbot.waitSignal(
        bridge.event_received, timeout=5_000, check_params_cb=partial("is there")
    ):
        mic.speak_so_far(2.0)
    assert panel.live_text.text() == "Hearing: is there\u2026"
    assert panel.turns == {}  # the live text is not a turn
    done = lambda e: e.kind == "finished" and e.turn is not None  # noqa: E731
    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=done):
        panel.talk_button.released.emit()
    assert panel.live_text.text() == "" and panel.live_text.isHidden()
    (turn_id,) = panel.turns
    assert panel.turns[turn_id].transcript.text() == "is there an effusion"
    # The conversation holds the final transcript only.
    assert [r.transcript for r in bridge.pipeline.turns()] == ["is there an effusion"]


def test_cancel_and_a_stopped_microphone_clear_the_live_text(
    qtbot: Any, made: list[MainWindow]
) -> None:
    win, bridge = make_window(
        qtbot, transcriber=FakeTranscriber("next slice"), microphone=FakeLiveMicrophone
    )
    made.append(win)
    panel = win.conversation_panel
    mic = FakeLiveMicrophone.made[-1]
    panel.talk_button.pressed.emit()
    with qtbot.waitSignal(bridge.event_received, timeout=5_000, check_params_cb=partial("next")):
        mic.speak_so_far(1.0)
    with qtbot.waitSignal(bridge.event_received, timeout=5_000, check_params_cb=partial("")):
        panel.cancel_button.click()
    # Emitted on the GUI thread here: the queued slot runs on the next event-loop pass.
    qtbot.waitUntil(panel.live_text.isHidden, timeout=5_000)
    with qtbot.waitSignal(bridge.event_received, timeout=5_000, check_params_cb=partial("next")):
        mic.speak_so_far(1.0)  # still held: the utterance goes on after the cancel
    with qtbot.waitSignal(bridge.event_received, timeout=5_000, check_params_cb=partial("")):
        bridge.talk.stop_microphone()  # e.g. another microphone chosen in Settings
    qtbot.waitUntil(panel.live_text.isHidden, timeout=5_000)
    assert mic.stopped == 1


def test_switched_off_the_microphone_hands_out_nothing(qtbot: Any, made: list[MainWindow]) -> None:
    win, bridge = make_window(qtbot, microphone=FakeLiveMicrophone)
    made.append(win)
    pipeline = bridge.pipeline
    pipeline.update_options(replace(pipeline.options, live_transcript=False))
    bridge.talk.press()  # the options of now are applied on each press
    assert FakeLiveMicrophone.made[-1].on_partial is None
    bridge.talk.release()
