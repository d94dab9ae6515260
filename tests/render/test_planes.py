"""Plane axes and letters from the DICOM direction (no window needed)."""

from __future__ import annotations

import numpy as np
import pytest

from render_support import AXIAL, SAGITTAL
from voxrad.core.volume import Volume
from voxrad.render.planes import orientation_letters, plane_axes


def _volume(direction: np.ndarray) -> Volume:
    return Volume(np.zeros((4, 5, 6), np.int16), spacing=(3.0, 2.0, 1.0), direction=direction)


def test_axial_ct_axes() -> None:
    vol = _volume(AXIAL)
    axial = plane_axes(vol, "axial")
    assert (axial.normal, axial.right, axial.right_sign, axial.up, axial.up_sign) == (
        2,
        0,
        1,
        1,
        -1,
    )
    coronal = plane_axes(vol, "coronal")
    assert (coronal.normal, coronal.right, coronal.up, coronal.up_sign) == (1, 0, 2, 1)
    sagittal = plane_axes(vol, "sagittal")
    assert (sagittal.normal, sagittal.right, sagittal.right_sign, sagittal.up) == (0, 1, 1, 2)


def test_sagittal_acquisition_axial_view_uses_rows_as_normal() -> None:
    axial = plane_axes(_volume(SAGITTAL), "axial")
    assert axial.normal == 1  # rows run head to foot
    assert orientation_letters(_volume(SAGITTAL), axial) == {
        "right": "L", "left": "R", "top": "A", "bottom": "P"
    }  # fmt: skip


def test_oblique_letters_name_both_directions() -> None:
    angle = np.radians(30)
    # Axial slices tilted by 30 degrees about P: columns run from L towards S.
    direction = np.zeros((3, 3))
    direction[:, 0] = (-np.sin(angle), 0.0, np.cos(angle))  # k
    direction[:, 1] = (0.0, 1.0, 0.0)  # j
    direction[:, 2] = (np.cos(angle), 0.0, np.sin(angle))  # i
    letters = orientation_letters(_volume(direction), plane_axes(_volume(direction), "axial"))
    assert letters["right"] == "LS"
    assert letters["left"] == "RI"


def test_unknown_plane() -> None:
    with pytest.raises(ValueError, match="axial"):
        plane_axes(_volume(AXIAL), "oblique")
