"""`voxrad export`: an audited answer to SR, key image and HTML, on the right study only."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records"))
from study_support import CANARIES, write_ct

from cli_support import run_voxrad
from voxrad.assistant.history.auditing import record_answer
from voxrad.backends.vlm.base import ChatMessage, GenerationRequest, ImageInput
from voxrad.core.conversation import Answer, Box, Finding, Question
from voxrad.core.settings import Settings
from voxrad.imaging.registry import open_study
from voxrad.records.audit import AuditLog


def _audited_answer(study_dir: Path, *, cut_off: bool = False) -> None:
    study = open_study(study_dir)
    series = study.find()
    question = Question("Quokka ZX-99173: nodule?", slice_index=2, series_uid=series.info.uid)
    request = GenerationRequest(
        (ChatMessage("user", (ImageInput(np.zeros((8, 8, 3), np.uint8)), "nodule?")),)
    )
    answer = Answer(
        "A nodule in the right lung.",
        findings=(Finding("nodule", Box(6, 10, 18, 22), 0.8, 2), Finding("other", None)),
        confidence=0.8,
        model="medgemma-1.5-4b-it",
    )
    if cut_off:
        answer = replace(
            answer,
            finish_reason="connection",
            finish_detail="the connection to the model server 127.0.0.1 was lost.",
        )
        answer = replace(answer, warnings=(answer.cut_off_note,))
    with AuditLog() as log:
        record_answer(
            log,
            answer,
            question,
            request,
            identity=study.identity,
            backend="llama-cpp",
            remote=False,
            settings=Settings(),
            series=series.info,
        )


def test_export_writes_sr_key_image_and_report(voxrad_home: Path, tmp_path: Path) -> None:
    files = write_ct(tmp_path / "ct")
    _audited_answer(tmp_path / "ct")
    out = tmp_path / "out"
    result = run_voxrad(
        "export", str(tmp_path / "ct"), "--record", "1", "--out", str(out), home=voxrad_home
    )
    assert result.returncode == 0, result.stderr
    sr_path, key_path, html_path = (Path(line) for line in result.stdout.split())
    sr = pydicom.dcmread(sr_path)
    key = pydicom.dcmread(key_path)
    slice2 = pydicom.dcmread(files[2], stop_before_pixels=True)  # z = 10 mm is slice 2
    scoord = sr.ContentSequence[-1].ContentSequence[0].ContentSequence[-1]
    assert scoord.GraphicType == "POLYLINE"
    assert scoord.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == (
        slice2.SOPInstanceUID
    )
    assert key.SourceImageSequence[0].ReferencedSOPInstanceUID == slice2.SOPInstanceUID
    dump = subprocess.run(["dsrdump", str(sr_path)], capture_output=True, text=True, check=False)
    assert dump.returncode == 0 and "nodule, confidence 80%" in dump.stdout
    html = html_path.read_text().lower()
    assert [c for c in CANARIES if c in html] == []
    assert "not a diagnosis" in html and "nodule?" in html


def test_export_refuses_another_study_and_unknown_records(
    voxrad_home: Path, tmp_path: Path
) -> None:
    write_ct(tmp_path / "ct")
    write_ct(tmp_path / "other")
    _audited_answer(tmp_path / "ct")
    wrong = run_voxrad(
        "export",
        str(tmp_path / "other"),
        "--record",
        "1",
        "--out",
        str(tmp_path / "o"),
        home=voxrad_home,
    )
    assert wrong.returncode == 1
    assert "was not given on a series of this study" in wrong.stderr
    missing = run_voxrad("export", str(tmp_path / "ct"), "--record", "7", home=voxrad_home)
    assert missing.returncode == 1 and "no audit record 7" in missing.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_export_of_a_cut_off_answer_marks_sr_and_report(voxrad_home: Path, tmp_path: Path) -> None:
    write_ct(tmp_path / "ct")
    _audited_answer(tmp_path / "ct", cut_off=True)
    out = tmp_path / "out"
    result = run_voxrad(
        "export", str(tmp_path / "ct"), "--record", "1", "--out", str(out), home=voxrad_home
    )
    assert result.returncode == 0, result.stderr
    sr_path, _, html_path = (Path(line) for line in result.stdout.split())
    sr = pydicom.dcmread(sr_path)
    assert sr.SeriesDescription == "VoxRad findings, answer cut off (decision support)"
    html = html_path.read_text()
    note = "The answer was cut off: the connection to the model server 127.0.0.1 was lost."
    assert html.count("The answer was cut off") == 1 and note in html
    assert html.index(note) < html.index("A nodule in the right lung.")
