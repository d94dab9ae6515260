"""Read the header of each DICOM file once and keep only what stacking and decoding need.

A multi-frame file expands into one :class:`FrameHeader` per frame, so classic single-frame
series and enhanced multi-frame objects go through the same stacking code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from voxrad.core.study import PatientIdentity
from voxrad.imaging.dicom.fast_header import parse_header, tags_of
from voxrad.imaging.dicom.header_values import (
    FULL_PARSE_KEYWORDS,
    HEADER_KEYWORDS,
    HeaderValues,
    as_float,
    as_floats,
    as_int,
    as_list,
)
from voxrad.imaging.sources import Source

logger = logging.getLogger(__name__)

#: Uncompressed syntaxes whose pixels we read straight from the file at a known offset.
NATIVE_LITTLE_ENDIAN = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
#: Deflated explicit VR little endian: the whole data set after the meta header is deflated.
DEFLATED = "1.2.840.10008.1.2.1.99"
_DEFLATED_BYTES = DEFLATED.encode("ascii")
#: The file meta group (where the transfer syntax is named) lies within the first bytes.
_META_WINDOW = 1024

# (7FE0,0010) Pixel Data, (7FE0,0008) Float and (7FE0,0009) Double Float Pixel Data, LE.
_PIXEL_TAGS = frozenset({b"\xe0\x7f\x10\x00", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00"})

SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"

# SOP classes that never carry images, with a name for the skip reason.
_NON_IMAGE_NAMES = {
    "1.2.840.10008.1.3.10": "a DICOMDIR",
    "1.2.840.10008.5.1.4.1.1.481.3": "an RT structure set",
    "1.2.840.10008.5.1.4.1.1.11.1": "a presentation state",
    "1.2.840.10008.5.1.4.1.1.104.1": "an encapsulated PDF",
    "1.2.840.10008.5.1.4.1.1.66.4": "a segmentation storage object without pixels",
}


class NotAnImageError(Exception):
    """The file is DICOM but holds no image (structured report, RT plan, ...)."""


@dataclass(frozen=True)
class FrameHeader:
    """Everything VoxRad needs to place and decode one 2-D frame."""

    source: Source
    #: Index of the frame inside a multi-frame file; None for a single-frame file.
    frame: int | None
    sop_instance_uid: str
    sop_class_uid: str
    study_uid: str
    series_uid: str
    series_number: int | None
    series_description: str
    modality: str
    body_part: str
    image_type: tuple[str, ...]
    instance_number: int | None
    rows: int
    columns: int
    samples_per_pixel: int
    photometric: str
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    planar_configuration: int
    transfer_syntax: str
    number_of_frames: int
    #: File offset of the (7FE0,0010) tag, when the header scan stopped there.
    pixel_offset: int | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    #: (row spacing, column spacing) in mm: the distance between rows, then between columns.
    pixel_spacing: tuple[float, float] | None
    spacing_source: str
    slice_thickness: float | None
    rescale_slope: float
    rescale_intercept: float
    rescale_type: str
    windows: tuple[tuple[float, float, str], ...]
    acquisition_number: int | None = None
    echo_number: int | None = None
    temporal_position: int | None = None
    trigger_time: float | None = None
    burned_in_annotation: bool = False
    gantry_tilt: float | None = None
    frame_of_reference: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in self.image_type

    @property
    def is_secondary_capture(self) -> bool:
        return self.sop_class_uid.startswith(SECONDARY_CAPTURE_PREFIX)

    @property
    def is_native(self) -> bool:
        return self.transfer_syntax in NATIVE_LITTLE_ENDIAN


Getter = Callable[..., Any]


def _windows(get: Getter) -> tuple[tuple[float, float, str], ...]:
    centers = as_list(get("WindowCenter"))
    widths = as_list(get("WindowWidth"))
    names = as_list(get("WindowCenterWidthExplanation"))
    out = []
    for n, (c, w) in enumerate(zip(centers, widths, strict=False)):
        cf, wf = as_float(c), as_float(w)
        if cf is None or wf is None or wf <= 0:
            continue
        name = str(names[n]).strip() if n < len(names) and str(names[n]).strip() else ""
        out.append((cf, wf, name))
    return tuple(out)


def _spacing(get: Getter) -> tuple[tuple[float, float] | None, str]:
    """Pixel spacing and where it came from; radiographs often only have ImagerPixelSpacing."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        values = as_floats(get(keyword), 2)
        if values and min(values) > 0:
            return (values[0], values[1]), keyword
    regions = get("SequenceOfUltrasoundRegions")
    if regions:
        region = regions[0]
        # Units code 3 = cm; PhysicalDelta is in those units per pixel.
        if (
            region.get("PhysicalUnitsXDirection") == 3
            and region.get("PhysicalUnitsYDirection") == 3
        ):
            dx = as_float(region.get("PhysicalDeltaX"))
            dy = as_float(region.get("PhysicalDeltaY"))
            if dx and dy and dx > 0 and dy > 0:
                return (abs(dy) * 10.0, abs(dx) * 10.0), "SequenceOfUltrasoundRegions"
    return None, ""


