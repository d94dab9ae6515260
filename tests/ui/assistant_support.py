"""Shared by the assistant UI tests: a window with the assistant over scripted backends, and
the pixel check of a finding's box. Backends are tests/assistant/pipeline_fakes.py's fakes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))

from pipeline_fakes import FakeAnswerer, FakeSpeaker, FakeTranscriber
from PySide6.QtWidgets import QApplication

from render_support import box_volume
from voxrad.assistant.history.store import ConversationStore
from voxrad.assistant.loop.turns import PipelineEvent
from voxrad.audio.endpointer import Utterance
from voxrad.core.conversation import Answer, Box, Finding, Question
from voxrad.core.volume import Volume
from voxrad.render.capture import capture_rgb
from voxrad.ui.assistant_bridge import AssistantBridge
from voxrad.ui.main_window import MainWindow
from voxrad.ui.push_to_talk import MicrophoneFactory
from voxrad.ui.theme import apply_dark_theme

#: The scripted finding: a box on slice 3 (the view opens on slice 2).
FINDING_K = 3
FINDING_BOX = Box(70.0, 50.0, 100.0, 80.0)


class FakeBoxAnswerer(FakeAnswerer):
    """A :class:`FakeAnswerer` whose answers carry one finding with a box (and reasoning)."""

    def answer(self, question: Question, volume: Volume, **kwargs: Any) -> Answer:
        plain = super().answer(question, volume, **kwargs)
        finding = Finding("nodule", FINDING_BOX, confidence=0.35, slice_index=FINDING_K)
        return replace(plain, reasoning="Round opacity.", findings=(finding,), confidence=0.9)


class FakeMicrophone:
    """Push-to-talk microphone: each release delivers one second of silence as an utterance."""

    def __init__(self, on_utterance: Callable[[Any], None], on_error: Any) -> None:
        self.on_utterance = on_utterance
        self.on_error = on_error
        self.presses = 0
        self.stopped = 0

    def start(self) -> None:
        pass

    def press(self) -> None:
        self.presses += 1

    def release(self) -> None:
        audio = np.zeros(16_000, np.float32)
        self.on_utterance(Utterance(audio, "released", 0.0, 1.0, 1.0))

    def stop(self, timeout: float = 2.0) -> None:
        self.stopped += 1


def make_window(
    qtbot: Any,
    answerer: FakeAnswerer | None = None,
    speaker: Any = None,  # a FakeSpeaker, or any Speaker (the real one writing a WAV)
    transcriber: FakeTranscriber | None = None,
    microphone: bool | MicrophoneFactory = False,
    store: ConversationStore | None = None,
    transcriber_factory: Callable[[], Any] | None = None,
) -> tuple[MainWindow, AssistantBridge]:
    """A shown main window with the assistant started and a small CT (box_volume) open."""
    apply_dark_theme(QApplication.instance())  # type: ignore[arg-type]
    win = MainWindow(show_dialogs=False)
    answerer = answerer or FakeBoxAnswerer()
    speaker = speaker or FakeSpeaker()
    bridge = AssistantBridge(
        win,
        win.conversation_panel,
        transcriber_factory=transcriber_factory
        or (lambda: transcriber or FakeTranscriber("lung window")),
        answerer_factory=lambda: answerer,
        speaker_factory=lambda: speaker,
        microphone_factory=(FakeMicrophone if microphone is True else microphone) or None,
        store=store,
    )
    win.assistant = bridge
    bridge.start()
    show_small_ct(qtbot, win)
    return win, bridge


def show_small_ct(qtbot: Any, win: MainWindow) -> None:
    """Show ``win`` and open a small CT (box_volume) in it, as the loader would."""
    win.resize(1400, 800)
    win.show()
    qtbot.waitExposed(win)
    volume = box_volume()
    win.study_path, win.series_number = "study-a", 0
    win.view_area.set_volume(volume)
    win.volume_loaded.emit(volume)  # what the loader emits once a study is shown


def turn_event(kind: str, ids: list[int]) -> Callable[[PipelineEvent], bool]:
    return lambda e: (
        e.kind == kind and e.turn is not None and bool(ids) and e.turn.turn_id == ids[0]
    )


def ask(qtbot: Any, bridge: AssistantBridge, text: str, kind: str = "finished") -> int:
    """Type ``text`` into the panel and wait (on the queued signal) for the turn's ``kind``."""
    ids: list[int] = []
    panel = bridge.panel
    with qtbot.waitSignal(
        bridge.event_received, timeout=10_000, check_params_cb=turn_event(kind, ids)
    ):
        panel.input.setText(text)
        panel.input.returnPressed.emit()
        ids.append(bridge.last_asked)
    assert panel.input.text() == ""
    return ids[0]


def orange(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., c].astype(int) for c in range(3))
    return (r > 200) & (g > 140) & (g < 220) & (b < 80)


def edge_cover(win: MainWindow, k: int) -> tuple[float, float, np.ndarray]:
    """Share of the finding box's left and top edges drawn in the overlay colour on slice k."""
    view = win.view_area.views["axial"]
    view.go_to(k)
    view.refresh()
    img = capture_rgb(view.GetRenderWindow())
    h = img.shape[0]
    b = FINDING_BOX
    (xa, ya), (xb, yb) = (
        view.scene.index_to_display((k, b.y0 - 0.5, b.x0 - 0.5)),
        view.scene.index_to_display((k, b.y1 - 0.5, b.x1 - 0.5)),
    )
    left, right = sorted((round(xa), round(xb)))
    top, bottom = sorted((h - 1 - round(ya), h - 1 - round(yb)))
    mask = orange(img)
    rows = range(top + 3, bottom - 3)
    cols = range(left + 3, right - 3)
    left_hit = np.mean([mask[r, left - 2 : left + 3].any() for r in rows])
    top_hit = np.mean([mask[top - 2 : top + 3, c].any() for c in cols])
    assert not mask[(top + bottom) // 2, (left + right) // 2]  # an outline, not a fill
    return float(left_hit), float(top_hit), img
