"""The conversation store: round trip, reopen, clear, privacy of names and payloads, encryption."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from pipeline_fakes import EventLog, FakeAnswerer, FakeSpeaker, FakeTranscriber, FakeViewer

from voxrad.assistant.commands.grammar import Action, Command
from voxrad.assistant.history.store import (
    KEY_ENV,
    ConversationStore,
    ConversationStoreError,
    generate_key,
)
from voxrad.assistant.loop.pipeline import AssistantPipeline
from voxrad.assistant.loop.turns import TurnRecord
from voxrad.core import paths
from voxrad.core.conversation import Answer, Box, Finding, Question

UID = "1.2.840.113619.2.55.3.604688119.969.1268071029.320"
OTHER = "1.3.6.1.4.1.14519.5.2.1.6279.6001.1"
TRANSCRIPT = "Is there a nodule in the right upper lobe?"


def question_turn(turn_id: int = 1) -> TurnRecord:
    answer = Answer(
        "A 9 mm nodule in the right upper lobe.",
        reasoning="A round opacity is seen.",
        findings=(Finding("nodule", Box(10.5, 20.0, 30.25, 41.0), 0.62, slice_index=5),),
        confidence=0.62,
        confidence_source="logprobs",
        stated_confidence=0.9,
        warnings=("Low image resolution.",),
        model="medgemma-1.5-4b-it",
        family="medgemma",
        raw_text="<raw>",
        timings={"prepare": 0.01, "generate": 1.5},
    )
    return TurnRecord(
        turn_id,
        "voice",
        kind="question",
        transcript=TRANSCRIPT,
        question=Question(TRANSCRIPT, 5, Box(1, 2, 3, 4), series_uid="9.9", window=(40, 400)),
        answer=answer,
        model=answer.model,
        messages=["The model is still loading."],
        spoken=True,
        timings={"capture": 1.2, "transcription": 0.3, "overhead": 0.004},
        created=1_700_000_000.5,
    )


def command_turn(turn_id: int = 2) -> TurnRecord:
    command = Command(Action.WINDOW, (("preset", "lung"),), heard="lung window")
    return TurnRecord(turn_id, "typed", kind="command", transcript="lung window", command=command)


def test_round_trip_keeps_every_field() -> None:
    store = ConversationStore()
    turns = [question_turn(1), command_turn(2)]
    for t in turns:
        store.append(UID, t)
    assert store.load(UID) == turns
    assert store.load(OTHER) == []
    store.close()


def test_reopen_clear_and_studies_are_separate() -> None:
    store = ConversationStore()
    store.append(UID, question_turn(1))
    store.append(OTHER, command_turn(1))
    store.close()
    reopened = ConversationStore()  # the same file in the user data folder
    assert reopened.path.parent == paths.data_dir()
    assert [t.kind for t in reopened.load(UID)] == ["question"]
    assert reopened.clear(UID) == 1
    assert reopened.load(UID) == []
    assert [t.kind for t in reopened.load(OTHER)] == ["command"]
    reopened.clear_all()
    assert reopened.load(OTHER) == []
    reopened.close()


def test_no_uid_or_transcript_in_names_or_plain_columns() -> None:
    store = ConversationStore()
    store.append(UID, question_turn())
    key = store.study_key(UID)
    assert UID not in key and len(key) == 64
    # Salted per installation: another store file gives another key for the same UID.
    other = ConversationStore(store.path.parent / "other.sqlite3")
    assert other.study_key(UID) != key
    other.close()
    store.close()
    blob = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.is_file())
    assert UID.encode() not in blob
    assert all(UID not in p.name for p in store.path.parent.rglob("*"))
    db = sqlite3.connect(store.path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master")]
    db.close()
    assert all(UID not in t for t in tables)
    if os.name == "posix":
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_encrypted_at_rest_with_a_key() -> None:
    pytest.importorskip("cryptography", reason="the 'secure' extra (cryptography) is needed")
    key = generate_key()
    store = ConversationStore(key=key)
    assert store.encrypted
    store.append(UID, question_turn())
    store.close()
    raw = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.is_file())
    assert b"nodule" not in raw and TRANSCRIPT.encode() not in raw
    with ConversationStore(key=key) as same:
        assert same.load(UID) == [question_turn()]
    with (
        ConversationStore(key="") as keyless,
        pytest.raises(ConversationStoreError, match="no key"),
    ):
        keyless.load(UID)
    with (
        ConversationStore(key=generate_key()) as wrong,
        pytest.raises(ConversationStoreError, match="different key"),
    ):
        wrong.load(UID)


def test_key_from_the_environment_and_a_bad_key(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cryptography", reason="the 'secure' extra (cryptography) is needed")
    monkeypatch.setenv(KEY_ENV, generate_key())
    with ConversationStore() as store:
        assert store.encrypted
    with pytest.raises(ConversationStoreError, match="not valid"):
        ConversationStore(key="not-a-key")


def test_cleared_turns_leave_no_readable_trace() -> None:
    store = ConversationStore()
    store.append(UID, question_turn())
    store.clear(UID)
    store.close()
    raw = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.is_file())
    assert TRANSCRIPT.encode() not in raw


def test_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConversationStoreError, match="could not be opened"):
        ConversationStore(blocker / "sub" / "conversations.sqlite3")


def test_pipeline_saves_turns_and_a_reopened_study_continues() -> None:
    store = ConversationStore()
    conversation = store.for_study(UID)

    def run(texts: list[str], history: list[TurnRecord]) -> list[TurnRecord]:
        answerer = FakeAnswerer("No nodule is seen.")
        pipeline = AssistantPipeline(
            FakeViewer(),
            transcriber_factory=FakeTranscriber,
            answerer_factory=lambda: answerer,
            speaker_factory=FakeSpeaker,
            on_turn_finished=conversation.append,
        )
        pipeline.load_history(history)
        log = EventLog()
        pipeline.add_listener(log)
        pipeline.start()
        for text in texts:
            log.finished(pipeline.submit_text(text))
        turns = pipeline.turns()
        assert pipeline.shutdown()
        if history:
            assert answerer.history_lengths == [1]  # the reopened answer is context
        return turns

    first = run(["Is there a nodule?", "lung window"], [])
    saved = conversation.load()
    assert saved == first
    second = run(["And on the left?"], saved)
    assert [t.turn_id for t in second] == [1, 2, 3]
    assert [t.turn_id for t in conversation.load()] == [1, 2, 3]
    store.close()


def test_switching_studies_saves_each_conversation_to_its_own_study() -> None:
    store = ConversationStore()
    first, second = store.for_study(UID), store.for_study(OTHER)
    pipeline = AssistantPipeline(
        FakeViewer(),
        transcriber_factory=FakeTranscriber,
        answerer_factory=FakeAnswerer,
        speaker_factory=FakeSpeaker,
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.open_conversation(first.load(), first.append)
    log.finished(pipeline.submit_text("Is there a nodule?"))
    pipeline.open_conversation(second.load(), second.append)
    assert pipeline.turns() == []
    log.finished(pipeline.submit_text("lung window"))
    pipeline.open_conversation(first.load(), first.append)
    assert [t.transcript for t in pipeline.turns()] == ["Is there a nodule?"]
    assert pipeline.shutdown()
    assert [t.kind for t in first.load()] == ["question"]
    assert [t.kind for t in second.load()] == ["command"]
    store.close()


def test_a_conversation_filed_under_an_old_name_moves_once_to_the_study() -> None:
    store = ConversationStore()
    store.append("/cd/DICOM#series0", question_turn(1))
    conversation = store.for_study(UID, legacy_uid="/cd/DICOM#series0")
    assert [t.turn_id for t in conversation.load()] == [1]
    assert store.load("/cd/DICOM#series0") == []  # moved, not copied
    assert [t.turn_id for t in store.for_study(UID).load()] == [1]
    # A study that already has a conversation never takes another one's.
    store.append("/other/folder#series0", question_turn(7))
    assert [t.turn_id for t in store.for_study(UID, legacy_uid="/other/folder#series0").load()] == [
        1
    ]
    assert [t.turn_id for t in store.load("/other/folder#series0")] == [7]
    store.close()
