"""Fast conversion of DICOM header values for the scan of many files.

Kept apart from :mod:`headers` because it is the performance-critical part of the scan: the
files of one series repeat most values, so each distinct raw value is converted once.
"""

from __future__ import annotations

from typing import Any

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

#: Every top-level attribute the header scan reads (the fast reader keeps only these).
HEADER_KEYWORDS = frozenset(
    {
        "SpecificCharacterSet",
        "SOPClassUID",
        "SOPInstanceUID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SeriesNumber",
        "SeriesDescription",
        "Modality",
        "BodyPartExamined",
        "ImageType",
        "InstanceNumber",
        "Rows",
        "Columns",
        "SamplesPerPixel",
        "PhotometricInterpretation",
        "BitsAllocated",
        "BitsStored",
        "PixelRepresentation",
        "PlanarConfiguration",
        "NumberOfFrames",
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "ImagerPixelSpacing",
        "NominalScannedPixelSpacing",
        "SliceThickness",
        "RescaleSlope",
        "RescaleIntercept",
        "RescaleType",
        "WindowCenter",
        "WindowWidth",
        "WindowCenterWidthExplanation",
        "AcquisitionNumber",
        "EchoNumbers",
        "TemporalPositionIdentifier",
        "TriggerTime",
        "BurnedInAnnotation",
        "GantryDetectorTilt",
        "FrameOfReferenceUID",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "AccessionNumber",
        "InstitutionName",
        # Which earlier studies are of the same patient, and when (voxrad.imaging.priors).
        "IssuerOfPatientID",
        "StudyDate",
        "StudyTime",
        "StudyDescription",
    }
)
#: Sequences that only pydicom's full parse provides (the fast reader falls back on them).
FULL_PARSE_KEYWORDS = (
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "SequenceOfUltrasoundRegions",
    "DirectoryRecordSequence",
)


class HeaderValues:
    """Converted header values, memoised on their raw bytes.

    The files of one series repeat most values (UIDs, sizes, spacing, rescale); converting
    each distinct raw value once makes the scan several times faster than plain
    ``Dataset.get``. Values are shared between datasets, so callers must not mutate them.
    """

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], Any] = {}

    def get(self, ds: Dataset, keyword: str, default: Any = None) -> Any:
        tag = _tag(keyword)
        raw = ds.get_item(tag)
        if raw is None:
            return default
        if (
            isinstance(raw, RawDataElement)
            and isinstance(raw.value, bytes)
            and len(raw.value) < 512
        ):
            charset = getattr(ds.get_item(0x00080005), "value", None)
            key = (
                tag,
                raw.VR,
                raw.value,
                charset if isinstance(charset, bytes | str) else str(charset),
            )
            try:
                return self._memo[key]
            except KeyError:
                value = _fast_value(keyword, raw)
                if value is None:
                    value = ds[tag].value
                self._memo[key] = value
                return value
        return ds[tag].value


_NUMERIC_STRING = frozenset(
    {
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "SliceThickness",
        "RescaleSlope",
        "RescaleIntercept",
        "InstanceNumber",
        "SeriesNumber",
        "AcquisitionNumber",
        "TemporalPositionIdentifier",
        "TriggerTime",
        "GantryDetectorTilt",
        "EchoNumbers",
    }
)
_UID = frozenset(
    {
        "SOPInstanceUID",
        "SOPClassUID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "FrameOfReferenceUID",
    }
)


def _fast_value(keyword: str, raw: RawDataElement) -> Any:
    """Convert the values that differ per file (positions, UIDs) without pydicom's objects.

    Returns None when the raw form is not the expected one; pydicom then converts it.
    """
    value = raw.value
    if not isinstance(value, bytes):
        return None
    try:
        if keyword in _NUMERIC_STRING:
            parts = value.split(b"\\")
            numbers = [float(p) for p in parts]
            if keyword in (
                "InstanceNumber",
                "SeriesNumber",
                "AcquisitionNumber",
                "TemporalPositionIdentifier",
            ):
                return int(numbers[0]) if len(numbers) == 1 and numbers[0].is_integer() else None
            return numbers[0] if len(numbers) == 1 else numbers
        if keyword in _UID:
            return value.rstrip(b"\x00 ").decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return None


_TAG_CACHE: dict[str, int] = {}


def _tag(keyword: str) -> int:
    tag = _TAG_CACHE.get(keyword)
    if tag is None:
        found = tag_for_keyword(keyword)
        if found is None:
            raise KeyError(keyword)
        tag = _TAG_CACHE[keyword] = int(found)
    return tag


def as_float(value: Any, default: float | None = None) -> float | None:
    try:
        if value is None or value == "":
            return default
        return float(value)
    except (TypeError, ValueError):
        return default


def as_int(value: Any) -> int | None:
    try:
        if value is None or value == "":
            return None
        return int(value)
    except (TypeError, ValueError):
        return None


def as_floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        if value is None:
            return None
        items = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return items if len(items) == n else None


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes | int | float):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]
