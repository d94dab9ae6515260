"""The assistant in the real window: GUI event-loop stalls and VoxRad's own time per turn.

Runs typed questions and commands through the real pipeline, bridge and panel (the scripted
backends of tests/assistant/pipeline_fakes.py, so only VoxRad's own work is timed) under
Xvfb, and prints, per turn: the longest gap between ticks of a 2 ms GUI timer (a stall: any
work on the GUI thread, deferred redraws included), the time spent in the bridge's GUI-thread
slots, the time spent rendering the views (timed by VTK, wherever the render ran), and the
pipeline's own overhead. The baseline, measured in the same run, is one bare render of the
same view: with software OpenGL it is most of every stall, since an answer's boxes or a
command must redraw the view once; the bridge updates the panel in one event-loop pass and
redraws in the next, so one stall should hold one render and little else.

    .venv/bin/python benchmarks/bench_assistant_ui.py [--turns 40] [--layout 2x2] [--study DIR]

With ``--layout 2x2`` the three 2-D views and the 3-D view are on screen; an answer's boxes
must redraw the 2-D views only (the 3-D view shows no overlays).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for sub in ("tests", "tests/assistant", "tests/ui"):
    sys.path.insert(0, str(REPO / sub))

from xvfb_support import xvfb_session  # noqa: E402

_KEEP_ALIVE: list[object] = []


def _median_max(values: list[float]) -> str:
    return f"median {statistics.median(values):6.1f}  max {max(values):6.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--layout", choices=("1x1", "2x2"), default="1x1")
    parser.add_argument(
        "--study",
        type=Path,
        default=None,
        help="show this study instead of the small test volume (e.g. assets/sample-ct: "
        "512x512 slices, so each answer on another slice uploads a full-size texture)",
    )
    args = parser.parse_args()
    # PySide6 6.12.0 drops a reference to True on each Signal.emit() and one to None on each
    # call of a void method (processEvents, QTimer.start): a long run frees them and aborts
    # ("none_dealloc"). Extra references keep this measuring run alive; no timing changes.
    _KEEP_ALIVE.extend([True, None] * 5_000_000)
    with xvfb_session():
        from PySide6.QtCore import QEventLoop, QTimer
        from PySide6.QtWidgets import QApplication

        app = QApplication(["bench", "-platform", "xcb"])
        from assistant_support import make_window as _make

        from voxrad.ui import assistant_bridge

        handler_ms: list[float] = []
        deferred = [0]

        def timing(original: Any) -> Any:
            def timed(self: Any, arg: Any) -> None:
                t0 = time.perf_counter()
                original(self, arg)
                handler_ms.append((time.perf_counter() - t0) * 1000)

            return timed

        for name in ("_on_event", "_on_command"):
            setattr(
                assistant_bridge.AssistantBridge,
                name,
                timing(getattr(assistant_bridge.AssistantBridge, name)),
            )

        def spin(ms: int = 20) -> None:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, ms)

        class Bot:
            def waitExposed(self, _w: object) -> None:  # noqa: N802 (pytest-qt's name)
                for _ in range(50):
                    spin()

        win, bridge = _make(Bot())
        if args.study is not None:
            from voxrad.imaging.registry import open_study

            volume = open_study(args.study).find().load_volume()
            win.view_area.set_volume(volume)
            win.volume_loaded.emit(volume)
        win.view_area.set_layout(args.layout)
        Bot().waitExposed(win)
        view = win.view_area.views["axial"]
        # Every render of a view, timed by VTK itself (the bridge now defers its redraws to a
        # zero-timer slot; wrapping that slot in Python crashes PySide6 6.12 at random).
        render_ms: list[float] = []
        started = [0.0]

        def render_start(*_a: Any) -> None:
            started[0] = time.perf_counter()

        def render_end(*_a: Any) -> None:
            render_ms.append((time.perf_counter() - started[0]) * 1000)

        watched = [*win.view_area.views.values(), win.view_area.volume_view]
        for each in (w for w in watched if w is not None):
            each.GetRenderWindow().AddObserver("StartEvent", render_start)
            each.GetRenderWindow().AddObserver("EndEvent", render_end)
        win.view_area.rendered.connect(lambda: deferred.__setitem__(0, deferred[0] + 1))
        renders = []
        for _ in range(10):
            t0 = time.perf_counter()
            view.refresh()
            renders.append((time.perf_counter() - t0) * 1000)
        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append((now - last[0]) * 1000)
            last[0] = now

        timer = QTimer()
        timer.setInterval(2)
        timer.timeout.connect(tick)
        timer.start()
        stalls: list[float] = []
        own: list[float] = []
        slowest: list[float] = []
        drawn: list[float] = []
        renders_per_answer: list[int] = []
        redraws: list[int] = []
        panel = win.conversation_panel
        for n in range(args.turns):
            gaps.clear()
            handler_ms.clear()
            render_ms.clear()
            deferred[0] = 0
            last[0] = time.perf_counter()
            turn_id = bridge.ask(f"question {n}?" if n % 2 else "next slice")
            while turn_id not in panel.turns or not panel.turns[turn_id].timings.text():
                spin(5)
            while win.view_area.render_pending:  # the answer's redraw is part of the turn
                spin(5)
            for _ in range(3):
                spin(5)
            if n >= 4:  # warm-up turns (first layouts, thread start) excluded
                stalls.append(max(gaps))
                own.append(sum(handler_ms))
                slowest.append(max(handler_ms))
                drawn.append(sum(render_ms))
                if n % 2:
                    renders_per_answer.append(len(render_ms))
                if n % 2:
                    redraws.append(deferred[0])
        records = [r for r in bridge.pipeline.turns()[4:]]
        overhead = [r.timings["overhead"] * 1000 for r in records if "overhead" in r.timings]
        base = statistics.median(renders)
        size = f"{view.width()}x{view.height()}"
        print(f"layout {args.layout}, axial view {size}, {len(stalls)} turns")
        print(f"baseline: one render of the view      {_median_max(renders)}")
        print(f"longest GUI stall per turn            {_median_max(stalls)}")
        print(f"bridge slots per turn (sum)           {_median_max(own)}")
        print(f"slowest bridge slot per turn          {_median_max(slowest)}")
        print(f"view renders per turn (sum)           {_median_max(drawn)}")
        print(f"deferred redraws per answer           min {min(redraws)}  max {max(redraws)}")
        n_min, n_max = min(renders_per_answer), max(renders_per_answer)
        print(f"view renders per answer               min {n_min}  max {n_max}")
        print(f"pipeline overhead per turn            {_median_max(overhead)}")
        print(f"stall / render ratio (median)         {statistics.median(stalls) / base:.2f}")
        win.close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Skip interpreter teardown: with PySide6 6.12.0's lost references (above) it aborts.
    os._exit(code)
