"""Start one Xvfb server for the whole test session (real windows for VTK and Qt).

QVTKRenderWindowInteractor crashes or draws garbage on Qt's offscreen platform, so GL tests
run on a virtual X server with Qt's xcb platform. Display :99 is preferred; when another
process holds it, Xvfb picks a free number itself. Readiness is signalled by Xvfb writing the
display number to a pipe (-displayfd), so nothing polls or sleeps.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

_state: dict[str, object] = {"users": 0}
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child: Linux sends it SIGTERM when the test process exits.

    The server must outlive every X connection of the process (VTK and Qt close theirs only
    at interpreter exit); stopping it at session teardown makes Xlib abort the process with
    "XIO: fatal IO error".
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(display: str | None) -> tuple[subprocess.Popen[bytes], str] | None:
    read_fd, write_fd = os.pipe()
    args = ["Xvfb", *([display] if display else []), "-screen", "0", "1920x1080x24"]
    args += ["-nolisten", "tcp", "-displayfd", str(write_fd)]
    proc = subprocess.Popen(
        args,
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 (runs before any test thread exists)
    )
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        number = pipe.readline().strip().decode()
    if not number:
        proc.wait(timeout=10)
        return None
    return proc, f":{number}"


@contextmanager
def xvfb_session() -> Iterator[str]:
    """Yield a DISPLAY with Xvfb running; shared by every folder that asks in one session."""
    if "proc" not in _state:
        if shutil.which("Xvfb") is None:
            raise RuntimeError("Xvfb is not installed (Debian package xvfb; ./dev.sh installs it)")
        started = _start(":99") or _start(None)
        if started is None:
            raise RuntimeError("Xvfb did not start")
        proc, display = started
        _state.update(proc=proc, display=display)
    if _state["users"] == 0:
        _state.update(old=os.environ.get("DISPLAY"), old_qpa=os.environ.get("QT_QPA_PLATFORM"))
        os.environ["DISPLAY"] = str(_state["display"])
        os.environ["QT_QPA_PLATFORM"] = "xcb"
    _state["users"] = int(_state["users"]) + 1  # type: ignore[call-overload]
    try:
        yield str(_state["display"])
    finally:
        _state["users"] = int(_state["users"]) - 1  # type: ignore[call-overload]
        if _state["users"] == 0:
            # The server itself stops when this process exits (see _die_with_parent).
            for key, var in (("old", "DISPLAY"), ("old_qpa", "QT_QPA_PLATFORM")):
                value = _state.pop(key)
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = str(value)
