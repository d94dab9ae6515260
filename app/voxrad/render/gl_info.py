"""What OpenGL implementation a render window got, and whether it is a software rasteriser."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from vtkmodules.vtkRenderingCore import vtkRenderWindow

import voxrad.render.backends  # noqa: F401  (registers VTK implementations)

logger = logging.getLogger(__name__)

#: Renderer-string fragments of CPU implementations (Mesa llvmpipe/softpipe, SwiftShader,
#: Microsoft's GDI fallback, Apple's software renderer).
_SOFTWARE = ("llvmpipe", "softpipe", "swiftshader", "swrast", "gdi generic", "software")


@dataclass(frozen=True)
class GLInfo:
    """The OpenGL vendor, renderer and version strings, and the software verdict."""

    vendor: str
    renderer: str
    version: str

    @property
    def software(self) -> bool:
        text = self.renderer.lower()
        return any(word in text for word in _SOFTWARE)


def parse_capabilities(report: str) -> GLInfo:
    """Read vtkRenderWindow.ReportCapabilities() text."""

    def field(name: str) -> str:
        match = re.search(rf"OpenGL {name} string:\s*(.*)", report)
        return match.group(1).strip() if match else ""

    return GLInfo(vendor=field("vendor"), renderer=field("renderer"), version=field("version"))


def gl_info(render_window: vtkRenderWindow) -> GLInfo:
    """The GL implementation behind ``render_window`` (rendered once if it has no context)."""
    report = render_window.ReportCapabilities() or ""
    if "OpenGL renderer" not in report:
        render_window.Render()
        report = render_window.ReportCapabilities() or ""
    info = parse_capabilities(report)
    logger.info("OpenGL: %s / %s / %s", info.vendor, info.renderer, info.version)
    return info


def drop_multisampling_on_software_gl(render_window: vtkRenderWindow) -> GLInfo:
    """Turn multisampling off in ``render_window`` when its OpenGL is a software rasteriser.

    For 2-D slice views. VTK asks for a multisampled framebuffer by default (4 samples per
    pixel on llvmpipe); the CPU then clears, shades and resolves every sample, which measured
    about three quarters of each redraw (20 ms -> 5.5 ms for an 841x752 axial view on 2
    cores). A slice view gains almost nothing from it: the image is a texture on a
    screen-aligned quad (its pixels, text included, are the same either way; see
    tests/render/test_slice_multisampling.py) and boxes and crosshairs are axis-aligned; only
    slanted measurement lines lose their edge smoothing. On a GPU multisampling is nearly
    free, so VTK's default is kept there.

    Returns the GL information probed (see :func:`gl_info`).
    """
    info = gl_info(render_window)
    if info.software:
        render_window.SetMultiSamples(0)
    return info
