"""Property tests: any string gives an Answer (never an exception, never the internal-failure
fallback), every box lies inside the image, and boxes written in each family's format come
back where they were, within that format's quantisation."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxrad.assistant.reply.answers import PARSER_FAILED, parse_answer
from voxrad.core.conversation import Answer, Box
from voxrad.core.families import KNOWN_FAMILIES

FAMILIES = st.sampled_from([*KNOWN_FAMILIES, "unknown-family", "Qwen2.5-VL", "Gemma3"])
SIZES = st.tuples(st.integers(1, 5000), st.integers(1, 5000))
# Pieces of the syntaxes, so random strings reach deep into the box parsers.
FRAGMENTS = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        '"',
        "'",
        "```json\n",
        "```",
        "\n",
        " ",
        '"bbox_2d"',
        '"box_2d"',
        '"label"',
        '"confidence"',
        '"image"',
        "'bbox_2d'",
        "<ref>",
        "</ref>",
        "<box>",
        "</box>",
        "[[",
        "]]",
        "<loc_",
        ">",
        "<loc_999>",
        "<think>",
        "</think>",
        "Final Answer:",
        "Confidence: ",
        "%",
        "NaN",
        "Infinity",
        "-",
        ".",
        "e",
        "True",
        "None",
        "null",
        "nodule",
        "<|box_start|>",
        "<|box_end|>",
        "(",
        ")",
        "<|object_ref_start|>",
        "<|object_ref_end|>",
        "I am fairly confident",
    ]
)
NUMBERS = st.one_of(
    st.integers(-100_000, 100_000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
SYNTAXY = st.lists(st.one_of(FRAGMENTS, NUMBERS), max_size=60).map("".join)


def check(answer: Answer, size: tuple[int, int]) -> None:
    assert isinstance(answer, Answer)
    assert isinstance(answer.answer, str) and isinstance(answer.reasoning, str)
    assert PARSER_FAILED not in answer.warnings
    for finding in answer.findings:
        if finding.box is not None:
            assert finding.box.is_valid
            assert finding.box.inside(*size)
        c = finding.confidence
        assert c is None or 0.0 <= c <= 1.0
    s = answer.stated_confidence
    assert s is None or 0.0 <= s <= 1.0
    if not answer.answer and not answer.findings:
        assert answer.warnings, "an empty answer must say so"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=400), family=FAMILIES, size=SIZES)
def test_any_text_never_raises(text: str, family: str, size: tuple[int, int]) -> None:
    check(parse_answer(text, family=family, image_size=size), size)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=SYNTAXY, family=FAMILIES, size=SIZES, model=st.none() | SIZES)
def test_syntax_soup_never_raises(
    text: str, family: str, size: tuple[int, int], model: tuple[int, int] | None
) -> None:
    check(parse_answer(text, family=family, image_size=size, model_input_size=model), size)


@st.composite
def box_in(draw: st.DrawFn, size: tuple[int, int]) -> Box:
    w, h = size
    x0 = draw(st.floats(0, w - 1))
    y0 = draw(st.floats(0, h - 1))
    x1 = draw(st.floats(x0 + 1, w))
    y1 = draw(st.floats(y0 + 1, h))
    return Box(x0, y0, x1, y1)


def encode(family: str, box: Box, size: tuple[int, int]) -> tuple[str, float]:
    """The box as the family writes it, and the largest error that writing can cause (px)."""
    w, h = size
    rel = [round(box.x0 / w * 1000), round(box.y0 / h * 1000)]
    rel += [round(box.x1 / w * 1000), round(box.y1 / h * 1000)]
    step = max(w, h) / 1000
    if family == "medgemma":
        y_first = [rel[1], rel[0], rel[3], rel[2]]
        return f'Final Answer: x\n[{{"box_2d": {y_first}, "label": "x"}}]', step / 2
    if family in ("qwen2-vl", "qwen3-vl"):
        return f'[{{"bbox_2d": {rel}, "label": "x"}}]', step / 2
    if family == "internvl":
        return f"<ref>x</ref><box>[{rel}]</box>", step / 2
    if family == "medrega":
        r999 = [round(v / s * 999) for v, s in zip(box.as_tuple(), (w, h, w, h), strict=True)]
        return f"<ref>x</ref><box>[{r999}]</box>", max(w, h) / 999 / 2
    if family == "florence2":
        bins = [
            min(int(v / s * 1000), 999) for v, s in zip(box.as_tuple(), (w, h, w, h), strict=True)
        ]
        return "x" + "".join(f"<loc_{b}>" for b in bins), step
    raise AssertionError(family)


@settings(max_examples=200, deadline=None)
@given(
    family=st.sampled_from(
        ["medgemma", "qwen2-vl", "qwen3-vl", "internvl", "medrega", "florence2"]
    ),
    data=st.data(),
    size=st.tuples(st.integers(50, 3000), st.integers(50, 3000)),
)
def test_relative_formats_round_trip(
    family: str, data: st.DataObject, size: tuple[int, int]
) -> None:
    box = data.draw(box_in(size))
    text, tolerance = encode(family, box, size)
    answer = parse_answer(text, family=family, image_size=size)
    boxes = [f.box for f in answer.findings if f.box is not None]
    if not boxes:
        # Quantisation can collapse a one-pixel box on a big image: then it must say so.
        assert answer.warnings
        return
    got = boxes[0]
    for a, b in zip(got.as_tuple(), box.as_tuple(), strict=True):
        assert math.isclose(a, b, abs_tol=tolerance + 1e-6)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    size=st.tuples(st.integers(50, 3000), st.integers(50, 3000)),
    model=st.tuples(st.integers(28, 2000), st.integers(28, 2000)),
)
def test_qwen25_absolute_round_trip(
    data: st.DataObject, size: tuple[int, int], model: tuple[int, int]
) -> None:
    box = data.draw(box_in(size))
    sx, sy = model[0] / size[0], model[1] / size[1]
    written = [round(box.x0 * sx), round(box.y0 * sy), round(box.x1 * sx), round(box.y1 * sy)]
    answer = parse_answer(
        f'[{{"bbox_2d": {written}}}]', family="qwen2.5-vl", image_size=size, model_input_size=model
    )
    boxes = [f.box for f in answer.findings if f.box is not None]
    if not boxes:
        assert answer.warnings
        return
    tol_x, tol_y = 0.5 / sx + 1e-6, 0.5 / sy + 1e-6
    got = boxes[0]
    assert abs(got.x0 - box.x0) <= tol_x and abs(got.x1 - box.x1) <= tol_x
    assert abs(got.y0 - box.y0) <= tol_y and abs(got.y1 - box.y1) <= tol_y


ANY_NUMBER = st.one_of(
    st.integers(-5000, 5000), st.floats(-1e7, 1e7, allow_nan=False), st.integers(0, 1000)
)


@st.composite
def boxed_reply(draw: st.DrawFn) -> tuple[str, str]:
    """A reply in one family's syntax with arbitrary numbers, maybe cut short or noisy."""
    family = draw(st.sampled_from(["medgemma", "qwen2.5-vl", "qwen2-vl", "medrega", "florence2"]))
    boxes = draw(st.lists(st.lists(ANY_NUMBER, min_size=3, max_size=5), min_size=1, max_size=4))
    if family in ("medgemma", "qwen2.5-vl", "qwen2-vl"):
        key = "box_2d" if family == "medgemma" else "bbox_2d"
        items = ", ".join(f'{{"{key}": {b}, "label": "l{i}"}}' for i, b in enumerate(boxes))
        body = f"Final Answer: text\n```json\n[{items}]\n```"
    elif family == "medrega":
        body = "".join(f"<ref>l</ref><box>[{b}]</box>" for b in boxes)
    else:
        body = "".join("l" + "".join(f"<loc_{abs(int(v)) % 1200}>" for v in b) for b in boxes)
    cut = draw(st.integers(0, len(body)))
    body = body[:cut] if draw(st.booleans()) else body
    return family, draw(st.text(max_size=10)) + body + draw(st.text(max_size=10))


@settings(max_examples=500, deadline=None)
@given(reply=boxed_reply(), size=SIZES)
def test_boxes_with_any_numbers_stay_inside(reply: tuple[str, str], size: tuple[int, int]) -> None:
    family, text = reply
    check(parse_answer(text, family=family, image_size=size), size)
