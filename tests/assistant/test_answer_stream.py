"""Speakable answer text from a streaming reply: never reasoning, never box syntax."""

from __future__ import annotations

import pytest

from voxrad.assistant.reply.stream import AnswerTextFilter


def stream(family: str, text: str, size: int) -> str:
    f = AnswerTextFilter(family)
    return "".join(f.feed(text[i : i + size]) for i in range(0, len(text), size))


MEDGEMMA = (
    "The image shows a chest CT. There is fluid on the right.\n"
    "Final Answer: There is a small right pleural effusion. No pneumothorax.\n"
    '```json\n[{"box_2d": [100, 200, 300, 400], "label": "effusion"}]\n```\n'
    "Confidence: 80%"
)
QWEN = (
    "<think>Fluid is layering posteriorly.</think>\nA small right effusion is present. "
    'It is free-flowing.\n```json\n[{"bbox_2d": [1, 2, 3, 4], "label": "effusion"}]\n```'
)


@pytest.mark.parametrize("size", [1, 3, 8, 1000])
def test_medgemma_answer_only(size: int) -> None:
    spoken = stream("medgemma", MEDGEMMA, size)
    assert spoken.strip() == "There is a small right pleural effusion. No pneumothorax."


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_think_tags_answer_only(size: int) -> None:
    spoken = stream("qwen2.5-vl", QWEN, size)
    assert spoken.strip() == "A small right effusion is present. It is free-flowing."


def test_reasoning_without_a_marker_is_never_streamed() -> None:
    assert stream("medgemma", "The lungs look clear and there is no fluid.", 4) == ""
    assert stream("qwen2.5-vl", "<think>Still thinking about the hilum", 4) == ""


def test_a_family_that_does_not_reason_streams_until_markup() -> None:
    spoken = stream("florence2", "A nodule<loc_100><loc_200><loc_300><loc_400> is seen.", 2)
    assert spoken == "A nodule"
