"""The 3-D view: volume rendering with CT presets; left-drag rotates, wheel zooms."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QWidget
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleUser
from vtkmodules.vtkRenderingCore import vtkRenderer

from voxrad.core.volume import Volume
from voxrad.render.gl_info import GLInfo, gl_info
from voxrad.render.volume_scene import VolumeScene, find_volume_preset

logger = logging.getLogger(__name__)

_INTERACTIVE_FPS = 8.0
_STILL_FPS = 0.0001  # VTK's default still rate: best quality


class VolumeView(QVTKRenderWindowInteractor):
    """Volume rendering of the current series; the mapper follows the OpenGL found."""

    activated = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.renderer = vtkRenderer()
        self.renderer.SetBackground(0.05, 0.05, 0.07)
        self.GetRenderWindow().AddRenderer(self.renderer)
        self.GetRenderWindow().GetInteractor().SetInteractorStyle(vtkInteractorStyleUser())
        self.scene: VolumeScene | None = None
        self.gl: GLInfo | None = None
        self._last: tuple[float, float] | None = None
        self.pending: Volume | None = None
        self.preset = "bone"
        self.Initialize()

    def set_volume(self, volume: Volume, image: object = None) -> None:
        """Show ``volume``; the first call probes OpenGL to choose the mapper."""
        if self.scene is None:
            self.gl = gl_info(self.GetRenderWindow())
            self.scene = VolumeScene(self.renderer, software_gl=self.gl.software)
            logger.info(
                "3-D mapper: %s (software GL: %s)", self.scene.mapper_name, self.gl.software
            )
        self.scene.preset = find_volume_preset(self.preset)
        self.scene.set_volume(volume, image=image)  # type: ignore[arg-type]
        self.refresh()

    def set_preset(self, name: str) -> None:
        self.preset = name
        if self.scene is not None and self.scene.volume is not None:
            self.scene.set_preset(name)
            self.refresh()

    def reset_view(self) -> None:
        if self.scene is not None:
            self.scene.reset_view()
            self.refresh()

    def refresh(self) -> None:
        if self.isVisible() and self.scene is not None and self.scene.volume is not None:
            self.GetRenderWindow().Render()

    def mousePressEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self.activated.emit(self)
        self._last = (ev.position().x(), ev.position().y())
        # While rotating, ask the ray caster for interactive frame rates (it coarsens its
        # sampling); full quality returns on release, so a drag never stalls the window.
        self.GetRenderWindow().SetDesiredUpdateRate(_INTERACTIVE_FPS)

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._last is None or self.scene is None:
            return
        x, y = ev.position().x(), ev.position().y()
        dx, dy = x - self._last[0], y - self._last[1]
        self._last = (x, y)
        self.scene.rotate(-dx * 0.5, dy * 0.5)
        self.refresh()

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self._last = None
        self.GetRenderWindow().SetDesiredUpdateRate(_STILL_FPS)
        self.refresh()

    def wheelEvent(self, ev: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        if self.scene is None:
            return
        camera = self.renderer.GetActiveCamera()
        camera.Dolly(1.1 ** (ev.angleDelta().y() / 120.0))
        self.renderer.ResetCameraClippingRange()
        self.refresh()

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if ev.key() == Qt.Key.Key_Left and self.scene is not None:
            self.scene.rotate(-10, 0)
            self.refresh()
        elif ev.key() == Qt.Key.Key_Right and self.scene is not None:
            self.scene.rotate(10, 0)
            self.refresh()
        else:
            super().keyPressEvent(ev)

    def close_view(self) -> None:
        self.GetRenderWindow().Finalize()
