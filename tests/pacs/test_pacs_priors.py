"""Earlier studies of a patient on a real Orthanc (DICOMweb and DIMSE): found by patient ID and
issuer, never by a near match; the default prior and the interval come out as for local ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from orthanc_support import NODES, Connect, Orthanc

from prior_pairs import copy_series
from voxrad.core.errors import PacsUnreachableError
from voxrad.core.priors import PatientKey, choose_prior, find_priors, interval_in_words
from voxrad.imaging.priors import open_study_ref
from voxrad.pacs.priors import PacsPriors

CT_PATIENT = "Pancreas-CT-CB_001"


@pytest.fixture
def loaded(own_orthanc: Orthanc, shared_data: Path, tmp_path: Path) -> dict[str, str]:
    """The server holding earlier copies of the real CT (and a CR) under several keys; returns
    their study UIDs by name."""
    ct = sorted((shared_data / "ct-abdomen-134").glob("*.dcm"))[60:62]
    cxr = [shared_data / "cxr" / "siim-cr-no-pneumothorax.dcm"]
    made = {
        "prior": copy_series(ct, tmp_path / "prior", StudyDate="20110506"),
        "older-cr": copy_series(cxr, tmp_path / "cr", StudyDate="20100303", PatientID=CT_PATIENT),
        "issuer-b": copy_series(
            ct, tmp_path / "b", StudyDate="20100101", IssuerOfPatientID="HOSP_B"
        ),
        "other": copy_series(ct, tmp_path / "other", StudyDate="20110101", PatientID="OTHER-77"),
        "near": copy_series(
            ct, tmp_path / "near", StudyDate="20110101", PatientID=CT_PATIENT + "0"
        ),
    }
    uids = {}
    for name, folder in made.items():
        own_orthanc.upload(sorted(folder.glob("*.dcm")))
        uids[name] = open_study_ref(folder).study_uid
    return uids


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_pacs_priors_by_patient_id_and_issuer(
    connect: Connect,
    own_orthanc: Orthanc,
    loaded: dict[str, str],
    shared_data: Path,
    tmp_path: Path,
    protocol: str,
) -> None:
    client = connect(NODES[protocol](own_orthanc))
    source = PacsPriors(client, "orthanc", modalities=("CT",))
    found = {r.study_uid: r for r in source.studies_of(PatientKey(CT_PATIENT))}
    assert set(found) == {loaded["prior"], loaded["older-cr"]}
    prior = found[loaded["prior"]]
    assert prior.source == "pacs" and prior.location == "orthanc"
    assert prior.modalities == ("CT",) and prior.body_parts == ("CHEST",)
    assert prior.date == "20110506" and prior.time.startswith("1118")
    assert found[loaded["older-cr"]].body_parts == ()  # CR: not a default candidate, not asked
    # The issuer decides as much as the ID; a wildcard in an ID matches nothing by accident.
    issued = source.studies_of(PatientKey(CT_PATIENT, "HOSP_B"))
    assert [r.study_uid for r in issued] == [loaded["issuer-b"]]
    assert source.studies_of(PatientKey("Pancreas-CT-CB_00?")) == []
    assert source.studies_of(PatientKey("Pancreas*")) == []

    ct = sorted((shared_data / "ct-abdomen-134").glob("*.dcm"))[60:62]
    current = open_study_ref(copy_series(ct, tmp_path / "now", StudyDate="20120706"))
    search = find_priors(current, [source])
    assert [p.study_uid for p in search.priors] == [loaded["prior"], loaded["older-cr"]]
    chosen = choose_prior(current, search.priors)
    assert chosen.study_uid == loaded["prior"]
    assert interval_in_words(chosen, current) == "14 months earlier"


def test_a_pacs_that_is_down_is_a_warning(
    connect: Connect, own_orthanc: Orthanc, shared_data: Path, tmp_path: Path
) -> None:
    client = connect(NODES["dimse"](own_orthanc))
    own_orthanc.stop()
    ct = sorted((shared_data / "ct-abdomen-134").glob("*.dcm"))[60:62]
    current = open_study_ref(copy_series(ct, tmp_path / "now", StudyDate="20120706"))
    with pytest.raises(PacsUnreachableError):
        PacsPriors(client, "orthanc").studies_of(current.patient)
    search = find_priors(current, [PacsPriors(client, "orthanc")])
    assert search.priors == ()
    assert search.warnings[0].startswith("Could not search the PACS node 'orthanc': ")
