"""parse_answer on real replies of the catalog's families (tests/assistant/data/real_outputs.json,
each with its source): the answer, reasoning and boxes the source shows come out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voxrad.assistant.reply.answers import parse_answer

CORPUS = json.loads((Path(__file__).parent / "data" / "real_outputs.json").read_text("utf-8"))
OUTPUTS = CORPUS["outputs"]


def _box(finding: Any) -> tuple[str, list[float]]:
    assert finding.box is not None, finding
    return finding.label, list(finding.box.as_tuple())


@pytest.mark.parametrize("case", OUTPUTS, ids=[case["id"] for case in OUTPUTS])
def test_real_reply_is_read_as_its_source_shows(case: dict[str, Any]) -> None:
    expected = case["expected"]
    size = tuple(case["image_size"])
    model = tuple(case["model_input_size"]) if "model_input_size" in case else None
    answer = parse_answer(
        case["text"], family=case["family"], image_size=size, model_input_size=model
    )

    assert answer.answer == expected["answer"]
    assert "<unused" not in answer.answer and "<think>" not in answer.answer
    assert "<answer>" not in answer.answer
    if "reasoning_starts" in expected:
        assert answer.reasoning.startswith(expected["reasoning_starts"])
    if "reasoning_ends" in expected:
        assert answer.reasoning.endswith(expected["reasoning_ends"])
    assert list(answer.warnings) == expected["warnings"]
    found = sorted(_box(f) for f in answer.findings)
    if "boxes" in expected:
        wanted = sorted((b["label"], b["box"]) for b in expected["boxes"])
        assert [label for label, _ in found] == [label for label, _ in wanted]
        for (_, got), (_, want) in zip(found, wanted, strict=True):
            assert got == pytest.approx(want, abs=0.01)
    if "box_count" in expected:
        assert len(answer.findings) == expected["box_count"]
        first, last = expected["boxes_first_last"]
        assert _box(answer.findings[0])[0] == first["label"]
        assert _box(answer.findings[0])[1] == pytest.approx(first["box"], abs=0.01)
        assert _box(answer.findings[-1])[0] == last["label"]
        assert _box(answer.findings[-1])[1] == pytest.approx(last["box"], abs=0.01)


def test_every_entry_names_its_source() -> None:
    for case in OUTPUTS:
        assert case["kind"] in ("model reply", "format example")
        assert len(case["source"]) > 40, case["id"]
