"""3-D volume rendering with CT presets, on the mapper that suits the OpenGL at hand.

On a software OpenGL (llvmpipe, SwiftShader: machines and VMs without a GPU)
vtkSmartVolumeMapper still picks its GPU ray caster, which then runs in the CPU rasteriser:
measured on this project's CI machine about 20x slower than vtkFixedPointVolumeRayCastMapper,
VTK's multi-threaded CPU ray caster. So the mapper is chosen from the GL renderer string.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPiecewiseFunction
from vtkmodules.vtkRenderingCore import (
    vtkColorTransferFunction,
    vtkRenderer,
    vtkVolume,
    vtkVolumeProperty,
)
from vtkmodules.vtkRenderingVolume import (
    vtkFixedPointVolumeRayCastMapper,
    vtkVolumeMapper,
)
from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper

import voxrad.render.backends  # noqa: F401  (registers VTK implementations)
from voxrad.core.volume import Volume
from voxrad.render.image_data import volume_to_image_data

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VolumePreset:
    """Colour and opacity transfer functions over HU."""

    name: str
    title: str
    colors: tuple[tuple[float, float, float, float], ...]  # (HU, r, g, b)
    opacity: tuple[tuple[float, float], ...]  # (HU, opacity)
    shade: bool = True


VOLUME_PRESETS: tuple[VolumePreset, ...] = (
    VolumePreset(
        "bone",
        "Bone",
        ((-1000, 0, 0, 0), (150, 0.55, 0.35, 0.25), (300, 0.9, 0.82, 0.65), (1500, 1, 1, 0.95)),
        ((-1000, 0.0), (150, 0.0), (300, 0.35), (700, 0.75), (1500, 0.9)),
    ),
    VolumePreset(
        "soft_tissue",
        "Soft tissue",
        (
            (-1000, 0, 0, 0),
            (-500, 0.6, 0.3, 0.2),
            (-100, 0.85, 0.5, 0.4),
            (40, 0.95, 0.65, 0.55),
            (400, 1, 0.95, 0.85),
        ),
        ((-1000, 0.0), (-300, 0.0), (-100, 0.1), (40, 0.25), (200, 0.4), (1000, 0.6)),
        # Homogeneous organs have no gradient to shade: unshaded colour reads better.
        shade=False,
    ),
    VolumePreset(
        "vessels",
        "Vessels / contrast",
        ((-1000, 0, 0, 0), (120, 0.6, 0.1, 0.1), (250, 0.95, 0.4, 0.3), (600, 1, 0.95, 0.9)),
        ((-1000, 0.0), (120, 0.0), (180, 0.3), (400, 0.7), (1500, 0.85)),
    ),
    VolumePreset(
        "lung",
        "Lung",
        ((-1000, 0.3, 0.55, 0.9), (-600, 0.5, 0.75, 1.0), (-400, 0.9, 0.9, 1.0)),
        ((-1000, 0.0), (-800, 0.0), (-700, 0.08), (-450, 0.12), (-350, 0.0), (3000, 0.0)),
        shade=False,
    ),
)


def find_volume_preset(name: str) -> VolumePreset:
    """The preset called ``name``; raises ``KeyError`` listing the known names."""
    for preset in VOLUME_PRESETS:
        if preset.name == name:
            return preset
    raise KeyError(f"unknown volume preset {name!r}; known: {[p.name for p in VOLUME_PRESETS]}")


def make_mapper(software_gl: bool) -> vtkVolumeMapper:
    """The CPU ray caster on software GL, vtkSmartVolumeMapper (GPU) otherwise."""
    if software_gl:
        return vtkFixedPointVolumeRayCastMapper()
    return vtkSmartVolumeMapper()


class VolumeScene:
    """A rendered volume with a preset, seen from the front (anterior), head up."""

    def __init__(self, renderer: vtkRenderer | None = None, *, software_gl: bool = True) -> None:
        self.renderer = renderer if renderer is not None else vtkRenderer()
        self.renderer.SetBackground(0.05, 0.05, 0.07)
        self.software_gl = software_gl
        self.mapper = make_mapper(software_gl)
        self.property = vtkVolumeProperty()
        self.property.SetInterpolationTypeToLinear()
        self.actor = vtkVolume()
        self.actor.SetMapper(self.mapper)
        self.actor.SetProperty(self.property)
        self.renderer.AddVolume(self.actor)
        self.volume: Volume | None = None
        self.preset = VOLUME_PRESETS[0]

    @property
    def mapper_name(self) -> str:
        return str(self.mapper.GetClassName())

    def set_volume(self, volume: Volume, *, image: vtkImageData | None = None) -> None:
        """Render ``volume`` (scalar volumes only; RGB stacks are not volume-rendered)."""
        if volume.is_color or volume.is_single_image:
            raise ValueError("3-D rendering needs a scalar volume with several slices")
        self.volume = volume
        self.mapper.SetInputData(image if image is not None else volume_to_image_data(volume))
        self.set_preset(self.preset.name)
        self.reset_view()

    def set_preset(self, name: str) -> None:
        """Apply one of :data:`VOLUME_PRESETS` by name."""
        preset = find_volume_preset(name)
        self.preset = preset
        colors = vtkColorTransferFunction()
        for hu, r, g, b in preset.colors:
            colors.AddRGBPoint(hu, r, g, b)
        opacity = vtkPiecewiseFunction()
        for hu, a in preset.opacity:
            opacity.AddPoint(hu, a)
        self.property.SetColor(colors)
        self.property.SetScalarOpacity(opacity)
        if preset.shade:
            self.property.ShadeOn()
            self.property.SetAmbient(0.3)
            self.property.SetDiffuse(0.7)
            self.property.SetSpecular(0.2)
        else:
            self.property.ShadeOff()

    def reset_view(self) -> None:
        """Anterior view, superior up, whole volume in view."""
        volume = self.volume
        if volume is None:
            return
        d_xyz = volume.direction_xyz
        # LPS -> index world is d_xyz.T for orthonormal directions.
        towards = d_xyz.T @ np.array([0.0, -1.0, 0.0])
        up = d_xyz.T @ np.array([0.0, 0.0, 1.0])
        camera = self.renderer.GetActiveCamera()
        camera.ParallelProjectionOff()
        camera.SetFocalPoint(0.0, 0.0, 0.0)
        camera.SetPosition(*towards)
        camera.SetViewUp(*up)
        self.renderer.ResetCamera()
        camera.Zoom(1.4)  # ResetCamera fits the bounding sphere, leaving wide margins

    def rotate(self, azimuth: float, elevation: float) -> None:
        """Turn the camera about the volume (degrees)."""
        camera = self.renderer.GetActiveCamera()
        camera.Azimuth(azimuth)
        camera.Elevation(elevation)
        camera.OrthogonalizeViewUp()
        self.renderer.ResetCameraClippingRange()
