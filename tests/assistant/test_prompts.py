"""Prompts per family: format instructions, region syntax, images, history, system text."""

from __future__ import annotations

import numpy as np
import pytest

from voxrad.assistant.reply.answers import parse_answer
from voxrad.assistant.request.imageprep import prepare_question
from voxrad.assistant.request.prompts import SYSTEM_TEXT, ImagePart, build_prompt
from voxrad.core.conversation import Answer, Box, Question, Turn
from voxrad.core.families import UnknownModelFamilyError
from voxrad.core.volume import Volume

REGION = Box(100, 40, 240, 120)


def volume() -> Volume:
    return Volume(np.zeros((3, 300, 400), np.int16), spacing=(2.0, 1.0, 1.0))


def user_text(family: str, question: Question) -> str:
    prepared = prepare_question(volume(), question, family)
    return build_prompt(question, prepared, family=family).messages[-1].text


def test_system_text_says_decision_support() -> None:
    q = Question("Is there an effusion?")
    prompt = build_prompt(q, prepare_question(volume(), q, "medgemma"), family="medgemma")
    assert prompt.messages[0].role == "system"
    assert "decision-support" in prompt.messages[0].text and "not a diagnosis" in SYSTEM_TEXT
    assert prompt.image_indices == (0,)
    assert "Question: Is there an effusion?" in prompt.messages[-1].text


@pytest.mark.parametrize(
    ("family", "snippets"),
    [
        ("medgemma", ["Final Answer:", "[y0, x0, y1, x1]", "box_2d", "[0, 1000]", "N%"]),
        ("qwen2.5-vl", ["<think>", '"bbox_2d": [x1, y1, x2, y2]', "pixels of the image (392 wide"]),
        ("lingshu", ['"bbox_2d"', "pixels of the image"]),
        ("qwen2-vl", ['"bbox_2d"', "scaled 0-1000"]),
        ("qwen3-vl", ['"bbox_2d"', "scaled 0-1000"]),
        ("medrega", ["<ref>name</ref><box>[[x1, y1, x2, y2]]</box>", "0-999"]),
        ("internvl", ["<box>", "0-1000"]),
        ("llava-med", ["do not give coordinates", "Confidence: N%"]),
    ],
)
def test_format_instructions(family: str, snippets: list[str]) -> None:
    text = user_text(family, Question("Where is the nodule?"))
    for snippet in snippets:
        assert snippet in text


@pytest.mark.parametrize(
    ("family", "syntax"),
    [
        # medgemma: region (224, 201.6, 537.6, 380.8) of 896 -> y-first 0-1000
        ("medgemma", '"box_2d": [225, 250, 425, 600]'),
        # qwen2.5-vl: pixels of the 392 x 308 input (scale 0.98 x 1.0267)
        ("qwen2.5-vl", '"bbox_2d": [98, 41, 235, 123]'),
        ("qwen2-vl", "<|box_start|>(250,133),(600,400)<|box_end|>"),
        # medrega/internvl: letterboxed to 448 (scale 1.12, 56 rows of padding on top):
        # (112, 100.8, 268.8, 190.4) of 448 -> 0-999 and 0-1000
        ("medrega", "<ref>region</ref><box>[[250, 225, 599, 425]]</box>"),
        ("internvl", "<ref>region</ref><box>[[250, 225, 600, 425]]</box>"),
    ],
)
def test_region_in_family_syntax(family: str, syntax: str) -> None:
    text = user_text(family, Question("What is this?", region=REGION))
    assert syntax in text
    assert "outlined in yellow" in text


def test_region_syntax_round_trips_through_the_parser() -> None:
    """The region written into the prompt, read back by the parser, is the region."""
    q = Question("What is this?", region=REGION)
    prepared = prepare_question(volume(), q, "medgemma")
    text = build_prompt(q, prepared, family="medgemma").messages[-1].text
    line = next(ln for ln in text.splitlines() if "box_2d" in ln and "region" in ln)
    answer = parse_answer(
        "Final Answer: r\n" + line.split(": ", 1)[1].rstrip("."),
        family="medgemma",
        image_size=prepared.image_size,
    )
    assert answer.findings[0].box is not None
    back = prepared.images[0].transform.box_to_image(answer.findings[0].box)
    assert back.as_tuple() == pytest.approx(REGION.as_tuple(), abs=0.6)


def test_florence2_task_tokens() -> None:
    region = user_text("florence2", Question("describe", region=REGION))
    assert region.startswith("<REGION_TO_DESCRIPTION><loc_250><loc_225><loc_600><loc_425>")
    assert user_text("florence2", Question("Where is the heart?")) == (
        "<CAPTION_TO_PHRASE_GROUNDING>Where is the heart?"
    )
    assert user_text("florence2", Question("Describe it")) == "<MORE_DETAILED_CAPTION>"


def test_volume_prompt_names_slices_and_image_key() -> None:
    q = Question("Any mass?", slice_index=1, scope="volume")
    prepared = prepare_question(volume(), q, "medgemma", max_images=3)
    prompt = build_prompt(q, prepared, family="medgemma")
    assert prompt.image_indices == (0, 1, 2)
    text = prompt.messages[-1].text
    assert "slices 1, 2, 3" in text and "image 2 is the slice on screen (slice 2)" in text
    assert '"image": N' in text


def test_history_is_text_only_and_bounded() -> None:
    turns = [Turn(Question(f"question {n}"), Answer(f"answer {n}")) for n in range(10)]
    turns.append(Turn(Question("unanswered")))
    q = Question("and now?")
    prepared = prepare_question(volume(), q, "qwen2-vl")
    prompt = build_prompt(q, prepared, family="qwen2-vl", history=turns, max_history=3)
    roles = [m.role for m in prompt.messages]
    assert roles == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert [m.text for m in prompt.messages[1:3]] == ["question 7", "answer 7"]
    assert all(not any(isinstance(p, ImagePart) for p in m.parts) for m in prompt.messages[:-1])
    assert "unanswered" not in str(prompt)


def test_to_chat_renders_images_with_the_backend_callback() -> None:
    q = Question("q", region=REGION)
    prepared = prepare_question(volume(), q, "qwen2.5-vl")
    chat = build_prompt(q, prepared, family="qwen2.5-vl").to_chat(
        lambda i: {"type": "image", "index": i}
    )
    content = chat[-1]["content"]
    assert content[:2] == [{"type": "image", "index": 0}, {"type": "image", "index": 1}]
    assert content[2]["type"] == "text"


def test_unknown_family_raises_clear_error() -> None:
    q = Question("q")
    prepared = prepare_question(volume(), q, "medgemma")
    with pytest.raises(UnknownModelFamilyError) as err:
        build_prompt(q, prepared, family="gpt-x")
    assert "medgemma" in err.value.hint
