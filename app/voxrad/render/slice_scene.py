"""A 2-D slice view of a Volume: image, window/level, overlays, letters, scale bar, crosshair.

The scene owns a vtkRenderer and knows nothing of Qt: a widget feeds it display coordinates
(VTK convention, origin bottom-left, in pixels) and calls :meth:`SliceScene.render`.
"""

from __future__ import annotations

import logging

import numpy as np
from vtkmodules.vtkCommonCore import vtkCommand, vtkLookupTable, vtkPoints, vtkUnsignedCharArray
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkImageData, vtkPolyData
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkImageProperty,
    vtkImageSlice,
    vtkImageSliceMapper,
    vtkPolyDataMapper,
    vtkRenderer,
)
from vtkmodules.vtkRenderingImage import vtkImageStack

import voxrad.render.backends  # noqa: F401  (registers VTK implementations)
from voxrad.core.overlay import OverlayLayer
from voxrad.core.volume import Volume
from voxrad.render.annotations import SliceAnnotations
from voxrad.render.image_data import volume_to_image_data
from voxrad.render.mask_layer import MaskLayer
from voxrad.render.overlay_actors import OverlayActors, Shape, ShapeActors
from voxrad.render.planes import (
    PlaneAxes,
    axis_length,
    index_world_to_kji,
    kji_to_index_world,
    orientation_letters,
    plane_axes,
)

logger = logging.getLogger(__name__)

#: Crosshair colours by the plane a line represents (3D Slicer's convention).
_PLANE_COLORS = {2: (0.95, 0.35, 0.35), 1: (0.45, 0.85, 0.45), 0: (0.95, 0.85, 0.3)}


