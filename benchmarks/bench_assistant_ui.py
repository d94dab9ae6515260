"""The assistant in the real window: GUI event-loop stalls and VoxRad's own time per turn.

Runs typed questions and commands through the real pipeline, bridge and panel (the scripted
backends of tests/assistant/pipeline_fakes.py, so only VoxRad's own work is timed) under
Xvfb, and prints, per turn: the longest gap between ticks of a 2 ms GUI timer (a stall), the
time spent in the bridge's GUI-thread handlers, and the pipeline's own overhead. The baseline,
measured in the same run, is one bare render of the same view: with software OpenGL it is most
of every stall, since an answer's boxes or a command must redraw the view once.

    .venv/bin/python benchmarks/bench_assistant_ui.py [--turns 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for sub in ("tests", "tests/assistant", "tests/ui"):
    sys.path.insert(0, str(REPO / sub))

from xvfb_support import xvfb_session  # noqa: E402


def _median_max(values: list[float]) -> str:
    return f"median {statistics.median(values):6.1f}  max {max(values):6.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    args = parser.parse_args()
    with xvfb_session():
        from PySide6.QtCore import QEventLoop, QTimer
        from PySide6.QtWidgets import QApplication

        app = QApplication(["bench", "-platform", "xcb"])
        from assistant_support import make_window as _make

        from voxrad.ui import assistant_bridge

        handler_ms: list[float] = []
        for name in ("_on_event", "_on_command"):
            original = getattr(assistant_bridge.AssistantBridge, name)

            def timed(self: Any, arg: Any, _orig: Any = original) -> None:
                t0 = time.perf_counter()
                _orig(self, arg)
                handler_ms.append((time.perf_counter() - t0) * 1000)

            setattr(assistant_bridge.AssistantBridge, name, timed)

        def spin(ms: int = 20) -> None:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, ms)

        class Bot:
            def waitExposed(self, _w: object) -> None:  # noqa: N802 (pytest-qt's name)
                for _ in range(50):
                    spin()

        win, bridge = _make(Bot())
        view = win.view_area.views["axial"]
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
        panel = win.conversation_panel
        for n in range(args.turns):
            gaps.clear()
            handler_ms.clear()
            last[0] = time.perf_counter()
            turn_id = bridge.ask(f"question {n}?" if n % 2 else "next slice")
            while turn_id not in panel.turns or not panel.turns[turn_id].timings.text():
                spin(5)
            for _ in range(3):
                spin(5)
            if n >= 4:  # warm-up turns (first layouts, thread start) excluded
                stalls.append(max(gaps))
                own.append(sum(handler_ms))
        records = [r for r in bridge.pipeline.turns()[4:]]
        overhead = [r.timings["overhead"] * 1000 for r in records if "overhead" in r.timings]
        base = statistics.median(renders)
        print(f"view {view.width()}x{view.height()}, {len(stalls)} turns")
        print(f"baseline: one render of the view      {_median_max(renders)}")
        print(f"longest GUI stall per turn            {_median_max(stalls)}")
        print(f"bridge GUI-thread handlers per turn   {_median_max(own)}")
        print(f"pipeline overhead per turn            {_median_max(overhead)}")
        print(f"stall / render ratio (median)         {statistics.median(stalls) / base:.2f}")
        win.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
