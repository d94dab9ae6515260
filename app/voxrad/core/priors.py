"""Prior studies: which earlier studies belong to the same patient, which one to compare with,
and how long before the open study it was made.

Pure rules, no I/O: the readers that list candidate studies live in
:mod:`voxrad.imaging.priors` (the recent list and a chosen folder) and :mod:`voxrad.pacs.priors`
(the PACS). Each is a :class:`PriorSource`; :func:`find_priors` asks them all.

Identity is decided here and only here: two studies are of the same patient when their patient
ID **and** issuer of patient ID are equal (a missing issuer matches only a missing issuer). Names,
birth dates and accession numbers are never used to match. The values that identify a patient
(IDs, dates, descriptions, paths) are left out of every ``repr`` so that a stray log line does
not carry them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from datetime import time as clock_time
from typing import Protocol

from voxrad.core.errors import PriorPatientMismatchError, PriorStudyError, VoxRadError
from voxrad.core.study import PatientIdentity

logger = logging.getLogger(__name__)

#: Where a candidate study was found, in the order a duplicate is kept (local copies first).
SOURCES = ("open", "recent", "folder", "pacs")

#: Modalities shown side by side without registration (projection radiographs).
PROJECTION_MODALITIES = frozenset({"CR", "DX", "MG", "RG", "PX", "IO"})


@dataclass(frozen=True)
class PatientKey:
    """What decides that two studies are of the same patient.

    ``issuer`` is IssuerOfPatientID (0010,0021), "" when the header has none. Values are kept
    exactly as in the header apart from surrounding spaces (DICOM pads strings).
    """

    patient_id: str
    issuer: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "patient_id", self.patient_id.strip())
        object.__setattr__(self, "issuer", self.issuer.strip())

    def __repr__(self) -> str:
        return "PatientKey(<hidden>)"

    def matches(self, other: PatientKey) -> bool:
        """True when both IDs are present and equal and both issuers are equal (or both
        missing). An empty patient ID matches nothing: it cannot show that two studies are
        of one patient."""
        return bool(self.patient_id) and (self.patient_id, self.issuer) == (
            other.patient_id,
            other.issuer,
        )


@dataclass(frozen=True)
class StudyRef:
    """One study as a candidate for comparison: what it is and where to open it from.

    ``date`` and ``time`` are StudyDate (``YYYYMMDD``) and StudyTime (``HHMMSS.ffffff``) as in
    the header, "" when missing. ``location`` is the folder or file to open for a local study
    and the PACS node's name for one on the PACS. ``identity`` holds the header's identifying
    values for the privacy gate (empty for PACS results). ``patient_conflict`` is True when the
    files of one study carry more than one patient key: such a study never matches.
    """

    study_uid: str = field(repr=False)
    patient: PatientKey = field(repr=False)
    source: str = "folder"
    date: str = field(default="", repr=False)
    time: str = field(default="", repr=False)
    modalities: tuple[str, ...] = ()
    body_parts: tuple[str, ...] = ()
    description: str = field(default="", repr=False)
    location: str = field(default="", repr=False)
    frame_of_reference_uids: tuple[str, ...] = field(default=(), repr=False)
    series_count: int = 0
    identity: PatientIdentity = field(default_factory=PatientIdentity, repr=False)
    patient_conflict: bool = False

    @property
    def when(self) -> datetime | None:
        """StudyDate and StudyTime as one datetime (midnight when the time is missing)."""
        day = parse_dicom_date(self.date)
        if day is None:
            return None
        return datetime.combine(day, parse_dicom_time(self.time) or clock_time())

    @property
    def is_projection(self) -> bool:
        """True for radiographs (CR, DX, ...): compared side by side, never registered."""
        return bool(self.modalities) and all(m in PROJECTION_MODALITIES for m in self.modalities)


class PriorSource(Protocol):
    """Somewhere earlier studies can be found (the recent list, a folder, a PACS node)."""

    #: Shown in a warning when the source fails ("the PACS node 'main'").
    name: str

    def studies_of(self, patient: PatientKey) -> list[StudyRef]:
        """Studies of ``patient`` this source holds (it may return others: the caller
        filters by :meth:`PatientKey.matches`). Raises a VoxRadError when it cannot look."""
        ...


@dataclass(frozen=True)
class PriorSearch:
    """What :func:`find_priors` found: earlier studies newest first, and sources that failed."""

    priors: tuple[StudyRef, ...] = ()
    #: One line per source that could not be searched, for the clinician.
    warnings: tuple[str, ...] = ()


# -- dates -----------------------------------------------------------------------------------
def parse_dicom_date(value: str) -> date | None:
    """``YYYYMMDD`` (or the old ``YYYY.MM.DD``) as a date; None when missing or invalid."""
    text = value.strip().replace(".", "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_dicom_time(value: str) -> clock_time | None:
    """``HHMMSS.ffffff`` (any prefix of it, or the old ``HH:MM:SS``) as a time, else None."""
    text = value.strip().replace(":", "").split(".")[0]
    if not text.isdigit() or len(text) not in (2, 4, 6):
        return None
    parts = [int(text[n : n + 2]) for n in range(0, len(text), 2)] + [0, 0]
    try:
        return clock_time(parts[0], parts[1], parts[2])
    except ValueError:
        return None


def _whole_months(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + (later.month - earlier.month)
    return months - 1 if later.day < earlier.day else months


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'} earlier"


def interval_in_words(prior: StudyRef, current: StudyRef) -> str:
    """How long before ``current`` the ``prior`` was made, in words: "3 days earlier",
    "5 weeks earlier", "14 months earlier", "2 years earlier", "earlier the same day".

    The study dates are read here and **never leave this function** in any text meant for the
    model or a report: they help identify the patient, so only this coarse interval does.
    Intervals round down (a prior 23 months old is "23 months earlier", 25 months "2 years
    earlier"): days below 2 weeks, weeks below 8 weeks, months below 2 years, then years.
    Returns "at an unknown interval" when either date is missing, and raises
    :class:`PriorStudyError` when the prior is not earlier than the current study.
    """
    before, after = prior.when, current.when
    if before is None or after is None:
        return "at an unknown interval"
    if before >= after:
        raise PriorStudyError(
            "The chosen prior study is not earlier than the open study.",
            hint="Open the later study and choose the earlier one as its prior.",
        )
    days = (after.date() - before.date()).days
    if days == 0:
        return "earlier the same day"
    if days < 14:
        return _plural(days, "day")
    if days < 56:
        return _plural(days // 7, "week")
    months = _whole_months(before.date(), after.date())
    if months < 24:
        return _plural(max(months, 1), "month")
    return _plural(months // 12, "year")


# -- identity --------------------------------------------------------------------------------
def check_prior(current: StudyRef, prior: StudyRef) -> None:
    """Refuse a prior that cannot be compared with ``current``, with a message a clinician can
    act on (no identifier is quoted: the message may be shown on a shared screen).

    Raises :class:`PriorPatientMismatchError` when the patient IDs differ, when the issuers of
    patient ID differ, when either study has no patient ID, or when a study's files disagree on
    the patient; :class:`PriorStudyError` when the prior is the open study itself or is not
    earlier.
    """
    for ref, which in ((current, "open"), (prior, "chosen prior")):
        if ref.patient_conflict:
            raise PriorPatientMismatchError(
                f"The files of the {which} study carry more than one patient ID, so VoxRad "
                "cannot tell whose study it is."
            )
        if not ref.patient.patient_id:
            raise PriorPatientMismatchError(
                f"The {which} study has no patient ID, so VoxRad cannot confirm that both "
                "studies are of the same patient."
            )
    if current.patient.patient_id != prior.patient.patient_id:
        raise PriorPatientMismatchError(
            "The chosen prior study belongs to another patient: its patient ID differs from "
            "the open study's."
        )
    if current.patient.issuer != prior.patient.issuer:
        raise PriorPatientMismatchError(
            "The chosen prior study has the same patient ID but another issuer of patient ID "
            "(the IDs come from different hospitals or systems), so it may be another patient."
        )
    if current.study_uid and current.study_uid == prior.study_uid:
        raise PriorStudyError(
            "The chosen prior is the open study itself.",
            hint="Choose an earlier study of this patient.",
        )
    interval_in_words(prior, current)  # raises when the prior is not earlier


def _normal(value: str) -> str:
    return value.strip().upper().replace(" ", "_").replace("-", "_")


def same_kind(current: StudyRef, prior: StudyRef) -> bool:
    """Same modality and body part: the two share a modality, and their body parts are equal
    when both headers name one (BodyPartExamined is often missing; missing is not a mismatch)."""
    if not set(current.modalities) & set(prior.modalities):
        return False
    mine = {_normal(b) for b in current.body_parts if b.strip()}
    theirs = {_normal(b) for b in prior.body_parts if b.strip()}
    return not mine or not theirs or bool(mine & theirs)


def _merge(kept: StudyRef, other: StudyRef) -> StudyRef:
    """One study seen twice (say in the recent list and on the PACS): keep the local copy and
    everything either one knows about its content."""
    return replace(
        kept,
        modalities=tuple(dict.fromkeys(kept.modalities + other.modalities)),
        body_parts=tuple(dict.fromkeys(kept.body_parts + other.body_parts)),
        patient_conflict=kept.patient_conflict or other.patient_conflict,
    )


def earlier_studies(current: StudyRef, candidates: Iterable[StudyRef]) -> list[StudyRef]:
    """The candidates that are earlier studies of ``current``'s patient, newest first.

    Keeps a candidate when its patient key matches (:meth:`PatientKey.matches`), it is not
    the open study, and it was made before the open study; a candidate without a study date
    (or with an open study without one) is kept after the dated ones, since it may be earlier.
    A study found in several sources is listed once, from the most local source.
    """
    if current.patient_conflict or not current.patient.patient_id:
        return []
    by_uid: dict[str, StudyRef] = {}
    order = {name: n for n, name in enumerate(SOURCES)}
    for ref in sorted(candidates, key=lambda r: order.get(r.source, len(SOURCES))):
        if ref.patient_conflict or not current.patient.matches(ref.patient):
            continue
        if not ref.study_uid or ref.study_uid == current.study_uid:
            continue
        before, now = ref.when, current.when
        if before is not None and now is not None and before >= now:
            continue
        seen = by_uid.get(ref.study_uid)
        by_uid[ref.study_uid] = ref if seen is None else _merge(seen, ref)
    dated = [r for r in by_uid.values() if r.when is not None]
    dated.sort(key=lambda r: r.when or datetime.min, reverse=True)
    return dated + [r for r in by_uid.values() if r.when is None]


def default_prior(current: StudyRef, priors: Sequence[StudyRef]) -> StudyRef | None:
    """The most recent dated prior of the same modality and body part as ``current``
    (:func:`same_kind`), or None. ``priors`` is newest first, as :func:`earlier_studies` lists
    them. None too when ``current`` has no study date: then no study is known to be earlier."""
    if current.when is None:
        return None
    return next((p for p in priors if p.when is not None and same_kind(current, p)), None)


def find_priors(current: StudyRef, sources: Iterable[PriorSource]) -> PriorSearch:
    """Ask every source for studies of ``current``'s patient and keep the earlier ones.

    A source that fails with a :class:`VoxRadError` (a PACS that does not answer, a folder
    that cannot be read) becomes a warning; the others still count. Programming errors are
    not caught. The default choice is in :func:`choose_prior`.
    """
    if current.patient_conflict or not current.patient.patient_id:
        return PriorSearch(
            warnings=(
                "The open study has no single patient ID, so VoxRad cannot look for its "
                "prior studies.",
            )
        )
    candidates: list[StudyRef] = []
    warnings: list[str] = []
    for source in sources:
        try:
            candidates.extend(source.studies_of(current.patient))
        except VoxRadError as exc:
            logger.info("prior search: %s failed (%s)", source.name, type(exc).__name__)
            warnings.append(f"Could not search {source.name}: {exc.user_message()}")
    priors = earlier_studies(current, candidates)
    logger.info("prior search: %d earlier studies, %d sources failed", len(priors), len(warnings))
    return PriorSearch(priors=tuple(priors), warnings=tuple(warnings))


def choose_prior(
    current: StudyRef, priors: Sequence[StudyRef], choice: str | int | None = None
) -> StudyRef:
    """The prior to compare ``current`` with.

    ``choice`` None: the most recent earlier study of the same modality and body part.
    An int or a short digit string: that number (1-based) in ``priors`` as listed. Otherwise a
    Study Instance UID or a unique prefix of one. The chosen study is checked with
    :func:`check_prior`. Raises :class:`PriorStudyError` when nothing fits, naming how many
    other priors there are to choose from.
    """
    if choice is None:
        chosen = default_prior(current, priors)
        if chosen is None and current.when is None and priors:
            raise PriorStudyError(
                "The open study has no study date, so VoxRad cannot tell which study is the prior.",
                hint="Choose the prior by its number in the list.",
            )
        if chosen is None:
            others = len(priors)
            raise PriorStudyError(
                "No earlier study of this patient with the same modality and body part was found.",
                hint=(
                    f"{others} other earlier {'study is' if others == 1 else 'studies are'} "
                    "listed: choose one by its number."
                    if others
                    else "Open the prior from a folder or the PACS, or check that it has the "
                    "same patient ID and issuer."
                ),
            )
    elif isinstance(choice, int) or (choice.isdigit() and len(choice) < 4):
        index = int(choice) - 1
        if not 0 <= index < len(priors):
            raise PriorStudyError(
                f"There is no prior number {choice}.",
                hint=f"Choose a number from 1 to {len(priors)}." if priors else "",
            )
        chosen = priors[index]
    else:
        found = [p for p in priors if p.study_uid == choice] or [
            p for p in priors if p.study_uid.startswith(choice)
        ]
        if len(found) != 1:
            raise PriorStudyError(
                "No single earlier study of this patient has that study UID.",
                hint="Choose a prior by its number in the list.",
            )
        chosen = found[0]
    check_prior(current, chosen)
    return chosen
