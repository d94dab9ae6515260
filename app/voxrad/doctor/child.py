"""Probes that run in a child process, because the drivers they touch can hang or crash.

An OpenGL driver can segfault while creating a context, a speech engine can block forever in
its event loop, and PortAudio can stall while ALSA scans devices. The parent runs
``python -m voxrad.doctor.child MODE`` with a time limit (``subprocess.run`` kills the child
when it expires); the child prints one line ``VOXRAD-DOCTOR-RESULT <json>`` and whatever the
driver writes to stdout or stderr is captured, never shown to the user.

Each mode catches its own exceptions and reports them as ``{"error": ..., "error_type": ...}``
so the parent can tell "library missing" from "driver crashed" (no result line at all).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARKER = "VOXRAD-DOCTOR-RESULT "

#: Renderer names of OpenGL implementations that run on the CPU.
SOFTWARE_RENDERERS = (
    "llvmpipe",
    "softpipe",
    "swiftshader",
    "microsoft basic render",
    "gdi generic",
    "software rasterizer",
    "apple software renderer",
)


class ChildTimeoutError(Exception):
    """The child did not finish in time and was killed."""


class ChildCrashedError(Exception):
    """The child ended without a result (crash, abort, or Python error at start-up)."""

    def __init__(self, message: str, *, returncode: int, stderr_tail: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


# ---------------------------------------------------------------------------- parent side


def _child_env() -> dict[str, str]:
    # The child must import this same voxrad even when it runs from a source tree that is
    # not installed (PYTHONPATH=app). Frozen installer builds re-enter their own executable
    # instead (child_command), which ignores PYTHONPATH.
    env = dict(os.environ)
    source_root = str(Path(__file__).resolve().parents[2])
    parts = [source_root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _describe_returncode(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def child_command(mode: str) -> list[str]:
    """The command line that runs probe ``mode`` in a child process.

    A frozen installer build (PyInstaller sets ``sys.frozen``) has no ``python -m``: its
    entry script (``voxrad.__main__``) dispatches ``--doctor-child MODE`` to :func:`main`.
    """
    if getattr(sys, "frozen", False):
        return [sys.executable, "--doctor-child", mode]
    return [sys.executable, "-m", "voxrad.doctor.child", mode]


def run_child(mode: str, *, timeout: float) -> dict[str, Any]:
    """Run one child-process probe and return its result dictionary.

    Raises
    ------
    ChildTimeoutError
        The child ran past ``timeout`` seconds (it has been killed).
    ChildCrashedError
        The child ended without printing a result.
    """
    try:
        done = subprocess.run(
            child_command(mode),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            env=_child_env(),
            text=True,
            encoding="utf-8",
            errors="replace",
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ChildTimeoutError(f"no answer within {timeout:g} s") from exc
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARKER):
            result: dict[str, Any] = json.loads(line[len(MARKER) :])
            return result
    tail = "\n".join(done.stderr.strip().splitlines()[-5:])
    raise ChildCrashedError(
        f"ended without a result ({_describe_returncode(done.returncode)})",
        returncode=done.returncode,
        stderr_tail=tail[-800:],
    )


def is_software_renderer(renderer: str) -> bool:
    """True when an OpenGL renderer string names a CPU implementation."""
    lowered = renderer.lower()
    return any(name in lowered for name in SOFTWARE_RENDERERS)


# ----------------------------------------------------------------------------- child side


def _capability(report: str, label: str) -> str:
    for line in report.splitlines():
        if line.strip().startswith(label):
            return line.split(":", 1)[1].strip()
    return ""


def probe_gl() -> dict[str, Any]:
    """Open an offscreen VTK render window and report the OpenGL driver behind it."""
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
    ):
        # No X server (SSH session, service account): EGL needs none. With a display the
        # default X window is used, which is the driver the desktop window will get.
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL classes)
    from vtkmodules.vtkCommonCore import vtkVersion
    from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow

    window = vtkRenderWindow()
    window.SetOffScreenRendering(True)
    window.SetSize(16, 16)
    window.AddRenderer(vtkRenderer())
    window.Render()
    report = window.ReportCapabilities() or ""
    result = {
        "vtk_version": vtkVersion.GetVTKVersion(),
        "window_class": window.GetClassName(),
        "vendor": _capability(report, "OpenGL vendor string"),
        "renderer": _capability(report, "OpenGL renderer string"),
        "version": _capability(report, "OpenGL version string"),
        "supports_opengl": bool(window.SupportsOpenGL()),
    }
    window.Finalize()
    return result


def _clean_language(value: Any) -> str:
    # Old espeak drivers give bytes with a leading priority byte (b"\x05en-gb").
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="ignore")
    return "".join(ch for ch in str(value) if ch.isprintable()).strip()


def probe_tts() -> dict[str, Any]:
    """Start the platform speech engine, list its voices and synthesise a phrase to a file."""
    import pyttsx3

    engine = pyttsx3.init()
    voices = []
    for voice in engine.getProperty("voices") or []:
        languages = [_clean_language(x) for x in (getattr(voice, "languages", None) or [])]
        voices.append({"id": str(voice.id), "name": str(voice.name), "languages": languages})
    default_voice = str(engine.getProperty("voice") or "")
    with tempfile.TemporaryDirectory(prefix="voxrad-doctor-") as folder:
        target = Path(folder) / "voice-check.wav"
        # Synthesising to a file proves the engine works without making a sound in a ward.
        engine.save_to_file("VoxRad voice check.", str(target))
        engine.runAndWait()
        synthesized = target.stat().st_size if target.exists() else 0
    driver = getattr(getattr(engine, "proxy", None), "_driver", None)
    return {
        "driver": type(driver).__module__.rsplit(".", 1)[-1] if driver is not None else "",
        "voices": voices,
        "default_voice": default_voice,
        "synthesized_bytes": synthesized,
    }


def probe_audio() -> dict[str, Any]:
    """List PortAudio's input and output devices and the defaults."""
    import sounddevice as sd

    devices = [dict(d) for d in sd.query_devices()]
    hostapis = [str(h["name"]) for h in sd.query_hostapis()]
    default_in, default_out = (int(x) for x in sd.default.device)
    speech_format_ok = None
    if default_in >= 0:
        try:
            sd.check_input_settings(channels=1, samplerate=16_000, dtype="float32")
            speech_format_ok = True
        except Exception:
            # Capture resamples when the device cannot do 16 kHz mono itself.
            speech_format_ok = False

    def entry(index: int) -> dict[str, Any]:
        d = devices[index]
        return {
            "index": index,
            "name": str(d["name"]),
            "hostapi": hostapis[int(d["hostapi"])] if int(d["hostapi"]) < len(hostapis) else "",
            "max_input_channels": int(d["max_input_channels"]),
            "max_output_channels": int(d["max_output_channels"]),
            "default_samplerate": float(d["default_samplerate"]),
        }

    return {
        "portaudio": str(sd.get_portaudio_version()[1]),
        "hostapis": hostapis,
        "inputs": [entry(i) for i, d in enumerate(devices) if d["max_input_channels"] > 0],
        "outputs": [entry(i) for i, d in enumerate(devices) if d["max_output_channels"] > 0],
        "default_input": entry(default_in) if 0 <= default_in < len(devices) else None,
        "default_output": entry(default_out) if 0 <= default_out < len(devices) else None,
        "speech_format_ok": speech_format_ok,
    }


MODES: dict[str, Callable[[], dict[str, Any]]] = {
    "gl": probe_gl,
    "tts": probe_tts,
    "audio": probe_audio,
}


def _no_core_dumps() -> None:
    # A driver that crashes here is a finding, not a reason to leave a core file in the
    # user's current folder.
    try:
        import resource
    except ImportError:  # Windows
        return
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str]) -> int:
    """Entry point of the child: run one mode and print its result line."""
    if len(argv) != 1 or argv[0] not in MODES:
        print(f"usage: python -m voxrad.doctor.child {{{','.join(MODES)}}}", file=sys.stderr)
        return 2
    _no_core_dumps()
    try:
        result = MODES[argv[0]]()
    except Exception as exc:
        result = {"error": str(exc)[:500], "error_type": type(exc).__name__}
    sys.stdout.write("\n" + MARKER + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
