"""Text prepared for speaking: units, symbols, markdown, sentence splitting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxrad.assistant.speech.speakable import sentences, speakable


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("A 5 mm nodule.", "A 5 millimetres nodule."),
        ("1 cm", "1 centimetre"),
        ("1.0 cm", "1.0 centimetre"),
        ("3.2 x 4.1 cm", "3.2 by 4.1 centimetres"),
        ("3.2x4.1x2 cm", "3.2 by 4.1 by 2 centimetres"),
        ("10-12 mm", "10 to 12 millimetres"),
        ("density -600 HU", "density minus 600 Hounsfield units"),
        ("45% stenosis", "45 percent stenosis"),
        ("5mm", "5 millimetres"),
        ("20 mL", "20 millilitres"),
        ("DLP 350 mGy", "DLP 350 milligray"),
        ("< 3 cm", "less than 3 centimetres"),
        ("±2 HU", "plus or minus 2 Hounsfield units"),
        ("a cyst, e.g. simple", "a cyst, for example simple"),
        ("CT and MRI", "C T and M R I"),
        ("**Finding:** cyst", "Finding: cyst"),
        ("- one\n- two", "one. two"),
        ("small mass", "small mass"),  # "m" of "mass" is not metres
        ("T2 signal", "T2 signal"),  # "T" after a digit only in "3 T"
        ("3 T magnet", "3 tesla magnet"),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_sentences_keep_decimals_and_abbreviations_whole() -> None:
    text = "There is a 3.5 cm mass. It is e.g. a cyst. Dr. Smith agrees! Is it new? Yes."
    assert sentences(text) == [
        "There is a 3.5 cm mass.",
        "It is e.g. a cyst.",
        "Dr. Smith agrees!",
        "Is it new?",
        "Yes.",
    ]


def test_sentences_split_paragraphs_and_bullets() -> None:
    text = "Findings:\n- a nodule\n- an effusion\n\nImpression: stable."
    assert sentences(text) == ["Findings:", "- a nodule", "- an effusion", "Impression: stable."]


@given(st.text(max_size=200))
def test_never_crashes_and_keeps_words(text: str) -> None:
    spoken = speakable(text)
    assert isinstance(spoken, str)
    assert all(isinstance(s, str) and s for s in sentences(text))
