"""Geometry of synthetic series whose correct answer is known exactly."""

from __future__ import annotations

import gc
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from synthetic import linear_field, make_slice, write_stack

from voxrad.core.errors import LoadCancelledError
from voxrad.core.geometry import orientation_label
from voxrad.imaging.registry import open_study


def _check_field(volume, tolerance: float = 1.0, margin: int = 0) -> None:
    """Every voxel equals the linear field at its patient position (within rounding)."""
    k, j, i = np.meshgrid(*(np.arange(n) for n in volume.shape), indexing="ij")
    idx = np.stack([k, j, i], axis=-1).reshape(-1, 3)
    expected = linear_field(volume.index_to_patient(idx)).reshape(volume.shape)
    got = volume.voxels.astype(np.float64)
    if margin:
        sl = (slice(None), slice(margin, -margin), slice(margin, -margin))
        expected, got = expected[sl], got[sl]
    assert np.max(np.abs(got - expected)) <= tolerance


def test_axial_stack_sorted_by_position_not_names_or_instance(tmp_path: Path) -> None:
    positions = [(-10.0, -20.0, 5.0 + 2.5 * k) for k in range(9)]
    write_stack(tmp_path, positions)
    study = open_study(tmp_path)
    assert len(study.series) == 1
    volume = study.series[0].load_volume()
    assert volume.shape == (9, 24, 32)
    assert volume.spacing == pytest.approx((2.5, 0.5, 0.75))
    assert volume.origin == pytest.approx((-10.0, -20.0, 5.0))
    np.testing.assert_allclose(volume.direction, [[0, 0, 1], [0, 1, 0], [1, 0, 0]], atol=1e-12)
    assert volume.units == "HU"
    assert volume.voxels.dtype == np.int16
    _check_field(volume)
    assert volume.warnings == ()


@pytest.mark.parametrize(
    ("row_dir", "col_dir", "labels"),
    [
        ((1, 0, 0), (0, 1, 0), ("S", "P", "L")),  # axial
        ((1, 0, 0), (0, 0, -1), ("P", "I", "L")),  # coronal: normal = row x col = +y
        ((0, 1, 0), (0, 0, -1), ("R", "I", "P")),  # sagittal: normal = -x
    ],
)
def test_orientations_give_direction_and_letters(tmp_path: Path, row_dir, col_dir, labels) -> None:
    normal = np.cross(row_dir, col_dir)
    positions = [tuple(np.array([3.0, -4.0, 10.0]) + 1.5 * k * normal) for k in range(5)]
    write_stack(tmp_path, positions, row_dir=row_dir, col_dir=col_dir)
    volume = open_study(tmp_path).series[0].load_volume()
    got = tuple(orientation_label(volume.direction[:, n]) for n in range(3))
    assert got == labels
    _check_field(volume)


def test_anisotropic_values_encode_index(tmp_path: Path) -> None:
    """Pixel (j, i) of slice k must land at voxels[k, j, i]: catches transposed axes."""
    rows, cols, n = 7, 11, 3
    paths = []
    uid, study = "1.2.3.4", "1.2.3"
    for k in range(n):
        stored = (k * 10000 + np.arange(rows)[:, None] * 100 + np.arange(cols)[None, :]).astype(
            np.int16
        )
        ds = make_slice(
            position=(0, 0, 4.0 * k),
            rows=rows,
            cols=cols,
            pixel_spacing=(0.9, 0.3),
            series_uid=uid,
            study_uid=study,
            instance=k + 1,
            intercept=0.0,
            pixels=stored,
        )
        path = tmp_path / f"{k}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    volume = open_study(tmp_path).series[0].load_volume()
    k, j, i = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
    np.testing.assert_array_equal(volume.voxels, k * 10000 + j * 100 + i)
    # Column index i moves along the row direction by the column spacing (0.3 mm).
    np.testing.assert_allclose(volume.index_to_patient((0, 0, 1)), (0.3, 0, 0))
    np.testing.assert_allclose(volume.index_to_patient((0, 1, 0)), (0, 0.9, 0))
    np.testing.assert_allclose(volume.index_to_patient((1, 0, 0)), (0, 0, 4.0))


def test_gantry_tilt_resampled_exactly(tmp_path: Path) -> None:
    tilt = np.radians(15.0)
    col_dir = (0.0, np.cos(tilt), -np.sin(tilt))
    # Table moves along z while the image plane is tilted: the classic tilted head CT.
    positions = [(-8.0, -6.0, 3.0 * k) for k in range(10)]
    write_stack(tmp_path, positions, col_dir=col_dir, pixel_spacing=(0.5, 0.5))
    study = open_study(tmp_path)
    info = study.series[0].info
    assert any("Gantry tilt of 15.0°" in w for w in info.warnings)
    volume = study.series[0].load_volume()
    assert info.shape == volume.shape
    # Orthogonal grid along the slice normal, spacing = true distance between planes.
    assert volume.spacing[0] == pytest.approx(3.0 * np.cos(tilt), rel=1e-6)
    d = volume.direction
    np.testing.assert_allclose(d.T @ d, np.eye(3), atol=1e-9)
    assert volume.shape[1] > 24  # grew to keep every acquired pixel
    # Linear interpolation reproduces a linear field exactly, away from the padded border.
    inside = volume.voxels > volume.voxels.min()
    k, j, i = np.nonzero(inside)
    expected = linear_field(volume.index_to_patient(np.stack([k, j, i], axis=1)))
    got = volume.voxels[k, j, i].astype(float)
    # Voxels next to the border blend with the fill value; compare the interior ones.
    interior = (j > 1) & (j < volume.shape[1] - 2) & (i > 1) & (i < volume.shape[2] - 2)
    assert np.percentile(np.abs(got - expected)[interior], 90) <= 1.0


