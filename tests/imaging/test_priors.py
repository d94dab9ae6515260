"""Finding the prior of a real study among copies of it (another date, another patient, another
issuer) in a chosen folder and in the recent-studies list."""

from __future__ import annotations

from pathlib import Path

import pytest

from prior_pairs import copy_series
from voxrad.core.errors import PacsUnreachableError, PriorPatientMismatchError, PriorStudyError
from voxrad.core.priors import (
    PatientKey,
    StudyRef,
    check_prior,
    choose_prior,
    find_priors,
    interval_in_words,
)
from voxrad.imaging.priors import FolderPriors, RecentPriors, open_study_ref, scan_studies

CT_PATIENT = "Pancreas-CT-CB_001"  # the real abdomen CT, StudyDate 20120706, CT CHEST


@pytest.fixture(scope="module")
def ct_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "ct-abdomen-134").glob("*.dcm"))[60:66]


@pytest.fixture
def current(ct_files: list[Path], tmp_path: Path) -> StudyRef:
    """The real CT as the open study (a copy, so the test owns it)."""
    return open_study_ref(copy_series(ct_files, tmp_path / "current", StudyDate="20120706"))


def test_the_same_series_saved_earlier_is_the_default_prior(
    ct_files: list[Path], current: StudyRef, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    copy_series(ct_files, archive / "a", StudyDate="20110506")
    copy_series(ct_files, archive / "b", StudyDate="20100101")
    search = find_priors(current, [FolderPriors(archive)])
    assert [p.date for p in search.priors] == ["20110506", "20100101"]
    assert search.warnings == ()
    prior = choose_prior(current, search.priors)
    assert prior.date == "20110506" and prior.location == str(archive / "a")
    assert prior.modalities == ("CT",) and prior.body_parts == ("CHEST",)
    assert prior.study_uid != current.study_uid
    assert interval_in_words(prior, current) == "14 months earlier"
    assert interval_in_words(search.priors[1], current) == "2 years earlier"
    # Any other on request, by its number in the list or its study UID.
    assert choose_prior(current, search.priors, 2).date == "20100101"
    assert choose_prior(current, search.priors, search.priors[1].study_uid[:30]).date == "20100101"


def test_default_is_the_same_modality_and_body_part_others_listed(
    ct_files: list[Path], shared_data: Path, current: StudyRef, tmp_path: Path
) -> None:
    cxr = shared_data / "cxr" / "siim-cr-no-pneumothorax.dcm"
    copy_series([cxr], tmp_path / "a" / "cr", PatientID=CT_PATIENT, StudyDate="20120701")
    copy_series(ct_files, tmp_path / "a" / "ct", StudyDate="20120703", StudyTime="101500")
    copy_series(ct_files, tmp_path / "a" / "later", StudyDate="20130101")
    search = find_priors(current, [FolderPriors(tmp_path / "a")])
    assert [(p.modalities, p.date) for p in search.priors] == [
        (("CT",), "20120703"),
        (("CR",), "20120701"),
    ]
    assert choose_prior(current, search.priors).date == "20120703"
    assert interval_in_words(search.priors[0], current) == "3 days earlier"
    assert choose_prior(current, search.priors, "2").modalities == ("CR",)


def test_no_prior_at_all(current: StudyRef, shared_data: Path, tmp_path: Path) -> None:
    # The folder holds the other real studies (other patients) and the open study itself.
    search = find_priors(current, [FolderPriors(shared_data), FolderPriors(current.location)])
    assert search.priors == ()
    with pytest.raises(PriorStudyError) as caught:
        choose_prior(current, search.priors)
    assert "No earlier study of this patient" in caught.value.message
    assert "Open the prior" in caught.value.hint


def test_another_patient_id_is_refused(
    ct_files: list[Path], current: StudyRef, tmp_path: Path
) -> None:
    other = copy_series(ct_files, tmp_path / "other", StudyDate="20110506", PatientID="OTHER-77")
    assert find_priors(current, [FolderPriors(other)]).priors == ()
    (wrong,) = scan_studies(other)
    with pytest.raises(PriorPatientMismatchError) as caught:
        check_prior(current, wrong)
    message = caught.value.user_message()
    assert "belongs to another patient" in message and "issuer" in message
    assert "OTHER-77" not in message and CT_PATIENT not in message  # never quoted
    # Same name, birth date and everything else: the patient ID alone decides.
    assert wrong.identity.name == current.identity.name


def test_issuer_mismatch_is_refused_and_a_missing_issuer_matches_only_a_missing_one(
    ct_files: list[Path], tmp_path: Path
) -> None:
    plain = open_study_ref(copy_series(ct_files, tmp_path / "now", StudyDate="20120706"))
    issued = copy_series(
        ct_files, tmp_path / "issued", StudyDate="20110506", IssuerOfPatientID="HOSP_B"
    )
    assert find_priors(plain, [FolderPriors(issued)]).priors == ()
    (other,) = scan_studies(issued)
    assert other.patient == PatientKey(CT_PATIENT, "HOSP_B")
    with pytest.raises(PriorPatientMismatchError, match="another issuer of patient ID"):
        check_prior(plain, other)
    # The open study issued by HOSP_B finds it, and refuses a prior without an issuer.
    now_b = copy_series(
        ct_files, tmp_path / "now-b", StudyDate="20120706", IssuerOfPatientID="HOSP_B"
    )
    current_b = open_study_ref(now_b)
    assert [p.study_uid for p in find_priors(current_b, [FolderPriors(issued)]).priors] == [
        other.study_uid
    ]
    older = open_study_ref(copy_series(ct_files, tmp_path / "old", StudyDate="20100101"))
    with pytest.raises(PriorPatientMismatchError):
        check_prior(current_b, older)


def test_recent_list_missing_paths_and_failing_sources(
    ct_files: list[Path], current: StudyRef, tmp_path: Path
) -> None:
    prior = copy_series(ct_files, tmp_path / "prior", StudyDate="20110506")

    class DownPacs:
        name = "the PACS node 'main'"

        def studies_of(self, patient: PatientKey) -> list[StudyRef]:
            raise PacsUnreachableError("Nothing answered at the PACS node 'main'.")

    recent = RecentPriors([str(tmp_path / "gone"), current.location, str(prior)])
    search = find_priors(current, [recent, DownPacs(), FolderPriors(prior)])
    (found,) = search.priors  # seen twice, listed once, from the recent list
    assert found.source == "recent" and found.date == "20110506"
    (warning,) = search.warnings
    assert warning.startswith("Could not search the PACS node 'main': Nothing answered")


def test_a_study_whose_files_disagree_on_the_patient_never_matches(
    ct_files: list[Path], current: StudyRef, tmp_path: Path
) -> None:
    uid = "1.2.826.0.1.3680043.8.498.1234567890"
    copy_series(ct_files[:3], tmp_path / "mixed" / "a", StudyDate="20110506", StudyInstanceUID=uid)
    copy_series(
        ct_files[3:],
        tmp_path / "mixed" / "b",
        StudyDate="20110506",
        StudyInstanceUID=uid,
        PatientID="OTHER-77",
    )
    (mixed,) = scan_studies(tmp_path / "mixed")
    assert mixed.patient_conflict and mixed.location == str(tmp_path / "mixed")
    assert find_priors(current, [FolderPriors(tmp_path / "mixed")]).priors == ()
    with pytest.raises(PriorPatientMismatchError, match="more than one patient ID"):
        check_prior(current, mixed)


def test_open_images_without_dicom_have_no_priors(shared_data: Path) -> None:
    with pytest.raises(PriorStudyError, match="no DICOM study header"):
        open_study_ref(shared_data / "cxr" / "tbx11k-h0001.png")


def test_repr_carries_no_identifiers(current: StudyRef) -> None:
    text = repr(current)
    assert CT_PATIENT not in text and current.study_uid not in text and "2012" not in text
