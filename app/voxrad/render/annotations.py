"""Screen-space annotations of a slice view: orientation letters, corner text, scale bar."""

from __future__ import annotations

import math

from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import (
    vtkActor2D,
    vtkPolyDataMapper2D,
    vtkRenderer,
    vtkTextActor,
)

import voxrad.render.backends  # noqa: F401  (registers VTK implementations)

_TEXT_COLOR = (0.85, 0.9, 1.0)
_CASE = {"left": "Left", "right": "Right", "center": "Centered", "top": "Top", "bottom": "Bottom"}
_NICE_MM = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


def _text(renderer: vtkRenderer, size: int = 14) -> vtkTextActor:
    actor = vtkTextActor()
    prop = actor.GetTextProperty()
    prop.SetFontSize(size)
    prop.SetColor(*_TEXT_COLOR)
    prop.SetShadow(True)
    actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    actor.PickableOff()
    renderer.AddViewProp(actor)
    return actor


def nice_scale_length(mm_per_pixel: float, target_pixels: float) -> float:
    """A round length (mm) close to, not above, ``target_pixels`` on screen."""
    want = mm_per_pixel * target_pixels
    best = float(_NICE_MM[0])
    for n in _NICE_MM:
        if n <= want:
            best = float(n)
    return best


class SliceAnnotations:
    """Letters at the four edges, info text in the corners and a millimetre scale bar."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self.renderer = renderer
        self.letters = {edge: _text(renderer, 18) for edge in ("left", "right", "top", "bottom")}
        placement = {
            "left": (0.01, 0.5, "left", "center"),
            "right": (0.99, 0.5, "right", "center"),
            "top": (0.5, 0.99, "center", "top"),
            "bottom": (0.5, 0.01, "center", "bottom"),
        }
        for edge, (x, y, h, v) in placement.items():
            actor = self.letters[edge]
            actor.GetPositionCoordinate().SetValue(x, y)
            prop = actor.GetTextProperty()
            prop.SetBold(True)
            getattr(prop, f"SetJustificationTo{_CASE[h]}")()
            getattr(prop, f"SetVerticalJustificationTo{_CASE[v]}")()
        self.top_left = _text(renderer)
        self.top_left.GetPositionCoordinate().SetValue(0.01, 0.99)
        self.top_left.GetTextProperty().SetVerticalJustificationToTop()
        self.bottom_left = _text(renderer)
        self.bottom_left.GetPositionCoordinate().SetValue(0.01, 0.01)
        self.bottom_right = _text(renderer, 12)
        self.bottom_right.GetPositionCoordinate().SetValue(0.99, 0.05)
        self.bottom_right.GetTextProperty().SetJustificationToRight()
        # Scale bar: a polyline in viewport pixels, rebuilt before each render.
        self._bar_points = vtkPoints()
        self._bar_poly = vtkPolyData()
        self._bar_mapper = vtkPolyDataMapper2D()
        self._bar_mapper.SetInputData(self._bar_poly)
        self.bar = vtkActor2D()
        self.bar.SetMapper(self._bar_mapper)
        self.bar.GetProperty().SetColor(*_TEXT_COLOR)
        self.bar.GetProperty().SetLineWidth(2)
        self.bar.PickableOff()
        renderer.AddViewProp(self.bar)
        self.scale_mm = 0.0

    def set_letters(self, letters: dict[str, str]) -> None:
        for edge, actor in self.letters.items():
            actor.SetInput(letters.get(edge, ""))

    def set_info(self, top_left: str, bottom_left: str) -> None:
        self.top_left.SetInput(top_left)
        self.bottom_left.SetInput(bottom_left)

    def update_scale_bar(self, mm_per_pixel: float, calibrated: bool = True) -> None:
        """Redraw the bar for the current zoom (call before rendering)."""
        width, height = self.renderer.GetSize()
        if width <= 0 or height <= 0 or not math.isfinite(mm_per_pixel) or mm_per_pixel <= 0:
            self.bar.SetVisibility(False)
            self.bottom_right.SetInput("")
            return
        length = nice_scale_length(mm_per_pixel, width * 0.2)
        pixels = length / mm_per_pixel
        x1 = width * 0.99
        x0 = x1 - pixels
        y = height * 0.03
        tick = 5.0
        points = vtkPoints()
        for x, yy in ((x0, y + tick), (x0, y), (x1, y), (x1, y + tick)):
            points.InsertNextPoint(x, yy, 0.0)
        lines = vtkCellArray()
        lines.InsertNextCell(4)
        for n in range(4):
            lines.InsertCellPoint(n)
        poly = vtkPolyData()
        poly.SetPoints(points)
        poly.SetLines(lines)
        self._bar_mapper.SetInputData(poly)
        self.bar.SetVisibility(True)
        unit = "mm" if calibrated else "px"
        self.bottom_right.SetInput(f"{length:g} {unit}")
        self.scale_mm = length
