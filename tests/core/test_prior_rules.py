"""Prior-study rules: who matches whom, the interval in words, the default choice."""

from __future__ import annotations

import pytest

from voxrad.core.errors import PriorStudyError
from voxrad.core.priors import (
    PatientKey,
    StudyRef,
    check_prior,
    choose_prior,
    default_prior,
    earlier_studies,
    interval_in_words,
    parse_dicom_date,
    parse_dicom_time,
)

P1 = PatientKey("P1")


def ref(date: str, *, uid: str = "", time: str = "", modality: str = "CT", part: str = "CHEST",
        patient: PatientKey = P1) -> StudyRef:  # fmt: skip
    return StudyRef(
        study_uid=uid or f"1.2.3.{date}.{time}",
        patient=patient,
        date=date,
        time=time,
        modalities=(modality,),
        body_parts=(part,) if part else (),
    )


@pytest.mark.parametrize(
    ("prior", "current", "words"),
    [
        ("20240301", "20240304", "3 days earlier"),
        ("20240303", "20240304", "1 day earlier"),
        ("20240301", "20240315", "2 weeks earlier"),
        ("20240101", "20240225", "7 weeks earlier"),
        ("20230105", "20240305", "14 months earlier"),
        ("20230106", "20240305", "13 months earlier"),  # rounds down
        ("20220305", "20240305", "2 years earlier"),
        ("20211201", "20240305", "2 years earlier"),
        ("20140101", "20240305", "10 years earlier"),
        ("20240228", "20240229", "1 day earlier"),  # leap day
    ],
)
def test_interval_in_words(prior: str, current: str, words: str) -> None:
    assert interval_in_words(ref(prior), ref(current)) == words


def test_interval_same_day_unknown_and_not_earlier() -> None:
    assert interval_in_words(ref("20240304", time="0800"), ref("20240304", time="1530")) == (
        "earlier the same day"
    )
    assert interval_in_words(ref(""), ref("20240304")) == "at an unknown interval"
    with pytest.raises(PriorStudyError, match="not earlier"):
        interval_in_words(ref("20240305"), ref("20240304"))


def test_dicom_dates_and_times() -> None:
    assert parse_dicom_date("2024.03.04") == parse_dicom_date("20240304")
    assert parse_dicom_date("20241304") is None and parse_dicom_date("") is None
    assert parse_dicom_time("111823.36").hour == 11  # type: ignore[union-attr]
    assert parse_dicom_time("11:18") is not None and parse_dicom_time("x") is None


def test_patient_key_needs_id_and_equal_issuers() -> None:
    assert PatientKey("P1").matches(PatientKey(" P1 "))
    assert not PatientKey("P1").matches(PatientKey("P1", "HOSP_A"))
    assert PatientKey("P1", "HOSP_A").matches(PatientKey("P1", "HOSP_A"))
    assert not PatientKey("").matches(PatientKey(""))
    assert "P1" not in repr(PatientKey("P1"))


def test_earlier_studies_newest_first_undated_last_and_default() -> None:
    current = ref("20240304", uid="now")
    listed = earlier_studies(
        current,
        [
            ref("20200101"),
            ref("", uid="undated"),
            ref("20230101", modality="MR"),
            ref("20220101", part="ABDOMEN"),
            ref("20210101", part=""),
            ref("20250101"),  # later
            ref("20190101", patient=PatientKey("P2")),
            ref("20240304", uid="now"),  # the open study itself
        ],
    )
    assert [(r.date, r.modalities[0]) for r in listed] == [
        ("20230101", "MR"),
        ("20220101", "CT"),
        ("20210101", "CT"),
        ("20200101", "CT"),
        ("", "CT"),
    ]
    # MR: other modality; ABDOMEN: other body part; no body part named: not a mismatch.
    assert default_prior(current, listed).date == "20210101"  # type: ignore[union-attr]


def test_an_undated_open_study_has_no_default_but_any_listed_prior_can_be_chosen() -> None:
    current = ref("", uid="now")
    listed = earlier_studies(current, [ref("20200101"), ref("20230101")])
    assert [r.date for r in listed] == ["20230101", "20200101"]
    assert default_prior(current, listed) is None
    with pytest.raises(PriorStudyError, match="no study date"):
        choose_prior(current, listed)
    chosen = choose_prior(current, listed, 2)
    assert interval_in_words(chosen, current) == "at an unknown interval"


def test_check_prior_refuses_the_open_study_and_a_missing_id() -> None:
    with pytest.raises(PriorStudyError, match="open study itself"):
        check_prior(ref("20240304", uid="x"), ref("20200101", uid="x"))
    with pytest.raises(PriorStudyError, match="no patient ID"):
        check_prior(ref("20240304"), ref("20200101", patient=PatientKey("")))
