"""The assistant in a real window (Xvfb): typed questions and commands, boxes on the image,
cancel, faults, push-to-talk with barge-in, and many quick cycles without widget growth.

The backends are the scripted fakes of tests/assistant/pipeline_fakes.py; everything else
(pipeline threads, queued signals, panel, overlay rendering) is the real thing.
"""

from __future__ import annotations

import gc
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from assistant_support import (
    FINDING_K,
    FakeAnswerer,
    FakeBoxAnswerer,
    FakeSpeaker,
    FakeTranscriber,
    ask,
    edge_cover,
    make_window,
    turn_event,
)
from PIL import Image
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication, QWidget

from voxrad.assistant.history.store import ConversationStore
from voxrad.assistant.loop.turns import PipelineEvent, PipelineState
from voxrad.core.conversation import Box
from voxrad.core.errors import BackendError, MicrophoneError
from voxrad.core.region import Region
from voxrad.core.windowing import CT_PRESETS, find_preset
from voxrad.render.capture import capture_rgb
from voxrad.ui.main_window import MainWindow
from voxrad.ui.push_to_talk import NO_MICROPHONE
from voxrad.ui.turn_widget import DISCLAIMER, MAX_VISIBLE_TURNS, finding_overlay_id

pytestmark = pytest.mark.gl


def test_typed_question_answers_with_model_and_draws_the_box_on_its_slice(
    qtbot: Any, made: list[MainWindow], artifacts_dir: Path
) -> None:
    win, bridge = make_window(qtbot)
    made.append(win)
    panel = win.conversation_panel
    assert DISCLAIMER in panel.disclaimer.text() and panel.disclaimer.isVisible()
    assert NO_MICROPHONE in panel.notice.text()
    axial = win.view_area.views["axial"]
    assert axial.scene.slice_index == 2
    turn_id = ask(qtbot, bridge, "is there a nodule?")
    widget = panel.turns[turn_id]
    assert widget.answer.text() == FakeAnswerer().reply
    assert widget.answer.textFormat() == Qt.TextFormat.PlainText  # model text is not markup
    assert "Model: fake-vlm-4b" in widget.model.text() and widget.model.isVisible()
    assert not widget.reasoning.isVisible() and widget.reasoning_toggle.isVisible()
    widget.reasoning_toggle.click()
    assert widget.reasoning.isVisible() and widget.reasoning.text() == "Round opacity."
    [finding] = widget.finding_labels
    assert finding.text().startswith("1. nodule") and "LOW confidence (35 %)" in finding.text()
    assert "ff9e5e" in finding.styleSheet()
    assert "answer" in widget.timings.text() and "first token" in widget.timings.text()
    # The box lands on the finding's slice, which the view moved to.
    item_id = finding_overlay_id(turn_id, 1)
    assert axial.scene.slice_index == FINDING_K
    assert win.view_area.layer.get(item_id) is not None
    left, top, img = edge_cover(win, FINDING_K)
    assert left > 0.9 and top > 0.9, (left, top)
    Image.fromarray(img).save(artifacts_dir / "assistant-1-box-on-slice.png")
    panel.grab().save(str(artifacts_dir / "assistant-1-panel.png"))
    other_left, other_top, _ = edge_cover(win, 2)  # not drawn on the other slices
    assert other_left < 0.1 and other_top < 0.1
    # Hovering the finding highlights its box (and brings the view to it).
    QApplication.sendEvent(finding, QEvent(QEvent.Type.Enter))
    assert win.view_area.layer.highlighted == item_id and axial.scene.slice_index == FINDING_K
    QApplication.sendEvent(finding, QEvent(QEvent.Type.Leave))
    assert win.view_area.layer.highlighted is None
    # Voice-style commands on the findings.
    ask(qtbot, bridge, "hide boxes")
    assert win.view_area.layer.get(item_id) is None
    ask(qtbot, bridge, "select finding one")
    assert win.view_area.layer.highlighted == item_id


