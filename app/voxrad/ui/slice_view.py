"""The interactive 2-D view: a QVTK widget driving a :class:`SliceScene`.

Mouse (reading-station conventions):
* wheel: next/previous slice; Ctrl+wheel: zoom about the cursor;
* left: the current tool (navigate: click sets the linked cursor, drag scrolls slices;
  point / box / outline: pick a region; distance / ellipse: measure);
* right-drag: window (horizontal) and level (vertical); middle-drag or Shift+left: pan;
  Ctrl+left-drag: zoom.

VTK's own interactor styles are bypassed (Qt events are handled here), so no VTK default
can fight these bindings.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QWidget
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleUser

from voxrad.core.measure import distance_mm, ellipse_stats
from voxrad.core.region import Region
from voxrad.core.volume import Volume
from voxrad.render.gl_info import GLInfo, drop_multisampling_on_software_gl
from voxrad.render.overlay_actors import Shape
from voxrad.render.slice_scene import SliceScene

logger = logging.getLogger(__name__)

TOOLS = ("navigate", "point", "box", "outline", "distance", "ellipse")
_DRAG_THRESHOLD = 3.0
_PIXELS_PER_SLICE = 6.0


class SliceView(QVTKRenderWindowInteractor):
    """One plane of the current volume, with interaction."""

    region_picked = Signal(object)  # core.region.Region
    cursor_moved = Signal(object)  # (k, j, i) voxel index: the linked crosshair
    slice_changed = Signal(int)
    window_changed = Signal(float, float)
    measured = Signal(object)  # (kind, text, Shape)
    hovered = Signal(str)  # status-bar text: position and value under the mouse
    activated = Signal(object)  # this view, on any click

    def __init__(self, parent: QWidget | None = None, *, plane: str = "axial") -> None:
        super().__init__(parent)
        self.plane = plane
        self.scene = SliceScene()
        self.scene.label = plane.capitalize()
        window = self.GetRenderWindow()
        window.AddRenderer(self.scene.renderer)
        self.GetRenderWindow().GetInteractor().SetInteractorStyle(vtkInteractorStyleUser())
        self.setFocusPolicy(Qt.FocusPolicy.WheelFocus)
        self.setMouseTracking(True)
        self.tool = "navigate"
        self.tool_color = (0.3, 0.9, 1.0)
        self._button: Qt.MouseButton | None = None
        self._modifiers = Qt.KeyboardModifier.NoModifier
        self._press: tuple[float, float] | None = None
        self._last: tuple[float, float] | None = None
        self._dragged = False
        self._accum = 0.0
        self._path: list[np.ndarray] = []
        self._measure_shapes: list[Shape] = []
        self._rubber: Shape | None = None
        #: True once the user zoomed or panned: a resize then keeps their framing.
        self.user_framed = False
        #: While set, :meth:`refresh` asks this for a later render instead of rendering now.
        self.defer_render: Callable[[SliceView], None] | None = None
        #: The OpenGL found at the first render (multisampling is dropped on software GL).
        self.gl: GLInfo | None = None
        self.Initialize()

    # -- content -------------------------------------------------------------------------------
    @property
    def volume(self) -> Volume | None:
        return self.scene.volume

    def set_volume(self, volume: Volume, image: object = None, plane: str | None = None) -> None:
        if plane is not None:
            self.plane = plane
            self.scene.label = plane.capitalize()
        self.scene.set_volume(volume, image=image, plane=self.plane)  # type: ignore[arg-type]
        self.user_framed = False
        self.refresh()

    def set_measure_shapes(self, shapes: list[Shape]) -> None:
        self._measure_shapes = list(shapes)
        self._push_shapes()

    def _push_shapes(self) -> None:
        extra = [self._rubber] if self._rubber is not None else []
        self.scene.set_shapes(self._measure_shapes + extra)

    def refresh(self) -> None:
        """Render now (synchronously: scrolling must show every slice it passes), or hand the
        render to :attr:`defer_render` when a caller has asked for that."""
        if self.defer_render is not None:
            self.defer_render(self)
        elif self.isVisible() and self.scene.volume is not None:
            window = self.GetRenderWindow()
            if self.gl is None:
                # Probed here, once shown, rather than in __init__: some platforms create
                # the GL context only when the window is first drawn.
                self.gl = drop_multisampling_on_software_gl(window)
            window.Render()

    # -- coordinates ---------------------------------------------------------------------------
    def display_point(self, event: QMouseEvent | QWheelEvent) -> tuple[float, float]:
        """VTK display coordinates (origin bottom-left, device pixels) of a Qt event."""
        ratio = self.devicePixelRatioF()
        pos = event.position()
        return pos.x() * ratio, self.height() * ratio - pos.y() * ratio - 1.0

    def qt_point(self, display: tuple[float, float] | np.ndarray) -> tuple[int, int]:
        """Widget (logical) coordinates of a VTK display point; inverse of display_point."""
        ratio = self.devicePixelRatioF()
        x, y = float(display[0]), float(display[1])
        return round(x / ratio), round((self.height() * ratio - y - 1.0) / ratio)

    # -- Qt events -----------------------------------------------------------------------------
    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(ev)
        if self.scene.volume is not None and not self.user_framed:
            self.scene.reset_view()  # fit the new size (layout switch, window resize)

    def mousePressEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self.activated.emit(self)
        self.setFocus()
        if self.scene.volume is None or self._button is not None:
            return
        self._button = ev.button()
        self._modifiers = ev.modifiers()
        self._press = self._last = self.display_point(ev)
        self._dragged = False
        self._accum = 0.0
        self._path = [self.scene.display_to_index(*self._press)]

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self.scene.volume is None:
            return
        point = self.display_point(ev)
        if self._button is None:
            self._hover(point)
            return
        assert self._last is not None and self._press is not None
        dx, dy = point[0] - self._last[0], point[1] - self._last[1]
        if math.dist(point, self._press) > _DRAG_THRESHOLD:
            self._dragged = True
        self._last = point
        self._drag(point, dx, dy)

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._button is None or self._press is None or self.scene.volume is None:
            self._button = None
            return
        point = self.display_point(ev)
        button, self._button = self._button, None
        pan_or_zoom = self._modifiers & (
            Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
        )
        if button == Qt.MouseButton.LeftButton and not pan_or_zoom:
            self._finish_tool(point)
        self._rubber = None
        self._push_shapes()
        self.refresh()

    def wheelEvent(self, ev: QWheelEvent) -> None:  # noqa: N802 (Qt override)
        if self.scene.volume is None:
            return
        notches = ev.angleDelta().y() / 120.0
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.user_framed = True
            self.scene.zoom(1.15**notches, about=self.display_point(ev))
            self.refresh()
        else:
            # Wheel towards the user goes forward (next slice), as in most PACS viewers.
            self.step(-int(math.copysign(max(1, round(abs(notches))), notches)) if notches else 0)

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        key = Qt.Key(ev.key())
        steps = {
            Qt.Key.Key_Up: -1,
            Qt.Key.Key_Down: 1,
            Qt.Key.Key_PageUp: -10,
            Qt.Key.Key_PageDown: 10,
        }
        if self.scene.volume is None:
            return
        if key in steps:
            self.step(steps[key])
        elif key == Qt.Key.Key_Home:
            self.go_to(0)
        elif key == Qt.Key.Key_End:
            self.go_to(self.scene.slice_count - 1)
        else:
            super().keyPressEvent(ev)

    # -- actions -------------------------------------------------------------------------------
    def step(self, delta: int) -> None:
        self.go_to(self.scene.slice_index + delta)

    def go_to(self, index: int, *, render: bool = True) -> None:
        """Show slice ``index``; ``render=False`` leaves the redraw to the caller."""
        before = self.scene.slice_index
        shown = self.scene.set_slice(index)
        if shown != before:
            self.slice_changed.emit(shown)
            if render:
                self.refresh()

    def set_window(self, center: float, width: float) -> None:
        self.scene.set_window(center, width)
        self.window_changed.emit(self.scene.center, self.scene.width)
        self.refresh()

    def reset_view(self) -> None:
        self.user_framed = False
        self.scene.reset_view()
        self.refresh()

    def zoom(self, factor: float) -> None:
        self.user_framed = True
        self.scene.zoom(factor)
        self.refresh()

    # -- drags and tools -----------------------------------------------------------------------
    def _drag(self, point: tuple[float, float], dx: float, dy: float) -> None:
        scene = self.scene
        left = self._button == Qt.MouseButton.LeftButton
        mods = self._modifiers
        if self._button == Qt.MouseButton.RightButton:
            # Window/level: speed proportional to the width so narrow and wide windows
            # both feel controllable.
            rate = max(scene.width, 10.0) / 300.0
            self.set_window(scene.center + dy * rate, max(1.0, scene.width + dx * rate))
        elif self._button == Qt.MouseButton.MiddleButton or (
            left and mods & Qt.KeyboardModifier.ShiftModifier
        ):
            self.user_framed = True
            scene.pan(dx, dy)
            self.refresh()
        elif left and mods & Qt.KeyboardModifier.ControlModifier:
            self.user_framed = True
            scene.zoom(1.01**dy)
            self.refresh()
        elif left and self.tool == "navigate":
            self._accum += dy
            steps = int(self._accum / _PIXELS_PER_SLICE)
            if steps:
                self._accum -= steps * _PIXELS_PER_SLICE
                self.step(-steps)
        elif left:
            self._path.append(scene.display_to_index(*point))
            self._rubber = self._tool_shape(self._path[0], self._path[-1])
            self._push_shapes()
            self.refresh()

    def _tool_shape(self, a: np.ndarray, b: np.ndarray, label: str = "") -> Shape:
        axes = self.scene.axes
        if self.tool in ("box", "ellipse"):
            corners = _rectangle(a, b, axes.right, axes.up)
            if self.tool == "ellipse":
                corners = _ellipse(a, b, axes.right, axes.up)
            pts, closed = corners, True
        elif self.tool == "outline":
            pts, closed = np.asarray(self._path), True
        else:
            pts, closed = np.asarray([a, b]), False
        return Shape(pts, axes.normal, self.scene.slice_index, closed, self.tool_color, label)

    def _finish_tool(self, point: tuple[float, float]) -> None:
        scene = self.scene
        volume = scene.volume
        assert volume is not None and self._press is not None
        end = scene.display_to_index(*point)
        start = self._path[0]
        if self.tool == "navigate" or (self.tool == "point" and not self._dragged):
            if self.tool == "navigate" and self._dragged:
                return
            self.cursor_moved.emit(end)
            if self.tool == "point":
                self._emit_region("point", np.asarray([end]))
            return
        if not self._dragged:
            return
        if self.tool == "box":
            self._emit_region("box", np.asarray([start, end]))
        elif self.tool == "outline":
            self._path.append(end)
            self._emit_region("outline", np.asarray(self._path))
        elif self.tool == "distance":
            mm = distance_mm(volume, start, end)
            unit = "mm" if volume.spacing_calibrated else "px"
            text = f"{mm:.1f} {unit}"
            self.measured.emit(("distance", text, self._tool_shape(start, end, text)))
        elif self.tool == "ellipse":
            normal_kji = 2 - scene.axes.normal
            stats = ellipse_stats(
                volume, normal_kji, scene.slice_index, (start + end) / 2, (end - start) / 2
            )
            unit = volume.units or "value"
            text = f"mean {stats.mean:.1f} SD {stats.sd:.1f} {unit} (n={stats.count})"
            self.measured.emit(("ellipse", text, self._tool_shape(start, end, text)))

    def _emit_region(self, kind: str, index: np.ndarray) -> None:
        volume = self.scene.volume
        assert volume is not None
        region = Region(
            kind=kind,
            plane=self.scene.axes.name,
            slice_index=self.scene.slice_index,
            index=index,
            patient=volume.index_to_patient(index),
        )
        logger.debug("region picked: %s %s", kind, index.tolist())
        self.region_picked.emit(region)

    def _hover(self, point: tuple[float, float]) -> None:
        volume = self.scene.volume
        assert volume is not None
        kji = self.scene.display_to_index(*point)
        idx = np.round(kji).astype(int)
        if np.any(idx < 0) or np.any(idx >= np.asarray(volume.shape)):
            self.hovered.emit("")
            return
        lps = volume.index_to_patient(kji)
        value = volume.voxels[tuple(idx)]
        shown = "RGB " + str(tuple(int(v) for v in value)) if volume.is_color else f"{value:g}"
        unit = f" {volume.units}" if volume.units and not volume.is_color else ""
        self.hovered.emit(
            f"pixel (x {idx[2]}, y {idx[1]}, slice {idx[0] + 1})   "
            f"LPS ({lps[0]:.1f}, {lps[1]:.1f}, {lps[2]:.1f}) mm   {shown}{unit}"
        )

    def close_view(self) -> None:
        """Release the VTK window before Qt destroys the widget (avoids exit crashes)."""
        self.scene.close()
        self.GetRenderWindow().Finalize()


def _rectangle(a: np.ndarray, b: np.ndarray, right: int, up: int) -> np.ndarray:
    """Four corners (k, j, i) of the screen-aligned rectangle spanned by a and b."""
    ra, ua = 2 - right, 2 - up  # index-world axis -> kji position
    corners = []
    for r, u in ((a[ra], a[ua]), (b[ra], a[ua]), (b[ra], b[ua]), (a[ra], b[ua])):
        c = np.array(a, dtype=float)
        c[ra], c[ua] = r, u
        corners.append(c)
    return np.asarray(corners)


def _ellipse(a: np.ndarray, b: np.ndarray, right: int, up: int, n: int = 48) -> np.ndarray:
    ra, ua = 2 - right, 2 - up
    center = (np.asarray(a) + np.asarray(b)) / 2.0
    radius = (np.asarray(b) - np.asarray(a)) / 2.0
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    pts = np.repeat(center[None, :], n, axis=0)
    pts[:, ra] = center[ra] + radius[ra] * np.cos(t)
    pts[:, ua] = center[ua] + radius[ua] * np.sin(t)
    return pts
