"""The Qt-free session: what is on screen, its change events, and the view a question gets."""

from __future__ import annotations

import numpy as np
import pytest

from voxrad.core.conversation import Box, Finding
from voxrad.core.session import Session, SessionState
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.core.volume import Volume

IDENTITY = PatientIdentity("QUOKKA^WILHELMINA", "ZX-99173", "19610305", "ACC55821X", "Bartleby")
INFO = SeriesInfo("1.2.826.0.1.3680043.8.498.7", "CT", "chest", (4, 8, 8), study_uid="1.2.3")


def volume() -> Volume:
    return Volume(np.zeros((4, 8, 8), np.int16), (2.5, 0.7, 0.7), modality="CT", units="HU")


def test_the_view_follows_what_the_viewer_writes_and_observers_hear_each_change() -> None:
    session = Session()
    heard: list[tuple[str, SessionState]] = []
    for name in ("study", "slice", "window", "region", "findings", "stage"):
        session.connect(name, lambda state, n=name: heard.append((n, state)))  # type: ignore[misc]
    shown = volume()
    session.show_study(shown, identity=IDENTITY, series=INFO)
    session.show_slice(2)
    session.show_slice(2)  # no change, no event
    session.show_window(40, 400)
    session.set_stage("thinking")
    view = session.question_view()
    assert view.volume is shown and (view.slice_index, view.window) == (2, (40.0, 400.0))
    assert (view.identity, view.series, view.scope, view.region) == (IDENTITY, INFO, "slice", None)
    assert [n for n, _ in heard] == ["study", "slice", "window", "stage"]
    assert heard[-1][1].stage == "thinking"


def test_a_picked_region_goes_with_the_next_question_only() -> None:
    session = Session()
    cleared: list[bool] = []
    session.connect("region", lambda state: cleared.append(state.region is None))
    session.show_study(volume())
    session.show_slice(1)
    session.pick_region(3, Box(1, 2, 5, 6))
    asked = session.question_view()
    assert (asked.slice_index, asked.region, asked.scope) == (3, Box(1, 2, 5, 6), "region")
    again = session.question_view()
    assert (again.slice_index, again.region, again.scope) == (1, None, "slice")
    assert cleared == [False, True]  # picked, then taken by the question


def test_a_new_study_drops_the_region_and_the_findings_of_the_last() -> None:
    session = Session()
    session.show_study(volume())
    session.pick_region(0, Box(0, 0, 4, 4))
    session.show_findings(7, ((0, Finding("nodule", box=Box(1, 1, 3, 3))),))
    assert session.state.findings.turn_id == 7
    session.show_study(volume(), loaded=False)  # the next series' preview
    state = session.state
    assert state.region is None and state.findings.findings == () and not state.loaded
    assert session.question_view().region is None


def test_a_failing_observer_does_not_stop_the_others() -> None:
    session = Session()
    heard: list[int] = []

    def broken(_state: SessionState) -> None:
        raise RuntimeError("observer bug")

    session.connect("slice", broken)
    session.connect("slice", lambda state: heard.append(state.view.slice_index))
    session.show_study(volume())
    session.show_slice(3)
    assert heard == [3]
    with pytest.raises(ValueError, match="known: study"):
        session.connect("zoom", broken)  # type: ignore[arg-type]
