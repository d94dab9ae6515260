"""Audit records as CSV or JSON for a date range, for the site's quality and privacy officers.

Each row keeps its ``prev_hash`` and ``hash`` and the JSON export keeps each record's exact
body, so an auditor can re-check the chain of the exported range without VoxRad
(``sha256(prev_hash + "\\n" + body)``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from voxrad.core.errors import VoxRadError
from voxrad.records.audit import StoredRecord
from voxrad.records.canonical import canonical_json

ExportFormat = Literal["csv", "json"]

CSV_COLUMNS = (
    "seq",
    "time",
    "user",
    "host",
    "study",
    "series",
    "sop_instances",
    "image_sha256",
    "question",
    "answer",
    "finish_reason",
    "cut_off",
    "findings",
    "confidence",
    "confidence_source",
    "model",
    "model_sha256",
    "backend",
    "remote",
    "settings",
    "warnings",
    # Records of other events (PACS retrieve and send): their name and counts.
    "event",
    "details",
    "prev_hash",
    "hash",
)


class DateRangeError(VoxRadError):
    """A --from/--to value is not a date."""

    default_hint = "Give dates as YYYY-MM-DD (local time), e.g. --from 2026-01-01 --to 2026-01-31."


def parse_bound(text: str | None, *, end: bool) -> str | None:
    """A ``--from``/``--to`` value as the ISO UTC text records are stored with.

    A plain date means local midnight; as an end bound, the whole day is included. A datetime
    without a zone is local time.
    """
    if text is None:
        return None
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            moment = datetime.combine(day + timedelta(days=1) if end else day, time())
        else:
            moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise DateRangeError(f"'{text}' is not a date.") from exc
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time, as a clinician or administrator means it
    utc = moment.astimezone(UTC)
    return utc.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return canonical_json(value)
    text = str(value)
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        # A spreadsheet would run "=..." as a formula (CSV injection): keep it text. The JSON
        # export keeps every value exactly, for checking hashes.
        return "'" + text
    return text


def to_csv(records: Iterable[StoredRecord]) -> str:
    """One row per record, nested values as canonical JSON text; text that a spreadsheet
    would run as a formula is prefixed with an apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in records:
        row = {**r.body, "seq": r.seq, "time": r.recorded_at, "prev_hash": r.prev_hash}
        row["hash"] = r.hash
        writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
    return out.getvalue()


def to_json(records: Iterable[StoredRecord]) -> str:
    """``{"records": [...]}``; each record has ``body`` exactly as hashed."""
    items = [
        {
            "seq": r.seq,
            "time": r.recorded_at,
            "record": r.body,
            "body": canonical_json(r.body),
            "prev_hash": r.prev_hash,
            "hash": r.hash,
        }
        for r in records
    ]
    return (
        json.dumps(
            {"format": "voxrad-audit", "version": 1, "records": items}, indent=2, ensure_ascii=False
        )
        + "\n"
    )


def export(records: Iterable[StoredRecord], fmt: ExportFormat) -> str:
    """The records in ``fmt`` ("csv" or "json")."""
    return to_csv(records) if fmt == "csv" else to_json(records)
