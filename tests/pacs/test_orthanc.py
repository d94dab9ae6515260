"""Echo, find, get and send against a real Orthanc, over DICOMweb and over DIMSE."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from orthanc_support import NODES, Connect, Orthanc, dimse_node, web_node

from voxrad.imaging.registry import open_study
from voxrad.pacs import cache
from voxrad.pacs.base import StudyQuery

HEAD_PATIENT = "QMNx85rKkkg"  # the tilted head CT: one series of 28 slices


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_echo(connect: Connect, orthanc: Orthanc, protocol: str) -> None:
    client = connect(NODES[protocol](orthanc))
    assert 0 < client.echo() < 10


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_find_by_patient_id_and_modality(connect: Connect, orthanc: Orthanc, protocol: str) -> None:
    client = connect(NODES[protocol](orthanc))
    head = client.find_studies(StudyQuery(patient_id=HEAD_PATIENT))
    assert len(head) == 1
    assert head[0].modalities == ("CT",)
    assert head[0].instance_count == 28
    assert head[0].description == "HEAD"
    cr = client.find_studies(StudyQuery(modality="CR"))
    assert [s.modalities for s in cr] == [("CR",)]
    assert cr[0].date == "19010101"
    ct = client.find_studies(StudyQuery(modality="CT"))
    assert len(ct) == 2
    assert client.find_studies(StudyQuery(patient_id="NOBODY")) == []
    dated = client.find_studies(StudyQuery(date_from="19000101", date_to="19021231"))
    assert [s.study_uid for s in dated] == [cr[0].study_uid]
    series = client.find_series(head[0].study_uid)
    assert [(s.modality, s.instance_count) for s in series] == [("CT", 28)]


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_get_gives_the_same_voxels_private_files_and_resumes(
    connect: Connect, orthanc: Orthanc, protocol: str, shared_data: Path, tmp_path: Path
) -> None:
    client = connect(NODES[protocol](orthanc))
    (study,) = client.find_studies(StudyQuery(patient_id=HEAD_PATIENT))
    seen: list[tuple[int, int]] = []
    dest = tmp_path / "cache" / "study"
    result = client.retrieve(
        study.study_uid, None, dest, progress=lambda d, t, _s: seen.append((d, t))
    )
    assert result.complete and not result.failed
    assert (result.expected, result.received, result.already_there) == (28, 28, 0)
    assert seen[0] == (0, 28) and seen[-1] == (28, 28)
    assert cache.is_complete(dest)

    files = sorted(p for p in dest.rglob("*") if p.is_file())
    assert len(files) == 29  # 28 images + the marker
    for path in [dest, *dest.iterdir()]:
        if path.is_dir():
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert study.study_uid not in str(dest) and HEAD_PATIENT not in str(files)

    got = open_study(dest)
    original = open_study(shared_data / "ct-head-tilt-28")
    assert len(got.series) == len(original.series) == 1
    a = got.series[0].load_volume()
    b = original.series[0].load_volume()
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.voxels, b.voxels)
    np.testing.assert_allclose(a.spacing, b.spacing)
    np.testing.assert_allclose(a.origin, b.origin)

    again = client.retrieve(study.study_uid, None, dest)
    assert again.complete
    assert (again.received, again.already_there) == (0, 28)


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_get_one_series_of_the_compressed_cr(
    connect: Connect, orthanc: Orthanc, protocol: str, tmp_path: Path
) -> None:
    client = connect(NODES[protocol](orthanc))
    (study,) = client.find_studies(StudyQuery(modality="CR"))
    (series,) = client.find_series(study.study_uid)
    result = client.retrieve(study.study_uid, series.series_uid, tmp_path / "cr")
    assert result.complete and result.received == 1
    volume = open_study(tmp_path / "cr").series[0].load_volume()
    assert volume.shape[1:3] == (1024, 1024)


def _new_cr(shared_data: Path, folder: Path, patient_id: str) -> Path:
    """The real CR as a new study of a new (test) patient, modality OT so that it does not
    change what other tests find by modality on the shared server."""
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    ds = dcmread(shared_data / "cxr" / "siim-cr-no-pneumothorax.dcm")
    ds.PatientID = patient_id
    ds.Modality = "OT"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cr.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_send_and_find_it_back(
    connect: Connect, orthanc: Orthanc, protocol: str, shared_data: Path, tmp_path: Path
) -> None:
    patient = f"VOXRAD-SEND-{protocol}"
    path = _new_cr(shared_data, tmp_path, patient)
    not_dicom = tmp_path / "notes.dcm"
    not_dicom.write_text("not an image")
    client = connect(NODES[protocol](orthanc))
    outcomes = client.store([path, not_dicom])
    assert [o.ok for o in outcomes] == [True, False]
    assert "not a DICOM file" in outcomes[1].reason
    (found,) = client.find_studies(StudyQuery(patient_id=patient))
    assert found.modalities == ("OT",) and found.instance_count == 1
    back = client.retrieve(found.study_uid, None, tmp_path / "back")
    assert back.complete


def test_nodes_from_settings_and_env(
    connect: Connect, orthanc: Orthanc, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from voxrad.core.settings import load_settings

    nodes = [web_node(orthanc).model_dump(), dimse_node(orthanc).model_dump()]
    monkeypatch.setenv("VOXRAD_PACS__NODES", json.dumps(nodes))
    monkeypatch.setenv("VOXRAD_PACS__DEFAULT_NODE", "orthanc-dimse")
    settings = load_settings()
    assert settings.pacs.node().protocol == "dimse"
    assert connect(settings.pacs.node("orthanc-web")).echo() > 0
    dumped = settings.model_dump_json()
    assert "correct horse" not in dumped  # the password is only in the environment


def test_c_move_retrieve_and_resume(
    connect: Connect, orthanc: Orthanc, shared_data: Path, tmp_path: Path
) -> None:
    node = dimse_node(
        orthanc, retrieve_method="move", listen_host="127.0.0.1", listen_port=orthanc.voxrad_port
    )
    client = connect(node)
    (study,) = client.find_studies(StudyQuery(patient_id=HEAD_PATIENT))
    dest = tmp_path / "moved"
    result = client.retrieve(study.study_uid, None, dest)
    assert result.complete and (result.received, result.failed) == (28, [])
    got = open_study(dest).series[0].load_volume()
    want = open_study(shared_data / "ct-head-tilt-28").series[0].load_volume()
    np.testing.assert_array_equal(got.voxels, want.voxels)
    for path in list(dest.rglob("*.dcm"))[:10]:
        path.unlink()
    again = client.retrieve(study.study_uid, None, dest)
    assert again.complete and (again.received, again.already_there) == (10, 18)


def test_c_move_to_a_port_the_pacs_does_not_know_is_incomplete(
    connect: Connect, orthanc: Orthanc, tmp_path: Path
) -> None:
    from orthanc_support import free_port

    node = dimse_node(
        orthanc, retrieve_method="move", listen_host="127.0.0.1", listen_port=free_port()
    )
    client = connect(node)
    (study,) = client.find_studies(StudyQuery(modality="CR"))
    result = client.retrieve(study.study_uid, None, tmp_path / "moved")
    assert not result.complete and result.received == 0
    (failed,) = result.failed
    assert "C-MOVE status 0x" in failed.reason
    assert f"port {node.listen_port}" in failed.reason and "'VOXRAD' registered" in failed.reason
    assert not cache.is_complete(tmp_path / "moved")
