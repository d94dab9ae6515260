from __future__ import annotations

import numpy as np
import pytest

from voxrad.core.geometry import orientation_label, plane_name
from voxrad.core.volume import Volume
from voxrad.core.windowing import CT_PRESETS, apply_window, find_preset


def _oblique_volume() -> Volume:
    theta = np.radians(30)
    rot = np.array(
        [[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]]
    )
    return Volume(
        voxels=np.zeros((4, 5, 6), np.int16),
        spacing=(2.5, 0.8, 0.6),
        origin=(10, -20, 30),
        direction=rot,
        modality="CT",
        units="HU",
    )


def test_index_patient_round_trip() -> None:
    vol = _oblique_volume()
    idx = np.array([[0, 0, 0], [3, 4, 5], [1.5, 2.25, 0.5]])
    lps = vol.index_to_patient(idx)
    np.testing.assert_allclose(lps[0], (10, -20, 30))
    np.testing.assert_allclose(vol.patient_to_index(lps), idx, atol=1e-9)
    np.testing.assert_allclose(vol.affine() @ np.array([3, 4, 5, 1.0]), [*lps[1], 1.0])
    # One step along k moves 2.5 mm along the first direction column.
    np.testing.assert_allclose(lps[1] - vol.index_to_patient((2, 4, 5)), 2.5 * vol.direction[:, 0])


def test_xyz_views_reverse_axis_order() -> None:
    vol = _oblique_volume()
    assert vol.spacing_xyz == (0.6, 0.8, 2.5)
    np.testing.assert_array_equal(vol.direction_xyz[:, 0], vol.direction[:, 2])


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="3-D or 4-D"):
        Volume(voxels=np.zeros((4, 4)), spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        Volume(voxels=np.zeros((1, 4, 4)), spacing=(0, 1, 1))


def test_presets_and_default_window() -> None:
    vol = _oblique_volume()
    assert vol.default_window() == (40.0, 400.0)
    assert find_preset(vol.presets(), "LUNG") == CT_PRESETS[0]
    mr = Volume(voxels=np.arange(1000, dtype=np.float32).reshape(10, 10, 10), spacing=(1, 1, 1))
    center, width = mr.default_window()
    assert 400 < center < 600 and 900 < width < 1000


def test_dicom_linear_window_function() -> None:
    values = np.array([-1000, -161, -160, 40, 239, 240, 3000], dtype=np.int16)
    out = apply_window(values, 40, 400)
    assert out[0] == 0 and out[1] == 0 and out[-1] == 255 and out[-2] == 255
    assert 126 <= out[3] <= 129
    assert np.all(np.diff(out.astype(int)) >= 0)
    np.testing.assert_array_equal(apply_window(values, 40, 400, invert=True), 255 - out)


def test_lookup_table_path_equals_float_path() -> None:
    rng = np.random.default_rng(0)
    big = rng.integers(-2000, 3000, size=(300, 300)).astype(np.int16)
    fast = apply_window(big, -600, 1500)
    slow = apply_window(big.astype(np.float32), -600, 1500)
    assert np.max(np.abs(fast.astype(int) - slow.astype(int))) == 0


@pytest.mark.parametrize(
    ("vector", "label"),
    [
        ((1, 0, 0), "L"),
        ((-1, 0, 0), "R"),
        ((0, 1, 0), "P"),
        ((0, 0, -1), "I"),
        ((0.8, 0.6, 0), "LP"),
        ((0, -0.6, 0.8), "SA"),
    ],
)
def test_orientation_labels(vector, label) -> None:
    assert orientation_label(vector) == label


def test_plane_names() -> None:
    assert plane_name((0, 0, 1)) == "axial"
    assert plane_name((0, 1, 0)) == "coronal"
    assert plane_name((1, 0.2, 0)) == "sagittal"
