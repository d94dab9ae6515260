"""NIfTI (RAS on disk) and raster images end up in the same LPS convention as DICOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import write_stack

from voxrad.core.errors import StudyLoadError
from voxrad.imaging.registry import open_study


def test_nifti_written_by_simpleitk_matches_the_dicom_it_came_from(tmp_path: Path) -> None:
    """SimpleITK converts LPS to NIfTI's RAS on write; reading it back must undo that."""
    import SimpleITK as sitk  # noqa: N813 (its documented alias)

    tilt_free_oblique_row = (np.cos(0.3), np.sin(0.3), 0.0)
    tilt_free_oblique_col = (-np.sin(0.3), np.cos(0.3), 0.0)
    write_stack(
        tmp_path / "dicom",
        [(5.0, -7.0, 2.0 * k) for k in range(6)],
        row_dir=tilt_free_oblique_row,
        col_dir=tilt_free_oblique_col,
    )
    from_dicom = open_study(tmp_path / "dicom").find().load_volume()
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path / "dicom")))
    nifti_path = tmp_path / "converted.nii.gz"
    sitk.WriteImage(reader.Execute(), str(nifti_path))

    study = open_study(nifti_path)
    assert study.series[0].info.shape == from_dicom.shape
    from_nifti = study.series[0].load_volume()
    np.testing.assert_array_equal(from_nifti.voxels, from_dicom.voxels)
    np.testing.assert_allclose(from_nifti.spacing, from_dicom.spacing, atol=1e-5)
    np.testing.assert_allclose(from_nifti.origin, from_dicom.origin, atol=1e-4)
    np.testing.assert_allclose(from_nifti.direction, from_dicom.direction, atol=1e-5)


def test_nifti_ras_affine_maps_to_lps(tmp_path: Path) -> None:
    import nibabel as nib

    data = np.arange(4 * 3 * 2, dtype=np.int16).reshape(4, 3, 2)  # NIfTI order (i, j, k)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = (10.0, 20.0, 30.0)  # RAS
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "v.nii")
    volume = open_study(tmp_path / "v.nii").find().load_volume()
    assert volume.shape == (2, 3, 4)
    assert volume.voxels[1, 2, 3] == data[3, 2, 1]
    # RAS (10, 20, 30) is LPS (-10, -20, 30); +i is RAS +x = patient Left... negated: Right.
    assert volume.origin == pytest.approx((-10.0, -20.0, 30.0))
    np.testing.assert_allclose(volume.index_to_patient((0, 0, 1)), (-12.0, -20.0, 30.0))
    assert volume.spacing == pytest.approx((4.0, 3.0, 2.0))


def test_four_d_nifti_shows_first_volume_with_warning(tmp_path: Path) -> None:
    import nibabel as nib

    data = np.zeros((4, 4, 3, 5), np.float32)
    data[..., 2] = 7
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "t.nii.gz")
    volume = open_study(tmp_path / "t.nii.gz").find().load_volume()
    assert volume.shape == (3, 4, 4)
    assert "5 volumes" in volume.warnings[0]


def test_colour_and_sixteen_bit_png(tmp_path: Path) -> None:
    from PIL import Image

    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[5:10, 3:8] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    deep = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    study = open_study(tmp_path)
    by_name = {s.info.description: s.load_volume() for s in study.series}
    colour = by_name["c.png"]
    assert colour.is_color and colour.shape == (1, 20, 30)
    np.testing.assert_array_equal(colour.voxels[0, 7, 4], (255, 0, 0))
    grey = by_name["d.png"]
    assert not grey.is_color and grey.voxels.dtype == np.uint16
    assert int(grey.voxels[0, 19, 29]) == 59900


def test_broken_nifti_and_image_are_clear(tmp_path: Path) -> None:
    (tmp_path / "bad.nii").write_bytes(b"\x00" * 10)
    with pytest.raises(StudyLoadError, match=r"bad\.nii is not a readable NIfTI file"):
        open_study(tmp_path / "bad.nii")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(StudyLoadError, match=r"bad\.png is not a readable image"):
        open_study(tmp_path / "bad.png")
    # In a folder, the broken files are skipped with reasons and the good ones load.
    write_stack(tmp_path, [(0.0, 0.0, float(k)) for k in range(3)])
    study = open_study(tmp_path)
    assert len(study.series) == 1
    assert sorted(Path(s.path).name for s in study.skipped) == ["bad.nii", "bad.png"]