def test_typed_command_changes_the_window_and_region_goes_with_the_next_question(
    qtbot: Any, made: list[MainWindow], artifacts_dir: Path
) -> None:
    answerer = FakeBoxAnswerer()
    win, bridge = make_window(qtbot, answerer=answerer)
    made.append(win)
    axial = win.view_area.views["axial"]
    lung = find_preset(CT_PRESETS, "lung")
    assert lung is not None and (axial.scene.center, axial.scene.width) != (
        lung.center,
        lung.width,
    )
    turn_id = ask(qtbot, bridge, "lung window")
    assert (axial.scene.center, axial.scene.width) == (lung.center, lung.width)
    assert "Command: window" in win.conversation_panel.turns[turn_id].answer.text()
    capture = capture_rgb(axial.GetRenderWindow())
    Image.fromarray(capture).save(artifacts_dir / "assistant-2-lung-window.png")
    ask(qtbot, bridge, "next slice")
    assert axial.scene.slice_index == 3
    # Click-to-ask: a region picked on the axial view goes with the next question only.
    win.view_area.set_tool("box")
    index = np.array([[3.0, 10.0, 12.0], [3.0, 30.0, 40.0]])
    win.view_area.region_picked.emit(Region("box", "axial", 3, index, index))
    assert "next question" in win.conversation_panel.notice.text()
    ask(qtbot, bridge, "what is this?")
    ask(qtbot, bridge, "what else is seen?")
    first, second = answerer.questions
    assert first.scope == "region" and first.slice_index == 3
    assert first.region == Box(12.0, 10.0, 41.0, 31.0)
    assert second.region is None and second.scope == "slice"


def test_cancel_ends_a_running_question_and_the_state_shows_it(
    qtbot: Any, made: list[MainWindow], artifacts_dir: Path
) -> None:
    gate = threading.Event()
    win, bridge = make_window(qtbot, answerer=FakeBoxAnswerer(gate=gate))
    made.append(win)
    panel = win.conversation_panel
    thinking = lambda e: e.kind == "state" and e.state == PipelineState.THINKING  # noqa: E731
    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=thinking):
        turn_id = bridge.ask("describe the lungs")
    assert panel.state_label.text() == "Thinking..." and panel.cancel_button.isEnabled()
    panel.grab().save(str(artifacts_dir / "assistant-3-thinking.png"))
    ids = [turn_id]
    with qtbot.waitSignal(
        bridge.event_received, timeout=10_000, check_params_cb=turn_event("finished", ids)
    ):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.state_label.text() == "Idle", timeout=5_000)
    widget = panel.turns[turn_id]
    assert "Cancelled" in widget.messages.text() and not widget.model.isVisible()
    assert not panel.cancel_button.isEnabled()
    panel.grab().save(str(artifacts_dir / "assistant-3-cancelled.png"))
    qtbot.mouseClick(panel.mute_button, Qt.MouseButton.LeftButton)
    assert bridge.pipeline.muted and panel.mute_button.text() == "Unmute"
    assert bridge.menu_actions["mute"].isChecked()
    bridge.menu_actions["mute"].trigger()  # Ctrl+M
    assert not bridge.pipeline.muted and not panel.mute_button.isChecked()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5_000)
    bridge.menu_actions["ask"].trigger()  # Ctrl+L
    qtbot.waitUntil(panel.input.hasFocus, timeout=5_000)
    # Cleared while a question runs: its late events do not bring it back.
    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=thinking):
        running = bridge.ask("and the heart?")
    finished = turn_event("finished", [running])
    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=finished):
        qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert not panel.turns
    gate.set()


def test_a_model_fault_is_a_message_and_the_window_stays_usable(
    qtbot: Any, made: list[MainWindow], artifacts_dir: Path
) -> None:
    faults: list[BaseException] = [BackendError("The model stopped unexpectedly.")]
    answerer = FakeBoxAnswerer(fail=lambda: faults.pop(0) if faults else None)
    win, bridge = make_window(qtbot, answerer=answerer)
    made.append(win)
    panel = win.conversation_panel
    failed = ask(qtbot, bridge, "any effusion?")
    widget = panel.turns[failed]
    assert "The model stopped unexpectedly." in widget.messages.text()
    assert widget.messages.isVisible() and not widget.model.isVisible()
    panel.grab().save(str(artifacts_dir / "assistant-4-fault.png"))
    ask(qtbot, bridge, "next slice")
    assert win.view_area.views["axial"].scene.slice_index == 3
    answered = ask(qtbot, bridge, "any effusion now?")
    assert "fake-vlm-4b" in panel.turns[answered].model.text()
    # A command the viewer cannot do is a notice, not a crash.
    ask(qtbot, bridge, "undo")
    assert "Undo is not available" in panel.notice.text()


