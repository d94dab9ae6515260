"""The assistant bridge hands the open study's identity and series to the answerer (Xvfb).

The privacy gate needs the identity to strip it from what leaves, the audit log needs the
series' UIDs; both must follow the volume on screen: a preview shown while another series
loads keeps the study's identity but no series.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from assistant_support import FakeBoxAnswerer, ask, make_window, turn_event
from pipeline_fakes import FakeTranscriber

from voxrad.core.region import Region
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.ui.main_window import MainWindow

pytestmark = pytest.mark.gl

IDENTITY = PatientIdentity("QUOKKA^WILHELMINA", "ZX-99173", "19610305", "ACC55821X", "Bartleby")
INFO = SeriesInfo("1.2.826.0.1.3680043.8.498.7", "CT", "chest", (6, 64, 64), study_uid="1.2.3")


def test_questions_carry_the_open_study_identity_and_series(
    qtbot: Any, made: list[MainWindow]
) -> None:
    answerer = FakeBoxAnswerer()
    win, bridge = make_window(qtbot, answerer=answerer)
    made.append(win)
    ask(qtbot, bridge, "is there a nodule?")
    assert answerer.contexts[-1] == (None, None)  # no study object: nothing to strip or log

    other = SimpleNamespace(info=SeriesInfo("9.9", "MR", "other", (1, 8, 8)))
    shown = SimpleNamespace(info=INFO)
    win.study = SimpleNamespace(identity=IDENTITY, series=[other, shown], find=lambda: shown)
    win.series_number = 1
    volume = win.view_area.volume
    win.volume_loaded.emit(volume)  # what the loader emits once the series is shown
    ask(qtbot, bridge, "is there a nodule?")
    assert answerer.contexts[-1] == (IDENTITY, INFO)
    assert answerer.questions[-1].series_uid == ""  # the saved conversation keeps no UID

    # Click-to-ask keeps the study context.
    index = np.array([[3.0, 10.0, 12.0], [3.0, 30.0, 40.0]])
    win.view_area.set_tool("box")
    win.view_area.region_picked.emit(Region("box", "axial", 3, index, index))
    ask(qtbot, bridge, "what is this?")
    assert answerer.questions[-1].scope == "region"
    assert answerer.contexts[-1] == (IDENTITY, INFO)

    # A preview of the next series: same study, series not known until it is loaded.
    assert volume is not None
    win.show_preview(np.zeros((64, 64), np.int16))
    ask(qtbot, bridge, "is there a nodule?")
    assert answerer.contexts[-1] == (IDENTITY, None)


def test_shown_series_is_none_for_a_number_outside_the_study(qtbot: Any) -> None:
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    assert win.shown_series() == (None, None)
    win.study = SimpleNamespace(identity=IDENTITY, series=[SimpleNamespace(info=INFO)])
    win.series_number = 3
    assert win.shown_series() == (IDENTITY, None)
    win.series_number = 0
    assert win.shown_series() == (IDENTITY, INFO)


def test_speech_recognition_favours_the_open_study_words(
    qtbot: Any, made: list[MainWindow]
) -> None:
    transcriber = FakeTranscriber("lung window")
    win, bridge = make_window(qtbot, transcriber=transcriber)
    made.append(win)
    info = SeriesInfo(
        "1.2.9", "CT", "Mediastinum W/O contrast", (6, 64, 64), study_uid="1.2", body_part="CHEST"
    )
    win.study = SimpleNamespace(identity=IDENTITY, series=[SimpleNamespace(info=info)])
    win.series_number = 0
    win.volume_loaded.emit(win.view_area.volume)

    ids: list[int] = []
    with qtbot.waitSignal(
        bridge.event_received, timeout=10_000, check_params_cb=turn_event("finished", ids)
    ):
        ids.append(bridge.pipeline.submit_audio(np.zeros(16_000, np.float32)))
    assert transcriber.contexts[-1] == ("CT", "chest", "mediastinum", "contrast")
