"""Every way of tampering with the audit log is found, and the record concerned is named."""

from __future__ import annotations

import json
from pathlib import Path

from audit_support import filled_log, raw

from voxrad.records.audit import DB_NAME, HEAD_NAME
from voxrad.records.audit_verify import verify_log
from voxrad.records.canonical import canonical_json, chain_hash


def _kinds(directory: Path) -> list[tuple[str, int | None]]:
    report = verify_log(directory)
    assert not report.ok
    return [(p.kind, p.seq) for p in report.problems]


def test_intact_log_verifies(tmp_path: Path) -> None:
    filled_log(tmp_path, 10)
    report = verify_log(tmp_path)
    assert report.ok, report.problems
    assert report.records == 10 and report.last_seq == 10


def test_empty_or_absent_log_verifies(tmp_path: Path) -> None:
    assert verify_log(tmp_path / "never-used").ok


def test_edited_answer_is_found(tmp_path: Path) -> None:
    filled_log(tmp_path, 10)
    db = raw(tmp_path)
    body = db.execute("SELECT body FROM records WHERE seq = 4").fetchone()[0]
    db.execute("UPDATE records SET body = ? WHERE seq = 4", (body.replace("6 mm", "9 mm"),))
    assert _kinds(tmp_path) == [("edited", 4)]


def test_edit_with_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    filled_log(tmp_path, 10)
    db = raw(tmp_path)
    prev, body = db.execute("SELECT prev_hash, body FROM records WHERE seq = 4").fetchone()
    record = json.loads(body)
    record["confidence"] = 0.99
    forged = canonical_json(record)
    db.execute(
        "UPDATE records SET body = ?, hash = ? WHERE seq = 4", (forged, chain_hash(prev, forged))
    )
    assert _kinds(tmp_path) == [("broken-chain", 5)]


def test_edited_time_column_is_found(tmp_path: Path) -> None:
    filled_log(tmp_path, 5)
    raw(tmp_path).execute("UPDATE records SET recorded_at = '2020-01-01T00:00:00Z' WHERE seq = 2")
    assert _kinds(tmp_path) == [("edited", 2)]


def test_deleted_record_is_found(tmp_path: Path) -> None:
    filled_log(tmp_path, 10)
    raw(tmp_path).execute("DELETE FROM records WHERE seq = 4")
    report = verify_log(tmp_path)
    assert [(p.kind, p.seq) for p in report.problems] == [("missing", 4)]
    assert "record 4 deleted" in report.problems[0].message


def test_deleted_first_record_is_found(tmp_path: Path) -> None:
    filled_log(tmp_path, 3)
    raw(tmp_path).execute("DELETE FROM records WHERE seq = 1")
    assert ("missing", 1) in _kinds(tmp_path)


def test_reordered_records_are_found(tmp_path: Path) -> None:
    filled_log(tmp_path, 10)
    db = raw(tmp_path)
    db.execute("UPDATE records SET seq = -1 WHERE seq = 3")
    db.execute("UPDATE records SET seq = 3 WHERE seq = 4")
    db.execute("UPDATE records SET seq = 4 WHERE seq = -1")
    found = _kinds(tmp_path)
    assert found[0] == ("reordered", 3)
    assert ("reordered", 4) in found


def test_truncated_tail_is_found(tmp_path: Path) -> None:
    filled_log(tmp_path, 10)
    raw(tmp_path).execute("DELETE FROM records WHERE seq >= 8")
    report = verify_log(tmp_path)
    assert [(p.kind, p.seq) for p in report.problems] == [("truncated", 8)]
    assert "records 8 to 10 were cut off" in report.problems[0].message


def test_truncated_tail_and_removed_head_file_is_found(tmp_path: Path) -> None:
    filled_log(tmp_path, 10)
    raw(tmp_path).execute("DELETE FROM records WHERE seq >= 8")
    (tmp_path / HEAD_NAME).unlink()
    assert _kinds(tmp_path) == [("truncated", None)]


def test_deleted_database_is_found(tmp_path: Path) -> None:
    filled_log(tmp_path, 3)
    for p in tmp_path.glob(DB_NAME + "*"):
        p.unlink()
    assert _kinds(tmp_path) == [("truncated", None)]


def test_inserted_record_is_found(tmp_path: Path) -> None:
    filled_log(tmp_path, 10)
    db = raw(tmp_path)
    # Make room after record 5 and slip a well-formed, correctly chained record in.
    db.execute("UPDATE records SET seq = seq + 100 WHERE seq > 5")
    db.execute("UPDATE records SET seq = seq - 99 WHERE seq > 100")
    prev, body = db.execute("SELECT hash, body FROM records WHERE seq = 5").fetchone()
    record = {**json.loads(body), "seq": 6, "answer": "No abnormality."}
    forged = canonical_json(record)
    db.execute(
        "INSERT INTO records VALUES (6, ?, ?, ?, ?)",
        (record["time"], forged, prev, chain_hash(prev, forged)),
    )
    found = _kinds(tmp_path)
    # The record after the insertion no longer chains, and the renumbered ones say so.
    assert ("broken-chain", 7) in found or ("reordered", 7) in found
    assert all(seq is None or seq >= 6 for _, seq in found)


def test_replaced_last_record_is_found_by_the_head(tmp_path: Path) -> None:
    filled_log(tmp_path, 4)
    db = raw(tmp_path)
    prev, body = db.execute("SELECT prev_hash, body FROM records WHERE seq = 4").fetchone()
    forged = canonical_json({**json.loads(body), "answer": "Normal study."})
    db.execute(
        "UPDATE records SET body = ?, hash = ? WHERE seq = 4", (forged, chain_hash(prev, forged))
    )
    assert _kinds(tmp_path) == [("edited", 4)]
