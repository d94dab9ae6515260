"""Findings to the hospital's PACS: a DICOM Comprehensive 3D SR and a key-image capture.

The SR follows TID 1500 (Imaging Measurement Report): one planar ROI group per boxed
finding, its box as a closed SCOORD polyline on the referenced source image, or as a SCOORD3D
polygon in the frame of reference when the slice has no single source image (a resampled
volume). The model is recorded as the algorithm, VoxRad as the device observer, and the
document is marked partial and unverified: it is decision support, never a signed report.

Both objects copy the patient and study modules from the source images (highdicom does),
so PACS files them with the study they describe; they are identified objects by design and
never leave the hospital through VoxRad.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from voxrad import __version__
from voxrad.core.conversation import Answer, Finding
from voxrad.core.errors import VoxRadError
from voxrad.core.volume import Volume

logger = logging.getLogger(__name__)

MANUFACTURER = "VoxRad"
#: A stable UID root for VoxRad's device observer (derived, so every install names one device).
DEVICE_UID = "2.25.204117302263489305426457632305541416155"
DISCLAIMER = "Decision support, not a diagnosis. Findings are unverified model output."


class ExportError(VoxRadError):
    """Findings could not be written as DICOM."""

    default_hint = "Answers with boxes on DICOM images can be exported; try another answer."


@dataclass(frozen=True)
class ExportedObject:
    dataset: Dataset
    findings: int


def _algorithm(model: str, model_sha256: str) -> Any:
    from highdicom.sr import AlgorithmIdentification

    params = [f"sha256={model_sha256}"] if model_sha256 else None
    return AlgorithmIdentification(
        name=model or "unknown model",
        version=__version__,
        parameters=params,
        manufacturer=MANUFACTURER,
    )


def _label(finding: Finding) -> str:
    conf = "" if finding.confidence is None else f", confidence {round(100 * finding.confidence)}%"
    return f"{finding.label}{conf}"[:64]


def _region(
    finding: Finding,
    sources: Mapping[int, Dataset],
    volume: Volume | None,
    frame_of_reference_uid: str,
) -> Any:
    from highdicom.sr import ImageRegion, ImageRegion3D, SourceImageForRegion

    assert finding.box is not None and finding.slice_index is not None
    box = finding.box.ordered()
    source = sources.get(finding.slice_index)
    if source is not None:
        # SCOORD pixel coordinates: (column, row), (0, 0) at the top-left pixel's outer
        # corner, the same edge convention as VoxRad's boxes.
        corners = np.vstack([box.corners(), box.corners()[:1]])
        return ImageRegion(
            graphic_type="POLYLINE",
            graphic_data=corners.astype(np.float64),
            source_image=SourceImageForRegion.from_source_image(source),
        )
    if volume is None or not frame_of_reference_uid:
        return None
    lps = box.to_patient(volume, finding.slice_index)
    return ImageRegion3D(
        graphic_type="POLYGON",
        graphic_data=np.vstack([lps, lps[:1]]).astype(np.float64),
        frame_of_reference_uid=frame_of_reference_uid,
    )


def findings_sr(
    answer: Answer,
    *,
    evidence: Sequence[Dataset],
    sources: Mapping[int, Dataset] | None = None,
    volume: Volume | None = None,
    frame_of_reference_uid: str = "",
    model_sha256: str = "",
    series_number: int = 9901,
    instance_number: int = 1,
) -> ExportedObject:
    """A Comprehensive 3D SR (TID 1500) holding the answer's boxed findings.

    Parameters
    ----------
    answer
        The answer whose findings (with boxes and slice indices) are reported.
    evidence
        Headers of the source images (at least one; patient and study come from them).
    sources
        Acquired slice index -> header of the image that slice is (SCOORD on that image).
    volume, frame_of_reference_uid
        For slices with no source image: boxes as SCOORD3D in patient coordinates.

    Raises
    ------
    ExportError
        When no finding has a box that can be placed, or no evidence is given.
    """
    from highdicom.sr import (
        Comprehensive3DSR,
        DeviceObserverIdentifyingAttributes,
        MeasurementReport,
        ObservationContext,
        ObserverContext,
        PlanarROIMeasurementsAndQualitativeEvaluations,
        TrackingIdentifier,
    )

    if not evidence:
        raise ExportError("There is no DICOM source image to attach the findings to.")
    sources = sources or {}
    algorithm = _algorithm(answer.model, model_sha256)
    groups = []
    for finding in answer.findings:
        if finding.box is None or finding.slice_index is None:
            continue
        region = _region(finding, sources, volume, frame_of_reference_uid)
        if region is None:
            continue
        groups.append(
            PlanarROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=TrackingIdentifier(
                    uid=generate_uid(), identifier=_label(finding)
                ),
                referenced_region=region,
                finding_type=codes.SCT.Finding,
                algorithm_id=algorithm,
            )
        )
    if not groups:
        raise ExportError("This answer has no box on a DICOM image to export.")
    observer = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=DEVICE_UID,
            name="VoxRad",
            manufacturer_name=MANUFACTURER,
            model_name=(answer.model or "unknown model")[:64],
        ),
    )
    report = MeasurementReport(
        observation_context=ObservationContext(observer_device_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion
        if evidence[0].get("Modality") == "CT"
        else codes.SCT.ImagingProcedure,
        imaging_measurements=groups,
    )
    sr = Comprehensive3DSR(
        evidence=list(evidence),
        content=report,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        is_complete=False,
        is_final=False,
        is_verified=False,
        # A cut-off answer's findings say so where PACS lists the series (LO: 64 characters).
        series_description="VoxRad findings, answer cut off (decision support)"
        if answer.cut_off
        else "VoxRad findings (decision support, not a diagnosis)",
    )
    logger.info(
        "findings SR built: %d findings%s",
        len(groups),
        " (answer cut off)" if answer.cut_off else "",
    )
    return ExportedObject(sr, len(groups))


def _letters(vector: Sequence[float]) -> str:
    """DICOM orientation letters of an LPS direction, strongest component first."""
    names = (("L", "R"), ("P", "A"), ("H", "F"))
    order = sorted(range(3), key=lambda a: -abs(vector[a]))
    picked = [names[a][0 if vector[a] > 0 else 1] for a in order if abs(vector[a]) > 0.25]
    return "".join(picked) or "L"


def patient_orientation(reference: Dataset) -> tuple[str, str]:
    """(row direction, column direction) letters of the reference image, e.g. ("L", "P")."""
    iop = reference.get("ImageOrientationPatient")
    if iop is not None and len(iop) == 6:
        values = [float(v) for v in iop]
        return _letters(values[:3]), _letters(values[3:])
    given = reference.get("PatientOrientation")
    if given is not None and len(given) == 2:
        return str(given[0]), str(given[1])
    raise ExportError(
        "The source image does not say how it is oriented in the patient.",
        hint="Export the findings as a structured report instead.",
    )


def key_image_capture(
    rgb: np.ndarray,
    reference: Dataset,
    *,
    series_number: int = 9902,
    instance_number: int = 1,
    description: str = "VoxRad key image (decision support, not a diagnosis)",
) -> Dataset:
    """A Secondary Capture of ``rgb`` (H, W, 3 uint8, overlays already burned in) that belongs
    to ``reference``'s patient and study. ``BurnedInAnnotation`` is YES: it shows text."""
    from highdicom.sc import SCImage

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ExportError("The key image must be an RGB picture.")
    spacing = reference.get("PixelSpacing")
    sc = SCImage.from_ref_dataset(
        ref_dataset=reference,
        pixel_array=np.ascontiguousarray(rgb),
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        # highdicom annotates pixel_spacing as ints; DICOM spacing is decimal mm.
        pixel_spacing=(float(spacing[0]), float(spacing[1])) if spacing else None,  # type: ignore[arg-type]
        patient_orientation=patient_orientation(reference),
    )
    sc.BurnedInAnnotation = "YES"
    sc.SeriesDescription = description[:64]
    sc.ImageComments = DISCLAIMER
    source = Dataset()
    source.ReferencedSOPClassUID = reference.SOPClassUID
    source.ReferencedSOPInstanceUID = reference.SOPInstanceUID
    sc.SourceImageSequence = [source]
    return sc
