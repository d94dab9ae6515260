"""Box, Finding, Answer, Question: geometry with hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from voxrad.core.conversation import Answer, Box, Conversation, Finding, Question, Turn
from voxrad.core.volume import Volume


def test_box_measures() -> None:
    box = Box(10, 20, 30, 60)
    assert (box.width, box.height, box.area, box.center) == (20, 40, 800, (20.0, 40.0))
    assert Box.from_xywh(381.8, 126.9, 40.2, 44.6).as_tuple() == pytest.approx(
        (381.8, 126.9, 422.0, 171.5)
    )
    assert Box(5, 5, 1, 2).area == 0
    assert not Box(5, 5, 1, 2).is_valid
    assert Box(5, 5, 1, 2).ordered() == Box(1, 2, 5, 5)
    assert not Box(0, 0, float("nan"), 3).is_valid


def test_box_clip_and_inside() -> None:
    box = Box(-5, 10, 120, 90)
    assert not box.inside(100, 80)
    assert box.clipped(100, 80) == Box(0, 10, 100, 80)
    assert Box(0, 0, 100, 80).inside(100, 80)
    assert not Box(200, 200, 300, 300).clipped(100, 80).is_valid


def test_iou_hand_computed() -> None:
    a = Box(0, 0, 10, 10)
    b = Box(5, 0, 15, 10)
    # Shared 5x10 = 50, union 100 + 100 - 50 = 150.
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(a) == 1.0
    assert a.iou(Box(20, 20, 30, 30)) == 0.0
    assert Box(0, 0, 0, 0).iou(Box(0, 0, 0, 0)) == 0.0


def test_to_patient_on_anisotropic_oblique_volume() -> None:
    """Corners sit on pixel edges: half a voxel before the first centre."""
    direction = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # k->z, j->y, i->x
    vol = Volume(
        np.zeros((4, 20, 30), np.int16),
        spacing=(3.0, 0.5, 0.8),
        origin=(100.0, -50.0, 10.0),
        direction=direction,
    )
    corners = Box(2, 4, 12, 10).to_patient(vol, 3)
    # Top-left corner: index (k=3, j=3.5, i=1.5) -> x = 100 + 1.5*0.8, y = -50 + 3.5*0.5,
    # z = 10 + 3*3
    assert corners[0] == pytest.approx([101.2, -48.25, 19.0])
    # Bottom-right (x1=12, y1=10): index (3, 9.5, 11.5)
    assert corners[2] == pytest.approx([109.2, -45.25, 19.0])
    assert Box(2, 4, 12, 10).center_to_patient(vol, 3) == pytest.approx([105.2, -46.75, 19.0])
    assert Box(2, 4, 12, 10).size_mm(vol) == pytest.approx((8.0, 3.0))


def test_answer_dict_is_json_and_has_patient_mm() -> None:
    vol = Volume(np.zeros((1, 10, 10), np.uint8), spacing=(1.0, 2.0, 2.0))
    answer = Answer(
        answer="A nodule.",
        findings=(Finding("nodule", Box(1, 1, 3, 3), 0.8, slice_index=0),),
        confidence=0.7,
        confidence_source="logprobs",
    ).with_timing("generate", 1.5)
    data = answer.to_dict(vol)
    text = json.dumps(data)
    assert json.loads(text)["findings"][0]["center_lps_mm"] == [0.0, 3.0, 3.0]
    assert data["timings_s"] == {"generate": 1.5}
    assert answer.with_warnings("x", "x").warnings == ("x",)


def test_question_with_region_becomes_region_scope() -> None:
    q = Question("what is this?", 2, region=Box(1, 1, 5, 5))
    assert q.scope == "region"
    conv = Conversation().with_turn(Turn(q)).with_turn(Turn(q, Answer("ok")))
    assert len(conv.turns) == 2
    assert len(conv.answered()) == 1
