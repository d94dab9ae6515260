"""Aligning a prior with the open study, on pairs made from the real CT: moved by a known rigid
transform (recovered within 1 mm and 1 degree), another frame of reference, the same frame,
radiographs, and pairs that must fail honestly."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from prior_pairs import copy_series
from voxrad.core.alignment import RigidTransform
from voxrad.core.errors import DependencyMissingError, LoadCancelledError
from voxrad.core.volume import Volume
from voxrad.imaging.registration import (
    RegistrationOptions,
    align_prior,
    landmark_alignment,
    register_rigid,
)
from voxrad.imaging.registry import open_study

# 50 slices of the real CT (150 mm of chest and upper abdomen): enough anatomy, a few seconds.
SLICES = slice(40, 90)


def _load(path: Path) -> tuple[Volume, str]:
    series = open_study(path).find()
    return series.load_volume(), series.info.frame_of_reference_uid


@pytest.fixture(scope="module")
def ct_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "ct-abdomen-134").glob("*.dcm"))[SLICES]


@pytest.fixture(scope="module")
def current(ct_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Volume, str]:
    return _load(copy_series(ct_files, tmp_path_factory.mktemp("current")))


def _body_corners(volume: Volume) -> np.ndarray:
    """LPS corners of the box around the body (voxels above -500 HU)."""
    kji = np.argwhere(volume.voxels > -500)
    lo, hi = kji.min(axis=0), kji.max(axis=0)
    corners = np.array([[a, b, c] for a in (lo[0], hi[0]) for b in (lo[1], hi[1]) for c in
                        (lo[2], hi[2])], dtype=float)  # fmt: skip
    return volume.index_to_patient(corners)


def test_a_prior_moved_by_a_known_rigid_transform_is_recovered(
    ct_files: list[Path], current: tuple[Volume, str], tmp_path: Path
) -> None:
    rotation = Rotation.from_euler("xyz", [4.0, -3.0, 7.0], degrees=True).as_matrix()
    translation = np.array([14.0, -9.0, 6.0])
    moved = copy_series(
        ct_files, tmp_path / "moved", rotation=rotation, translation=translation,
        StudyDate="20110506",
    )  # fmt: skip
    volume, frame = current
    prior, prior_frame = _load(moved)
    assert prior_frame and prior_frame != frame
    result = align_prior(volume, prior, current_frame=frame, prior_frame=prior_frame)
    assert result.ok and result.method == "registered", result.message
    corners = _body_corners(volume)
    errors = np.linalg.norm(result.transform.apply(corners) - (corners @ rotation.T + translation),
                            axis=1)  # fmt: skip
    assert errors.max() < 1.0, errors
    residual = RigidTransform(result.transform.matrix.T @ rotation)
    assert residual.rotation_degrees < 1.0
    assert result.correlation is not None and result.correlation > 0.9
    assert result.correlation_before is not None and result.correlation_before < 0.8
    assert result.overlap is not None and result.overlap > 0.9
    assert result.metric is not None and result.metric < 0
    assert "Registered automatically (rigid): correlation" in result.message
    # Mapping back: the inverse takes the prior's positions to the current's.
    back = result.transform.inverse().apply(result.transform.apply(corners))
    assert np.allclose(back, corners)


def test_another_frame_of_reference_unmoved_registers_to_identity(
    ct_files: list[Path], current: tuple[Volume, str], tmp_path: Path
) -> None:
    volume, frame = current
    prior, prior_frame = _load(
        copy_series(ct_files, tmp_path / "p", FrameOfReferenceUID="1.2.826.0.1.3680043.8.498.77")
    )
    result = align_prior(volume, prior, current_frame=frame, prior_frame=prior_frame)
    assert result.ok and result.method == "registered"
    corners = _body_corners(volume)
    assert np.linalg.norm(result.transform.apply(corners) - corners, axis=1).max() < 1.0


def test_same_frame_of_reference_matches_directly(current: tuple[Volume, str]) -> None:
    volume, frame = current
    result = align_prior(volume, volume, current_frame=frame, prior_frame=frame)
    assert result.ok and result.method == "same_frame"
    assert result.message.startswith("Same frame of reference: positions match directly")
    assert result.transform.shift_mm == 0 and result.transform.rotation_degrees == 0


def test_chest_radiographs_and_colour_images_are_side_by_side(shared_data: Path) -> None:
    radiograph, _ = _load(shared_data / "cxr" / "siim-cr-no-pneumothorax.dcm")
    result = align_prior(radiograph, radiograph, current_frame="", prior_frame="")
    assert result.ok and result.method == "side_by_side" and "not registered" in result.message
    colour = Volume(np.zeros((4, 16, 16, 3), dtype=np.uint8), (2.0, 1.0, 1.0), modality="OT")
    shown = align_prior(colour, colour, current_frame="a", prior_frame="b")
    assert shown.method == "side_by_side" and shown.message.startswith("Colour images")


def test_another_body_region_fails_honestly_and_a_landmark_pair_aligns(
    current: tuple[Volume, str], shared_data: Path
) -> None:
    volume, frame = current
    head, head_frame = _load(shared_data / "ct-head-tilt-28")
    coarse = RegistrationOptions(working_spacing_mm=6.0)  # a failure needs no fine grid
    result = align_prior(volume, head, current_frame=frame, prior_frame=head_frame, options=coarse)
    assert not result.ok and result.method == "failed"
    assert result.correlation is not None and result.correlation < coarse.min_correlation
    assert result.message.startswith("Automatic registration failed: ")
    assert "landmark" in result.message
    assert result.transform.shift_mm == 0  # nothing applied silently
    manual = landmark_alignment((10.0, 20.0, 30.0), (13.0, 16.0, 30.0))
    assert manual.ok and manual.method == "landmark" and manual.transform.shift_mm == 5.0
    assert np.allclose(manual.transform.apply((0.0, 0.0, 0.0)), (3.0, -4.0, 0.0))


def test_time_bound_is_a_failure_not_a_result(current: tuple[Volume, str]) -> None:
    volume, _ = current
    result = register_rigid(volume, volume, options=RegistrationOptions(max_seconds=0.0))
    assert not result.ok and "did not finish within 0 s" in result.message


def test_missing_simpleitk_names_the_extra(
    current: tuple[Volume, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    volume, _ = current
    monkeypatch.setitem(sys.modules, "SimpleITK", None)
    with pytest.raises(DependencyMissingError) as caught:
        align_prior(volume, volume, current_frame="a", prior_frame="b")
    assert "voxrad[compare]" in caught.value.hint
    # Cases that need no registration do not need SimpleITK.
    assert align_prior(volume, volume, current_frame="a", prior_frame="a").ok


def test_cancel_stops_registration(current: tuple[Volume, str]) -> None:
    volume, _ = current
    stop = threading.Event()
    stop.set()
    with pytest.raises(LoadCancelledError):
        register_rigid(volume, volume, cancel=stop)
