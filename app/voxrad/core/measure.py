"""Measurements on a volume: distance in mm, ellipse region statistics (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxrad.core.volume import Volume


def distance_mm(volume: Volume, a_kji: np.ndarray, b_kji: np.ndarray) -> float:
    """Distance between two voxel indices in patient space (mm)."""
    pa, pb = volume.index_to_patient(np.asarray([a_kji, b_kji], dtype=float))
    return float(np.linalg.norm(pb - pa))


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the voxels inside a region, in the volume's units (HU for CT)."""

    mean: float
    sd: float
    minimum: float
    maximum: float
    count: int
    area_mm2: float


def ellipse_stats(
    volume: Volume,
    normal_axis: int,
    slice_index: int,
    center_kji: np.ndarray,
    radii_kji: np.ndarray,
) -> RoiStats:
    """Mean/SD of the voxels whose centres lie inside an ellipse on one slice.

    ``normal_axis`` is the array axis (0 = k, 1 = j, 2 = i) the slice is taken across;
    ``center_kji`` and ``radii_kji`` are continuous voxel indices (the normal component is
    ignored). The ellipse is axis-aligned with the two in-plane voxel axes.
    """
    if volume.is_color:
        raise ValueError("region statistics need a scalar (grey-scale) image")
    plane = np.take(volume.voxels, int(slice_index), axis=normal_axis)
    axes = [a for a in range(3) if a != normal_axis]
    center = np.asarray(center_kji, dtype=float)[axes]
    radii = np.maximum(np.abs(np.asarray(radii_kji, dtype=float)[axes]), 0.5)
    u = np.arange(plane.shape[0])[:, None]
    v = np.arange(plane.shape[1])[None, :]
    inside = ((u - center[0]) / radii[0]) ** 2 + ((v - center[1]) / radii[1]) ** 2 <= 1.0
    values = plane[inside].astype(np.float64)
    spacing = np.asarray(volume.spacing)[axes]
    area = float(np.pi * radii[0] * radii[1] * spacing[0] * spacing[1])
    if values.size == 0:
        nan = float("nan")
        return RoiStats(nan, nan, nan, nan, 0, area)
    return RoiStats(
        mean=float(values.mean()),
        sd=float(values.std(ddof=1)) if values.size > 1 else 0.0,
        minimum=float(values.min()),
        maximum=float(values.max()),
        count=int(values.size),
        area_mm2=area,
    )
