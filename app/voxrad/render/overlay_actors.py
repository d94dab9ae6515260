"""VTK actors that draw an :class:`~voxrad.core.overlay.OverlayLayer` on one slice plane.

Geometry is built in index world (mm) on the plane being shown, a little towards the camera,
so it stays on the same pixels at any zoom or pan. Items whose 3-D extent does not cross the
current plane are hidden; a box crossed by an orthogonal (MPR) plane shows as the thin
rectangle where it meets that plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vtkmodules.vtkCommonCore import vtkPoints, vtkUnsignedCharArray
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer, vtkTextActor

import voxrad.render.backends  # noqa: F401  (registers VTK implementations)
from voxrad.core.overlay import OverlayBox, OverlayCallout, OverlayLayer, OverlayPoint
from voxrad.render.planes import PlaneAxes

_HIGHLIGHT_WIDTH = 4.0
_NORMAL_WIDTH = 2.0


def _rgb(color: tuple[float, float, float]) -> tuple[int, int, int]:
    r, g, b = (round(255 * max(0.0, min(1.0, c))) for c in color)
    return r, g, b


class _LineSet:
    """One polydata of coloured line loops or vertices with its actor."""

    def __init__(self, *, width: float, points_as_spheres: bool = False) -> None:
        self.points = vtkPoints()
        self.cells = vtkCellArray()
        self.colors = vtkUnsignedCharArray()
        self.colors.SetNumberOfComponents(3)
        self.poly = vtkPolyData()
        self.mapper = vtkPolyDataMapper()
        self.mapper.SetInputData(self.poly)
        self.actor = vtkActor()
        self.actor.SetMapper(self.mapper)
        prop = self.actor.GetProperty()
        prop.SetLineWidth(width)
        prop.SetPointSize(3 * width + 4)
        prop.LightingOff()
        if points_as_spheres:
            prop.SetRenderPointsAsSpheres(True)
        self.actor.PickableOff()
        self.vertices = points_as_spheres

    def reset(self) -> None:
        self.points = vtkPoints()
        self.cells = vtkCellArray()
        self.colors = vtkUnsignedCharArray()
        self.colors.SetNumberOfComponents(3)

    def add_loop(self, corners: list[np.ndarray], color: tuple[int, int, int]) -> None:
        ids = [self.points.InsertNextPoint(*map(float, c)) for c in corners]
        self.cells.InsertNextCell(len(ids) + 1)
        for pid in [*ids, ids[0]]:
            self.cells.InsertCellPoint(pid)
        self.colors.InsertNextTuple3(*color)

    def add_vertex(self, at: np.ndarray, color: tuple[int, int, int]) -> None:
        pid = self.points.InsertNextPoint(*map(float, at))
        self.cells.InsertNextCell(1)
        self.cells.InsertCellPoint(pid)
        self.colors.InsertNextTuple3(*color)

    def commit(self) -> None:
        poly = vtkPolyData()
        poly.SetPoints(self.points)
        if self.vertices:
            poly.SetVerts(self.cells)
        else:
            poly.SetLines(self.cells)
        poly.GetCellData().SetScalars(self.colors)
        self.poly = poly
        self.mapper.SetInputData(poly)
        self.actor.SetVisibility(self.cells.GetNumberOfCells() > 0)


class OverlayActors:
    """Draws the items of a layer that cross the current plane of one slice scene."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self.renderer = renderer
        self.lines = _LineSet(width=_NORMAL_WIDTH)
        self.highlight_lines = _LineSet(width=_HIGHLIGHT_WIDTH)
        self.points = _LineSet(width=_NORMAL_WIDTH, points_as_spheres=True)
        for s in (self.lines, self.highlight_lines, self.points):
            renderer.AddActor(s.actor)
        self._labels: list[vtkTextActor] = []
        #: ids drawn on the current plane, for tests and for the conversation panel.
        self.visible_ids: list[str] = []

    def update(
        self,
        layer: OverlayLayer | None,
        axes: PlaneAxes,
        spacing_xyz: tuple[float, float, float],
        slice_index: int,
        towards_viewer: float,
    ) -> None:
        """Rebuild the geometry for ``layer`` on plane ``axes`` at ``slice_index``."""
        for s in (self.lines, self.highlight_lines, self.points):
            s.reset()
        used = 0
        self.visible_ids = []
        spacing = np.asarray(spacing_xyz)
        plane_mm = slice_index * spacing[axes.normal] + towards_viewer
        highlighted = layer.highlighted if layer is not None else None
        for item in layer or ():
            label = ""
            anchor: np.ndarray | None = None
            if isinstance(item, OverlayBox):
                extent = item.index_extent()
                lo, hi = extent[axes.normal]
                if not lo <= slice_index < hi:
                    continue
                corners = []
                (ra, rb), (ua, ub) = extent[axes.right], extent[axes.up]
                for r, u in ((ra, ua), (rb, ua), (rb, ub), (ra, ub)):
                    c = np.zeros(3)
                    c[axes.right] = r * spacing[axes.right]
                    c[axes.up] = u * spacing[axes.up]
                    c[axes.normal] = plane_mm
                    corners.append(c)
                target = self.highlight_lines if item.id == highlighted else self.lines
                target.add_loop(corners, _rgb(item.color))
                label = item.label
                # Label above the box's top edge on screen.
                top_u = ub if axes.up_sign > 0 else ua
                left_r = ra if axes.right_sign > 0 else rb
                anchor = np.zeros(3)
                anchor[axes.right] = left_r * spacing[axes.right]
                anchor[axes.up] = top_u * spacing[axes.up]
                anchor[axes.normal] = plane_mm
            elif isinstance(item, OverlayPoint | OverlayCallout):
                kji = (item.k, item.row, item.col)
                ijk = np.array([kji[2], kji[1], kji[0]], dtype=float)
                if abs(ijk[axes.normal] - slice_index) > 0.5:
                    continue
                at = ijk * spacing
                at[axes.normal] = plane_mm
                self.points.add_vertex(at, _rgb(item.color))
                label = item.text if isinstance(item, OverlayCallout) else item.label
                anchor = at
            else:  # masks are drawn by MaskLayer
                continue
            self.visible_ids.append(item.id)
            if label and anchor is not None:
                text = self._label(used)
                used += 1
                text.SetInput(label)
                text.GetPositionCoordinate().SetValue(*map(float, anchor))
                prop = text.GetTextProperty()
                prop.SetColor(*item.color)
                prop.SetBold(item.id == highlighted)
                text.SetVisibility(True)
        for s in (self.lines, self.highlight_lines, self.points):
            s.commit()
        for text in self._labels[used:]:
            text.SetVisibility(False)

    def _label(self, n: int) -> vtkTextActor:
        while len(self._labels) <= n:
            text = vtkTextActor()
            text.GetPositionCoordinate().SetCoordinateSystemToWorld()
            prop = text.GetTextProperty()
            prop.SetFontSize(14)
            prop.SetShadow(True)
            prop.SetVerticalJustificationToBottom()
            text.PickableOff()
            self.renderer.AddViewProp(text)
            self._labels.append(text)
        return self._labels[n]


