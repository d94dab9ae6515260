"""The audit log: every answer VoxRad gave, append-only and hash-chained.

Each record's body is canonical JSON (:mod:`voxrad.records.canonical`) holding its sequence
number and time; its hash is SHA-256 over the previous record's hash and the body. SQLite in
WAL mode with ``synchronous=FULL`` makes a record durable once :meth:`AuditLog.append`
returns; triggers refuse UPDATE and DELETE, and :func:`verify` finds any edit, deletion,
reordering or insertion that bypassed them. A head file beside the database holds the last
sequence number and hash, so cutting records off the end is found too (the head is written
after the commit, so a crash can leave it one record behind, never ahead).

The chain uses plain SHA-256, not a key, so anyone holding an export can check it; UIDs are
keyed hashes (HMAC with a per-installation salt) so the log names no study outside this site.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voxrad.core import paths
from voxrad.core.errors import VoxRadError, storage_cause, storage_hint
from voxrad.records.canonical import GENESIS, canonical_json, chain_hash, salted_uid

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DB_NAME = "audit.sqlite3"
HEAD_NAME = "audit.head.json"
SALT_NAME = "installation.salt"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_time ON records (recorded_at);
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS file_checksums (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL
);
"""


class AuditError(VoxRadError):
    """The audit log could not be opened or written; answers must not be shown unaudited."""

    default_hint = (
        "Check that the VoxRad data folder is writable and the disk is not full; "
        "`voxrad settings` shows the folder."
    )


def default_dir() -> Path:
    """Where the log lives: ``<data dir>/audit``."""
    return paths.data_dir() / "audit"


@dataclass(frozen=True)
class AuditEntry:
    """What one answer leaves in the log (the caller fills it; see :meth:`AuditLog.append`).

    ``question`` is the text as it went to the model (after the privacy scrubber);
    ``image_sha256`` is :func:`voxrad.records.canonical.pixel_digest` of the images sent;
    ``settings`` holds the settings that change what a model answers.
    """

    question: str
    answer: str
    model: str
    backend: str
    findings: tuple[dict[str, Any], ...] = ()
    confidence: float | None = None
    confidence_source: str = "none"
    model_sha256: str = ""
    study_uid: str = ""
    series_uid: str = ""
    sop_instance_uids: tuple[str, ...] = ()
    image_sha256: str = ""
    remote: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    #: How the answer ended (core.conversation.FinishReason); anything but "complete" means
    #: ``answer`` holds a fragment, which the record says in so many words (``cut_off``).
    finish_reason: str = "complete"


@dataclass(frozen=True)
class StoredRecord:
    """One row as stored: its body parsed back, and its place in the chain."""

    seq: int
    recorded_at: str
    body: dict[str, Any]
    prev_hash: str
    hash: str


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some service accounts, containers)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _private_file(path: Path, data: bytes) -> None:
    """Write ``data`` atomically, readable by this account only, fsynced before the rename."""
    # Unique per writer: two processes advancing the head must not share a temporary file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def installation_salt(directory: Path | None = None) -> bytes:
    """The per-installation secret that UIDs are hashed with (created on first use)."""
    folder = directory or default_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / SALT_NAME
    try:
        salt = path.read_bytes()
    except FileNotFoundError:
        salt = b""
    if len(salt) >= 32:
        return salt
    # Create-if-absent, atomically: two first runs at once must agree on one salt, or
    # hashes written by the loser could never be matched again.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, os.urandom(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        if len(path.read_bytes()) < 32:  # a damaged salt from an interrupted older write
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


