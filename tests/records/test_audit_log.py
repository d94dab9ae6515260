"""The audit log: what a record holds, where it lives, and that it stays append-only."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest
from audit_support import entry, filled_log

from voxrad.core import paths
from voxrad.records.audit import DB_NAME, SALT_NAME, AuditLog, default_dir, read_head
from voxrad.records.audit_verify import verify_log
from voxrad.records.canonical import GENESIS, canonical_json, chain_hash, pixel_digest


def test_default_log_is_in_the_user_data_dir_in_wal_mode(voxrad_home: Path) -> None:
    with AuditLog() as log:
        log.append(entry(0))
    assert default_dir() == paths.data_dir() / "audit"
    db = sqlite3.connect(default_dir() / DB_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    mode = stat.S_IMODE((default_dir() / DB_NAME).stat().st_mode)
    assert mode & 0o077 == 0  # readable by this account only
    assert stat.S_IMODE((default_dir() / SALT_NAME).stat().st_mode) == 0o600


def test_record_holds_every_field_and_chains(tmp_path: Path) -> None:
    with AuditLog(tmp_path) as log:
        first = log.append(entry(1))
        second = log.append(entry(2))
    body = first.body
    assert first.seq == 1 and second.seq == 2
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    assert first.hash == chain_hash(GENESIS, canonical_json(body))
    for key in (
        "time",
        "user",
        "host",
        "study",
        "series",
        "sop_instances",
        "image_sha256",
        "question",
        "answer",
        "findings",
        "confidence",
        "confidence_source",
        "model",
        "model_sha256",
        "backend",
        "remote",
        "settings",
    ):
        assert key in body, key
    assert body["time"].endswith("Z")
    assert body["user"]
    assert body["findings"][0]["box_px"] == [10.0, 20.0, 30.0, 40.0]
    assert body["confidence"] == pytest.approx(0.43)
    # UIDs are salted hashes: stable within the installation, never in clear.
    assert body["uids"] == "hmac-sha256"
    assert "1.2.826" not in canonical_json(body)
    assert len(body["study"]) == 64
    assert read_head(tmp_path / "audit.head.json") == (2, second.hash)


def test_uid_hash_is_per_installation(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a") as a, AuditLog(tmp_path / "b") as b:
        one, again = a.append(entry(1)), a.append(entry(1))
        other = b.append(entry(1))
    assert one.body["study"] == again.body["study"]
    assert one.body["study"] != other.body["study"]


def test_uids_in_clear_when_the_site_wants_them(tmp_path: Path) -> None:
    with AuditLog(tmp_path, hash_uids=False) as log:
        record = log.append(entry(3))
    assert record.body["study"] == "1.2.826.0.1.3680043.8.498.3"
    assert record.body["uids"] == "clear"


def test_triggers_refuse_update_and_delete(tmp_path: Path) -> None:
    filled_log(tmp_path, 2)
    db = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE records SET body = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM records WHERE seq = 2")
    assert verify_log(tmp_path).ok


def test_records_by_date_and_reopen_continues_chain(tmp_path: Path) -> None:
    filled_log(tmp_path, 3)
    filled_log(tmp_path, 2)  # a second session appends to the same chain
    with AuditLog(tmp_path) as log:
        all_records = list(log.records())
        t3 = all_records[2].recorded_at
        later = list(log.records(start=t3))
        earlier = list(log.records(end=t3))
    assert [r.seq for r in all_records] == [1, 2, 3, 4, 5]
    assert [r.seq for r in later] == [3, 4, 5]
    assert [r.seq for r in earlier] == [1, 2]
    report = verify_log(tmp_path)
    assert report.ok and report.records == 5


def test_model_checksum_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"weights" * 1000)
    with AuditLog(tmp_path / "log") as log:
        first = log.file_checksum(model)
        assert log.file_checksum(model) == first
        model.write_bytes(b"other weights")
        assert log.file_checksum(model) != first


def test_pixel_digest_sees_one_changed_pixel_and_shape() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    changed = image.copy()
    changed[3, 4, 1] = 1
    assert pixel_digest([image]) != pixel_digest([changed])
    assert pixel_digest([image]) != pixel_digest([image.reshape(4, 16, 3)])
    assert pixel_digest([image, changed]) != pixel_digest([changed, image])


def test_canonical_json_is_stable_and_rejects_nothing() -> None:
    a = canonical_json({"b": 1, "a": [np.float32(0.5), (1, 2)], "c": float("nan")})
    assert a == '{"a":[0.5,[1,2]],"b":1,"c":null}'
    assert json.loads(a)["a"] == [0.5, [1, 2]]


def test_threads_and_processes_share_one_chain(tmp_path: Path) -> None:
    """The GUI thread and the answer worker share one log; a second VoxRad (CLI) writes too."""
    import threading

    errors: list[BaseException] = []
    with AuditLog(tmp_path) as log, AuditLog(tmp_path) as other:

        def write(target: AuditLog, base: int) -> None:
            try:
                for n in range(15):
                    target.append(entry(base + n))
            except BaseException as exc:  # reported below, not swallowed
                errors.append(exc)

        threads = [
            threading.Thread(target=write, args=(log, 0)),
            threading.Thread(target=write, args=(log, 100)),
            threading.Thread(target=write, args=(other, 200)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    report = verify_log(tmp_path)
    assert report.ok, report.problems
    assert report.records == 45
    assert not list(tmp_path.glob("*.tmp"))


def test_first_runs_at_once_agree_on_one_salt(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from voxrad.records.audit import installation_salt

    with ThreadPoolExecutor(8) as pool:
        salts = set(pool.map(lambda _: installation_salt(tmp_path), range(32)))
    assert len(salts) == 1 and len(salts.pop()) == 32
    assert not list(tmp_path.glob("*.tmp"))
