"""Safety checks on synthetic volumes whose orientation is known, including a flipped one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from voxrad.assistant.checks.safety import (
    CONFIDENCE_COLORS,
    box_side,
    check_answer,
    confidence_display,
    stated_side,
    with_safety,
)
from voxrad.core.conversation import Answer, Box, Finding
from voxrad.core.volume import Volume
from voxrad.imaging.registry import open_study

N = 64
#: Columns 40..52 on the image's right half; 12..24 on its left half.
IMAGE_RIGHT = Box(40, 28, 52, 36)
IMAGE_LEFT = Box(12, 28, 24, 36)


def _body(slices: int = 3) -> np.ndarray:
    """Air (-1000 HU) with a water ellipse (0 HU) filling most of the field."""
    j, i = np.mgrid[0:N, 0:N]
    inside = ((i - 31.5) / 28) ** 2 + ((j - 31.5) / 22) ** 2 <= 1.0
    plane = np.where(inside, 0, -1000).astype(np.int16)
    return np.repeat(plane[None], slices, axis=0)


def axial(*, flipped: bool = False) -> Volume:
    """Axial CT: columns run to the patient's left (standard), or to the right (flipped)."""
    i_axis = [-1.0, 0.0, 0.0] if flipped else [1.0, 0.0, 0.0]
    direction = np.column_stack([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], i_axis])
    return Volume(_body(), (2.0, 0.7, 0.7), direction=direction, modality="CT", units="HU")


def _answer(text: str, box: Box, *, slice_index: int = 1, label: str = "nodule") -> Answer:
    return Answer(text, findings=(Finding(label, box, 0.9, slice_index),), confidence=0.9)


def test_stated_side() -> None:
    assert stated_side("A nodule in the left upper lobe.") == "left"
    assert stated_side("Rt pleural effusion") == "right"
    assert stated_side("Both left and right lungs are clear.") is None
    assert stated_side("Central mass, no side.") is None
    assert stated_side("leftover contrast") is None


def test_standard_orientation_image_right_is_patient_left() -> None:
    vol = axial()
    assert box_side(vol, 1, IMAGE_RIGHT) == "left"
    assert box_side(vol, 1, IMAGE_LEFT) == "right"
    assert box_side(vol, 1, Box(30, 28, 34, 36)) == "midline"
    ok = check_answer(_answer("Nodule in the left lung.", IMAGE_RIGHT), vol, {1})
    assert ok.flags == ()
    bad = check_answer(_answer("Nodule in the left lung.", IMAGE_LEFT), vol, {1})
    (flag,) = bad.flags
    assert flag.kind == "laterality" and "patient's right" in flag.message


def test_flipped_orientation_reverses_the_verdict() -> None:
    vol = axial(flipped=True)
    assert box_side(vol, 1, IMAGE_RIGHT) == "right"
    bad = check_answer(_answer("Nodule in the left lung.", IMAGE_RIGHT), vol, {1})
    assert [f.kind for f in bad.flags] == ["laterality"]
    assert check_answer(_answer("Nodule in the left lung.", IMAGE_LEFT), vol, {1}).flags == ()


def test_label_side_wins_and_several_boxes_need_their_own_labels() -> None:
    vol = axial()
    two = Answer(
        "Left effusion and a right nodule.",
        findings=(
            Finding("left effusion", IMAGE_RIGHT, None, 1),
            Finding("right nodule", IMAGE_RIGHT, None, 1),
            Finding("granuloma", IMAGE_LEFT, None, 1),  # no side of its own: not judged
        ),
    )
    flags = check_answer(two, vol, {1}).flags
    assert [(f.kind, f.finding) for f in flags] == [("laterality", "right nodule")]


def test_side_named_only_in_the_reasoning_is_checked() -> None:
    vol = axial()
    mass = (Finding("mass", IMAGE_RIGHT, 0.9, 1),)  # image right: the patient's left
    said = Answer(
        "Yes, there is a mass.", reasoning="The mass arises from the right kidney.", findings=mass
    )
    (flag,) = check_answer(said, vol, {1}).flags
    assert flag.kind == "laterality" and "says right" in flag.message
    assert "patient's left" in flag.message
    # The final answer's side outranks the reasoning's.
    final = Answer("A left renal mass.", reasoning="Right kidney? No: left.", findings=mass)
    assert check_answer(final, vol, {1}).flags == ()


