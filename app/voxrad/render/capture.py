"""Read rendered pixels back from a VTK window (Qt's grab() shows VTK areas black)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkIOImage import vtkPNGWriter
from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkWindowToImageFilter

import voxrad.render.backends  # noqa: F401  (registers VTK implementations)


def _filter(render_window: vtkRenderWindow) -> vtkWindowToImageFilter:
    grab = vtkWindowToImageFilter()
    grab.SetInput(render_window)
    grab.SetInputBufferTypeToRGB()
    grab.ReadFrontBufferOff()  # the back buffer holds the frame just rendered
    grab.ShouldRerenderOn()
    grab.Update()
    return grab


def capture_rgb(render_window: vtkRenderWindow) -> np.ndarray:
    """The window's pixels as ``(height, width, 3)`` uint8, row 0 at the **top**."""
    grab = _filter(render_window)
    image = grab.GetOutput()
    width, height, _ = image.GetDimensions()
    pixels = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, 3)
    return np.ascontiguousarray(pixels[::-1])


def save_png(render_window: vtkRenderWindow, path: str | Path) -> Path:
    """Write what the window shows (image, overlays, annotations) to a PNG file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = vtkPNGWriter()
    writer.SetFileName(str(target))
    grab = _filter(render_window)  # kept referenced until the write is done
    writer.SetInputData(grab.GetOutput())
    writer.Write()
    return target
