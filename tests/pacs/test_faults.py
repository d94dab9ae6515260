"""Faults against a real Orthanc: wrong AE title, wrong password, nothing listening, the
server stopped mid-retrieve, the study deleted mid-retrieve, a corrupt image."""

from __future__ import annotations

import gc
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from orthanc_support import NODES, Connect, Orthanc, dimse_node, free_port, web_node

from voxrad.core.errors import (
    LoadCancelledError,
    PacsAssociationRejectedError,
    PacsAuthError,
    PacsConnectionLostError,
    PacsError,
    PacsUnreachableError,
    StudyGoneError,
)
from voxrad.imaging.registry import open_study
from voxrad.pacs import cache
from voxrad.pacs.base import StudyQuery

# pynetdicom leaves a socket unclosed when a connection attempt fails (seen when a server is
# stopped between VoxRad's reachability probe and pynetdicom's own connect). Its
# ResourceWarning surfaces wherever the garbage collector happens to run, which made an
# unrelated test fail about 1 run in 10. Here, and only here, such leftovers are collected
# after each test with that one warning ignored; everywhere else leaks still fail the suite.
_THIRD_PARTY_SOCKET_LEAK = "ignore:unclosed <socket.socket:ResourceWarning"
pytestmark = pytest.mark.filterwarnings(_THIRD_PARTY_SOCKET_LEAK)


@pytest.fixture(autouse=True)
def _collect_leftover_sockets() -> Iterator[None]:
    yield
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "unclosed <socket.socket", ResourceWarning)
        gc.collect()


def _dicom_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.dcm") if not p.name.startswith(".")]


def test_wrong_called_ae_is_an_association_rejection(connect: Connect, orthanc: Orthanc) -> None:
    client = connect(dimse_node(orthanc, called_ae="NOT-THE-PACS"))
    with pytest.raises(PacsAssociationRejectedError) as err:
        client.echo()
    assert "refused the association" in str(err.value)
    assert "AE title" in err.value.hint


def test_unregistered_calling_ae_may_echo_but_not_query(connect: Connect, orthanc: Orthanc) -> None:
    client = connect(dimse_node(orthanc, calling_ae="STRANGER"))
    assert client.echo() > 0  # Orthanc answers any echo
    with pytest.raises(PacsError) as err:
        client.find_studies(StudyQuery())
    assert not isinstance(err.value, PacsUnreachableError)