@dataclass(frozen=True, eq=False)
class Shape:
    """A polyline drawn by a tool (measurement, rubber band) on one plane and slice.

    ``points_kji`` are continuous voxel indices; ``normal`` is the index-world axis of the
    plane it was drawn on (0 = i, 1 = j, 2 = k), so it shows only there.
    """

    points_kji: np.ndarray
    normal: int
    slice_index: int
    closed: bool = False
    color: tuple[float, float, float] = (0.3, 0.9, 1.0)
    label: str = ""


class ShapeActors:
    """Tool shapes on the current plane: measurement lines, ellipses, rubber bands."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self.renderer = renderer
        self.lines = _LineSet(width=_NORMAL_WIDTH)
        renderer.AddActor(self.lines.actor)
        self._labels: list[vtkTextActor] = []

    def update(
        self,
        shapes: list[Shape],
        axes: PlaneAxes,
        spacing_xyz: tuple[float, float, float],
        slice_index: int,
        towards_viewer: float,
    ) -> None:
        self.lines.reset()
        spacing = np.asarray(spacing_xyz)
        used = 0
        for shape in shapes:
            if shape.normal != axes.normal or shape.slice_index != slice_index:
                continue
            world = np.asarray(shape.points_kji, dtype=float)[:, ::-1] * spacing
            world[:, axes.normal] = slice_index * spacing[axes.normal] + towards_viewer
            color = _rgb(shape.color)
            ids = [self.lines.points.InsertNextPoint(*map(float, p)) for p in world]
            if shape.closed:
                ids.append(ids[0])
            self.lines.cells.InsertNextCell(len(ids))
            for pid in ids:
                self.lines.cells.InsertCellPoint(pid)
            self.lines.colors.InsertNextTuple3(*color)
            if shape.label:
                while len(self._labels) <= used:
                    text = vtkTextActor()
                    text.GetPositionCoordinate().SetCoordinateSystemToWorld()
                    text.GetTextProperty().SetFontSize(13)
                    text.GetTextProperty().SetShadow(True)
                    text.PickableOff()
                    self.renderer.AddViewProp(text)
                    self._labels.append(text)
                text = self._labels[used]
                used += 1
                text.SetInput(shape.label)
                text.GetTextProperty().SetColor(*shape.color)
                text.GetPositionCoordinate().SetValue(*map(float, world[-1]))
                text.SetVisibility(True)
        self.lines.commit()
        for text in self._labels[used:]:
            text.SetVisibility(False)
