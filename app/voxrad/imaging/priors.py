"""Find studies on this workstation by their headers: the open study's identity, and the earlier
studies of its patient in the recent-studies list or in a chosen folder.

Only headers are read (the fast reader of :mod:`voxrad.imaging.dicom.headers`, which stops
before the pixels), so a folder of a few thousand files is listed in seconds. Which studies are
of the same patient, and which one is the default prior, is decided in
:mod:`voxrad.core.priors`; the PACS side is :mod:`voxrad.pacs.priors`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from voxrad.core.errors import PriorStudyError, StudyLoadError
from voxrad.core.priors import PatientKey, StudyRef
from voxrad.core.study import PatientIdentity
from voxrad.imaging.dicom.headers import patient_identity, read_dataset
from voxrad.imaging.progress import CancelToken, ProgressCallback, check_cancel, report
from voxrad.imaging.sources import Source, ZipMemberSource, list_sources

logger = logging.getLogger(__name__)

#: Files that are certainly not DICOM; not even opened.
_NOT_DICOM_SUFFIXES = frozenset(
    {".txt", ".md", ".json", ".xml", ".csv", ".html", ".pdf", ".py", ".log", ".png", ".jpg",
     ".jpeg", ".nii", ".gz", ".bmp", ".tif", ".tiff"}
)  # fmt: skip


@dataclass
class _Study:
    """What the files of one StudyInstanceUID say, gathered file by file."""

    patients: set[PatientKey] = field(default_factory=set)
    date: str = ""
    time: str = ""
    description: str = ""
    identity: PatientIdentity = field(default_factory=PatientIdentity)
    modalities: dict[str, None] = field(default_factory=dict)
    body_parts: dict[str, None] = field(default_factory=dict)
    frames_of_reference: dict[str, None] = field(default_factory=dict)
    series: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)


def _text(ds: object, keyword: str) -> str:
    value = ds.get(keyword, "")  # type: ignore[attr-defined]
    return str(value or "").strip()


def _where(source: Source) -> str:
    return source.archive if isinstance(source, ZipMemberSource) else str(Path(source.path).parent)


def scan_studies(
    path: str | Path,
    *,
    source: str = "folder",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[StudyRef]:
    """Every DICOM study under ``path`` (a file, a folder searched recursively, or a zip), one
    :class:`StudyRef` per Study Instance UID, read from headers only.

    Files that are not DICOM or cannot be read are passed over silently (this is a search, not
    an open). ``location`` is the deepest folder holding all of a study's files (the archive
    for a zip), so :func:`voxrad.imaging.registry.open_study` opens it. ``source`` is recorded
    on each ref ("folder", "recent", "open"). Raises :class:`StudyLoadError` when ``path``
    does not exist or cannot be listed.
    """
    start = time.perf_counter()
    p = Path(path).expanduser()
    if not p.exists():
        raise StudyLoadError(f"{p} does not exist.", hint="Check the path and try again.")
    try:
        sources = [
            s
            for s in list_sources(p)
            if Path(s.name.split("!")[-1]).suffix.lower() not in _NOT_DICOM_SUFFIXES
        ]
    except PermissionError as exc:
        raise StudyLoadError(
            f"No permission to read {p}.", hint="Ask IT for read access to this folder."
        ) from exc
    studies: dict[str, _Study] = {}
    for n, src in enumerate(sources):
        if n % 32 == 0:
            check_cancel(cancel)
            report(progress, n, len(sources), "searching")
        try:
            ds, _ = read_dataset(src)
        except Exception:  # not DICOM, unreadable, damaged: not a candidate
            logger.debug("prior search: %s is not a readable DICOM header", src.name)
            continue
        uid = _text(ds, "StudyInstanceUID")
        if not uid or not _text(ds, "SOPInstanceUID"):
            continue
        study = studies.get(uid)
        if study is None:
            study = studies[uid] = _Study(
                date=_text(ds, "StudyDate"),
                time=_text(ds, "StudyTime"),
                description=_text(ds, "StudyDescription"),
                identity=patient_identity(ds),
            )
        study.patients.add(PatientKey(_text(ds, "PatientID"), _text(ds, "IssuerOfPatientID")))
        for keyword, seen in (
            ("Modality", study.modalities),
            ("BodyPartExamined", study.body_parts),
            ("FrameOfReferenceUID", study.frames_of_reference),
        ):
            value = _text(ds, keyword)
            if value:
                seen[value] = None
        study.series.add(_text(ds, "SeriesInstanceUID"))
        study.folders.add(_where(src))
    report(progress, len(sources), len(sources), "searching")
    refs = [_ref(uid, s, source) for uid, s in studies.items()]
    logger.info(
        "prior search: %d studies in %d files, %.3f s",
        len(refs),
        len(sources),
        time.perf_counter() - start,
    )
    return refs


def _ref(uid: str, study: _Study, source: str) -> StudyRef:
    conflict = len(study.patients) > 1
    patient = next(iter(study.patients)) if not conflict else PatientKey("")
    if conflict:
        logger.warning("prior search: one study's files carry %d patient keys", len(study.patients))
    return StudyRef(
        study_uid=uid,
        patient=patient,
        source=source,
        date=study.date,
        time=study.time,
        modalities=tuple(study.modalities),
        body_parts=tuple(study.body_parts),
        description=study.description,
        location=os.path.commonpath(sorted(study.folders)),
        frame_of_reference_uids=tuple(study.frames_of_reference),
        series_count=len(study.series),
        identity=study.identity,
        patient_conflict=conflict,
    )


def open_study_ref(path: str | Path, study_uid: str = "") -> StudyRef:
    """The identity of the study open from ``path``, for :func:`voxrad.core.priors.find_priors`.

    ``study_uid`` picks one study when the path holds several (the shown series' study UID).
    Raises :class:`PriorStudyError` when the path holds no DICOM study (NIfTI and PNG files
    say nothing about the patient) or several and none was named.
    """
    refs = scan_studies(path, source="open")
    if study_uid:
        refs = [r for r in refs if r.study_uid == study_uid]
    if not refs:
        raise PriorStudyError(
            "The open images have no DICOM study header, so VoxRad cannot tell whose they are "
            "or find an earlier study of the patient.",
            hint="Open the study as DICOM to compare it with a prior.",
        )
    if len(refs) > 1:
        raise PriorStudyError(
            f"The open folder holds {len(refs)} studies.",
            hint="Show a series of the study to compare first.",
        )
    return refs[0]


class FolderPriors:
    """A :class:`~voxrad.core.priors.PriorSource`: the DICOM studies in a folder the user chose."""

    def __init__(self, folder: str | Path, *, cancel: CancelToken | None = None) -> None:
        self.folder = Path(folder)
        self.cancel = cancel
        self.name = "the chosen folder"

    def studies_of(self, patient: PatientKey) -> list[StudyRef]:
        return [
            r
            for r in scan_studies(self.folder, source="folder", cancel=self.cancel)
            if patient.matches(r.patient)
        ]


class RecentPriors:
    """A :class:`~voxrad.core.priors.PriorSource`: the studies of the recent-studies list.

    ``paths`` is that list (``voxrad.ui.recent.load_recent()`` in the app): it is passed in so
    this layer never reads the GUI's storage. Paths that have gone are skipped.
    """

    def __init__(self, paths: Sequence[str], *, cancel: CancelToken | None = None) -> None:
        self.paths = list(paths)
        self.cancel = cancel
        self.name = "the recent studies"

    def studies_of(self, patient: PatientKey) -> list[StudyRef]:
        out: list[StudyRef] = []
        for path in self.paths:
            try:
                refs = scan_studies(path, source="recent", cancel=self.cancel)
            except StudyLoadError:
                logger.info("prior search: a recent study is no longer readable")
                continue
            out.extend(r for r in refs if patient.matches(r.patient))
        return out
