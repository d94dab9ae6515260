"""The conversation about each study, kept on this workstation so it reopens with the study.

Privacy decisions (transcripts and answers are patient data):

* One SQLite file in the user's own data folder (``voxrad.core.paths.data_dir()``), readable by
  that user only (0600 on POSIX). Nothing is written next to the study or the working folder.
* A study is found by ``HMAC-SHA256(salt, name)``, the name being the StudyInstanceUID and
  SeriesInstanceUID (the app passes ``"<study>#<series>"``; a file without UIDs passes its
  path), the salt random per installation and kept inside the database: the UID itself is
  never stored, and the key cannot be matched against a UID list from another workstation.
  Table and file names never contain it.
* Everything about a turn (transcript, question, answer, messages) is one payload column.
  With a key (``key=`` or the ``VOXRAD_CONVERSATION_KEY`` variable, a Fernet key that site IT
  provisions, e.g. from the OS keychain) the payload is encrypted at rest (AES-128-CBC +
  HMAC-SHA256, via the ``cryptography`` package). Without a key it is plain JSON: a key kept
  beside the database would protect nothing, so VoxRad then relies on the account's
  permissions and the disk encryption hospitals already mandate, and says so in the docs.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

from voxrad.assistant.commands.grammar import Action, Command
from voxrad.assistant.loop.turns import TurnRecord
from voxrad.core import paths
from voxrad.core.conversation import Answer, Box, Finding, Question, finish_reason_from
from voxrad.core.errors import DependencyMissingError, VoxRadError, storage_cause, storage_hint

logger = logging.getLogger(__name__)

KEY_ENV = "VOXRAD_CONVERSATION_KEY"
FILE_NAME = "conversations.sqlite3"
SCHEMA_VERSION = 1


class ConversationStoreError(VoxRadError):
    """The saved conversations cannot be read or written."""

    default_hint = (
        "The conversation on screen is not affected. Check the disk and the key set by IT "
        f"({KEY_ENV}), or clear saved conversations in Settings."
    )


def generate_key() -> str:
    """A new encryption key (for IT to store in the OS keychain or the environment)."""
    return _fernet_module().Fernet.generate_key().decode("ascii")


class ConversationStore:
    """Saved conversations, one per study.

    Parameters
    ----------
    path
        The database file; defaults to ``conversations.sqlite3`` in the user data folder.
    key
        Fernet key for encryption at rest; defaults to ``$VOXRAD_CONVERSATION_KEY``; empty
        means no encryption.
    """

    def __init__(self, path: Path | None = None, *, key: str | bytes | None = None) -> None:
        self.path = path or paths.data_dir() / FILE_NAME
        raw_key = key if key is not None else os.environ.get(KEY_ENV, "")
        self._fernet = _make_fernet(raw_key) if raw_key else None
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not self.path.exists()
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
            if fresh and os.name == "posix":
                os.chmod(self.path, 0o600)
            self._db.execute("PRAGMA journal_mode=WAL")
            # Deleted turns are overwritten with zeros, not left readable in free pages.
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(
                """
                CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS turns (
                    study_key TEXT NOT NULL,
                    turn_id INTEGER NOT NULL,
                    created REAL NOT NULL,
                    encrypted INTEGER NOT NULL,
                    payload BLOB NOT NULL,
                    PRIMARY KEY (study_key, turn_id)
                );
                """
            )
            self._salt = self._meta_salt()
        except (sqlite3.Error, OSError) as exc:
            logger.error("conversation store at %s unusable: %s", self.path, exc)
            raise ConversationStoreError("Saved conversations could not be opened.") from exc

    @property
    def encrypted(self) -> bool:
        return self._fernet is not None

    def study_key(self, study_uid: str) -> str:
        """The salted hash a study's conversation is filed under."""
        digest = hmac.new(self._salt, study_uid.strip().encode("utf-8"), hashlib.sha256)
        return digest.hexdigest()

    def append(self, study_uid: str, record: TurnRecord) -> None:
        """Save (or replace) one finished turn of ``study_uid``'s conversation."""
        data = json.dumps(record_to_dict(record), separators=(",", ":")).encode("utf-8")
        payload = self._fernet.encrypt(data) if self._fernet is not None else data
        self._execute(
            "INSERT OR REPLACE INTO turns VALUES (?, ?, ?, ?, ?)",
            (
                self.study_key(study_uid),
                record.turn_id,
                record.created,
                int(self.encrypted),
                payload,
            ),
            "saved",
        )

    def load(self, study_uid: str) -> list[TurnRecord]:
        """The saved conversation of ``study_uid``, oldest first ([] when there is none)."""
        rows = self._execute(
            "SELECT encrypted, payload FROM turns WHERE study_key = ? ORDER BY turn_id",
            (self.study_key(study_uid),),
            "read",
        )
        return [record_from_dict(json.loads(self._decrypt(enc, payload))) for enc, payload in rows]

    def clear(self, study_uid: str) -> int:
        """Delete ``study_uid``'s conversation; returns the number of turns deleted."""
        with self._lock:
            try:
                cur = self._db.execute(
                    "DELETE FROM turns WHERE study_key = ?", (self.study_key(study_uid),)
                )
                self._db.commit()
            except sqlite3.Error as exc:
                raise ConversationStoreError("The conversation could not be cleared.") from exc
        # Deleted rows can linger in free pages and the WAL: overwrite them now.
        self.vacuum()
        return cur.rowcount

    def clear_all(self) -> None:
        """Delete every saved conversation (the user's "forget everything")."""
        self._execute("DELETE FROM turns", ())
        self.vacuum()

    def vacuum(self) -> None:
        with self._lock:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.execute("VACUUM")
            except sqlite3.Error as exc:
                logger.warning("conversation store vacuum failed: %s", exc)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def for_study(self, study_uid: str, *, legacy_uid: str | None = None) -> StudyConversation:
        """This study's conversation: hand its ``append`` to the pipeline's ``on_turn_finished``.

        ``legacy_uid`` is the name the same conversation was filed under by an older VoxRad
        (the file path and series number): a conversation found only there is moved to
        ``study_uid`` when it is first loaded.
        """
        return StudyConversation(self, study_uid, legacy_uid=legacy_uid)

    def refile(self, old_uid: str, new_uid: str) -> int:
        """Move ``old_uid``'s conversation to ``new_uid`` unless ``new_uid`` already has one;
        returns the number of turns moved."""
        old, new = self.study_key(old_uid), self.study_key(new_uid)
        if old == new:
            return 0
        with self._lock:
            try:
                cur = self._db.execute(
                    "UPDATE turns SET study_key = ? WHERE study_key = ? AND NOT EXISTS "
                    "(SELECT 1 FROM turns WHERE study_key = ?)",
                    (new, old, new),
                )
                self._db.commit()
            except sqlite3.Error as exc:
                logger.error("conversation store: %s", exc)
                raise ConversationStoreError("The saved conversation could not be read.") from exc
        return cur.rowcount

    # --- internals ---------------------------------------------------------------------------

    def _execute(self, sql: str, args: tuple[Any, ...], doing: str = "saved or read") -> list[Any]:
        with self._lock:
            try:
                rows = self._db.execute(sql, args).fetchall()
                self._db.commit()
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.rollback()  # the next turn's write must not inherit this one
                logger.error("conversation store: %s", exc)
                cause = storage_cause(exc)
                raise ConversationStoreError(
                    f"The conversation could not be {doing}" + (f": {cause}." if cause else "."),
                    hint=_store_hint(cause, self.path.parent),
                ) from exc
        return rows

    def _meta_salt(self) -> bytes:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'salt'").fetchone()
        if row is not None:
            return bytes(row[0])
        salt = secrets.token_bytes(32)
        self._db.execute("INSERT INTO meta VALUES ('salt', ?)", (salt,))
        self._db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
        )
        self._db.commit()
        return salt

    def _decrypt(self, encrypted: int, payload: bytes) -> bytes:
        if not encrypted:
            return bytes(payload)
        if self._fernet is None:
            raise ConversationStoreError(
                "This study's saved conversation is encrypted and no key is available.",
                hint=f"Ask IT to set {KEY_ENV} on this workstation, or clear the conversation.",
            )
        try:
            return bytes(self._fernet.decrypt(bytes(payload)))
        except Exception as exc:  # cryptography's InvalidToken
            raise ConversationStoreError(
                "This study's saved conversation was encrypted with a different key.",
                hint=f"Ask IT for the key in use when it was saved ({KEY_ENV}), or clear it.",
            ) from exc


