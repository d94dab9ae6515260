"""Check an audit log: every record intact, in order, none missing, none added, none cut off.

Reads the database directly (never through :class:`~voxrad.records.audit.AuditLog`, which
would create a missing log) and reports each problem with the record it concerns, in words
an IT administrator can put in an incident report.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from voxrad.records.audit import DB_NAME, HEAD_NAME, default_dir, read_head
from voxrad.records.canonical import GENESIS, canonical_json, chain_hash

ProblemKind = Literal["edited", "missing", "reordered", "broken-chain", "truncated", "unreadable"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the log; ``seq`` is the record concerned (None for the whole log)."""

    kind: ProblemKind
    seq: int | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "record": self.seq, "message": self.message}


@dataclass
class VerifyReport:
    """The outcome of :func:`verify_log`: ``ok`` when no problem was found."""

    records: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "records": self.records,
            "last_record": self.last_seq,
            "last_hash": self.last_hash,
            "problems": [p.to_dict() for p in self.problems],
        }


def _check_row(
    report: VerifyReport,
    row: tuple[int, str, str, str, str],
    expected_seq: int,
    expected_prev: str,
) -> None:
    seq, when, body, prev, digest = row
    add = report.problems.append
    gap = seq != expected_seq
    if gap:
        if seq > expected_seq:
            span = (
                f"record {expected_seq}"
                if seq == expected_seq + 1
                else f"records {expected_seq} to {seq - 1}"
            )
            add(
                Problem(
                    "missing",
                    expected_seq,
                    f"{span} deleted (record {seq} follows record {expected_seq - 1}).",
                )
            )
        else:
            add(Problem("reordered", seq, f"record {seq} appears after record {expected_seq - 1}."))
    try:
        parsed = json.loads(body)
        canonical = canonical_json(parsed) == body
    except ValueError:
        add(Problem("edited", seq, f"record {seq} is not valid JSON: it was edited."))
        return
    if not canonical:
        add(Problem("edited", seq, f"record {seq} was edited (its text is not as written)."))
    elif chain_hash(prev, body) != digest:
        add(
            Problem("edited", seq, f"record {seq} was edited: its content does not match its hash.")
        )
    if parsed.get("seq") != seq:
        add(
            Problem(
                "reordered",
                seq,
                f"the record stored as {seq} was written as record "
                f"{parsed.get('seq')}: records were reordered or renumbered.",
            )
        )
    if parsed.get("time") != when:
        add(Problem("edited", seq, f"record {seq}'s time column was changed."))
    if prev != expected_prev and not gap:
        add(
            Problem(
                "broken-chain",
                seq,
                f"record {seq} does not follow record {seq - 1} as "
                f"written: record {seq - 1} was changed, replaced or inserted."
                if seq > 1
                else "record 1 does not start the log: records before it were "
                "removed or it was replaced.",
            )
        )


def verify_log(directory: Path | None = None) -> VerifyReport:
    """Check the log in ``directory`` (default: the user's) and say what is wrong, if anything.

    Detects: a record edited (any byte), deleted (a gap in the sequence or the chain), moved
    or renumbered, inserted (its successor no longer chains to it), records cut off the end
    (the head file names a later record than the last one found), and a head file or database
    that was removed.
    """
    folder = directory or default_dir()
    db_path, head_path = folder / DB_NAME, folder / HEAD_NAME
    report = VerifyReport()
    head = read_head(head_path)
    if head_path.exists() and head is None:
        report.problems.append(Problem("unreadable", None, "the head file is damaged."))
    if not db_path.exists():
        if head is not None:
            report.problems.append(
                Problem(
                    "truncated",
                    None,
                    f"the audit database is missing, but {head[0]} records were written.",
                )
            )
        return report
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error:
        report.problems.append(Problem("unreadable", None, "the audit database cannot be opened."))
        return report
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            report.problems.append(
                Problem("unreadable", None, f"the database is damaged ({integrity}).")
            )
        rows = db.execute(
            "SELECT seq, recorded_at, body, prev_hash, hash FROM records ORDER BY seq"
        )
        hashes: dict[int, str] = {}
        expected_seq, expected_prev = 1, GENESIS
        for row in rows:
            _check_row(report, row, expected_seq, expected_prev)
            report.records += 1
            expected_seq, expected_prev = row[0] + 1, row[4]
            hashes[row[0]] = row[4]
    except sqlite3.Error as exc:
        report.problems.append(Problem("unreadable", None, f"the database cannot be read ({exc})."))
        return report
    finally:
        db.close()
    report.last_seq, report.last_hash = expected_seq - 1, expected_prev
    if head is None:
        if report.records and not head_path.exists():
            report.problems.append(
                Problem(
                    "truncated",
                    None,
                    "the head file is missing, so records cut off the end of the "
                    "log could not be ruled out.",
                )
            )
    elif head[0] > report.last_seq:
        report.problems.append(
            Problem(
                "truncated",
                report.last_seq + 1,
                f"records {report.last_seq + 1} to {head[0]} were cut off the end of the log "
                f"(it ends at record {report.last_seq}).",
            )
        )
    elif hashes.get(head[0]) != head[1]:
        report.problems.append(
            Problem(
                "edited",
                head[0],
                f"record {head[0]} is not the record that was written "
                "(the head file holds another hash).",
            )
        )
    return report