def test_sagittal_plane_cannot_be_checked() -> None:
    # Columns run anterior-posterior, rows superior-inferior: no left-right in the plane.
    direction = np.column_stack([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
    vol = Volume(_body(), (2.0, 0.7, 0.7), direction=direction, modality="CT", units="HU")
    (flag,) = check_answer(_answer("left kidney", IMAGE_RIGHT), vol, {1}).flags
    assert flag.kind == "laterality-unchecked" and flag.severity == "info"


def test_uncalibrated_image_is_not_claimed_checked() -> None:
    vol = Volume(_body(1).astype(np.float32), (1, 1, 1), spacing_calibrated=False)
    (flag,) = check_answer(_answer("left", IMAGE_RIGHT, slice_index=0), vol, {0}).flags
    assert flag.kind == "laterality-unchecked"


def test_box_over_air_and_on_an_unsent_slice() -> None:
    vol = axial()
    air = Box(0, 0, 6, 6)  # the corner outside the ellipse
    answer = Answer(
        "Two findings.",
        findings=(Finding("nodule", air, None, 1), Finding("mass", IMAGE_LEFT, None, 2)),
    )
    flags = check_answer(answer, vol, sent_slices={1}).flags
    assert {(f.kind, f.finding) for f in flags} == {
        ("outside-body", "nodule"),
        ("unsent-slice", "mass"),
    }
    assert "slice 3" in next(f.message for f in flags if f.kind == "unsent-slice")


def test_outside_body_on_non_ct_uses_the_body_mask() -> None:
    vol = Volume(np.clip(_body() + 1000, 0, None).astype(np.float32), (2, 0.7, 0.7), modality="MR")
    flags = check_answer(_answer("mass", Box(0, 0, 6, 6)), vol, {1}).flags
    assert [f.kind for f in flags] == ["outside-body"]
    assert check_answer(_answer("mass", IMAGE_LEFT), vol, {1}).flags == ()


@pytest.mark.parametrize(
    ("confidence", "level"),
    [(0.95, "high"), (0.75, "high"), (0.6, "moderate"), (0.3, "low"), (None, "unknown")],
)
def test_confidence_in_words_colour_and_speech(confidence: float | None, level: str) -> None:
    shown = confidence_display(confidence)
    assert shown.level == level
    assert shown.color == CONFIDENCE_COLORS[level]  # type: ignore[index]
    assert shown.color.startswith("#") and len(shown.color) == 7
    assert level in shown.words.lower() and level in shown.spoken.lower()


def test_low_confidence_becomes_a_warning_on_the_answer() -> None:
    vol = axial()
    low = Answer(
        "Possibly a nodule on the left.",
        findings=(Finding("nodule", IMAGE_LEFT, None, 1),),
        confidence=0.3,
    )
    report = check_answer(low, vol, {1})
    shown = with_safety(low, report)
    assert any("Low confidence (30%)" in w for w in shown.warnings)
    assert any("Side mismatch" in w for w in shown.warnings)


def _write_axial(folder: Path, row_direction: tuple[float, float, float]) -> Path:
    folder.mkdir()
    series, study = generate_uid(), generate_uid()
    for k in range(3):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.Modality, ds.InstanceNumber = "CT", k + 1
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        ds.ImageOrientationPatient = [*row_direction, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 2.0
        ds.Rows = ds.Columns = N
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = (_body(1)[0] + 1024).astype(np.int16).tobytes()
        ds.save_as(folder / f"{k}.dcm", enforce_file_format=True)
    return folder


@pytest.mark.parametrize(("row_direction", "side"), [((1, 0, 0), "left"), ((-1, 0, 0), "right")])
def test_laterality_from_real_dicom_geometry(
    tmp_path: Path, row_direction: tuple[float, float, float], side: str
) -> None:
    """ImageOrientationPatient decides: the same pixels, read with a flipped row direction,
    put the same box on the other side of the patient."""
    vol = open_study(_write_axial(tmp_path / "s", row_direction)).find().load_volume()
    assert box_side(vol, 1, IMAGE_RIGHT) == side
    report = check_answer(_answer("Nodule in the left lung.", IMAGE_RIGHT), vol, {1})
    assert bool(report.flags) == (side != "left")
