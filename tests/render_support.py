"""Volumes with known answers and small window helpers for the render and ui tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from voxrad.core.volume import Volume

#: Direction matrices (columns: LPS unit vectors of +k, +j, +i).
#: Axial CT as usually stored: slices towards S, rows towards P, columns towards L.
AXIAL = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
#: A sagittal acquisition: slices towards L, rows towards I (down), columns towards P.
SAGITTAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: The bright square of :func:`box_volume`, in pixel edge coordinates (x0, y0, x1, y1).
BRIGHT_BOX = (30, 20, 60, 40)


def box_volume() -> Volume:
    """Anisotropic axial CT (0.5 x 1.0 mm pixels, 3 mm slices), a bright square on slice 2."""
    voxels = np.full((5, 100, 120), -1000, np.int16)
    x0, y0, x1, y1 = BRIGHT_BOX
    voxels[2, y0:y1, x0:x1] = 1000
    return Volume(
        voxels,
        spacing=(3.0, 1.0, 0.5),
        origin=(-30.0, -50.0, 100.0),
        direction=AXIAL,
        modality="CT",
        units="HU",
    )


def corner_volume(direction: np.ndarray) -> tuple[Volume, tuple[int, int, int]]:
    """A volume with one bright cube at the patient's left-anterior-superior corner.

    Returns the volume and the voxel index (k, j, i) of the cube's centre.
    """
    shape = (40, 40, 40)
    voxels = np.zeros(shape, np.int16)
    spacing = (2.0, 2.0, 2.0)
    vol = Volume(voxels, spacing=spacing, direction=direction, modality="CT", units="HU")
    # The corner nearest to (+L, -P, +S) direction, 8 voxels in from each face.
    lps_axes = direction.T @ np.array([1.0, -1.0, 1.0])  # sign per (k, j, i)
    centre = tuple(8 if s < 0 else n - 9 for s, n in zip(lps_axes, shape, strict=True))
    k, j, i = centre
    voxels[k - 4 : k + 5, j - 4 : j + 5, i - 4 : i + 5] = 1000
    return vol, (k, j, i)


@contextmanager
def render_window(size: tuple[int, int] = (400, 300)) -> Iterator[object]:
    """A plain VTK window on the test X display, finalised afterwards."""
    from vtkmodules.vtkRenderingCore import vtkRenderWindow

    import voxrad.render.backends  # noqa: F401

    window = vtkRenderWindow()
    window.SetSize(*size)
    window.SetMultiSamples(0)
    try:
        yield window
    finally:
        window.Finalize()


def mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) inclusive pixel bounds of the true pixels of a 2-D mask."""
    ys, xs = np.nonzero(mask)
    assert xs.size, "nothing found on screen"
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