def test_variable_spacing_resampled_with_warning(tmp_path: Path) -> None:
    zs = [0.0, 2.0, 4.0, 6.0, 8.0, 13.0, 18.0, 23.0]
    write_stack(tmp_path, [(0.0, 0.0, z) for z in zs])
    volume = open_study(tmp_path).series[0].load_volume()
    assert volume.spacing[0] == pytest.approx(2.0)
    assert volume.shape[0] == 12  # 0..22 in 2 mm steps
    assert any("Slice spacing varies from 2.00 to 5.00 mm" in w for w in volume.warnings)
    assert any("interpolated" in w for w in volume.warnings)
    _check_field(volume)
    raw = open_study(tmp_path).series[0].load_volume(regularize=False)
    assert raw.shape[0] == len(zs)
    assert any("approximate" in w for w in raw.warnings)


def test_missing_slices_reported_and_filled(tmp_path: Path) -> None:
    zs = [0.0, 1.5, 3.0, 7.5, 9.0, 10.5]  # 4.5 and 6.0 are missing
    write_stack(tmp_path, [(0.0, 0.0, z) for z in zs])
    volume = open_study(tmp_path).series[0].load_volume()
    text = " ".join(volume.warnings)
    assert "About 2 slices appear to be missing" in text
    assert "3.0–7.5 mm" in text
    assert volume.shape[0] == 8
    _check_field(volume)


def test_duplicate_copies_ignored(tmp_path: Path) -> None:
    paths = write_stack(tmp_path, [(0.0, 0.0, 2.0 * k) for k in range(4)])
    (tmp_path / "copy.dcm").write_bytes(paths[1].read_bytes())
    study = open_study(tmp_path)
    assert len(study.series) == 1
    volume = study.series[0].load_volume()
    assert volume.shape[0] == 4
    assert any("1 duplicate copies" in w for w in volume.warnings)


def test_interleaved_echoes_split_into_series(tmp_path: Path) -> None:
    uid, study_uid = "1.2.9.1", "1.2.9"
    for echo in (1, 2):
        for k in range(3):
            ds = make_slice(
                position=(0, 0, 5.0 * k),
                series_uid=uid,
                study_uid=study_uid,
                instance=echo * 10 + k,
                extra={"EchoNumbers": echo},
                intercept=0.0 if echo == 1 else -100.0,
            )
            ds.save_as(tmp_path / f"e{echo}-{k}.dcm", enforce_file_format=True)
    study = open_study(tmp_path)
    assert len(study.series) == 2
    assert {s.info.description for s in study.series} == {
        "synthetic (echo 1)",
        "synthetic (echo 2)",
    }
    assert len({s.info.key for s in study.series}) == 2
    for series in study.series:
        assert series.load_volume().shape[0] == 3


def test_scout_and_other_size_split_out(tmp_path: Path) -> None:
    uid, study_uid = "1.2.8.1", "1.2.8"
    write_stack(
        tmp_path / "a", [(0, 0, 2.0 * k) for k in range(5)], series_uid=uid, study_uid=study_uid
    )
    scout = make_slice(
        position=(0, 0, 0),
        row_dir=(0, 1, 0),
        col_dir=(0, 0, -1),
        series_uid=uid,
        study_uid=study_uid,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        rows=20,
        cols=20,
    )
    scout.save_as(tmp_path / "scout.dcm", enforce_file_format=True)
    study = open_study(tmp_path)
    kinds = sorted((s.info.kind, s.info.shape[0]) for s in study.series)
    assert kinds == [("image", 1), ("volume", 5)]
    assert all("split into 2 parts" in s.info.warnings[0] for s in study.series)
    assert study.find().info.shape[0] == 5  # default choice is the volume, not the scout


def test_bad_files_skipped_with_reasons(tmp_path: Path) -> None:
    paths = write_stack(tmp_path, [(0.0, 0.0, 2.0 * k) for k in range(5)])
    (tmp_path / "notes.bin").write_bytes(b"hello, not dicom" * 10)
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(paths[2].read_bytes()[:-500])
    paths[2].unlink()
    nopix = make_slice(position=(0, 0, 50), series_uid="9.9", study_uid="9")
    del nopix.PixelData
    nopix.save_as(tmp_path / "nopixels.dcm", enforce_file_format=True)
    study = open_study(tmp_path)
    reasons = {Path(s.path).name: s.reason for s in study.skipped}
    assert reasons["notes.bin"] == "not a DICOM file"
    assert reasons["nopixels.dcm"].startswith("no image data")
    series = study.find()
    skipped: list = []
    volume = series.load_volume(skipped=skipped)
    assert [Path(s.path).name for s in skipped] == ["truncated.dcm"]
    assert "truncated" in skipped[0].reason
    assert volume.shape[0] == 5  # the gap is filled and reported
    assert any("could not be decoded" in w for w in volume.warnings)
    assert any("missing" in w for w in volume.warnings)


