"""A cut-off answer in the conversation panel: its text ends in an ellipsis and the reason
leads the notes; a whole answer shows neither."""

from __future__ import annotations

from dataclasses import replace

import pytest

from voxrad.assistant.loop.turns import TurnRecord
from voxrad.core.conversation import Answer, Question
from voxrad.ui.conversation_panel import ConversationPanel

pytestmark = pytest.mark.gl


def _record(turn_id: int, answer: Answer) -> TurnRecord:
    return TurnRecord(
        turn_id, "typed", kind="question", transcript="q", question=Question("q"), answer=answer
    )


def test_cut_off_answer_is_marked_in_the_panel(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = ConversationPanel()
    qtbot.addWidget(panel)
    panel.show()
    cut = Answer("The le", model="m", finish_reason="connection")
    cut = replace(cut, warnings=(cut.cut_off_note, "Another warning."))
    whole = Answer("No effusion.", model="m", warnings=("Another warning.",))
    panel.load([_record(1, cut), _record(2, whole)])

    shown = panel.turn_widget(1)
    assert shown.answer.text() == "The le \u2026"
    notes = shown.messages.text().splitlines()
    assert notes == [
        "The answer was cut off: the connection to the model server was lost.",
        "Another warning.",
    ]
    other = panel.turn_widget(2)
    assert other.answer.text() == "No effusion."
    assert other.messages.text() == "Another warning."
