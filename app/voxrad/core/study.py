"""What a loaded study looks like to the rest of VoxRad, before any pixels are read."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not loaded, and why, in words a user can act on."""

    path: str
    reason: str


@dataclass(frozen=True)
class PatientIdentity:
    """Identifying header values. Shown only on request (``--phi``); never logged or sent."""

    name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    accession_number: str = ""
    institution: str = ""


@dataclass(frozen=True)
class SeriesInfo:
    """One displayable series: what the series list shows and what ``voxrad info`` prints."""

    uid: str
    modality: str
    description: str
    #: (slices or frames, rows, columns) of the volume as it will be built.
    shape: tuple[int, int, int]
    study_uid: str = ""
    series_number: int | None = None
    body_part: str = ""
    #: "volume" (a stack of slices), "image" (one 2-D image), "multiframe", "cine" or "rgb".
    kind: str = "volume"
    file_count: int = 0
    warnings: tuple[str, ...] = ()
    #: What privacy and export need from the headers (empty when not DICOM).
    sop_class_uid: str = ""
    #: True when any image says BurnedInAnnotation = YES.
    burned_in_annotation: bool = False
    frame_of_reference_uid: str = ""
    #: SOP Instance UID of each acquired image, in slice order (frames repeat their file's UID).
    sop_instance_uids: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Unique within a study: a split series keeps the UID with a suffix."""
        return self.uid


@dataclass
class ScanReport:
    """What a scan of a path found: files skipped, and how long it took."""

    skipped: list[SkippedFile] = field(default_factory=list)
    files_seen: int = 0
    seconds: float = 0.0
