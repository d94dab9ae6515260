"""Volume: voxels plus their place in the patient.

Conventions, used everywhere in VoxRad:

* ``voxels`` is indexed ``[k, j, i]`` = ``[slice, row, column]`` (C order, as DICOM stores
  a slice); colour images add a trailing channel axis ``[k, j, i, c]``.
* ``spacing`` is ``(slice, row, column)`` in mm: slice first, like the array.
* ``direction`` is a 3x3 matrix whose **columns** are the unit vectors, in patient LPS
  coordinates, of increasing ``k``, ``j`` and ``i``. For an axial CT that is
  ``[normal, column direction, row direction]`` of ImageOrientationPatient.
* ``origin`` is the LPS position (mm) of the centre of voxel ``[0, 0, 0]``.

So a voxel index ``(k, j, i)`` sits at ``origin + direction @ (spacing * (k, j, i))``.
VTK and ITK order axes the other way round (x = column first); ``spacing_xyz`` and
``direction_xyz`` give their view.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from voxrad.core.windowing import CT_PRESETS, WindowPreset, auto_window


@dataclass(frozen=True, eq=False)
class Volume:
    """One image series as a regular grid in patient space."""

    voxels: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    modality: str = "OT"
    #: Units of the voxel values after rescale: "HU" for CT, "" when unknown.
    units: str = ""
    #: MONOCHROME1 means "low values are white": display inverts by default.
    photometric: str = "MONOCHROME2"
    window_presets: tuple[WindowPreset, ...] = ()
    #: False when pixel spacing was not in the file (PNG, uncalibrated captures): mm are pixels.
    spacing_calibrated: bool = True
    #: Geometry or content notes a reader must see (tilt corrected, gaps, ...).
    warnings: tuple[str, ...] = ()
    #: Description shown in the UI (series description or file name); never patient data.
    label: str = ""

    def __post_init__(self) -> None:
        if self.voxels.ndim not in (3, 4):
            raise ValueError(f"voxels must be 3-D or 4-D (colour), got shape {self.voxels.shape}")
        direction = np.asarray(self.direction, dtype=np.float64)
        if direction.shape != (3, 3):
            raise ValueError("direction must be 3x3")
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "spacing", tuple(float(s) for s in self.spacing))
        object.__setattr__(self, "origin", tuple(float(o) for o in self.origin))
        if min(self.spacing) <= 0:
            raise ValueError(f"spacing must be positive, got {self.spacing}")

    # -- shape ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """(slices, rows, columns)."""
        k, j, i = self.voxels.shape[:3]
        return int(k), int(j), int(i)

    @property
    def is_color(self) -> bool:
        return self.voxels.ndim == 4

    @property
    def is_single_image(self) -> bool:
        """A radiograph or photo: one slice, so no MPR or 3D."""
        return self.shape[0] == 1

    @property
    def spacing_xyz(self) -> tuple[float, float, float]:
        """Spacing in (column, row, slice) order, as VTK and ITK want it."""
        return self.spacing[2], self.spacing[1], self.spacing[0]

    @property
    def direction_xyz(self) -> np.ndarray:
        """Direction with columns in (column, row, slice) order, as VTK and ITK want it."""
        return self.direction[:, ::-1].copy()

    # -- geometry ------------------------------------------------------------------------------
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous ``(k, j, i, 1)`` to LPS mm."""
        out = np.eye(4)
        out[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        out[:3, 3] = self.origin
        return out

    def index_to_patient(self, kji: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """LPS mm of one index ``(k, j, i)`` or of an ``(N, 3)`` array of them."""
        idx = np.asarray(kji, dtype=np.float64)
        scaled = idx * np.asarray(self.spacing)
        return np.asarray(self.origin) + scaled @ self.direction.T

    def patient_to_index(self, lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Continuous index ``(k, j, i)`` of one LPS point or an ``(N, 3)`` array of them."""
        p = np.asarray(lps, dtype=np.float64) - np.asarray(self.origin)
        return (p @ np.linalg.inv(self.direction).T) / np.asarray(self.spacing)

    # -- values --------------------------------------------------------------------------------
    def value_range(self) -> tuple[float, float]:
        """Minimum and maximum voxel value (after rescale)."""
        return float(self.voxels.min()), float(self.voxels.max())

    def presets(self) -> tuple[WindowPreset, ...]:
        """Windows from the file first, then the standard CT table for CT."""
        extra = CT_PRESETS if self.modality == "CT" else ()
        return self.window_presets + extra

    def default_window(self) -> tuple[float, float]:
        """The window to open with: the file's first, else a CT abdomen window, else auto."""
        if self.window_presets:
            first = self.window_presets[0]
            return first.center, first.width
        if self.modality == "CT" and self.units == "HU":
            return 40.0, 400.0
        return auto_window(self.voxels)

    def slice_image(self, k: int) -> np.ndarray:
        """The acquired slice ``k`` as (rows, columns[, channels])."""
        if not 0 <= k < self.shape[0]:
            raise IndexError(f"slice {k} outside 0..{self.shape[0] - 1}")
        return self.voxels[k]

    def with_warnings(self, *extra: str) -> Volume:
        """A copy with more warnings attached."""
        return replace(self, warnings=self.warnings + tuple(extra))
