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