def _first_item(seq_owner: Dataset | None, keyword: str) -> Dataset | None:
    if seq_owner is None:
        return None
    seq = seq_owner.get(keyword)
    if not seq:
        return None
    item: Dataset = seq[0]
    return item


def patient_identity(ds: Dataset) -> PatientIdentity:
    """The identifying values of a header (kept apart from everything else)."""
    return PatientIdentity(
        name=str(ds.get("PatientName", "") or ""),
        patient_id=str(ds.get("PatientID", "") or ""),
        birth_date=str(ds.get("PatientBirthDate", "") or ""),
        accession_number=str(ds.get("AccessionNumber", "") or ""),
        institution=str(ds.get("InstitutionName", "") or ""),
    )


_WANTED = tags_of(tuple(HEADER_KEYWORDS))
_FULL_PARSE = tags_of(FULL_PARSE_KEYWORDS)
#: Bytes read for the fast path; longer headers (large private blocks) go to pydicom.
FAST_WINDOW = 65536


def read_dataset(source: Source, *, stop_before_pixels: bool = True) -> tuple[Dataset, int | None]:
    """Parse a DICOM header; returns the dataset and the pixel-data tag offset if reached.

    Most files go through :func:`fast_header.parse_header` (several times faster than
    pydicom, which matters when opening hundreds of files); pydicom parses the rest.
    Files without the 128-byte preamble (older ACR-NEMA style exports) are retried with
    ``force=True`` only when they start like a DICOM data set, so that random files are
    still rejected quickly.
    """
    with source.open() as fp:
        if stop_before_pixels:
            head = fp.read(FAST_WINDOW)
            parsed = parse_header(head, _WANTED, _FULL_PARSE, complete=len(head) < FAST_WINDOW)
            if parsed is not None:
                return parsed
            fp.seek(0)
            if _DEFLATED_BYTES in head[:_META_WINDOW]:
                # pydicom inflates a deflated file whole even to stop before its pixels, and
                # then the pixels' presence needs a second full read: read it fully once.
                ds = _read_with_pydicom(fp, stop_before_pixels=False)[0]
                return ds, None
        return _read_with_pydicom(fp, stop_before_pixels)


