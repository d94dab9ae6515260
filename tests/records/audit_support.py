"""Helpers for the audit tests: a filled log, and raw access that bypasses the triggers the way
someone editing the file with a SQLite tool would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from voxrad.records.audit import DB_NAME, AuditEntry, AuditLog


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        question=f"Is there a nodule in the left lung? ({n})",
        answer=f"A 6 mm nodule in the left upper lobe ({n}).",
        model="medgemma-1.5-4b-it",
        backend="llama-cpp",
        findings=({"label": "nodule", "box_px": [10.0, 20.0, 30.0, 40.0], "slice": n},),
        confidence=0.42 + n / 100,
        confidence_source="logprobs",
        model_sha256="ab" * 32,
        study_uid=f"1.2.826.0.1.3680043.8.498.{n}",
        series_uid=f"1.2.826.0.1.3680043.8.498.{n}.1",
        sop_instance_uids=(f"1.2.826.0.1.3680043.8.498.{n}.1.1",),
        image_sha256="cd" * 32,
        settings={"vlm.temperature": 0.0},
    )


def filled_log(directory: Path, count: int) -> None:
    with AuditLog(directory) as log:
        for n in range(count):
            log.append(entry(n))


def raw(directory: Path) -> sqlite3.Connection:
    """A connection with the append-only triggers dropped."""
    db = sqlite3.connect(directory / DB_NAME, isolation_level=None)
    db.execute("DROP TRIGGER records_no_update")
    db.execute("DROP TRIGGER records_no_delete")
    return db
