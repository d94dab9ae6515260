"""Smoke checks of a built VoxRad (frozen or not), shared by the slow test and the benchmark.

Each check runs the app as a user would, in a child process, and returns what it saw plus
the wall time. Usable alone after a build::

    python installers/linux/smoke.py dist/voxrad/voxrad [--screenshot out.png]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

#: The real CT beside the checkout (../shared/data), as the tests' ``shared_data`` fixture.
REAL_CT = Path(__file__).resolve().parents[3] / "shared" / "data" / "ct-abdomen-134"
LOADED = re.compile(r"load \d+ done in")


@contextmanager
def xvfb() -> Iterator[str]:
    """A private Xvfb server; yields its DISPLAY. Xvfb signals readiness with -displayfd."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed (Debian package xvfb; ./dev.sh installs it)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-screen", "0", "1600x1000x24", "-nolisten", "tcp", "-displayfd", str(write_fd)],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        number = pipe.readline().strip().decode()
    try:
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def run(
    cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``cmd`` to completion; return the result and its wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run(
        list(cmd),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return done, time.perf_counter() - start


def _screen(png: Path) -> tuple[int, bytes]:
    """Distinct grey levels in a screenshot (a CT slice has hundreds, UI chrome a handful),
    and its pixels (PNG bytes differ between identical screens: they carry a timestamp)."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(png).convert("RGB"))
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    return int(np.unique(rgb[..., 0][grey]).size), rgb.tobytes()


def open_demo(
    cmd: Sequence[str],
    *,
    display: str,
    env: dict[str, str] | None = None,
    screenshot: Path | None = None,
    timeout: float = 120,
) -> dict[str, object]:
    """Start ``cmd --debug --demo`` on ``display`` and wait until the sample study has loaded.

    Returns the seconds from process start to "study loaded" (read from the app's debug log
    on stderr, so no polling), and, with ``screenshot``, the number of grey levels seen on the
    screen once the slices are drawn. The app is then closed with SIGTERM.
    """
    child_env = dict(env if env is not None else os.environ)
    child_env["DISPLAY"] = display
    child_env.pop("WAYLAND_DISPLAY", None)
    child_env["QT_QPA_PLATFORM"] = "xcb"
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "--debug", "--demo"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=child_env,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    tail: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    loaded_s = None
    deadline = start + timeout
    try:
        while loaded_s is None:
            line = lines.get(timeout=max(0.1, deadline - time.perf_counter()))
            if line is None:
                raise RuntimeError(
                    f"the app exited ({proc.wait()}) before the study loaded:\n" + "".join(tail)
                )
            tail = [*tail[-30:], line]
            if LOADED.search(line):
                loaded_s = time.perf_counter() - start
        result: dict[str, object] = {"loaded_s": round(loaded_s, 3)}
        if screenshot is not None:
            # The GUI thread applies the loaded volume after the loader reports (until then
            # the middle-slice preview shows). Settled = two identical screens in a row with
            # a CT slice on them; bounded retries.
            levels, previous, shots = 0, b"", 0
            while shots < 20:
                subprocess.run(
                    ["import", "-display", display, "-window", "root", str(screenshot)],
                    check=True,
                    timeout=30,
                )
                shots += 1
                levels, pixels = _screen(screenshot)
                if levels >= 64 and pixels == previous:
                    break
                previous = pixels
                time.sleep(0.5)
            result["grey_levels"] = levels
            result["settled_after_shots"] = shots
            result["screenshot"] = str(screenshot)
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited ({proc.returncode}) while showing the study")
        return result
    except queue.Empty:
        message = f"the study did not load within {timeout:g} s:\n" + "".join(tail)
        raise RuntimeError(message) from None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # The reader ends at end-of-file once the app has exited; then the pipe can close.
        reader.join(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("exe", help="the voxrad executable to check")
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    done, seconds = run([args.exe, "--version"])
    report["version"] = {"out": done.stdout.strip(), "rc": done.returncode, "s": seconds}
    done, seconds = run([args.exe, "doctor", "--json"])
    report["doctor"] = {"status": json.loads(done.stdout)["status"], "s": seconds}
    if REAL_CT.is_dir():
        done, seconds = run([args.exe, "info", "--json", str(REAL_CT)])
        report["info"] = {"rc": done.returncode, "s": seconds}
    with xvfb() as display:
        report["gui"] = open_demo([args.exe], display=display, screenshot=args.screenshot)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
