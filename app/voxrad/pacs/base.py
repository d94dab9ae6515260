"""What a PACS client does, independent of the protocol: the Protocol and its value types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

#: ``progress(done, total, stage)``, the shape the imaging readers use.
ProgressCallback = Callable[[int, int, str], None]


class CancelToken(Protocol):
    """Anything with ``is_set()``, such as :class:`threading.Event`."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class StudyQuery:
    """Study-level search filters; empty strings match anything.

    ``patient_name`` may hold ``*`` wildcards. Dates are ``YYYYMMDD``; either end may be empty.
    ``issuer_of_patient_id`` narrows a patient ID to the system that gave it out; a PACS may
    ignore it, so a caller that needs it exact checks :attr:`StudyMatch.issuer_of_patient_id`.
    """

    patient_id: str = ""
    issuer_of_patient_id: str = ""
    patient_name: str = ""
    accession: str = ""
    modality: str = ""
    date_from: str = ""
    date_to: str = ""
    limit: int = 100

    @property
    def date_range(self) -> str:
        """The DICOM range matching value (``FROM-TO``), or "" when no date was given."""
        if not (self.date_from or self.date_to):
            return ""
        if self.date_from and self.date_from == self.date_to:
            return self.date_from
        return f"{self.date_from}-{self.date_to}"


@dataclass(frozen=True)
class StudyMatch:
    """One study a search found. Patient fields are for display only: never log them."""

    study_uid: str
    date: str = ""
    modalities: tuple[str, ...] = ()
    description: str = ""
    accession: str = ""
    patient_id: str = ""
    patient_name: str = ""
    series_count: int | None = None
    instance_count: int | None = None
    issuer_of_patient_id: str = ""
    #: StudyTime (``HHMMSS.ffffff``), "" when the PACS did not give it.
    time: str = ""


@dataclass(frozen=True)
class SeriesMatch:
    """One series of a study."""

    series_uid: str
    modality: str = ""
    description: str = ""
    number: int | None = None
    instance_count: int | None = None
    body_part: str = ""


@dataclass(frozen=True)
class FailedInstance:
    """An image that did not arrive or was not stored, and why (in words IT can act on)."""

    sop_uid: str
    reason: str


@dataclass
class RetrieveResult:
    """What one retrieve left in ``folder``.

    ``expected`` is the number of images the PACS listed for what was asked; ``received``
    the ones that arrived in this run, ``already_there`` those kept from an earlier run.
    ``complete`` is True only when every expected image is in the folder.
    """

    folder: Path
    study_uid: str
    expected: int = 0
    received: int = 0
    already_there: int = 0
    failed: list[FailedInstance] = field(default_factory=list)
    complete: bool = False
    seconds: float = 0.0

    @property
    def present(self) -> int:
        return self.received + self.already_there


@dataclass(frozen=True)
class StoreOutcome:
    """The PACS's answer for one file sent."""

    path: str
    sop_uid: str
    ok: bool
    reason: str = ""
    study_uid: str = ""


class PacsClient(Protocol):
    """One PACS node, one protocol. Every method raises a :class:`~voxrad.core.errors.PacsError`
    subclass with a message a clinician or IT can act on; none logs patient identifiers."""

    def echo(self) -> float:
        """Check that the node answers; returns the round trip in seconds."""
        ...

    def find_studies(self, query: StudyQuery) -> list[StudyMatch]:
        """Studies matching ``query``, at most ``query.limit``."""
        ...

    def find_series(self, study_uid: str) -> list[SeriesMatch]:
        """The series of one study."""
        ...

    def retrieve(
        self,
        study_uid: str,
        series_uid: str | None,
        dest: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RetrieveResult:
        """Fetch a study (or one series) into ``dest``, skipping images already there.

        The folder is marked incomplete before the first image and complete only when every
        listed image is present (:mod:`voxrad.pacs.cache`). Faults raise after the marker and
        the images received so far are written.
        """
        ...

    def store(self, paths: Sequence[Path]) -> list[StoreOutcome]:
        """Send DICOM files; one outcome per file, in order."""
        ...

    def close(self) -> None:
        """Release connections (safe to call twice)."""
        ...
