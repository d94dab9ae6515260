"""OpenGL probe: a real offscreen VTK window on this machine (Mesa llvmpipe through EGL)."""

from __future__ import annotations

import sys

import pytest

from voxrad.doctor.check import Status
from voxrad.doctor.child import is_software_renderer
from voxrad.doctor.graphics import assess_gl, check_opengl, parse_gl_version

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Mesa/EGL facts")


@pytest.fixture
def no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "VTK_DEFAULT_OPENGL_WINDOW"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.gl
@linux_only
@pytest.mark.usefixtures("no_display")
def test_gl_probe_finds_software_llvmpipe_through_egl_offscreen() -> None:
    check = check_opengl()
    assert check.status is Status.WARNING, check.summary
    assert check.detail["window_class"] == "vtkEGLRenderWindow"
    assert "llvmpipe" in check.detail["renderer"]
    assert check.detail["vendor"]
    assert parse_gl_version(check.detail["version"]) >= (3, 2)
    assert check.detail["software"] is True
    assert check.detail["volume_rendering"] == "cpu-ray-cast"
    assert "software rendering (llvmpipe" in check.summary
    assert "CPU ray casting" in check.summary
    assert "graphics driver" in check.hint


@pytest.mark.gl
@linux_only
@pytest.mark.usefixtures("no_display")
def test_gl_driver_that_crashes_becomes_a_problem_not_a_doctor_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # libglvnd with no EGL vendor library: VTK's EGL window segfaults in the child.
    monkeypatch.setenv("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/vendor.json")
    check = check_opengl()
    assert check.status is Status.PROBLEM
    assert "crashed" in check.summary
    assert "signal" in check.summary
    assert check.detail["returncode"] < 0


@pytest.mark.gl
def test_gl_driver_that_does_not_answer_in_time_is_a_problem() -> None:
    check = check_opengl(timeout=0.01)
    assert check.status is Status.PROBLEM
    assert "did not answer within 0.01 s" in check.summary
    assert check.hint


@pytest.mark.parametrize(
    ("renderer", "software"),
    [
        ("llvmpipe (LLVM 15.0.6, 256 bits)", True),
        ("softpipe", True),
        ("Google SwiftShader", True),
        ("ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)", True),
        ("D3D12 (Microsoft Basic Render Driver)", True),
        ("GDI Generic", True),
        ("Apple Software Renderer", True),
        ("NVIDIA GeForce RTX 3060/PCIe/SSE2", False),
        ("AMD Radeon Pro W6600 (radeonsi, navi23, LLVM 15.0.7, DRM 3.49)", False),
        ("Mesa Intel(R) UHD Graphics 630 (CFL GT2)", False),
        ("Apple M2 Pro", False),
    ],
)
def test_software_renderers_are_recognised_by_name(renderer: str, software: bool) -> None:
    assert is_software_renderer(renderer) is software


def test_gl_versions_are_parsed() -> None:
    assert parse_gl_version("4.5 (Core Profile) Mesa 22.3.6") == (4, 5)
    assert parse_gl_version("4.6.0 NVIDIA 550.54.14") == (4, 6)
    assert parse_gl_version("1.1.0") == (1, 1)
    assert parse_gl_version("") is None


def test_hardware_gl_is_ok_and_ancient_gl_is_a_problem() -> None:
    gpu = {
        "renderer": "NVIDIA RTX A4000/PCIe/SSE2",
        "vendor": "NVIDIA Corporation",
        "version": "4.6.0 NVIDIA 550.54.14",
        "supports_opengl": True,
    }
    ok = assess_gl(gpu)
    assert ok.status is Status.OK
    assert ok.detail["volume_rendering"] == "gpu-ray-cast"
    assert "NVIDIA RTX A4000/PCIe/SSE2, OpenGL 4.6" in ok.summary
    gdi = {"renderer": "GDI Generic", "vendor": "Microsoft", "version": "1.1.0"}
    old = assess_gl({**gdi, "supports_opengl": True})
    assert old.status is Status.PROBLEM
    assert "OpenGL 3.2 is not available" in old.summary
    basic = assess_gl(
        {
            "renderer": "D3D12 (Microsoft Basic Render Driver)",
            "vendor": "Microsoft Corporation",
            "version": "4.2 (Core Profile) Mesa 24.0.0",
            "supports_opengl": True,
        }
    )
    assert basic.status is Status.WARNING
    assert "Microsoft Basic Render Driver" in basic.summary
