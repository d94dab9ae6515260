"""The real studies in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxrad.core.geometry import angle_degrees
from voxrad.imaging.registry import open_study


@pytest.mark.slow
def test_ct_abdomen_matches_simpleitk(shared_data: Path) -> None:
    import SimpleITK as sitk  # noqa: N813 (its documented alias)

    folder = shared_data / "ct-abdomen-134"
    study = open_study(folder)
    assert [s.reason for s in study.skipped] == []
    series = study.find()
    assert series.info.modality == "CT" and series.info.shape == (134, 512, 512)
    volume = series.load_volume()
    assert volume.warnings == ()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    np.testing.assert_array_equal(volume.voxels, sitk.GetArrayViewFromImage(image))
    assert volume.spacing_xyz == pytest.approx(image.GetSpacing())
    assert volume.origin == pytest.approx(image.GetOrigin())
    np.testing.assert_allclose(volume.direction_xyz.reshape(-1), image.GetDirection(), atol=1e-9)
    assert volume.voxels.dtype == np.int16 and volume.units == "HU"
    assert volume.value_range() == (-1000.0, 1988.0)
    assert volume.window_presets[0].center == 60 and volume.window_presets[0].width == 400


def test_head_ct_tilt_and_spacing_detected_and_corrected(shared_data: Path) -> None:
    study = open_study(shared_data / "ct-head-tilt-28")
    series = study.find()
    warnings = " ".join(series.info.warnings)
    assert "Gantry tilt of 18.5°" in warnings
    assert "Slice spacing varies from 1.08 to 7.00 mm" in warnings
    volume = series.load_volume()
    assert volume.shape == series.info.shape
    d = volume.direction
    np.testing.assert_allclose(d.T @ d, np.eye(3), atol=1e-9)
    # The grid's slice axis is the true image normal, 18.5° away from the table axis (z).
    assert angle_degrees(d[:, 0], (0, 0, 1)) == pytest.approx(18.5, abs=0.1)
    # Acquired pixels keep their values at their true patient positions.
    import pydicom

    first = pydicom.dcmread(shared_data / "ct-head-tilt-28" / "01.dcm")
    hu = first.pixel_array * float(first.RescaleSlope) + float(first.RescaleIntercept)
    row = np.array(first.ImageOrientationPatient[:3], float)
    col = np.array(first.ImageOrientationPatient[3:], float)
    dy, dx = (float(v) for v in first.PixelSpacing)
    j, i = np.mgrid[150:350:10, 150:350:10]
    points = (
        np.asarray(first.ImagePositionPatient, float)
        + (i[..., None] * dx) * row
        + (j[..., None] * dy) * col
    )
    idx = np.rint(volume.patient_to_index(points.reshape(-1, 3))).astype(int)
    assert np.all(idx[:, 0] == 0)  # the first acquired slice is the grid's first slice
    got = volume.voxels[idx[:, 0], idx[:, 1], idx[:, 2]]
    assert np.median(np.abs(got - hu[j, i].reshape(-1))) <= 2.0
    raw = series.load_volume(regularize=False)
    assert raw.shape == (28, 512, 512)


def test_chest_radiographs(shared_data: Path) -> None:
    study = open_study(shared_data / "cxr")
    kinds = {s.info.description: s.info for s in study.series}
    assert len(study.series) == 4
    cr = next(s for s in study.series if s.info.modality == "CR").load_volume()
    assert cr.shape == (1, 1024, 1024) and cr.spacing_calibrated
    png = next(s for s in study.series if s.info.description.startswith("tbx11k-tb")).load_volume()
    assert png.shape == (1, 512, 512) and not png.spacing_calibrated
    assert "no pixel spacing" in png.warnings[0]
    assert all(info.kind == "image" for info in kinds.values())
