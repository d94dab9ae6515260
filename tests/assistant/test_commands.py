"""The voice command grammar: commands, ASR variants, fillers, questions, synonyms, wake phrase."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxrad.assistant.commands.grammar import (
    Action,
    Command,
    CommandGrammar,
    ModelQuestion,
    parse_utterance,
    split_wake_phrase,
)
from voxrad.assistant.commands.textnorm import normalize

A = Action


@pytest.mark.parametrize(
    ("heard", "action", "args"),
    [
        ("Next slice.", A.NEXT_SLICE, {"count": 1}),
        ("next", A.NEXT_SLICE, {"count": 1}),
        ("Um, next slice please.", A.NEXT_SLICE, {"count": 1}),
        ("Go to the next image", A.NEXT_SLICE, {"count": 1}),
        ("Scroll down twenty-one slices", A.NEXT_SLICE, {"count": 21}),
        ("scroll 5", A.NEXT_SLICE, {"count": 5}),
        ("Forward ten.", A.NEXT_SLICE, {"count": 10}),
        ("five slices down", A.NEXT_SLICE, {"count": 5}),
        ("Previous slice", A.PREVIOUS_SLICE, {"count": 1}),
        ("Go back three slices.", A.PREVIOUS_SLICE, {"count": 3}),
        ("scroll up one hundred and five", A.PREVIOUS_SLICE, {"count": 105}),
        ("Previews slice", A.PREVIOUS_SLICE, {"count": 1}),
        ("Go back free slices.", A.PREVIOUS_SLICE, {"count": 3}),
        ("next for slices", A.NEXT_SLICE, {"count": 4}),
        ("Scroll down fine slices.", A.NEXT_SLICE, {"count": 5}),
        ("First slice", A.FIRST_SLICE, {}),
        ("Go to the top.", A.FIRST_SLICE, {}),
        ("last slice", A.LAST_SLICE, {}),
        ("Middle slice.", A.MIDDLE_SLICE, {}),
        ("Go to slice forty-two", A.GO_TO_SLICE, {"index": 42}),
        ("Slice number 7", A.GO_TO_SLICE, {"index": 7}),
        ("Lung window.", A.WINDOW, {"preset": "lung"}),
        ("Long window", A.WINDOW, {"preset": "lung"}),
        ("bone", A.WINDOW, {"preset": "bone"}),
        ("Switch to the bone window, please.", A.WINDOW, {"preset": "bone"}),
        ("Soft tissue window", A.WINDOW, {"preset": "mediastinum"}),
        ("Mediastinal window", A.WINDOW, {"preset": "mediastinum"}),
        ("window brain", A.WINDOW, {"preset": "brain"}),
        ("use liver", A.WINDOW, {"preset": "liver"}),
        ("Reset window", A.WINDOW, {"preset": "default"}),
        ("Zoom in.", A.ZOOM_IN, {}),
        ("Could you zoom in a bit?", A.ZOOM_IN, {}),
        ("Zoom out", A.ZOOM_OUT, {}),
        ("Reset view", A.RESET_VIEW, {}),
        ("reset", A.RESET_VIEW, {}),
        ("Axial", A.ORIENTATION, {"plane": "axial"}),
        ("Show the coronal view", A.ORIENTATION, {"plane": "coronal"}),
        ("Coronel view", A.ORIENTATION, {"plane": "coronal"}),
        ("sagital", A.ORIENTATION, {"plane": "sagittal"}),
        ("Saggitall plane", A.ORIENTATION, {"plane": "sagittal"}),
        ("3D", A.VIEW_3D, {}),
        ("Three-D view", A.VIEW_3D, {}),
        ("volume rendering", A.VIEW_3D, {}),
        ("Two by two layout", A.LAYOUT, {"rows": 2, "columns": 2}),
        ("layout 1x2", A.LAYOUT, {"rows": 1, "columns": 2}),
        ("side by side", A.LAYOUT, {"rows": 1, "columns": 2}),
        ("Next series", A.NEXT_SERIES, {}),
        ("Previous serious", A.PREVIOUS_SERIES, {}),
        ("Measure", A.MEASURE, {}),
        ("start measuring", A.MEASURE, {}),
        ("Hide the overlays", A.OVERLAYS, {"visible": False}),
        ("show boxes", A.OVERLAYS, {"visible": True}),
        ("annotations off", A.OVERLAYS, {"visible": False}),
        ("Select finding two.", A.SELECT_FINDING, {"index": 2}),
        ("finding to", A.SELECT_FINDING, {"index": 2}),
        ("Finding number 3", A.SELECT_FINDING, {"index": 3}),
        ("the second finding", A.SELECT_FINDING, {"index": 2}),
        ("Stop talking.", A.STOP_SPEAKING, {}),
        ("stop", A.STOP_SPEAKING, {}),
        ("Be quiet", A.STOP_SPEAKING, {}),
        ("Repeat that.", A.REPEAT, {}),
        ("say that again", A.REPEAT, {}),
        ("Undo.", A.UNDO, {}),
        ("Cancel", A.CANCEL, {}),
        ("Never mind.", A.CANCEL, {}),
        ("Okay, so, next slice, thanks", A.NEXT_SLICE, {"count": 1}),
    ],
)
def test_commands_are_recognised(heard: str, action: Action, args: dict[str, object]) -> None:
    parsed = parse_utterance(heard)
    assert isinstance(parsed, Command), parsed
    assert parsed.action is action
    assert dict(parsed.args) == args
    assert parsed.heard == heard.strip()


@pytest.mark.parametrize(
    "heard",
    [
        "What about the next slice?",
        "Is there a pneumothorax in the left lung?",
        "Is the next slice normal?",
        "Show the liver",  # "where is the liver", not necessarily the liver window
        "Right lung",
        "long",  # a mishearing of "lung" is a command only with "window"
        "Can you measure the nodule?",
        "Don't zoom in",
        "Compare with the previous study",
        "What window would you use for this?",
        "How many findings are there?",
        "skip to",  # unfinished: never "skip 2"
        "go back to",
        "next question",
        "show coronary arteries",
    ],
)
def test_non_commands_go_to_the_model(heard: str) -> None:
    parsed = parse_utterance(heard)
    assert parsed == ModelQuestion(heard.strip())


@pytest.mark.parametrize("heard", ["", "   ", "Um.", "okay", "uh, um"])
def test_empty_or_filler_only_is_nothing(heard: str) -> None:
    assert parse_utterance(heard) is None


def test_user_synonyms_map_to_commands() -> None:
    grammar = CommandGrammar({"Keep going": "next slice", "chest please": "lung window"})
    assert grammar.parse("keep going") == Command(A.NEXT_SLICE, (("count", 1),))
    assert grammar.parse("Chest, please!") == Command(A.WINDOW, (("preset", "lung"),))
    # Without the synonym the same words are a question.
    assert isinstance(parse_utterance("keep going"), ModelQuestion)
    # A synonym replaces whole words only.
    assert isinstance(grammar.parse("keep goings"), ModelQuestion)


def test_command_is_hashable_and_serialisable() -> None:
    cmd = parse_utterance("scroll down 4")
    assert isinstance(cmd, Command)
    assert cmd == Command(A.NEXT_SLICE, (("count", 4),))
    assert {cmd: 1}[cmd] == 1
    assert cmd.arg("count") == 4 and cmd.arg("missing", 0) == 0
    assert cmd.to_dict() == {"kind": "command", "action": "next_slice", "args": {"count": 4}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Twenty-one", "21"),
        ("one hundred and five slices", "105 slices"),
        ("one two", "1 2"),
        ("two by two", "2 by 2"),
        ("a 2x2 grid", "a 2 by 2 grid"),
        ("the 3rd finding", "the 3 finding"),
        ("ninety nine", "99"),
        ("rock and roll", "rock and roll"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@given(st.text(max_size=80))
def test_parse_never_crashes(text: str) -> None:
    parsed = parse_utterance(text)
    assert parsed is None or isinstance(parsed, Command | ModelQuestion)


@pytest.mark.parametrize(
    ("heard", "rest"),
    [
        ("VoxRad, next slice.", "next slice."),
        ("Vox Rad next slice", "next slice"),
        ("box rad, is there a nodule?", "is there a nodule?"),
        ("vox red lung window", "lung window"),
    ],
)
def test_wake_phrase_found(heard: str, rest: str) -> None:
    assert split_wake_phrase(heard, "VoxRad") == rest


@pytest.mark.parametrize("heard", ["next slice", "I think the box is wrong", ""])
def test_wake_phrase_absent(heard: str) -> None:
    assert split_wake_phrase(heard, "VoxRad") is None


def test_custom_wake_phrase() -> None:
    assert split_wake_phrase("Hey scanner, zoom in", "hey scanner") == "zoom in"
    assert split_wake_phrase("Hey there, zoom in", "hey scanner") is None