def test_zip_and_dicomdir(tmp_path: Path) -> None:
    import zipfile

    from pydicom import dcmread
    from pydicom.fileset import FileSet

    src = tmp_path / "src"
    paths = write_stack(src, [(0.0, 0.0, 2.0 * k) for k in range(4)])
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in paths:
            zf.write(p, f"nested/{p.name}")
    from_zip = open_study(archive).series[0].load_volume()
    reference = open_study(src).series[0].load_volume()
    np.testing.assert_array_equal(from_zip.voxels, reference.voxels)

    out = tmp_path / "media"
    # pydicom's FileSet stages in a TemporaryDirectory that it never closes: let it be
    # collected here, with its ResourceWarning silenced, rather than in a later test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        fs = FileSet()
        for p in paths:
            fs.add(dcmread(p))
        fs.write(out)
        del fs
        gc.collect()
    from_dicomdir = open_study(out / "DICOMDIR").series[0].load_volume()
    np.testing.assert_array_equal(from_dicomdir.voxels, reference.voxels)
    # Opening the folder that holds the DICOMDIR finds the same series, no skip noise.
    study = open_study(out)
    assert len(study.series) == 1 and study.skipped == []


def test_float_rescale_and_monochrome1(tmp_path: Path) -> None:
    write_stack(
        tmp_path,
        [(0.0, 0.0, 1.0 * k) for k in range(3)],
        slope=0.5,
        intercept=-3.25,
        photometric="MONOCHROME1",
        modality="MR",
    )
    volume = open_study(tmp_path).series[0].load_volume()
    assert volume.voxels.dtype == np.float32
    assert volume.photometric == "MONOCHROME1"
    assert volume.units == ""
    _check_field(volume, tolerance=0.5)


def test_enhanced_multiframe_uses_per_frame_positions(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import EnhancedCTImageStorage

    zs = [6.0, 0.0, 4.0, 2.0]  # frames stored out of order
    frames = [make_slice(position=(1.0, 2.0, z), series_uid="5.5", study_uid="5") for z in zs]
    ds = frames[0]
    ds.SOPClassUID = EnhancedCTImageStorage
    ds.file_meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    ds.NumberOfFrames = len(zs)
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        delattr(ds, keyword)
    shared = Dataset()
    orient = Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures = Dataset()
    measures.PixelSpacing = [0.5, 0.75]
    measures.SliceThickness = 2.0
    shared.PlaneOrientationSequence = Sequence([orient])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for z in zs:
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [1.0, 2.0, z]
        item.PlanePositionSequence = Sequence([pos])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.PixelData = b"".join(f.PixelData for f in frames)
    ds.save_as(tmp_path / "enhanced.dcm", enforce_file_format=True)
    volume = open_study(tmp_path).series[0].load_volume()
    assert volume.shape == (4, 24, 32)
    assert volume.origin == pytest.approx((1.0, 2.0, 0.0))
    assert volume.spacing == pytest.approx((2.0, 0.5, 0.75))
    _check_field(volume)


def test_progress_middle_slice_first_and_cancel(tmp_path: Path) -> None:
    write_stack(tmp_path, [(0.0, 0.0, 1.0 * k) for k in range(7)])
    events: list[tuple[int, int, str]] = []
    first: list[tuple[int, np.ndarray]] = []
    study = open_study(tmp_path, progress=lambda d, t, s: events.append((d, t, s)))
    assert events[-1] == (7, 7, "scanning")
    series = study.series[0]
    volume = series.load_volume(
        progress=lambda d, t, s: events.append((d, t, s)),
        on_first_slice=lambda k, img: first.append((k, img)),
    )
    assert [k for k, _ in first] == [3]
    np.testing.assert_array_equal(first[0][1], volume.voxels[3])
    assert events[-1] == (7, 7, "reading")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(LoadCancelledError):
        series.load_volume(cancel=cancel)
    with pytest.raises(LoadCancelledError):
        open_study(tmp_path, cancel=cancel)


def test_series_info_carries_what_privacy_and_export_need(tmp_path: Path) -> None:
    paths = write_stack(
        tmp_path, [(0.0, 0.0, 2.0 * k) for k in range(3)], extra={"BurnedInAnnotation": "YES"}
    )
    info = open_study(tmp_path).series[0].info
    assert info.burned_in_annotation is True
    assert info.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
    assert info.frame_of_reference_uid
    from pydicom import dcmread

    by_z = sorted(paths, key=lambda p: float(dcmread(p).ImagePositionPatient[2]))
    assert info.sop_instance_uids == tuple(str(dcmread(p).SOPInstanceUID) for p in by_z)
