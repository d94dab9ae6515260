"""Findings as DICOM: SR (TID 1500, SCOORD and SCOORD3D) and a key-image secondary capture,
read back with pydicom, highdicom and dcmtk's dsrdump."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from study_support import NAME, headers_by_slice, write_ct

from voxrad.core.conversation import Answer, Box, Finding
from voxrad.core.volume import Volume
from voxrad.imaging.registry import open_study
from voxrad.records.dicom_export import (
    ExportError,
    findings_sr,
    key_image_capture,
    patient_orientation,
)
from voxrad.records.keyimage import BOX_COLOR, draw_findings, slice_rgb

BOX = Box(10.0, 12.0, 30.0, 26.0)


@pytest.fixture
def study(tmp_path: Path) -> tuple[Volume, dict[int, pydicom.Dataset]]:
    files = write_ct(tmp_path / "ct")
    volume = open_study(tmp_path / "ct").find().load_volume()
    return volume, headers_by_slice(files, volume)


def _answer() -> Answer:
    return Answer(
        "A nodule in the left lung.",
        findings=(
            Finding("nodule", BOX, 0.82, 2),
            Finding("calcification", Box(30, 30, 36, 40), None, 1),
            Finding("unplaced remark"),
        ),
        model="medgemma-1.5-4b-it",
    )


def _referenced_sop(region: pydicom.Dataset) -> str:
    """The SOP instance an SCOORD is drawn on (its child IMAGE content item)."""
    (image,) = region.ContentSequence
    return str(image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)


def _dsrdump(path: Path) -> str:
    assert shutil.which("dsrdump"), "dcmtk's dsrdump is part of the test set-up"
    result = subprocess.run(
        ["dsrdump", "+Pl", "+Pu", "+Pt", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr.lower() and "error" not in result.stderr.lower()
    return result.stdout


def test_sr_round_trip_with_scoord_on_the_source_images(
    study: tuple[Volume, dict[int, pydicom.Dataset]], tmp_path: Path
) -> None:
    _, sources = study
    exported = findings_sr(
        _answer(), evidence=list(sources.values()), sources=sources, model_sha256="ab" * 32
    )
    assert exported.findings == 2
    path = tmp_path / "findings-sr.dcm"
    exported.dataset.save_as(path, enforce_file_format=True)

    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert ds.StudyInstanceUID == sources[2].StudyInstanceUID
    assert ds.PatientID == sources[2].PatientID  # filed with the patient's study in PACS
    assert ds.VerificationFlag == "UNVERIFIED" and ds.CompletionFlag == "PARTIAL"

    sr = hd.sr.Comprehensive3DSR.from_dataset(ds)
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == 2
    first = groups[0]
    assert first.tracking_identifier == "nodule, confidence 82%"
    region = first.roi
    assert region.graphic_type == hd.sr.GraphicTypeValues.POLYLINE
    np.testing.assert_allclose(
        region.value, [[10, 12], [30, 12], [30, 26], [10, 26], [10, 12]], atol=1e-4
    )
    assert _referenced_sop(region) == sources[2].SOPInstanceUID
    assert _referenced_sop(groups[1].roi) == sources[1].SOPInstanceUID

    dump = _dsrdump(path)
    assert "Imaging Measurement Report" in dump and "TID 1500" in dump and "TID 1410" in dump
    assert "(POLYLINE,10/12,30/12,30/26,10/26,10/12)" in dump
    assert sources[2].SOPInstanceUID in dump
    assert "nodule, confidence 82%" in dump
    assert "medgemma-1.5-4b-it" in dump


def test_sr_of_a_cut_off_answer_says_so_in_its_series_description(
    study: tuple[Volume, dict[int, pydicom.Dataset]],
) -> None:
    _, sources = study
    whole = findings_sr(_answer(), evidence=list(sources.values()), sources=sources)
    assert whole.dataset.SeriesDescription == "VoxRad findings (decision support, not a diagnosis)"
    cut = replace(_answer(), finish_reason="length")
    exported = findings_sr(cut, evidence=list(sources.values()), sources=sources)
    description = exported.dataset.SeriesDescription
    assert description == "VoxRad findings, answer cut off (decision support)"
    assert len(description) <= 64  # LO


def test_sr_falls_back_to_scoord3d_without_a_source_image(
    study: tuple[Volume, dict[int, pydicom.Dataset]], tmp_path: Path
) -> None:
    volume, sources = study
    frame = sources[0].FrameOfReferenceUID
    answer = Answer("x", findings=(Finding("nodule", BOX, 0.5, 2),), model="m")
    exported = findings_sr(
        answer, evidence=[sources[0]], volume=volume, frame_of_reference_uid=frame
    )
    path = tmp_path / "sr3d.dcm"
    exported.dataset.save_as(path, enforce_file_format=True)
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(path))
    (group,) = sr.content.get_planar_roi_measurement_groups()
    roi = group.roi
    assert roi.graphic_type == hd.sr.GraphicTypeValues3D.POLYGON
    assert roi.frame_of_reference_uid == frame
    expected = BOX.to_patient(volume, 2)
    np.testing.assert_allclose(roi.value[:4], expected, atol=1e-3)
    # The box's corners lie on slice 2's plane, at z = 10 mm.
    np.testing.assert_allclose(roi.value[:, 2], 10.0, atol=1e-6)
    dump = _dsrdump(path)
    assert "SCOORD3D" in dump and "POLYGON" in dump


def test_sr_refuses_answers_without_boxes(
    study: tuple[Volume, dict[int, pydicom.Dataset]],
) -> None:
    _, sources = study
    with pytest.raises(ExportError, match="no box"):
        findings_sr(Answer("No finding."), evidence=[sources[0]])
    with pytest.raises(ExportError, match="source image"):
        findings_sr(_answer(), evidence=[])


def test_key_image_capture_round_trip(
    study: tuple[Volume, dict[int, pydicom.Dataset]], tmp_path: Path
) -> None:
    volume, sources = study
    rgb = draw_findings(slice_rgb(volume, 2), _answer().findings)
    # The outline sits just outside the box; the pixels inside are untouched.
    assert tuple(rgb[12 - 1, 20]) == BOX_COLOR and tuple(rgb[26, 20]) == BOX_COLOR
    assert tuple(rgb[20, 20]) == tuple(slice_rgb(volume, 2)[20, 20])
    sc = key_image_capture(rgb, sources[2])
    path = tmp_path / "key.dcm"
    sc.save_as(path, enforce_file_format=True)
    back = pydicom.dcmread(path)
    assert back.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert back.BurnedInAnnotation == "YES"
    assert back.StudyInstanceUID == sources[2].StudyInstanceUID
    assert back.PatientName == NAME
    assert back.SourceImageSequence[0].ReferencedSOPInstanceUID == sources[2].SOPInstanceUID
    np.testing.assert_array_equal(back.pixel_array, rgb)
    assert patient_orientation(sources[2]) == ("L", "P")
