"""What the view area redraws, and how cheaply: the 2-D views drop multisampling on software
OpenGL and still show an answer's box; a redraw of the area leaves the 3-D view alone (it
shows no overlays) and draws one 2-D view per event-loop pass. Real windows under Xvfb."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from assistant_support import FINDING_K, FakeBoxAnswerer, ask, edge_cover, make_window
from PySide6.QtCore import QTimer

from voxrad.core.overlay import OverlayBox

pytestmark = pytest.mark.gl


def test_2d_views_drop_multisampling_on_software_gl_and_still_draw_the_finding_box(
    qtbot: Any,
) -> None:
    win, bridge = make_window(qtbot, answerer=FakeBoxAnswerer())
    try:
        with qtbot.waitSignal(win.view_area.rendered, timeout=10_000):
            ask(qtbot, bridge, "is there a nodule?")
        axial = win.view_area.views["axial"]
        assert axial.gl is not None  # probed at the view's first render
        if axial.gl.software:
            assert axial.GetRenderWindow().GetMultiSamples() == 0
        left, top, _img = edge_cover(win, FINDING_K)
        assert left > 0.9 and top > 0.9, (left, top)
    finally:
        win.close()
        win.deleteLater()


def test_a_2x2_redraw_leaves_the_3d_view_and_draws_one_2d_view_per_pass(qtbot: Any) -> None:
    win, _bridge = make_window(qtbot)
    area = win.view_area
    area.set_layout("2x2")
    vv = area.volume_view
    assert vv is not None and vv.scene is not None
    qtbot.waitExposed(vv)
    log: list[str] = []
    windows = {name: view.GetRenderWindow() for name, view in area.views.items()}
    windows["3d"] = vv.GetRenderWindow()
    # Qt's own paint events (the layout switch's resizes and exposes, arriving from the X
    # server at any time) render through the interactor: off here, so only the area's and
    # the views' explicit renders are counted.
    for w in windows.values():
        w.GetInteractor().EnableRenderOff()
    tags = [
        (w, w.AddObserver("EndEvent", lambda *_a, n=name: log.append(n)))
        for name, w in windows.items()
    ]
    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: log.append("pass"))
    try:
        ticker.start()
        area.layer.add(OverlayBox("b", 2, 30, 20, 60, 40, "box"))
        area.render_later()
        area.render_later()
        with qtbot.waitSignal(area.rendered, timeout=10_000):
            pass
        ticker.stop()
        renders = [n for n in log if n != "pass"]
        assert sorted(renders) == ["axial", "coronal", "sagittal"], log
        assert renders[0] == area.active  # the view the user works in comes first
        first = log.index(renders[0])
        between = log[first:]
        for a, b in itertools.pairwise(renders):
            span = between[between.index(a) : between.index(b)]
            assert "pass" in span, log  # the event loop ran between two views' renders
        log.clear()
        area.render_all()
        assert sorted(log) == ["axial", "coronal", "sagittal"], log
        log.clear()
        vv.set_preset(vv.preset)  # the 3-D view still redraws its own changes
        assert log == ["3d"], log
    finally:
        ticker.stop()
        for w, tag in tags:
            w.RemoveObserver(tag)
            w.GetInteractor().EnableRenderOn()
        win.close()
        win.deleteLater()
