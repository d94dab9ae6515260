"""Sentence splitting of streamed answers: abbreviations, decimals, lists, chunk boundaries."""

from __future__ import annotations

import pytest

from voxrad.assistant.speech.sentences import SentenceSplitter, split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("The lungs are clear. No effusion.", ["The lungs are clear.", "No effusion."]),
        (
            "A 3.5 cm mass, approx. 2 cm from the hilum. Biopsy?",
            ["A 3.5 cm mass, approx. 2 cm from the hilum.", "Biopsy?"],
        ),
        ("Signs of e.g. fluid are absent! Really.", ["Signs of e.g. fluid are absent!", "Really."]),
        ("1. A nodule. 2. An effusion.", ["1. A nodule.", "2. An effusion."]),
        ("Findings:\nNodule in the right lung", ["Findings:", "Nodule in the right lung"]),
        ("(Dr. Smith's note) is not used.", ["(Dr. Smith's note) is not used."]),
        ("", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_any_chunking_gives_the_same_sentences() -> None:
    text = "A 3.5 cm nodule is seen. It is approx. round! Is it new? Compare with prior."
    whole = split_sentences(text)
    for size in (1, 2, 3, 7):
        splitter = SentenceSplitter()
        out: list[str] = []
        for i in range(0, len(text), size):
            out.extend(splitter.feed(text[i : i + size]))
        assert out + splitter.flush() == whole


def test_a_period_at_the_end_of_a_chunk_waits_for_more() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("The nodule measures 3.") == []
    assert splitter.feed("5 cm. Next") == ["The nodule measures 3.5 cm."]
    assert splitter.flush() == ["Next"]
