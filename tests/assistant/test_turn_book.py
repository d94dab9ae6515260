"""The turn book on its own: ids, the one way a turn ends, the cancel epoch, the state."""

from __future__ import annotations

from voxrad.assistant.loop.turn_book import SAVE_FAILED_TAIL, TurnBook
from voxrad.assistant.loop.turns import PipelineEvent, PipelineState
from voxrad.core.conversation import Answer, Question
from voxrad.core.errors import VoxRadError


def test_finished_turns_are_filed_in_asking_order_saved_and_announced() -> None:
    saved: list[int] = []
    events: list[PipelineEvent] = []
    book = TurnBook(lambda r: saved.append(r.turn_id))
    book.add_listener(events.append)
    first, second = book.new_record("voice"), book.new_record("typed")
    assert (first.turn_id, second.turn_id) == (1, 2)
    book.finish(second)  # a command ends before the question asked earlier
    book.finish(first)
    assert [t.turn_id for t in book.snapshots()] == [1, 2]
    assert saved == [2, 1]
    finished = [(e.kind, e.turn.turn_id) for e in events if e.turn]
    assert finished == [("finished", 2), ("finished", 1)]


def test_a_turn_that_cannot_be_saved_says_why_and_stays() -> None:
    def full(_record: object) -> None:
        raise VoxRadError("The disk is full.", hint="Free some space.")

    events: list[PipelineEvent] = []
    book = TurnBook(full)
    book.add_listener(events.append)
    record = book.new_record("typed")
    book.finish(record)
    note = "The disk is full. " + SAVE_FAILED_TAIL + " Free some space."
    assert record.messages == [note]
    assert [e.kind for e in events] == ["message", "finished"]
    assert book.snapshots()[0].turn_id == record.turn_id


def test_ids_never_repeat_after_a_stored_conversation_is_loaded() -> None:
    book = TurnBook()
    old = book.new_record("typed")
    old.question, old.answer = Question("q", slice_index=0), Answer("a")
    other = TurnBook()
    for _ in range(5):
        other.new_record("typed")
    stored = other.new_record("typed")
    stored.question, stored.answer = Question("q2", slice_index=0), Answer("a2")
    book.load([stored])
    assert book.new_record("voice").turn_id == stored.turn_id + 1
    assert [t.question.text for t in book.history(6) if t.question] == ["q2"]
    assert book.history(0) == ()
    last = book.last_answered()
    assert last is not None and last.answer is not None and last.answer.answer == "a2"


def test_state_is_listening_then_transcribing_then_the_questions_say() -> None:
    states: list[PipelineState] = []
    book = TurnBook()
    book.add_listener(lambda e: states.append(e.state) if e.kind == "state" else None)
    book.set_state_source(lambda: PipelineState.THINKING)
    book.start_listening()
    book.update_state()
    assert book.listening
    assert book.stop_listening() is not None
    epoch = book.utterance_submitted()
    book.update_state()
    book.bump_epoch()
    assert book.epoch == epoch + 1
    book.utterance_taken()
    assert states == [PipelineState.LISTENING, PipelineState.TRANSCRIBING, PipelineState.THINKING]