def test_push_to_talk_key_records_a_command_and_barges_in_on_speech(
    qtbot: Any, made: list[MainWindow], artifacts_dir: Path
) -> None:
    speaker = FakeSpeaker(hold=True)
    transcriber = FakeTranscriber(script=["lung window", "stop"], text="next slice")
    win, bridge = make_window(qtbot, speaker=speaker, transcriber=transcriber, microphone=True)
    made.append(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5_000)
    axial = win.view_area.views["axial"]
    lung = find_preset(CT_PRESETS, "lung")
    assert lung is not None
    done = lambda e: e.kind == "command" and e.turn is not None  # noqa: E731
    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=done):
        qtbot.keyPress(win, Qt.Key.Key_F4)
        assert win.conversation_panel.state_label.text() in ("Idle", "Listening...")
        qtbot.keyRelease(win, Qt.Key.Key_F4)
    qtbot.waitUntil(lambda: (axial.scene.center, axial.scene.width) == (lung.center, lung.width))
    assert bridge.talk.microphone is not None and bridge.talk.microphone.presses == 1  # type: ignore[attr-defined]
    # The reply is being spoken; pressing the talk key stops it at once (barge-in).
    speaking = lambda e: e.kind == "state" and e.state == PipelineState.SPEAKING  # noqa: E731
    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=speaking):
        bridge.ask("describe")
    assert speaker.speaking.wait(5)
    turn = win.conversation_panel.turns[bridge.last_asked]
    qtbot.waitUntil(lambda: turn.speaking == "The lungs are clear.", timeout=5_000)
    assert "<b>The lungs are clear.</b>" in turn.answer.text()
    win.conversation_panel.grab().save(str(artifacts_dir / "assistant-5-speaking.png"))
    qtbot.keyPress(win, Qt.Key.Key_F4)
    assert speaker.returned.wait(5) and speaker.stopped
    qtbot.keyRelease(win, Qt.Key.Key_F4)
    qtbot.waitUntil(lambda: turn.answer.text() == FakeAnswerer().reply, timeout=5_000)
    # The mouse's side button is push-to-talk too ("next slice" is heard).
    mic = bridge.talk.microphone
    presses = mic.presses  # type: ignore[attr-defined]
    before = axial.scene.slice_index

    def next_slice(e: PipelineEvent) -> bool:
        command = e.turn.command if e.turn is not None else None
        return e.kind == "finished" and command is not None and command.action == "next_slice"

    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=next_slice):
        qtbot.mousePress(win.view_area, Qt.MouseButton.BackButton)
        qtbot.mouseRelease(win.view_area, Qt.MouseButton.BackButton)
    assert mic.presses == presses + 1  # type: ignore[attr-defined]
    assert axial.scene.slice_index == before + 1
    # Unplugged mid-question: a message, the microphone is let go, typing still works.
    failed = lambda e: e.kind == "finished" and e.turn is not None and e.turn.error  # noqa: E731
    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=failed):
        mic.on_error(MicrophoneError("The microphone was unplugged."))  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: bridge.talk.microphone is None, timeout=5_000)
    assert mic.stopped == 1  # type: ignore[attr-defined]
    assert "unplugged" in win.conversation_panel.notice.text()
    ask(qtbot, bridge, "next slice")


def _widgets(panel: QWidget) -> int:
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return len(panel.findChildren(QWidget))


def test_fifty_quick_cycles_do_not_grow_widgets_or_threads(
    qtbot: Any, made: list[MainWindow]
) -> None:
    win, bridge = make_window(qtbot)
    made.append(win)
    panel = win.conversation_panel
    counts: list[tuple[int, int]] = []
    memory: list[int] = []
    tracemalloc.start()
    try:
        for n in range(50):
            ask(qtbot, bridge, f"question {n}?" if n % 2 else "next slice")
            if n + 1 in (MAX_VISIBLE_TURNS + 5, 50):
                counts.append((_widgets(panel), threading.active_count()))
                gc.collect()
                memory.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert counts[0] == counts[1], counts
    per_turn = (memory[1] - memory[0]) / (50 - MAX_VISIBLE_TURNS - 5)
    print(f"\nPython heap growth per turn: {per_turn:.0f} B (traced: {memory})")
    # The pipeline keeps every turn (the conversation, ~1-2 kB each) by design; anything
    # that kept per-event copies or whole answers per widget would be well above this.
    assert per_turn < 8_000, memory
    assert len(panel.turns) == MAX_VISIBLE_TURNS
    assert "earlier turns" in panel.earlier.text()


def test_the_conversation_is_saved_with_the_study_reopens_with_it_and_clears(
    qtbot: Any, made: list[MainWindow], tmp_path: Path
) -> None:
    path = tmp_path / "conversations.sqlite3"
    win, bridge = make_window(qtbot, store=ConversationStore(path))
    asked = ask(qtbot, bridge, "is there a nodule?")
    win.close()  # the store is closed with the assistant
    win.deleteLater()
    win, bridge = make_window(qtbot, store=ConversationStore(path))
    made.append(win)
    panel = win.conversation_panel
    widget = panel.turns[asked]
    assert widget.transcript.text() == "is there a nodule?"
    assert widget.answer.text() == FakeAnswerer().reply and "fake-vlm-4b" in widget.model.text()
    later = ask(qtbot, bridge, "anything else?")
    assert later > asked and set(panel.turns) == {asked, later}
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert _widgets(panel) and not panel.turns
    assert bridge.conversation is not None and bridge.conversation.load() == []
