"""``voxrad ask`` against a real loopback site server whose stream is cut mid-answer: the
fragment is printed and audited as cut off, with its own exit code; the next ask is whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from site_server_support import FaultServer, cut_mid_answer, fault_server, url_of
from voxrad.cli import EXIT_CUT_OFF, EXIT_OK, main
from voxrad.records.audit import AuditLog


@pytest.fixture()
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    with fault_server() as srv:
        monkeypatch.setenv("VOXRAD_VLM__BACKEND", "openai")
        monkeypatch.setenv("VOXRAD_VLM__SERVER_URL", url_of(srv))
        monkeypatch.setenv("VOXRAD_VLM__SERVER_MODEL", "medgemma-4b-it")
        monkeypatch.setenv("VOXRAD_VLM__READ_TIMEOUT_S", "2")
        yield srv


def _image(shared_data: Path) -> str:
    return str(shared_data / "cxr" / "nih-00000001_000-cardiomegaly.png")


def test_json_says_incomplete_and_exits_4(
    site: FaultServer, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.scenarios.append(cut_mid_answer)
    code = main(["ask", _image(shared_data), "Is the heart enlarged?", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_CUT_OFF == 4
    assert out["complete"] is False
    assert out["finish_reason"] == "connection"
    assert out["answer"] == "The le"
    assert out["cut_off_note"].startswith("The answer was cut off: the connection to the model")
    assert out["warnings"][0] == out["cut_off_note"]
    (record,) = AuditLog().records()
    assert record.seq == out["audit_record"]
    assert (record.body["finish_reason"], record.body["cut_off"]) == ("connection", True)

    code = main(["ask", _image(shared_data), "Is the heart enlarged?", "--json"])
    again = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert (again["complete"], again["finish_reason"]) == (True, "complete")
    assert again["answer"] == "no nodule."
    assert AuditLog().records().__next__().body["cut_off"] is True
    assert list(AuditLog().records())[-1].body["cut_off"] is False


def test_plain_output_leads_with_the_cut_off_note(
    site: FaultServer, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site.scenarios.append(cut_mid_answer)
    assert main(["ask", _image(shared_data), "Is the heart enlarged?"]) == EXIT_CUT_OFF
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("The answer was cut off: the connection to the model server")
    assert lines[1] == "The le"
    assert not any(line.startswith("warning: The answer was cut off") for line in lines)