def test_wrong_password_and_missing_password(
    connect: Connect, orthanc: Orthanc, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXRAD_PACS_SECRET", "wrong")
    with pytest.raises(PacsAuthError) as err:
        connect(web_node(orthanc)).echo()
    assert "HTTP 401" in str(err.value)
    assert "wrong" not in err.value.user_message()
    monkeypatch.delenv("VOXRAD_PACS_SECRET")
    with pytest.raises(PacsAuthError) as err:
        connect(web_node(orthanc))
    assert "VOXRAD_PACS_SECRET" in err.value.hint
    with pytest.raises(PacsAuthError):
        connect(web_node(orthanc, auth="none")).echo()


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_nothing_listening_is_unreachable(
    connect: Connect, orthanc: Orthanc, protocol: str
) -> None:
    port = free_port()
    node = (
        web_node(orthanc, url=f"http://127.0.0.1:{port}/dicom-web")
        if protocol == "dicomweb"
        else dimse_node(orthanc, port=port)
    )
    with pytest.raises(PacsUnreachableError) as err:
        connect(node).echo()
    assert str(port) in str(err.value)
    assert "port" in err.value.hint


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_server_stopped_mid_retrieve_keeps_images_marks_incomplete_and_resumes(
    connect: Connect,
    own_orthanc: Orthanc,
    protocol: str,
    study_files: dict[str, list[Path]],
    tmp_path: Path,
) -> None:
    own_orthanc.upload(study_files["head"])
    client = connect(NODES[protocol](own_orthanc))
    (study,) = client.find_studies(StudyQuery())
    dest = tmp_path / "study"

    def kill_after_five(done: int, total: int, stage: str) -> None:
        if done >= 5 and own_orthanc.process is not None:
            own_orthanc.kill()

    with pytest.raises(PacsConnectionLostError) as err:
        client.retrieve(study.study_uid, None, dest, progress=kill_after_five)
    assert "run the retrieve again" in err.value.hint
    marker = cache.read_marker(dest)
    assert marker is not None and marker["state"] == "incomplete"
    assert not cache.is_complete(dest)
    kept = len(_dicom_files(dest))
    assert 5 <= kept < 28
    (warning,) = open_study(dest).warnings  # a reader opening the folder is told, too
    assert "INCOMPLETE" in warning and f"({kept} of 28 images)" in warning

    own_orthanc.start()
    again = connect(NODES[protocol](own_orthanc)).retrieve(study.study_uid, None, dest)
    assert again.complete and cache.is_complete(dest)
    assert again.already_there == kept
    assert again.received == 28 - kept
    assert len(_dicom_files(dest)) == 28
    assert open_study(dest).warnings == []


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_cancel_mid_retrieve_keeps_images_and_marks_incomplete(
    connect: Connect, orthanc: Orthanc, protocol: str, tmp_path: Path
) -> None:
    client = connect(NODES[protocol](orthanc))
    (study,) = client.find_studies(StudyQuery(patient_id="QMNx85rKkkg"))
    stop = threading.Event()

    def cancel_after_four(done: int, total: int, stage: str) -> None:
        if done >= 4:
            stop.set()

    dest = tmp_path / "study"
    with pytest.raises(LoadCancelledError):
        client.retrieve(study.study_uid, None, dest, progress=cancel_after_four, cancel=stop)
    assert not cache.is_complete(dest)
    assert 4 <= len(_dicom_files(dest)) < 28
    # The cancelled association left the PACS usable.
    assert connect(NODES[protocol](orthanc)).retrieve(study.study_uid, None, dest).complete


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_study_deleted_mid_retrieve_is_never_complete(
    connect: Connect,
    own_orthanc: Orthanc,
    protocol: str,
    study_files: dict[str, list[Path]],
    tmp_path: Path,
) -> None:
    import json

    own_orthanc.upload(study_files["head"])
    client = connect(NODES[protocol](own_orthanc))
    (study,) = client.find_studies(StudyQuery())
    (found,) = own_orthanc.rest("POST", "/tools/lookup", study.study_uid.encode())
    dest = tmp_path / "study"

    def delete_after_three(done: int, total: int, stage: str) -> None:
        if done == 3:
            own_orthanc.rest("DELETE", f"/studies/{found['ID']}")

    if protocol == "dicomweb":
        with pytest.raises(StudyGoneError):
            client.retrieve(study.study_uid, None, dest, progress=delete_after_three)
    else:
        # C-GET: the PACS reports the images it could no longer send as failed sub-operations.
        result = client.retrieve(study.study_uid, None, dest, progress=delete_after_three)
        assert not result.complete
        assert result.failed and len(result.failed) + result.present == 28
    marker = json.loads((dest / cache.MARKER_NAME).read_text())
    assert marker["state"] == "incomplete"
    assert 3 <= len(_dicom_files(dest)) < 28


def _with_corrupt_slice(files: list[Path], folder: Path) -> list[Path]:
    """Three real slices plus a copy of a fourth whose pixel data was cut in half."""
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    ds = dcmread(files[3])
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    folder.mkdir(parents=True, exist_ok=True)
    bad = folder / "truncated.dcm"
    ds.save_as(bad, enforce_file_format=True)
    return [*files[:3], bad]


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_corrupt_image_is_reported_and_the_rest_kept(
    connect: Connect,
    own_orthanc: Orthanc,
    protocol: str,
    study_files: dict[str, list[Path]],
    tmp_path: Path,
) -> None:
    own_orthanc.upload(_with_corrupt_slice(study_files["head"], tmp_path / "upload"))
    client = connect(NODES[protocol](own_orthanc))
    (study,) = client.find_studies(StudyQuery())
    result = client.retrieve(study.study_uid, None, tmp_path / "study")
    assert not result.complete and result.received == 3
    (failed,) = result.failed
    assert "truncated" in failed.reason
    assert len(_dicom_files(tmp_path / "study")) == 3
    assert not cache.is_complete(tmp_path / "study")
