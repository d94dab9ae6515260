"""Faults at the edges of the answer path, through the assistant pipeline as the app runs it.

* A real loopback site server whose stream drops mid-answer: the panel's turn, the spoken
  reply, the audit record, the saved conversation and the HTML report all say the answer was
  cut off, and the next question is whole.
* The disk full or read-only (real SQLite errors: ``max_page_count``, ``query_only``) when the
  audit record or the conversation is written: a message that names the cause and what to do,
  the pipeline stays up, and once there is space again the next question is answered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pipeline_fakes import EventLog, FakeSpeaker, FakeTranscriber, FakeViewer

from site_server_support import NORMAL_TEXT, FaultServer, cut_mid_answer, fault_server, url_of
from voxrad.assistant.history.store import (
    ConversationStore,
    ConversationStoreError,
    record_from_dict,
    record_to_dict,
)
from voxrad.assistant.loop.pipeline import AssistantPipeline
from voxrad.assistant.loop.turns import TurnRecord
from voxrad.assistant.model_answerer import ModelAnswerer
from voxrad.backends.vlm.engines import ModelSpec
from voxrad.backends.vlm.openai_compat import OpenAICompatVLM
from voxrad.core.conversation import CUT_OFF_SPOKEN, Answer
from voxrad.core.settings import PrivacySettings, VlmSettings
from voxrad.records.audit import AuditEntry, AuditError, AuditLog
from voxrad.records.audit_verify import verify_log
from voxrad.records.report import ReportTurn, study_report_html


def _answerer(tmp_path: Path, srv: FaultServer) -> ModelAnswerer:
    gguf = tmp_path / "tiny-medgemma.gguf"
    gguf.write_bytes(b"GGUF")

    def factory(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> object:
        return OpenAICompatVLM(url_of(srv), "m", read_timeout_s=2.0)

    return ModelAnswerer(
        VlmSettings(model=str(gguf)),
        tmp_path,
        engine_factory=factory,  # type: ignore[arg-type]
        audit_dir=tmp_path / "audit",
    )


def _ask(
    answerer: ModelAnswerer,
    speaker: FakeSpeaker,
    text: str,
    save: Callable[[TurnRecord], None] | None = None,
) -> tuple[Any, list[TurnRecord]]:
    saved: list[TurnRecord] = []

    def keep(record: TurnRecord) -> None:
        saved.append(record)
        if save is not None:
            save(record)

    pipeline = AssistantPipeline(
        FakeViewer(),
        transcriber_factory=FakeTranscriber,
        answerer_factory=lambda: answerer,
        speaker_factory=lambda: speaker,
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.open_conversation([], keep)
    pipeline.start()
    try:
        turn_id = pipeline.submit_text(text)
        return log.finished(turn_id, timeout=30), saved
    finally:
        assert pipeline.shutdown()


def test_a_stream_cut_mid_answer_is_marked_everywhere(tmp_path: Path) -> None:
    with fault_server() as srv:
        srv.scenarios.append(cut_mid_answer)
        speaker = FakeSpeaker()
        turn, saved = _ask(_answerer(tmp_path, srv), speaker, "Is there an effusion?")
        answer: Answer = turn.answer  # type: ignore[attr-defined]
        # The panel's turn: the fragment, marked, with the reason first among its notes.
        assert answer.answer == "The le"
        assert answer.cut_off and answer.finish_reason == "connection"
        assert answer.cut_off_note == (
            "The answer was cut off: the connection to the model server 127.0.0.1 was lost."
        )
        assert answer.warnings[0] == answer.cut_off_note
        # Spoken: not the unfinished "The le", but that it was cut off.
        assert speaker.said == [CUT_OFF_SPOKEN]
        # The audit record says how the answer ended.
        (record,) = AuditLog(tmp_path / "audit").records()
        assert record.body["answer"] == "The le"
        assert (record.body["finish_reason"], record.body["cut_off"]) == ("connection", True)
        # The saved conversation keeps the mark.
        (stored,) = saved
        again = record_from_dict(record_to_dict(stored))
        assert again.answer is not None and again.answer.cut_off_note == answer.cut_off_note
        # The HTML report puts the mark above the fragment, once.
        page = study_report_html(
            [ReportTurn("Is there an effusion?", answer, image=np.zeros((4, 4, 3), np.uint8))],
            text_filter=lambda s: s,
            model="m",
        )
        assert page.count("The answer was cut off") == 1
        assert page.index("The answer was cut off") < page.index("<p>The le</p>")

        # The next question is whole, and spoken as the answer.
        speaker = FakeSpeaker()
        turn, _ = _ask(_answerer(tmp_path, srv), speaker, "Is there an effusion?")
        answer = turn.answer  # type: ignore[attr-defined]
        assert (answer.answer, answer.finish_reason) == ("no nodule.", "complete")
        assert not answer.cut_off and answer.cut_off_note == ""
        assert speaker.said == ["no nodule."]
        assert NORMAL_TEXT.endswith(answer.answer)
        assert list(AuditLog(tmp_path / "audit").records())[-1].body["cut_off"] is False


def test_turns_saved_before_answers_said_how_they_ended_read_as_complete() -> None:
    old = {
        "answer": "No effusion.",
        "reasoning": "",
        "findings": [],
        "confidence": None,
        "confidence_source": "none",
        "stated_confidence": None,
        "warnings": [],
        "model": "m",
        "family": "medgemma",
        "raw_text": "",
        "timings": {},
    }
    record = {
        "turn_id": 1,
        "source": "typed",
        "kind": "question",
        "transcript": "q",
        "command": None,
        "question": None,
        "answer": old,
        "model": "m",
        "messages": [],
        "error": "",
        "cancelled": False,
        "spoken": False,
        "timings": {},
        "created": 0.0,
    }
    answer = record_from_dict(record).answer
    assert answer is not None and not answer.cut_off
    odd = record_from_dict({**record, "answer": {**old, "finish_reason": "??"}}).answer
    assert odd is not None and odd.cut_off  # an unknown ending is never read as whole


# -- the disk full or read-only ---------------------------------------------------------------
def _fill(db: sqlite3.Connection) -> None:
    """No page beyond those the database has: the next write that needs one is SQLITE_FULL."""
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")


def _free(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA max_page_count = 1073741823")


#: Long enough that its record needs pages the database does not have.
LONG_QUESTION = "Is there an effusion? " + "Compare with the prior study, please. " * 300


def _entry(question: str = LONG_QUESTION) -> AuditEntry:
    return AuditEntry(question=question, answer="No effusion.", model="m", backend="openai")


@pytest.fixture()
def audit_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[sqlite3.Connection]]:
    """Every audit log's SQLite connection, as it is opened (to fill or free its disk)."""
    opened: list[sqlite3.Connection] = []
    connect = AuditLog._connect

    def keep(log: AuditLog) -> sqlite3.Connection:
        opened.append(connect(log))
        return opened[-1]

    monkeypatch.setattr(AuditLog, "_connect", keep)
    yield opened


