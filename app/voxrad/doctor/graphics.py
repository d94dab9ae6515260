"""OpenGL as VTK sees it: which driver, whether it runs on the GPU, what VoxRad does about it."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

from voxrad.doctor.check import Check, Status
from voxrad.doctor.child import (
    ChildCrashedError,
    ChildTimeoutError,
    is_software_renderer,
    run_child,
)

NAME = "opengl"

#: VTK's OpenGL2 backend needs a 3.2 core profile.
MIN_GL_VERSION = (3, 2)

_DRIVER_HINT = (
    "Install the graphics driver from the GPU vendor (NVIDIA, AMD, Intel). On a remote desktop "
    "session, run VoxRad on the workstation itself."
)


def parse_gl_version(version: str) -> tuple[int, int] | None:
    """``"4.5 (Core Profile) Mesa 22.3.6"`` -> ``(4, 5)``; None when unrecognisable."""
    match = re.match(r"\s*(?:OpenGL ES\s+)?(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def assess_gl(info: dict[str, Any]) -> Check:
    """Turn the child's report about the OpenGL driver into a check."""
    renderer = str(info.get("renderer", ""))
    version_text = str(info.get("version", ""))
    version = parse_gl_version(version_text)
    software = is_software_renderer(renderer)
    detail = dict(info)
    detail["software"] = software
    detail["volume_rendering"] = "cpu-ray-cast" if software else "gpu-ray-cast"
    # The full strings are in the detail; the summary keeps the part IT recognises.
    # ("D3D12 (Microsoft Basic Render Driver)" keeps its bracket: that is the telling part.)
    short_renderer = renderer.split(" (", 1)[0] if renderer else "unknown renderer"
    if "microsoft basic render" in renderer.lower():
        short_renderer = renderer
    short_version = f"{version[0]}.{version[1]}" if version else (version_text or "?")
    described = f"{short_renderer}, OpenGL {short_version}"
    if not info.get("supports_opengl", False) or version is None or version < MIN_GL_VERSION:
        return Check(
            NAME,
            Status.PROBLEM,
            f"OpenGL {MIN_GL_VERSION[0]}.{MIN_GL_VERSION[1]} is not available ({described}): "
            "images cannot be displayed",
            detail,
            _DRIVER_HINT,
        )
    if software:
        return Check(
            NAME,
            Status.WARNING,
            f"software rendering ({described}): slices display normally, 3-D volume "
            "rendering uses CPU ray casting (slower)",
            detail,
            _DRIVER_HINT,
        )
    return Check(NAME, Status.OK, f"{described} (GPU volume rendering)", detail)


def check_opengl(*, timeout: float = 10.0) -> Check:
    """Open an offscreen VTK render window in a child process and assess its driver."""
    if importlib.util.find_spec("vtkmodules") is None:
        return Check(
            NAME,
            Status.PROBLEM,
            "VTK is not installed: images cannot be displayed",
            {},
            "Install it with: pip install 'voxrad[gui]'",
        )
    try:
        info = run_child("gl", timeout=timeout)
    except ChildTimeoutError:
        return Check(
            NAME,
            Status.PROBLEM,
            f"the OpenGL driver did not answer within {timeout:g} s",
            {"timeout_seconds": timeout},
            _DRIVER_HINT,
        )
    except ChildCrashedError as exc:
        return Check(
            NAME,
            Status.PROBLEM,
            f"opening an OpenGL window crashed ({exc}): images cannot be displayed",
            {"returncode": exc.returncode, "stderr": exc.stderr_tail},
            _DRIVER_HINT,
        )
    if "error" in info:
        return Check(
            NAME,
            Status.PROBLEM,
            f"OpenGL could not start: {info.get('error_type')}: {info['error']}",
            info,
            _DRIVER_HINT,
        )
    return assess_gl(info)
