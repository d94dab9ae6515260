"""Applying an answer does one expensive thing per event-loop pass: the panel is filled in the
bridge's slot, and the view (moved to the finding's slice, box drawn) is rendered once, on the
next pass, so input is handled in between. Real window, real VTK rendering (Xvfb)."""

from __future__ import annotations

from typing import Any

import pytest
from assistant_support import FINDING_K, FakeBoxAnswerer, ask, make_window

from voxrad.ui.turn_widget import finding_overlay_id

pytestmark = pytest.mark.gl


def test_an_answer_fills_the_panel_then_renders_the_view_once_on_the_next_pass(
    qtbot: Any,
) -> None:
    win, bridge = make_window(qtbot, answerer=FakeBoxAnswerer())
    area, panel = win.view_area, win.conversation_panel
    axial = area.views["axial"]
    render_window = axial.GetRenderWindow()
    renders: list[int] = []
    tag = render_window.AddObserver("EndEvent", lambda *_a: renders.append(axial.scene.slice_index))
    requests: list[tuple[int, str]] = []
    request = area.render_later

    def render_later(widget: Any = None) -> None:
        # What was done when the redraw was asked for: renders so far, the panel's answer.
        newest = panel.turns[max(panel.turns)]
        requests.append((renders.count(FINDING_K), newest.answer.text()))
        request(widget)

    area.render_later = render_later  # type: ignore[method-assign]
    try:
        with qtbot.waitSignal(area.rendered, timeout=10_000):
            turn_id = ask(qtbot, bridge, "is there a nodule?")
        # Asked once, with the panel filled and the finding's slice not rendered yet; the
        # window's own first paints (of the slice shown before) may come in between.
        [(rendered_before, answer_text)] = requests
        assert rendered_before == 0 and "No effusion is seen." in answer_text, requests
        assert renders.count(FINDING_K) == 1, renders  # then one render of that slice
        assert not area.render_pending
        assert area.layer.get(finding_overlay_id(turn_id, 1)) is not None
        # Several requests before the redraw make one render per view.
        area.render_later()
        area.render_later(axial)
        with qtbot.waitSignal(area.rendered, timeout=5_000):
            pass
        assert renders.count(FINDING_K) == 2, renders
    finally:
        render_window.RemoveObserver(tag)
        win.close()
        win.deleteLater()


def test_a_typed_command_moves_the_view_and_renders_it_once_after_its_slot(qtbot: Any) -> None:
    win, bridge = make_window(qtbot)
    area = win.view_area
    axial = area.views["axial"]
    render_window = axial.GetRenderWindow()
    renders: list[int] = []
    tag = render_window.AddObserver("EndEvent", lambda *_a: renders.append(axial.scene.slice_index))
    start = axial.scene.slice_index
    try:
        with qtbot.waitSignal(area.rendered, timeout=10_000):
            ask(qtbot, bridge, "next slice", kind="command")
        assert axial.scene.slice_index == start + 1
        assert renders.count(start + 1) == 1, renders
        assert axial.defer_render is None  # synchronous again for scrolling
        axial.step(1)
        assert renders[-1] == start + 2
    finally:
        render_window.RemoveObserver(tag)
        win.close()
        win.deleteLater()