class StudyConversation:
    """The store bound to one study (so the pipeline needs no UID).

    With a ``legacy_uid`` (see :meth:`ConversationStore.for_study`), :meth:`load` first moves
    a conversation filed under it, so history saved by an older VoxRad is still found.
    """

    def __init__(
        self, store: ConversationStore, study_uid: str, *, legacy_uid: str | None = None
    ) -> None:
        self._store = store
        self._uid = study_uid
        self._legacy = legacy_uid

    def append(self, record: TurnRecord) -> None:
        self._store.append(self._uid, record)

    def load(self) -> list[TurnRecord]:
        if self._legacy is not None and self._store.refile(self._legacy, self._uid):
            logger.info("a saved conversation was refiled under its study")
        return self._store.load(self._uid)

    def clear(self) -> int:
        cleared = self._store.clear(self._uid)
        if self._legacy is not None:
            cleared += self._store.clear(self._legacy)
        return cleared


def _store_hint(cause: str, folder: Path) -> str | None:
    hint = storage_hint(cause, folder)
    return f"{hint} The conversation on screen is not affected." if hint else None


def _fernet_module() -> Any:
    try:
        from cryptography import fernet
    except ImportError as exc:
        raise DependencyMissingError("Encryption of saved conversations", "secure") from exc
    return fernet


