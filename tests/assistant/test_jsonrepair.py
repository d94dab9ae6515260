"""Lenient JSON, adversarial inputs staying fast, and the parser's last line of defence."""

from __future__ import annotations

import logging
import time

import pytest

from voxrad.assistant.reply import answers
from voxrad.assistant.reply.answers import PARSER_FAILED, parse_answer
from voxrad.assistant.reply.jsonrepair import find_json_values, loads_lenient


@pytest.mark.parametrize(
    ("text", "value", "truncated"),
    [
        ("[1, 2, 3]", [1, 2, 3], False),
        ("[1, 2, 3,]", [1, 2, 3], False),
        ("{'a': 1}", {"a": 1}, False),
        ('{"a": None, "b": True} trailing', {"a": None, "b": True}, False),
        ('[{"a": 1}, {"a": 2', [{"a": 1}, {"a": 2}], True),
        ('[{"a": 1}, {"b": [1, 2', [{"a": 1}, {"b": [1, 2]}], True),
        ('[{"a": "unfinished', [{"a": "unfinished"}], True),
        ('[{"a": 1} // comment\n]', [{"a": 1}], False),
    ],
)
def test_loads_lenient(text: str, value: object, truncated: bool) -> None:
    block = loads_lenient(text)
    assert block is not None
    assert (block.value, block.truncated) == (value, truncated)


def test_unrepairable_and_too_deep_give_none() -> None:
    assert loads_lenient("[} ]") is None
    assert loads_lenient("[" * 100 + "]" * 100) is None


def test_find_json_values_skips_prose_lists() -> None:
    text = 'See [1] and [note]. [{"bbox_2d": [1, 2, 3, 4]}] then {"x": 1}'
    blocks = find_json_values(text, must_contain=('"bbox_2d"',))
    assert [b.value for b in blocks] == [[{"bbox_2d": [1, 2, 3, 4]}]]
    assert text[blocks[0].start : blocks[0].end] == '[{"bbox_2d": [1, 2, 3, 4]}]'


@pytest.mark.parametrize(
    "text",
    [
        "[" * 8000 + '"bbox_2d"',
        "{" * 8000 + '"box_2d": [1, 2, 3, 4]',
        '{"bbox_2d": [1,2,3,4] "x" ' * 400,
        "[1] " * 3000 + '"bbox_2d"',
        "n<loc_1>" * 4000,
        "a" * 20000,
        "confidence " * 3000,
        "<ref>a</ref><box>[[1,2,3,4]]" * 800,
        "<ref>a</ref> " * 3000,
        "<|object_ref_start|>a<|object_ref_end|> " * 2000 + "<|box_start|>",
        # Long runs of one character after a keyword: where unbounded "\\s*" patterns go
        # quadratic.
        "confidence" + " " * 20000 + "x",
        "x" + " " * 20000 + "y",
        "final" + "\t" * 20000,
        "**" * 10000,
        "[ " * 10000,
        "box: [" * 5000,
        "\n" * 20000 + "a",
        "confidence is of about " * 1000,
    ],
)
@pytest.mark.parametrize("family", ["medgemma", "qwen2-vl", "florence2", "medrega"])
def test_adversarial_replies_parse_quickly(text: str, family: str) -> None:
    """No quadratic corner: a long reply of brackets parses in well under a second (the
    worst measured here is ~0.06 s; the bound leaves room for a loaded machine)."""
    start = time.perf_counter()
    answer = parse_answer(text, family=family, image_size=(512, 512))
    assert time.perf_counter() - start < 1.0
    assert PARSER_FAILED not in answer.warnings


def test_internal_failure_returns_raw_reply_and_logs_no_text(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("patient text: Mr Example")

    monkeypatch.setattr(answers, "_parse", broken)
    with caplog.at_level(logging.DEBUG, logger="voxrad.assistant.reply.answers"):
        answer = parse_answer(" Mr Example has a nodule. ", family="medgemma", image_size=(9, 9))
    assert answer.answer == "Mr Example has a nodule."
    assert answer.warnings == (PARSER_FAILED,)
    for record in caplog.records:
        if record.levelno > logging.DEBUG:
            assert "Example" not in record.getMessage()