def test_audit_log_on_a_full_disk_says_so_and_recovers(
    tmp_path: Path, audit_connections: list[sqlite3.Connection]
) -> None:
    log = AuditLog(tmp_path / "audit")
    (db,) = audit_connections
    _fill(db)
    with pytest.raises(AuditError) as caught:
        log.append(_entry())
    assert (
        caught.value.message
        == "The answer could not be written to the audit log: the disk is full."
    )
    assert f"Free space on the disk that holds {tmp_path / 'audit'}" in caught.value.hint
    _free(db)
    assert log.append(_entry()).seq == 1  # nothing half-written: the chain starts cleanly
    log.close()
    assert verify_log(tmp_path / "audit").ok


def test_audit_log_on_a_read_only_database_says_so(
    tmp_path: Path, audit_connections: list[sqlite3.Connection]
) -> None:
    log = AuditLog(tmp_path / "audit")
    audit_connections[0].execute("PRAGMA query_only = ON")
    with pytest.raises(AuditError, match="audit log: its folder is read-only") as caught:
        log.append(_entry("Is there an effusion?"))
    assert "writable" in caught.value.hint
    log.close()


def test_conversation_store_on_a_full_or_read_only_disk_says_so(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "conversations.sqlite3")
    record = TurnRecord(1, "typed", kind="question", transcript=LONG_QUESTION)
    _fill(store._db)
    with pytest.raises(ConversationStoreError) as caught:
        store.append("study", record)
    assert caught.value.message == "The conversation could not be saved: the disk is full."
    assert "not affected" in caught.value.hint and str(tmp_path) in caught.value.hint
    _free(store._db)
    store._db.execute("PRAGMA query_only = ON")
    with pytest.raises(ConversationStoreError, match="saved: its folder is read-only"):
        store.append("study", record)
    store._db.execute("PRAGMA query_only = OFF")
    store.append("study", record)
    assert [r.transcript for r in store.load("study")] == [LONG_QUESTION]
    store.close()


def test_full_disk_in_the_app_withholds_with_the_cause_and_the_next_question_works(
    tmp_path: Path, audit_connections: list[sqlite3.Connection]
) -> None:
    """The audit log is full: the answer is withheld (VoxRad shows no unaudited answer) with
    a message naming the cause; the conversation store is full: the answer stays on screen with
    a note naming the cause. After space is freed the next question is answered and saved."""
    store = ConversationStore(tmp_path / "conversations.sqlite3")
    with fault_server() as srv:
        answerer = _answerer(tmp_path, srv)
        answerer._audit_log()  # opened before the disk fills, as in a running app
        _fill(audit_connections[0])
        turn, _ = _ask(answerer, FakeSpeaker(), LONG_QUESTION, store.for_study("s1").append)
        assert turn.answer is None
        assert "could not be written to the audit log: the disk is full." in turn.error
        assert "withheld" in turn.error and "Free space on the disk" in turn.error

        # Space freed for the audit log (a fresh answerer reopens it); the store is full now.
        _fill(store._db)
        assert store.load("s1")  # the withheld turn's question and message were saved
        speaker = FakeSpeaker()
        turn, _ = _ask(
            _answerer(tmp_path, srv), speaker, LONG_QUESTION, store.for_study("s2").append
        )
        assert turn.answer is not None and turn.answer.answer == "no nodule."  # not lost
        assert speaker.said == ["no nodule."]
        (note,) = [m for m in turn.messages if "could not be saved" in m]
        assert note.startswith("The conversation could not be saved: the disk is full.")
        assert "stays on screen until VoxRad closes" in note and "Free space" in note

        _free(store._db)
        turn, _ = _ask(
            _answerer(tmp_path, srv),
            FakeSpeaker(),
            "Is there an effusion?",
            store.for_study("s3").append,
        )
        assert turn.answer is not None and not any("could not" in m for m in turn.messages)
        assert [r.transcript for r in store.load("s3")] == ["Is there an effusion?"]
    store.close()
    assert len(list(AuditLog(tmp_path / "audit").records())) == 2