class SliceScene:
    """One plane of one volume in a renderer."""

    def __init__(self, renderer: vtkRenderer | None = None) -> None:
        self.renderer = renderer if renderer is not None else vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        self.mapper = vtkImageSliceMapper()
        self.property = vtkImageProperty()
        self.property.SetInterpolationTypeToLinear()
        self.lut = vtkLookupTable()
        self.lut.SetSaturationRange(0.0, 0.0)
        self.lut.SetHueRange(0.0, 0.0)
        self.lut.SetValueRange(0.0, 1.0)
        self.lut.SetNumberOfTableValues(256)
        self.lut.SetRampToLinear()  # the default S-curve would distort the DICOM VOI ramp
        self.lut.Build()
        self.property.SetLookupTable(self.lut)
        self.property.UseLookupTableScalarRangeOff()
        self.image_actor = vtkImageSlice()
        self.image_actor.SetMapper(self.mapper)
        self.image_actor.SetProperty(self.property)
        self.masks = MaskLayer()
        # The stack draws masks above the image in layer order, without depth fighting.
        self.stack = vtkImageStack()
        self.stack.AddImage(self.image_actor)
        self.stack.AddImage(self.masks.actor)
        self.stack.SetActiveLayer(0)
        # Added on set_volume: a mapper without input logs a pipeline error at every render.
        self.overlays = OverlayActors(self.renderer)
        self.shape_actors = ShapeActors(self.renderer)
        self.shapes: list[Shape] = []
        self.annotations = SliceAnnotations(self.renderer)
        self._cross_poly = vtkPolyData()
        self._cross_mapper = vtkPolyDataMapper()
        self._cross_mapper.SetInputData(self._cross_poly)
        self.cross_actor = vtkActor()
        self.cross_actor.SetMapper(self._cross_mapper)
        self.cross_actor.GetProperty().LightingOff()
        self.cross_actor.GetProperty().SetOpacity(0.8)
        self.cross_actor.PickableOff()
        self.cross_actor.SetVisibility(False)
        self.renderer.AddActor(self.cross_actor)
        self.renderer.AddObserver(vtkCommand.StartEvent, self._before_render)
        self.volume: Volume | None = None
        self.image: vtkImageData | None = None
        self.axes = PlaneAxes("acquired", 2, 0, 1, 1, -1)
        self.slice_index = 0
        self.center = 40.0
        self.width = 400.0
        self.inverted = False
        self.layer: OverlayLayer | None = None
        self.crosshair_kji: np.ndarray | None = None
        self.show_crosshair = False
        self.label = ""

    # -- content -------------------------------------------------------------------------------
    def set_volume(
        self, volume: Volume, *, image: vtkImageData | None = None, plane: str | None = None
    ) -> None:
        """Show ``volume`` (``image`` lets several views share one vtkImageData)."""
        self.volume = volume
        self.masks.invalidate()
        self.image = image if image is not None else volume_to_image_data(volume)
        self.mapper.SetInputData(self.image)
        if not self.renderer.HasViewProp(self.stack):
            self.renderer.AddViewProp(self.stack)
        if volume.is_color:
            # RGB pixels are shown as they are: no lookup table, no window.
            self.property.SetLookupTable(None)
            self.property.SetColorWindow(255.0)
            self.property.SetColorLevel(127.5)
        else:
            self.property.SetLookupTable(self.lut)
            self.set_window(*volume.default_window())
        self.inverted = False
        self.set_invert(volume.photometric == "MONOCHROME1")
        name = plane or ("acquired" if volume.is_single_image else "axial")
        self.set_plane(name)

    def set_layer(self, layer: OverlayLayer | None) -> None:
        """Draw ``layer`` (shared with other views); redraws whenever it changes."""
        if self.layer is not None:
            self.layer.unsubscribe(self.refresh_overlays)
        self.layer = layer
        if layer is not None:
            layer.subscribe(self.refresh_overlays)
        self.refresh_overlays()

    def set_plane(self, name: str) -> None:
        """Switch to "axial", "coronal", "sagittal" or "acquired"; keeps the crosshair slice."""
        volume = self._need_volume()
        self.axes = plane_axes(volume, name)
        self.mapper.SetOrientation(self.axes.normal)
        self.annotations.set_letters(orientation_letters(volume, self.axes))
        if self.crosshair_kji is not None:
            start = round(self.crosshair_kji[::-1][self.axes.normal])
        else:
            start = self.slice_count // 2
        self.slice_index = -1
        self.set_slice(start)
        self.reset_view()

    @property
    def slice_count(self) -> int:
        return axis_length(self._need_volume(), self.axes.normal)

    def set_slice(self, index: int) -> int:
        """Go to slice ``index`` (clamped); returns the slice shown."""
        index = int(min(max(index, 0), self.slice_count - 1))
        if index == self.slice_index:
            return index
        self.slice_index = index
        self.mapper.SetSliceNumber(index)
        self.masks.show_slice(self.axes.normal, index)
        self.refresh_overlays()
        self._update_crosshair()
        self._update_info()
        return index

    def step(self, delta: int) -> int:
        return self.set_slice(self.slice_index + delta)

    # -- window --------------------------------------------------------------------------------
    def set_window(self, center: float, width: float) -> None:
        """Window centre and width in the volume's units (HU for CT)."""
        self.center = float(center)
        self.width = max(float(width), 1.0)
        self.property.SetColorLevel(self.center)
        self.property.SetColorWindow(self.width)
        self._update_info()

    def set_invert(self, inverted: bool) -> None:
        """White-is-low display (MONOCHROME1 default, or the user's toggle)."""
        self.inverted = bool(inverted)
        self.lut.SetValueRange((1.0, 0.0) if self.inverted else (0.0, 1.0))
        self.lut.ForceBuild()
        self.lut.Modified()
        self.property.Modified()

    # -- camera --------------------------------------------------------------------------------
    def reset_view(self) -> None:
        """Fit the whole plane in the viewport, centred, no zoom."""
        volume = self._need_volume()
        _right, up, towards = self.axes.screen_vectors()
        sx = np.asarray(volume.spacing_xyz)
        extent = (np.array([axis_length(volume, a) for a in range(3)]) - 1) * sx
        center = extent / 2.0
        center[self.axes.normal] = self.slice_index * sx[self.axes.normal]
        camera = self.renderer.GetActiveCamera()
        camera.ParallelProjectionOn()
        distance = float(extent.max() + 500.0)
        camera.SetFocalPoint(*center)
        camera.SetPosition(*(center + towards * distance))
        camera.SetViewUp(*up)
        half_w = (extent[self.axes.right] + sx[self.axes.right]) / 2.0
        half_h = (extent[self.axes.up] + sx[self.axes.up]) / 2.0
        width, height = self.renderer.GetSize()
        aspect = width / height if width > 0 and height > 0 else 1.0
        camera.SetParallelScale(max(half_h, half_w / aspect) * 1.02)
        self.renderer.ResetCameraClippingRange()

    def zoom(self, factor: float, about: tuple[float, float] | None = None) -> None:
        """Magnify by ``factor`` (>1 zooms in), keeping display point ``about`` fixed."""
        camera = self.renderer.GetActiveCamera()
        if about is not None:
            before = self.display_to_world(*about)
        camera.SetParallelScale(camera.GetParallelScale() / factor)
        if about is not None:
            after = self.display_to_world(*about)
            self._shift_camera(before - after)

    def pan(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) display pixels."""
        a = self.display_to_world(0.0, 0.0)
        b = self.display_to_world(dx, dy)
        self._shift_camera(a - b)

    def _shift_camera(self, delta: np.ndarray) -> None:
        camera = self.renderer.GetActiveCamera()
        camera.SetFocalPoint(*(np.asarray(camera.GetFocalPoint()) + delta))
        camera.SetPosition(*(np.asarray(camera.GetPosition()) + delta))

    def mm_per_pixel(self) -> float:
        _, height = self.renderer.GetSize()
        if height <= 0:
            return float("nan")
        return 2.0 * self.renderer.GetActiveCamera().GetParallelScale() / height

    # -- coordinates ---------------------------------------------------------------------------
    def display_to_world(self, x: float, y: float) -> np.ndarray:
        """Index-world point (mm) on the current plane under display pixel (x, y)."""
        self.renderer.SetDisplayPoint(float(x), float(y), 0.0)
        self.renderer.DisplayToWorld()
        wx, wy, wz, w = self.renderer.GetWorldPoint()
        point = np.array([wx, wy, wz]) / (w if w else 1.0)
        sx = self._need_volume().spacing_xyz
        point[self.axes.normal] = self.slice_index * sx[self.axes.normal]
        return point

    def display_to_index(self, x: float, y: float) -> np.ndarray:
        """Continuous voxel index ``(k, j, i)`` under display pixel (x, y)."""
        return index_world_to_kji(self._need_volume(), self.display_to_world(x, y))

    def index_to_display(self, kji: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Display pixel (x, y) of a continuous voxel index ``(k, j, i)``."""
        x, y, z = (float(v) for v in kji_to_index_world(self._need_volume(), kji))
        self.renderer.SetWorldPoint(x, y, z, 1.0)
        self.renderer.WorldToDisplay()
        x, y, _ = self.renderer.GetDisplayPoint()
        return np.array([x, y])

    def index_to_patient(self, kji: np.ndarray) -> np.ndarray:
        """LPS mm of a voxel index."""
        return self._need_volume().index_to_patient(kji)

    # -- crosshair -----------------------------------------------------------------------------
    def set_crosshair(self, kji: np.ndarray | None, *, visible: bool | None = None) -> None:
        """Linked cursor position (voxel index); lines show the other two planes."""
        self.crosshair_kji = None if kji is None else np.asarray(kji, dtype=float)
        if visible is not None:
            self.show_crosshair = visible
        self._update_crosshair()

    def _update_crosshair(self) -> None:
        volume = self.volume
        if volume is None or self.crosshair_kji is None or not self.show_crosshair:
            self.cross_actor.SetVisibility(False)
            return
        sx = np.asarray(volume.spacing_xyz)
        at = kji_to_index_world(volume, self.crosshair_kji)
        at[self.axes.normal] = (self.slice_index + 0.3 * self._towards_sign()) * sx[
            self.axes.normal
        ]
        points = vtkPoints()
        lines = vtkCellArray()
        colors = vtkUnsignedCharArray()
        colors.SetNumberOfComponents(3)
        for along, other in ((self.axes.right, self.axes.up), (self.axes.up, self.axes.right)):
            a = at.copy()
            b = at.copy()
            a[along] = -0.5 * sx[along]
            b[along] = (axis_length(volume, along) - 0.5) * sx[along]
            lines.InsertNextCell(2)
            lines.InsertCellPoint(points.InsertNextPoint(*a))
            lines.InsertCellPoint(points.InsertNextPoint(*b))
            colors.InsertNextTuple3(*(int(255 * c) for c in _PLANE_COLORS[other]))
        poly = vtkPolyData()
        poly.SetPoints(points)
        poly.SetLines(lines)
        poly.GetCellData().SetScalars(colors)
        self._cross_mapper.SetInputData(poly)
        self.cross_actor.SetVisibility(True)

    # -- overlays and text ---------------------------------------------------------------------
    def _towards_sign(self) -> float:
        _, _, towards = self.axes.screen_vectors()
        return float(towards[self.axes.normal])

    def refresh_overlays(self) -> None:
        if self.volume is None:
            return
        sx = self.volume.spacing_xyz
        offset = 0.25 * sx[self.axes.normal] * self._towards_sign()
        self.overlays.update(self.layer, self.axes, sx, self.slice_index, offset)
        self.masks.update(self.layer, self.volume)
        self.masks.show_slice(self.axes.normal, self.slice_index)
        self.overlays.visible_ids += self.masks.visible_ids(self.axes.normal, self.slice_index)
        self.shape_actors.update(self.shapes, self.axes, sx, self.slice_index, 1.5 * offset)

    def set_shapes(self, shapes: list[Shape]) -> None:
        """Tool shapes (measurements, rubber band) to draw where they were made."""
        self.shapes = list(shapes)
        self.refresh_overlays()

    def _update_info(self) -> None:
        volume = self.volume
        if volume is None or self.slice_index < 0:
            return
        sx = volume.spacing_xyz
        kji = np.zeros(3)
        kji[2 - self.axes.normal] = self.slice_index
        normal_lps = volume.direction_xyz[:, self.axes.normal]
        position = float(volume.index_to_patient(kji) @ normal_lps)
        title = self.label or self.axes.name.capitalize()
        top = (
            f"{title}\nSlice {self.slice_index + 1}/{self.slice_count}"
            f"\nPos {position:.1f} mm  Thk {sx[self.axes.normal]:.2f} mm"
        )
        if volume.is_color:
            bottom = "RGB"
        else:
            unit = f" {volume.units}" if volume.units else ""
            bottom = f"W {self.width:.0f}  L {self.center:.0f}{unit}" + (
                "  (inverted)" if self.inverted else ""
            )
        self.annotations.set_info(top, bottom)

    def _before_render(self, *_: object) -> None:
        calibrated = self.volume.spacing_calibrated if self.volume is not None else True
        self.annotations.update_scale_bar(self.mm_per_pixel(), calibrated)
        self.renderer.ResetCameraClippingRange()

    def _need_volume(self) -> Volume:
        if self.volume is None:
            raise RuntimeError("no volume is shown yet")
        return self.volume

    def close(self) -> None:
        """Detach from the overlay layer (the renderer goes with its window)."""
        if self.layer is not None:
            self.layer.unsubscribe(self.refresh_overlays)
            self.layer = None
