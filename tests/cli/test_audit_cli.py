"""`voxrad audit verify|export` as an administrator runs them."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

from cli_support import run_voxrad
from voxrad.records.audit import AuditEntry, AuditLog, default_dir


def _fill(count: int) -> None:
    with AuditLog() as log:
        for n in range(count):
            log.append(
                AuditEntry(
                    question=f"question {n}, with a comma",
                    answer=f"answer {n}",
                    model="medgemma-1.5-4b-it",
                    backend="llama-cpp",
                    confidence=0.5,
                    findings=({"label": "nodule", "box_px": [1, 2, 3, 4]},),
                )
            )


def test_verify_ok_then_names_the_edited_record(voxrad_home: Path) -> None:
    _fill(5)
    ok = run_voxrad("audit", "verify", home=voxrad_home)
    assert ok.returncode == 0, ok.stderr
    assert "5 records, chain intact" in ok.stdout
    import sqlite3

    db = sqlite3.connect(default_dir() / "audit.sqlite3", isolation_level=None)
    db.execute("DROP TRIGGER records_no_update")
    db.execute("UPDATE records SET body = replace(body, 'answer 2', 'answer X') WHERE seq = 3")
    db.close()
    bad = run_voxrad("audit", "verify", home=voxrad_home)
    assert bad.returncode == 1
    assert "edited [record 3]" in bad.stdout
    as_json = json.loads(run_voxrad("audit", "verify", "--json", home=voxrad_home).stdout)
    assert as_json["ok"] is False
    assert as_json["problems"][0]["record"] == 3


def test_export_csv_and_json_for_a_date_range(voxrad_home: Path, tmp_path: Path) -> None:
    _fill(3)
    today = date.today().isoformat()
    result = run_voxrad("audit", "export", "--from", today, "--to", today, home=voxrad_home)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["seq"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["question"] == "question 0, with a comma"
    assert json.loads(rows[0]["findings"])[0]["label"] == "nodule"

    out = tmp_path / "audit.json"
    result = run_voxrad(
        "audit", "export", "--from", today, "--format", "json", "-o", str(out), home=voxrad_home
    )
    assert result.returncode == 0, result.stderr
    exported = json.loads(out.read_text())["records"]
    assert len(exported) == 3
    # An auditor can re-check the exported chain without VoxRad.
    import hashlib

    for item in exported:
        text = f"{item['prev_hash']}\n{item['body']}".encode()
        assert hashlib.sha256(text).hexdigest() == item["hash"]
    assert exported[1]["prev_hash"] == exported[0]["hash"]

    yesterday = (date.today() - timedelta(days=1)).isoformat()
    none = run_voxrad("audit", "export", "--to", yesterday, home=voxrad_home)
    assert none.returncode == 0
    assert none.stdout.strip().splitlines() == [none.stdout.splitlines()[0]]  # header only


def test_csv_export_defuses_spreadsheet_formulas(voxrad_home: Path) -> None:
    from voxrad.records.audit_export import to_csv

    with AuditLog() as log:
        log.append(
            AuditEntry(
                question='=HYPERLINK("http://x","y")',
                answer="-1",
                model="m",
                backend="b",
                confidence=-0.0,
            )
        )
        rows = list(csv.DictReader(io.StringIO(to_csv(log.records()))))
    assert rows[0]["question"] == '\'=HYPERLINK("http://x","y")'
    assert rows[0]["answer"] == "'-1"


def test_export_rejects_a_bad_date(voxrad_home: Path) -> None:
    _fill(1)
    result = run_voxrad("audit", "export", "--from", "last tuesday", home=voxrad_home)
    assert result.returncode == 1
    assert "is not a date" in result.stderr and "YYYY-MM-DD" in result.stderr
