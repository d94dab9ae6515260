"""Which voxel axes a view plane shows, and which way round (numpy only).

VoxRad's VTK scenes place a volume in **index world**: ``(x, y, z) = (i * sx, j * sy, k * sz)``
in mm, where ``i, j, k`` are the column, row and slice indices and ``sx, sy, sz`` their
spacing. Distances there are true millimetres (the grid is orthogonal), and no voxel is
resampled or copied. Patient orientation is applied by the camera instead: for each plane this
module picks the index axis that is the plane normal and the signed axes that point screen-right
and screen-up, from the volume's LPS direction matrix, following radiological convention:

* axial: patient right on screen left, anterior up (seen from the feet);
* coronal: patient right on screen left, superior up (seen from the front);
* sagittal: anterior on screen left, superior up (seen from the patient's left);
* acquired: the slices as stored, row 0 at the top (radiographs, photos, single images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxrad.core.geometry import orientation_label
from voxrad.core.volume import Volume

#: Desired screen-right and screen-up directions (LPS) per plane.
_PLANE_SCREEN: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
}

PLANES = ("axial", "coronal", "sagittal", "acquired")

_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "S": "I", "I": "S"}


@dataclass(frozen=True)
class PlaneAxes:
    """Index-world axes of one view: 0 = column (i), 1 = row (j), 2 = slice (k)."""

    name: str
    normal: int
    right: int
    right_sign: int
    up: int
    up_sign: int

    def screen_vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit vectors (index world) of screen right, screen up and towards the viewer."""
        right = np.zeros(3)
        right[self.right] = self.right_sign
        up = np.zeros(3)
        up[self.up] = self.up_sign
        return right, up, np.cross(right, up)


def plane_axes(volume: Volume, name: str) -> PlaneAxes:
    """The axes a view called ``name`` shows for ``volume``.

    Oblique volumes snap each screen direction to the nearest voxel axis (no resampling);
    the orientation letters then name the true, oblique direction ("LP", ...).
    """
    if name == "acquired":
        return PlaneAxes("acquired", normal=2, right=0, right_sign=1, up=1, up_sign=-1)
    if name not in _PLANE_SCREEN:
        raise ValueError(f"unknown plane {name!r}; expected one of {PLANES}")
    d_xyz = volume.direction_xyz  # columns: LPS vectors of +i, +j, +k
    right_lps, up_lps = (np.asarray(v) for v in _PLANE_SCREEN[name])
    normal_lps = np.cross(right_lps, up_lps)
    weights_n = np.abs(d_xyz.T @ normal_lps)
    normal = int(np.argmax(weights_n))
    remaining = [a for a in range(3) if a != normal]
    c_right = d_xyz.T @ right_lps
    right = max(remaining, key=lambda a: abs(c_right[a]))
    up = next(a for a in remaining if a != right)
    c_up = d_xyz.T @ up_lps
    return PlaneAxes(
        name=name,
        normal=normal,
        right=right,
        right_sign=1 if c_right[right] >= 0 else -1,
        up=up,
        up_sign=1 if c_up[up] >= 0 else -1,
    )


def orientation_letters(volume: Volume, axes: PlaneAxes) -> dict[str, str]:
    """Letters for the four screen edges: keys "left", "right", "top", "bottom"."""
    d_xyz = volume.direction_xyz
    right = orientation_label(axes.right_sign * d_xyz[:, axes.right], max_letters=2)
    top = orientation_label(axes.up_sign * d_xyz[:, axes.up], max_letters=2)
    return {
        "right": right,
        "left": "".join(_OPPOSITE[c] for c in right),
        "top": top,
        "bottom": "".join(_OPPOSITE[c] for c in top),
    }


def index_world_spacing(volume: Volume) -> tuple[float, float, float]:
    """(sx, sy, sz): spacing of the i, j, k axes in mm."""
    return volume.spacing_xyz


def index_world_to_kji(volume: Volume, xyz: np.ndarray) -> np.ndarray:
    """Continuous voxel index ``(k, j, i)`` of an index-world point (mm)."""
    sx, sy, sz = volume.spacing_xyz
    x, y, z = (float(v) for v in xyz)
    return np.array([z / sz, y / sy, x / sx])


def kji_to_index_world(volume: Volume, kji: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """Index-world point (mm) of a continuous voxel index ``(k, j, i)``."""
    sx, sy, sz = volume.spacing_xyz
    k, j, i = (float(v) for v in kji)
    return np.array([i * sx, j * sy, k * sz])


def axis_length(volume: Volume, axis: int) -> int:
    """Number of voxels along index-world axis ``axis`` (0 = i, 1 = j, 2 = k)."""
    k, j, i = volume.shape
    return (i, j, k)[axis]
