"""Coordinate helpers: patient directions, orientation letters, plane names."""

from __future__ import annotations

import numpy as np

# DICOM patient coordinates are LPS: +x towards the patient's Left, +y Posterior, +z Superior.
_POSITIVE = ("L", "P", "S")
_NEGATIVE = ("R", "A", "I")


def orientation_label(
    vector: np.ndarray | tuple[float, float, float],
    *,
    max_letters: int = 3,
    tolerance: float = 1e-3,
) -> str:
    """Letters naming where an LPS direction points, strongest first ("L", "PS", "RAI").

    Components smaller than ``tolerance`` are ignored, as radiology viewers do, so an axial
    row direction (1, 0, 0) is "L" and a slightly oblique one is "LP".
    """
    v = np.asarray(vector, dtype=np.float64)
    norm = np.linalg.norm(v)
    if norm == 0:
        return ""
    v = v / norm
    order = np.argsort(-np.abs(v))
    letters = []
    for axis in order[:max_letters]:
        if abs(v[axis]) < tolerance:
            break
        letters.append(_POSITIVE[axis] if v[axis] > 0 else _NEGATIVE[axis])
    return "".join(letters)


def plane_name(normal: np.ndarray | tuple[float, float, float]) -> str:
    """ "axial", "coronal" or "sagittal" for a slice normal, by its dominant LPS axis."""
    axis = int(np.argmax(np.abs(np.asarray(normal, dtype=np.float64))))
    return ("sagittal", "coronal", "axial")[axis]


def slice_normal(row_direction: np.ndarray, column_direction: np.ndarray) -> np.ndarray:
    """Unit normal of an image plane from ImageOrientationPatient's two vectors."""
    n = np.cross(np.asarray(row_direction, float), np.asarray(column_direction, float))
    norm = np.linalg.norm(n)
    if norm < 1e-6:
        raise ValueError("row and column directions are parallel")
    return n / norm


def angle_degrees(a: np.ndarray, b: np.ndarray) -> float:
    """Unsigned angle between two vectors, in degrees (0..90 for axes, sign ignored)."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    cos = abs(float(a @ b)) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cos, 0.0, 1.0))))