def _read_with_pydicom(fp: BinaryIO, stop_before_pixels: bool) -> tuple[Dataset, int | None]:
    try:
        ds = pydicom.dcmread(fp, stop_before_pixels=stop_before_pixels)
    except InvalidDicomError:
        fp.seek(0)
        head = fp.read(8)
        # Group 0x0002 or 0x0008 little endian, the usual first groups of a preamble-less file.
        if head[:2] not in (b"\x02\x00", b"\x08\x00"):
            raise
        fp.seek(0)
        ds = pydicom.dcmread(fp, stop_before_pixels=stop_before_pixels, force=True)
    offset = None
    if stop_before_pixels:
        # dcmread leaves the file at the pixel tag, or at the end when there is none.
        here = fp.tell()
        tag = fp.read(4)
        meta = getattr(ds, "file_meta", None)
        deflated = meta is not None and meta.get("TransferSyntaxUID") == DEFLATED
        if tag in _PIXEL_TAGS and not deflated:
            offset = here
        elif tag or deflated:
            # Big endian or deflated data: the bytes here are not the plain tag (pydicom
            # inflates a deflated file whole, leaving the file at its end), so read the
            # whole file once to learn whether it holds pixels (rare syntaxes only).
            fp.seek(0)
            full = pydicom.dcmread(fp, force=True)
            if any(k in full for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
                ds = full
    return ds, offset


def frames_from_dataset(
    source: Source, ds: Dataset, pixel_offset: int | None, values: HeaderValues | None = None
) -> list[FrameHeader]:
    """One :class:`FrameHeader` per frame of ``ds``; raises NotAnImageError for non-images.

    Pass one ``values`` memo for all files of a scan: it is what makes scanning fast.
    """
    memo = values if values is not None else HeaderValues()

    def g(keyword: str, default: Any = None) -> Any:
        # The fast reader keeps only HEADER_KEYWORDS: reading another would silently be None.
        assert keyword in HEADER_KEYWORDS or keyword in FULL_PARSE_KEYWORDS, keyword
        return memo.get(ds, keyword, default)

    sop_class = str(g("SOPClassUID", "") or getattr(ds.file_meta, "MediaStorageSOPClassUID", ""))
    rows = as_int(g("Rows"))
    columns = as_int(g("Columns"))
    has_pixels = pixel_offset is not None or any(
        k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
    )
    if not rows or not columns or not has_pixels:
        if sop_class in _NON_IMAGE_NAMES:
            raise NotAnImageError(f"no image data (it is {_NON_IMAGE_NAMES[sop_class]})")
        kind = f"{UID(sop_class).name} " if sop_class else ""
        raise NotAnImageError(f"no image data in this {kind}file")
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if not syntax:
        syntax = "1.2.840.10008.1.2"  # no meta header: DICOM says implicit VR little endian
    spacing, spacing_source = _spacing(g)
    base = FrameHeader(
        source=source,
        frame=None,
        sop_instance_uid=str(g("SOPInstanceUID", "")),
        sop_class_uid=sop_class,
        study_uid=str(g("StudyInstanceUID", "")),
        series_uid=str(g("SeriesInstanceUID", "")) or f"no-series-uid:{source.name}",
        series_number=as_int(g("SeriesNumber")),
        series_description=str(g("SeriesDescription", "") or "").strip(),
        modality=str(g("Modality", "") or "OT").strip() or "OT",
        body_part=str(g("BodyPartExamined", "") or "").strip(),
        image_type=tuple(str(v).upper() for v in as_list(g("ImageType"))),
        instance_number=as_int(g("InstanceNumber")),
        rows=rows,
        columns=columns,
        samples_per_pixel=as_int(g("SamplesPerPixel")) or 1,
        photometric=str(g("PhotometricInterpretation", "MONOCHROME2")).strip().upper(),
        bits_allocated=as_int(g("BitsAllocated")) or 16,
        bits_stored=as_int(g("BitsStored")) or as_int(g("BitsAllocated")) or 16,
        pixel_representation=as_int(g("PixelRepresentation")) or 0,
        planar_configuration=as_int(g("PlanarConfiguration")) or 0,
        transfer_syntax=syntax,
        number_of_frames=max(as_int(g("NumberOfFrames")) or 1, 1),
        pixel_offset=pixel_offset,
        position=as_floats(g("ImagePositionPatient"), 3),  # type: ignore[arg-type]
        orientation=as_floats(g("ImageOrientationPatient"), 6),
        pixel_spacing=spacing,
        spacing_source=spacing_source,
        slice_thickness=as_float(g("SliceThickness")),
        rescale_slope=as_float(g("RescaleSlope"), 1.0) or 1.0,
        rescale_intercept=as_float(g("RescaleIntercept"), 0.0) or 0.0,
        rescale_type=str(g("RescaleType", "") or ""),
        windows=_windows(g),
        acquisition_number=as_int(g("AcquisitionNumber")),
        echo_number=as_int(as_list(g("EchoNumbers"))[0]) if g("EchoNumbers") else None,
        temporal_position=as_int(g("TemporalPositionIdentifier")),
        trigger_time=as_float(g("TriggerTime")),
        burned_in_annotation=str(g("BurnedInAnnotation", "")).upper() == "YES",
        gantry_tilt=as_float(g("GantryDetectorTilt")),
        frame_of_reference=str(g("FrameOfReferenceUID", "") or ""),
    )
    if base.number_of_frames == 1 and "PerFrameFunctionalGroupsSequence" not in ds:
        return [base]
    return _expand_frames(base, ds)


def _expand_frames(base: FrameHeader, ds: Dataset) -> list[FrameHeader]:
    """Per-frame headers of a multi-frame object.

    Enhanced objects (CT/MR/PET/...) carry each frame's plane position, and possibly its
    orientation, spacing and rescale, in functional groups; shared groups fill the rest.
    Legacy multi-frame objects (US cine, XA, NM) have no per-frame geometry: their frames
    keep ``position=None`` and become a cine stack.
    """
    shared = _first_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    frames: list[FrameHeader] = []
    for index in range(base.number_of_frames):
        item = per_frame[index] if index < len(per_frame) else None
        updates: dict[str, Any] = {"frame": index}

        def group(keyword: str, item: Dataset | None = item) -> Dataset | None:
            return _first_item(item, keyword) or _first_item(shared, keyword)

        pos = group("PlanePositionSequence")
        if pos is not None:
            updates["position"] = as_floats(pos.get("ImagePositionPatient"), 3)
        ori = group("PlaneOrientationSequence")
        if ori is not None:
            updates["orientation"] = as_floats(ori.get("ImageOrientationPatient"), 6)
        measures = group("PixelMeasuresSequence")
        if measures is not None:
            spacing = as_floats(measures.get("PixelSpacing"), 2)
            if spacing and min(spacing) > 0:
                updates["pixel_spacing"] = (spacing[0], spacing[1])
                updates["spacing_source"] = "PixelSpacing"
            thickness = as_float(measures.get("SliceThickness"))
            if thickness:
                updates["slice_thickness"] = thickness
        transform = group("PixelValueTransformationSequence")
        if transform is not None:
            updates["rescale_slope"] = as_float(transform.get("RescaleSlope"), 1.0) or 1.0
            updates["rescale_intercept"] = as_float(transform.get("RescaleIntercept"), 0.0) or 0.0
            updates["rescale_type"] = str(transform.get("RescaleType", "") or "")
        voi = group("FrameVOILUTSequence")
        if voi is not None:
            updates["windows"] = _windows(voi.get)
        content = _first_item(item, "FrameContentSequence")
        if content is not None:
            updates["temporal_position"] = as_int(content.get("TemporalPositionIndex"))
            dims = content.get("DimensionIndexValues")
            if dims is not None:
                updates["extra"] = {"dimension_index": tuple(as_list(dims))}
        frames.append(replace(base, **updates))
    return frames