class AuditLog:
    """The log in ``directory`` (default :func:`default_dir`).

    ``hash_uids`` stores study, series and SOP instance UIDs as salted hashes rather than in
    clear; switch it off only where the site's privacy officer wants UIDs in the log.
    """

    def __init__(self, directory: Path | None = None, *, hash_uids: bool = True) -> None:
        self.directory = directory or default_dir()
        self.hash_uids = hash_uids
        # One connection shared by the GUI thread and the answer worker, used under a lock.
        self._lock = threading.Lock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = self._connect()
        except (OSError, sqlite3.Error) as exc:
            cause = storage_cause(exc)
            raise AuditError(
                f"The audit log in {self.directory} cannot be opened"
                + (f": {cause}." if cause else "."),
                hint=storage_hint(cause, self.directory) or None,
            ) from exc
        self._salt = installation_salt(self.directory) if hash_uids else b""

    @property
    def db_path(self) -> Path:
        return self.directory / DB_NAME

    @property
    def head_path(self) -> Path:
        return self.directory / HEAD_NAME

    def _connect(self) -> sqlite3.Connection:
        new = not self.db_path.exists()
        db = sqlite3.connect(
            self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: a record is on disk when append() returns, even across a power cut.
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        if new:
            os.chmod(self.db_path, 0o600)
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------
    def _uid(self, uid: str) -> str:
        return salted_uid(uid, self._salt) if self.hash_uids else uid

    def _header(self, seq: int, when: str) -> dict[str, Any]:
        """The fields every record starts with, answer or event."""
        return {
            "schema": SCHEMA_VERSION,
            "seq": seq,
            "time": when,
            "user": _os_user(),
            "host": socket.gethostname(),
            "uids": "hmac-sha256" if self.hash_uids else "clear",
        }

    def _body(self, seq: int, when: str, entry: AuditEntry) -> dict[str, Any]:
        return {
            **self._header(seq, when),
            "study": self._uid(entry.study_uid),
            "series": self._uid(entry.series_uid),
            "sop_instances": [self._uid(u) for u in entry.sop_instance_uids],
            "image_sha256": entry.image_sha256,
            "question": entry.question,
            "answer": entry.answer,
            "findings": list(entry.findings),
            "confidence": entry.confidence,
            "confidence_source": entry.confidence_source,
            "model": entry.model,
            "model_sha256": entry.model_sha256,
            "backend": entry.backend,
            "remote": entry.remote,
            "settings": entry.settings,
            "warnings": list(entry.warnings),
            "finish_reason": entry.finish_reason,
            "cut_off": entry.finish_reason != "complete",
        }

    def append(self, entry: AuditEntry) -> StoredRecord:
        """Add one record and return it once it is committed to disk.

        Raises
        ------
        AuditError
            When the record cannot be written (the caller must not show the answer as audited).
        """
        with self._lock:
            seq, when, body, prev, digest = self._append_locked(
                lambda seq, when: self._body(seq, when, entry)
            )
            self._advance_head(seq, digest)
        logger.info("audit record %d written", seq)
        return StoredRecord(seq, when, json.loads(body), prev, digest)

    def append_event(
        self, event: str, *, study_uid: str = "", details: dict[str, Any] | None = None
    ) -> StoredRecord:
        """Add one record of something other than an answer (a PACS retrieve or send).

        ``event`` names it ("pacs.retrieve", "pacs.send"); the study UID is hashed like an
        answer's; ``details`` (counts, node name, result) must hold no patient identifier.
        It shares the chain, so :func:`~voxrad.records.audit_verify.verify_log` covers it.

        Raises
        ------
        AuditError
            When the record cannot be written.
        """

        def body(seq: int, when: str) -> dict[str, Any]:
            return {
                **self._header(seq, when),
                "event": event,
                "study": self._uid(study_uid),
                "details": dict(details or {}),
            }

        with self._lock:
            seq, when, text, prev, digest = self._append_locked(body)
            self._advance_head(seq, digest)
        logger.info("audit record %d written (%s)", seq, event)
        return StoredRecord(seq, when, json.loads(text), prev, digest)

    def _append_locked(
        self, make_body: Callable[[int, str], dict[str, Any]]
    ) -> tuple[int, str, str, str, str]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                last = self._db.execute(
                    "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                when = _utc_now()
                body = canonical_json(make_body(seq, when))
                digest = chain_hash(prev, body)
                self._db.execute(
                    "INSERT INTO records (seq, recorded_at, body, prev_hash, hash) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (seq, when, body, prev, digest),
                )
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (SQLITE_FULL among them):
                # a second ROLLBACK would fail and hide the real cause.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            cause = storage_cause(exc)
            logger.error("audit record not written: %s", type(exc).__name__)
            raise AuditError(
                "The answer could not be written to the audit log"
                + (f": {cause}." if cause else "."),
                hint=storage_hint(cause, self.directory) or None,
            ) from exc
        return seq, when, body, prev, digest

    def _advance_head(self, seq: int, digest: str) -> None:
        head = read_head(self.head_path)
        if head is not None and head[0] >= seq:
            return  # another process already moved it further
        try:
            _private_file(self.head_path, canonical_json({"seq": seq, "hash": digest}).encode())
        except OSError:
            # The record is committed; a stale head only weakens the truncation check.
            logger.warning("audit head file could not be updated", exc_info=True)

    # -- reading ---------------------------------------------------------------------------------
    def records(self, start: str | None = None, end: str | None = None) -> Iterator[StoredRecord]:
        """Records in sequence order, optionally with ``start <= time < end`` (ISO UTC text)."""
        sql = "SELECT seq, recorded_at, body, prev_hash, hash FROM records"
        where, args = [], []
        if start is not None:
            where.append("recorded_at >= ?")
            args.append(start)
        if end is not None:
            where.append("recorded_at < ?")
            args.append(end)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        for seq, when, body, prev, digest in rows:
            yield StoredRecord(seq, when, json.loads(body), prev, digest)

    def file_checksum(self, path: Path) -> str:
        """SHA-256 of a model file, cached by path, size and modification time (a 4 GB GGUF
        takes seconds to hash; it is hashed once, not once per answer)."""
        st = path.stat()
        key = str(path.resolve())
        with self._lock:
            row = self._db.execute(
                "SELECT size, mtime_ns, sha256 FROM file_checksums WHERE path = ?", (key,)
            ).fetchone()
        if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return str(row[2])
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO file_checksums VALUES (?, ?, ?, ?)",
                (key, st.st_size, st.st_mtime_ns, digest),
            )
        return digest


def read_head(path: Path) -> tuple[int, str] | None:
    """The (seq, hash) the head file holds, or None when there is none or it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return int(data["seq"]), str(data["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