def _make_fernet(key: str | bytes) -> Any:
    fernet = _fernet_module()
    try:
        return fernet.Fernet(key.encode("ascii") if isinstance(key, str) else key)
    except (ValueError, UnicodeError) as exc:
        raise ConversationStoreError(
            "The conversation encryption key is not valid.",
            hint=f"{KEY_ENV} must be a Fernet key: 32 bytes in URL-safe base64.",
        ) from exc


# --- (de)serialisation: every field, so a reopened turn looks as it did --------------------


def _box(b: Box | None) -> list[float] | None:
    return None if b is None else [b.x0, b.y0, b.x1, b.y1]


def _unbox(v: Any) -> Box | None:
    return None if v is None else Box(*(float(x) for x in v))


def record_to_dict(r: TurnRecord) -> dict[str, Any]:
    """A JSON-ready dict of a turn."""
    q, a, c = r.question, r.answer, r.command
    return {
        "turn_id": r.turn_id,
        "source": r.source,
        "kind": r.kind,
        "transcript": r.transcript,
        "command": None
        if c is None
        else {"action": str(c.action), "args": [list(p) for p in c.args]},
        "question": None
        if q is None
        else {
            "text": q.text,
            "slice_index": q.slice_index,
            "region": _box(q.region),
            "scope": q.scope,
            "series_uid": q.series_uid,
            "window": None if q.window is None else list(q.window),
        },
        "answer": None
        if a is None
        else {
            "answer": a.answer,
            "reasoning": a.reasoning,
            "findings": [
                {
                    "label": f.label,
                    "box": _box(f.box),
                    "confidence": f.confidence,
                    "slice_index": f.slice_index,
                    "image_index": f.image_index,
                }
                for f in a.findings
            ],
            "confidence": a.confidence,
            "confidence_source": a.confidence_source,
            "stated_confidence": a.stated_confidence,
            "warnings": list(a.warnings),
            "model": a.model,
            "family": a.family,
            "raw_text": a.raw_text,
            "timings": a.timings,
            "finish_reason": a.finish_reason,
            "finish_detail": a.finish_detail,
        },
        "model": r.model,
        "messages": r.messages,
        "error": r.error,
        "cancelled": r.cancelled,
        "spoken": r.spoken,
        "timings": r.timings,
        "created": r.created,
    }


def record_from_dict(d: dict[str, Any]) -> TurnRecord:
    """The turn :func:`record_to_dict` wrote."""
    c, q, a = d.get("command"), d.get("question"), d.get("answer")
    return TurnRecord(
        turn_id=int(d["turn_id"]),
        source=d["source"],
        kind=d["kind"],
        transcript=d["transcript"],
        command=None
        if c is None
        else Command(
            Action(c["action"]), tuple((k, v) for k, v in c["args"]), heard=d["transcript"]
        ),
        question=None
        if q is None
        else Question(
            q["text"],
            slice_index=q["slice_index"],
            region=_unbox(q["region"]),
            scope=q["scope"],
            series_uid=q["series_uid"],
            window=None if q["window"] is None else (q["window"][0], q["window"][1]),
        ),
        answer=None
        if a is None
        else Answer(
            a["answer"],
            reasoning=a["reasoning"],
            findings=tuple(
                Finding(
                    f["label"],
                    box=_unbox(f["box"]),
                    confidence=f["confidence"],
                    slice_index=f["slice_index"],
                    image_index=f["image_index"],
                )
                for f in a["findings"]
            ),
            confidence=a["confidence"],
            confidence_source=a["confidence_source"],
            stated_confidence=a["stated_confidence"],
            warnings=tuple(a["warnings"]),
            model=a["model"],
            family=a["family"],
            raw_text=a["raw_text"],
            timings=dict(a["timings"]),
            # Turns stored before answers said how they ended were whole answers.
            finish_reason=finish_reason_from(a.get("finish_reason")),
            finish_detail=str(a.get("finish_detail") or ""),
        ),
        model=d["model"],
        messages=list(d["messages"]),
        error=d["error"],
        cancelled=bool(d["cancelled"]),
        spoken=bool(d["spoken"]),
        timings=dict(d["timings"]),
        created=float(d["created"]),
    )
