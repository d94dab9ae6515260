"""``voxrad pacs`` as IT and scripts run it: real processes against a real Orthanc."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from orthanc_support import PACS_AE, PASSWORD, USER, Orthanc, free_port

sys.path.insert(0, str(Path(__file__).parents[1]))
from cli_support import run_voxrad

HEAD_PATIENT = "QMNx85rKkkg"


def _dimse(orthanc: Orthanc) -> list[str]:
    return ["--dimse", f"127.0.0.1:{orthanc.dicom_port}", "--called-ae", PACS_AE]


def _web(orthanc: Orthanc) -> list[str]:
    return ["--url", orthanc.dicomweb_url, "--user", USER]


def test_echo_and_unreachable_exit_codes(orthanc: Orthanc, voxrad_home: Path) -> None:
    ok = run_voxrad("pacs", "echo", *_dimse(orthanc), "--json", home=voxrad_home)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    web = run_voxrad("pacs", "echo", *_web(orthanc), home=voxrad_home)
    assert web.returncode == 0 and web.stdout.startswith("OK:"), web.stderr

    port = free_port()
    down = run_voxrad(
        "pacs", "echo", "--dimse", f"127.0.0.1:{port}", "--called-ae", "X", home=voxrad_home
    )
    assert down.returncode == 4
    assert f"127.0.0.1:{port}" in down.stderr and "did not answer" in down.stderr
    wrong_ae = run_voxrad(
        "pacs",
        "echo",
        "--dimse",
        f"127.0.0.1:{orthanc.dicom_port}",
        "--called-ae",
        "WRONG",
        home=voxrad_home,
    )
    assert wrong_ae.returncode == 1 and "refused the association" in wrong_ae.stderr


def test_find_get_info_and_the_audit_log(orthanc: Orthanc, voxrad_home: Path) -> None:
    found = run_voxrad(
        "pacs",
        "find",
        *_web(orthanc),
        "--patient-id",
        HEAD_PATIENT,
        "--series",
        "--json",
        home=voxrad_home,
    )
    assert found.returncode == 0, found.stderr
    (study,) = json.loads(found.stdout)["studies"]
    assert "patient_id" not in study  # hidden without --phi
    assert study["series"][0]["instance_count"] == 28
    uid = study["study_uid"]
    text = run_voxrad("pacs", "find", *_dimse(orthanc), "--modality", "CT", home=voxrad_home)
    assert text.returncode == 0 and "2 studies" in text.stdout and uid in text.stdout
    assert HEAD_PATIENT not in text.stdout

    got = run_voxrad("pacs", "get", uid, *_dimse(orthanc), home=voxrad_home)
    assert got.returncode == 0, got.stderr
    folder = Path(got.stdout.strip())
    assert folder.is_dir() and folder.is_relative_to(voxrad_home)
    assert "complete: 28 of 28 images" in got.stderr
    info = run_voxrad("info", str(folder), "--json", "--headers-only", home=voxrad_home)
    assert info.returncode == 0, info.stderr
    (series,) = json.loads(info.stdout)["series"]
    assert series["files"] == 28 and series["modality"] == "CT"

    again = run_voxrad(
        "pacs", "get", uid, *_web(orthanc), "--out", str(folder), "--json", home=voxrad_home
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_there"] == 28

    db = sqlite3.connect(voxrad_home / "data" / "audit" / "audit.sqlite3")
    bodies = [json.loads(b) for (b,) in db.execute("SELECT body FROM records ORDER BY seq")]
    db.close()
    assert [b["event"] for b in bodies] == ["pacs.retrieve", "pacs.retrieve"]
    assert bodies[0]["details"]["result"] == "complete"
    assert bodies[0]["details"]["received"] == 28
    assert bodies[1]["details"]["already_there"] == 28
    assert bodies[0]["study"] and bodies[0]["study"] != uid
    raw = (voxrad_home / "data" / "audit" / "audit.sqlite3").read_bytes()
    for secret in (uid, HEAD_PATIENT, PASSWORD):
        assert secret.encode() not in raw
    verify = run_voxrad("audit", "verify", home=voxrad_home)
    assert verify.returncode == 0, verify.stdout
    logs = "".join(p.read_text() for p in (voxrad_home / "logs").glob("*.log*"))
    assert "audit record" in logs
    assert HEAD_PATIENT not in logs and PASSWORD not in logs


def test_send_reports_each_file_and_is_audited(
    orthanc: Orthanc, voxrad_home: Path, shared_data: Path, tmp_path: Path
) -> None:
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    ds = dcmread(shared_data / "ct-head-tilt-28" / "01.dcm")
    ds.PatientID = "VOXRAD-CLI-SEND"
    ds.Modality = "OT"  # other tests count the CT studies on the shared server
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = tmp_path / "export"
    out.mkdir()
    ds.save_as(out / "slice.dcm", enforce_file_format=True)
    (out / "readme.txt").write_text("not DICOM")
    sent = run_voxrad("pacs", "send", str(out), *_web(orthanc), home=voxrad_home)
    assert sent.returncode == 6, sent.stderr
    assert "1 of 2 files sent" in sent.stdout and "NOT SENT" in sent.stdout
    found = run_voxrad(
        "pacs",
        "find",
        *_dimse(orthanc),
        "--patient-id",
        "VOXRAD-CLI-SEND",
        "--json",
        home=voxrad_home,
    )
    assert [s["study_uid"] for s in json.loads(found.stdout)["studies"]] == [ds.StudyInstanceUID]
    db = sqlite3.connect(voxrad_home / "data" / "audit" / "audit.sqlite3")
    events = [json.loads(b) for (b,) in db.execute("SELECT body FROM records ORDER BY seq")]
    db.close()
    assert {e["event"] for e in events} == {"pacs.send"}
    assert sorted(e["details"]["sent"] for e in events) == [0, 1]


@pytest.mark.parametrize("bad", ["2012", "20120101-2012", "-"])
def test_bad_date_is_a_usage_error(orthanc: Orthanc, voxrad_home: Path, bad: str) -> None:
    res = run_voxrad("pacs", "find", *_dimse(orthanc), "--date", bad, home=voxrad_home)
    assert res.returncode == 2 and "--date" in res.stderr


def test_incomplete_get_exits_5_and_info_warns(
    own_orthanc: Orthanc, voxrad_home: Path, study_files: dict[str, list[Path]], tmp_path: Path
) -> None:
    from test_faults import _with_corrupt_slice

    own_orthanc.upload(_with_corrupt_slice(study_files["head"], tmp_path / "upload"))
    found = run_voxrad("pacs", "find", *_dimse(own_orthanc), "--json", home=voxrad_home)
    (study,) = json.loads(found.stdout)["studies"]
    got = run_voxrad("pacs", "get", study["study_uid"], *_dimse(own_orthanc), home=voxrad_home)
    assert got.returncode == 5, got.stderr
    assert "INCOMPLETE: 3 of 4 images" in got.stderr
    assert "truncated" in got.stderr and "run the same command again" in got.stderr
    info = run_voxrad("info", got.stdout.strip(), "--headers-only", home=voxrad_home)
    assert info.returncode == 0, info.stderr
    assert "WARNING: This study was retrieved from PACS node 'adhoc' INCOMPLETE" in info.stdout
    db = sqlite3.connect(voxrad_home / "data" / "audit" / "audit.sqlite3")
    ((body,),) = db.execute("SELECT body FROM records").fetchall()
    db.close()
    details = json.loads(body)["details"]
    assert (details["result"], details["received"], details["failed"]) == ("incomplete", 3, 1)
