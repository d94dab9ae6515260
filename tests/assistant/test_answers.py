"""parse_answer on every family's format, with expected boxes computed by hand."""

from __future__ import annotations

import pytest

from voxrad.assistant.reply.answers import PARSER_FAILED, parse_answer
from voxrad.core.conversation import Answer
from voxrad.core.families import family_format, smart_resize


def only_box(answer: Answer) -> tuple[float, float, float, float]:
    assert len(answer.findings) == 1, answer
    box = answer.findings[0].box
    assert box is not None, answer
    return box.as_tuple()


def test_medgemma_reasoning_final_answer_y_first_boxes() -> None:
    text = (
        "The right upper zone shows a cavitating opacity.\n"
        "Final Answer: Appearances suggest tuberculosis in the right upper zone.\n"
        '```json\n[{"box_2d": [225, 250, 425, 600], "label": "cavity"}]\n```\n'
        "Confidence: 70%"
    )
    a = parse_answer(text, family="medgemma", image_size=(896, 896))
    assert a.reasoning == "The right upper zone shows a cavitating opacity."
    assert a.answer == "Appearances suggest tuberculosis in the right upper zone."
    # y0=225, x0=250, y1=425, x1=600 of 1000 -> x0 = 250 * 0.896 = 224, y0 = 225 * 0.896 = 201.6
    assert only_box(a) == pytest.approx((224.0, 201.6, 537.6, 380.8))
    assert a.findings[0].label == "cavity"
    assert a.stated_confidence == pytest.approx(0.7)
    assert a.warnings == ()
    assert a.family == "medgemma"


def test_qwen25_absolute_pixels_of_resized_input() -> None:
    text = '```json\n[{"bbox_2d": [10, 20, 300, 400], "label": "nodule"}]\n```\nA nodule.'
    a = parse_answer(text, family="qwen2.5-vl", image_size=(1000, 800), model_input_size=(500, 400))
    assert only_box(a) == pytest.approx((20.0, 40.0, 600.0, 800.0))
    assert a.answer == "A nodule."


def test_qwen25_default_input_size_is_the_processor_resize() -> None:
    # smart_resize(1000, 800): round(1000/28)=36 -> 1008, round(800/28)=29 -> 812.
    fam = family_format("qwen2.5-vl")
    assert fam is not None
    assert smart_resize(1000, 800, factor=28, min_pixels=3136, max_pixels=12845056) == (1008, 812)
    text = '[{"bbox_2d": [504, 406, 1008, 812], "label": "x"}]'
    a = parse_answer(text, family="qwen2.5-vl", image_size=(1000, 800))
    assert only_box(a) == pytest.approx((500.0, 400.0, 1000.0, 800.0))


def test_lingshu_uses_qwen25_format() -> None:
    text = '[{"bbox_2d": [28, 56, 84, 112], "label": "x"}]'
    a = parse_answer(text, family="Lingshu", image_size=(280, 280), model_input_size=(280, 280))
    assert only_box(a) == (28.0, 56.0, 84.0, 112.0)
    assert a.family == "qwen2.5-vl"


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen3-vl"])
def test_qwen2_and_qwen3_relative_1000(family: str) -> None:
    text = (
        '<think>look</think>\n```json\n[{"bbox_2d": [250, 500, 750, 1000], "label": "mass"}]\n```'
    )
    a = parse_answer(text, family=family, image_size=(640, 480))
    assert only_box(a) == pytest.approx((160.0, 240.0, 480.0, 480.0))
    assert a.reasoning == "look"


def test_qwen2_vl_native_box_tokens() -> None:
    text = (
        "The <|object_ref_start|>mass<|object_ref_end|>"
        "<|box_start|>(250,500),(750,1000)<|box_end|> is in the left lower lobe."
    )
    a = parse_answer(text, family="qwen2-vl", image_size=(640, 480))
    assert only_box(a) == pytest.approx((160.0, 240.0, 480.0, 480.0))
    assert a.answer == "The mass is in the left lower lobe."


def test_medrega_ref_box_0_999_several_boxes() -> None:
    text = "<ref>nodule</ref><box>[[333, 666, 999, 999], [0, 0, 999, 999]]</box> in both lungs."
    a = parse_answer(text, family="medrega", image_size=(512, 512))
    assert [f.label for f in a.findings] == ["nodule", "nodule"]
    assert a.findings[0].box is not None and a.findings[1].box is not None
    assert a.findings[0].box.as_tuple() == pytest.approx(
        (333 / 999 * 512, 666 / 999 * 512, 512.0, 512.0)
    )
    assert a.findings[1].box.as_tuple() == pytest.approx((0.0, 0.0, 512.0, 512.0))
    assert a.answer == "nodule in both lungs."


def test_internvl_ref_box_0_1000() -> None:
    text = "There is a <ref>mass</ref><box>[[250, 500, 750, 1000]]</box>."
    a = parse_answer(text, family="internvl", image_size=(640, 480))
    assert only_box(a) == pytest.approx((160.0, 240.0, 480.0, 480.0))


def test_florence2_loc_bins_use_bin_centres() -> None:
    text = "nodule<loc_100><loc_200><loc_299><loc_399>effusion<loc_0><loc_0><loc_999><loc_999>"
    a = parse_answer(text, family="florence2", image_size=(1000, 500))
    boxes = [f.box.as_tuple() for f in a.findings if f.box is not None]
    # (n + 0.5) / 1000 of the size: x0 = 100.5, y0 = 200.5 * 0.5 = 100.25
    assert boxes[0] == pytest.approx((100.5, 100.25, 299.5, 199.75))
    assert boxes[1] == pytest.approx((0.5, 0.25, 999.5, 499.75))
    assert [f.label for f in a.findings] == ["nodule", "effusion"]
    assert a.answer == "nodule, effusion"


def test_llava_med_is_free_text_without_boxes() -> None:
    text = 'The heart is enlarged. [{"bbox_2d": [1, 2, 3, 4]}] I am fairly confident.'
    a = parse_answer(text, family="llava-med", image_size=(336, 336))
    assert a.findings == ()
    assert a.answer.startswith("The heart is enlarged.")
    assert a.stated_confidence == 0.7


# -- repairs and warnings -------------------------------------------------------------------
def test_truncated_json_keeps_complete_boxes() -> None:
    text = '[{"bbox_2d": [100, 100, 200, 200], "label": "a"}, {"bbox_2d": [300, 3'
    a = parse_answer(text, family="qwen2-vl", image_size=(1000, 1000))
    boxes = [f.box for f in a.findings if f.box is not None]
    assert [b.as_tuple() for b in boxes] == [(100.0, 100.0, 200.0, 200.0)]
    assert any("cut off" in w for w in a.warnings)


def test_truncated_inside_label_string() -> None:
    text = 'Final Answer: effusion\n[{"box_2d": [100, 200, 300, 400], "label": "effus'
    a = parse_answer(text, family="medgemma", image_size=(1000, 1000))
    assert only_box(a) == (200.0, 100.0, 400.0, 300.0)
    assert a.findings[0].label == "effus"
    assert a.answer == "effusion"


@pytest.mark.parametrize(
    "blob",
    [
        "[{'bbox_2d': [100, 100, 200, 200], 'label': 'a'}]",  # single quotes
        '[{"bbox_2d": [100, 100, 200, 200], "label": "a",},]',  # trailing commas
        '[{"bbox_2d": [100, 100, 200, 200], "label": "a", "sure": True}]',  # Python literal
        '[{"bbox_2d": ["100", "100", "200", "200"], "label": "a"}]',  # numbers as strings
        '[{"bbox_2d": [[100, 100], [200, 200]], "label": "a"}]',  # corner pairs
        '{"bbox_2d": [100, 100, 200, 200], "label": "a"}',  # a single object
        '{"findings": [{"bbox_2d": [100, 100, 200, 200], "label": "a"}]}',  # wrapped
    ],
)
def test_malformed_json_is_repaired(blob: str) -> None:
    a = parse_answer("Answer.\n" + blob, family="qwen2-vl", image_size=(1000, 1000))
    assert only_box(a) == (100.0, 100.0, 200.0, 200.0)
    assert a.answer == "Answer."


def test_hopeless_json_recovered_by_pattern() -> None:
    text = 'boxes: [{"bbox_2d": [100, 100, 200, 200] "label": "a" }} ]]'
    a = parse_answer(text, family="qwen2-vl", image_size=(1000, 1000))
    assert only_box(a) == (100.0, 100.0, 200.0, 200.0)
    assert any("recovered" in w or "repaired" in w for w in a.warnings)


def test_swapped_corners_are_reordered_with_warning() -> None:
    text = 'Final Answer: x\n[{"box_2d": [425, 600, 225, 250], "label": "x"}]'
    a = parse_answer(text, family="medgemma", image_size=(1000, 1000))
    assert only_box(a) == (250.0, 225.0, 600.0, 425.0)
    assert any("swapped" in w for w in a.warnings)


def test_box_outside_image_is_clipped_with_warning() -> None:
    text = '[{"bbox_2d": [900, 900, 1200, 1100], "label": "x"}]'
    a = parse_answer(text, family="qwen2-vl", image_size=(640, 480))
    assert only_box(a) == (576.0, 432.0, 640.0, 480.0)
    assert any("clipped" in w for w in a.warnings)


def test_box_entirely_outside_is_dropped_with_warning() -> None:
    text = 'A thing.\n[{"bbox_2d": [1100, 1100, 1200, 1200], "label": "x"}]'
    a = parse_answer(text, family="qwen2-vl", image_size=(640, 480))
    assert a.findings[0].box is None
    assert a.findings[0].label == "x"
    assert any("not shown" in w for w in a.warnings)


def test_wrong_number_of_coordinates_is_flagged() -> None:
    a = parse_answer('[{"bbox_2d": [1, 2, 3], "label": "x"}]', family="qwen2-vl", image_size=(9, 9))
    assert a.findings == ()
    assert any("four coordinates" in w for w in a.warnings)


def test_fractional_coordinates_read_as_fractions() -> None:
    text = '[{"bbox_2d": [0.25, 0.5, 0.75, 1.0], "label": "x"}]'
    a = parse_answer(text, family="qwen2-vl", image_size=(640, 480))
    assert only_box(a) == pytest.approx((160.0, 240.0, 480.0, 480.0))
    assert any("fractions" in w for w in a.warnings)


def test_non_finite_numbers_dropped() -> None:
    a = parse_answer('[{"bbox_2d": [NaN, 0, 5, 5]}]', family="qwen2-vl", image_size=(9, 9))
    assert a.findings[0].box is None
    assert any("invalid numbers" in w for w in a.warnings)


@pytest.mark.parametrize("text", ["", "   \n", "<think></think>"])
def test_empty_replies_are_flagged(text: str) -> None:
    a = parse_answer(text, family="medgemma", image_size=(100, 100))
    assert a.answer == ""
    assert a.warnings
    assert PARSER_FAILED not in a.warnings


def test_unclosed_think_means_truncated() -> None:
    a = parse_answer("<think>The lungs are", family="qwen3-vl", image_size=(100, 100))
    assert a.reasoning == "The lungs are"
    assert a.answer == ""
    assert any("cut off" in w for w in a.warnings)


def test_bare_closing_think() -> None:
    a = parse_answer("reasoning here</think>\nNo effusion.", family="qwen3-vl", image_size=(9, 9))
    assert (a.reasoning, a.answer) == ("reasoning here", "No effusion.")


def test_boxes_only_in_reasoning_are_used_and_flagged() -> None:
    text = '<think>[{"bbox_2d": [0, 0, 500, 500], "label": "x"}]</think>Cardiomegaly.'
    a = parse_answer(text, family="qwen2-vl", image_size=(100, 100))
    assert only_box(a) == (0.0, 0.0, 50.0, 50.0)
    assert any("reasoning" in w for w in a.warnings)


def test_unknown_family_and_bad_size_warn_not_raise() -> None:
    a = parse_answer('[{"bbox_2d": [0, 0, 5, 5]}] yes', family="gpt-x", image_size=(100, 100))
    assert a.findings == ()
    assert any("Unknown model family" in w for w in a.warnings)
    b = parse_answer('[{"bbox_2d": [0, 0, 5, 5]}] yes', family="qwen2-vl", image_size=(0, 0))
    assert all(f.box is None for f in b.findings)
    assert any("image size" in w for w in b.warnings)
    c = parse_answer(None, family="qwen2-vl", image_size=(10, 10))  # type: ignore[arg-type]
    assert c.answer == "" and c.warnings


def test_json_confidence_and_image_keys() -> None:
    text = (
        '{"answer": "nodule", "confidence": 0.65, "findings": '
        '[{"box_2d": [0, 0, 500, 500], "label": "n", "confidence": "80%", "image": 2}]}'
    )
    a = parse_answer(text, family="medgemma", image_size=(100, 100))
    assert a.stated_confidence == pytest.approx(0.65)
    assert a.findings[0].confidence == pytest.approx(0.8)
    assert a.findings[0].image_index == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Final Answer: yes. Confidence: 70%", 0.7),
        ("Final Answer: yes\nConfidence level = 0.85", 0.85),
        ("Final Answer: yes (confidence 7/10)", 0.7),
        ("Final Answer: yes. I am 80% confident.", 0.8),
        ("Final Answer: yes, I am fairly confident.", 0.7),
        ("Final Answer: yes but I am not very confident.", 0.3),
        ("Final Answer: yes. Confidence: high", 0.85),
        ("Final Answer: probably, though I am uncertain.", 0.4),
        ("Final Answer: yes.", None),
    ],
)
def test_stated_confidence(text: str, expected: float | None) -> None:
    a = parse_answer(text, family="medgemma", image_size=(9, 9))
    assert a.stated_confidence == (pytest.approx(expected) if expected is not None else None)
    assert "onfidence:" not in a.answer


def test_final_answer_marker_variants() -> None:
    a = parse_answer("thinking **Final Answer:** No.", family="medgemma", image_size=(9, 9))
    assert (a.reasoning, a.answer) == ("thinking", "No.")
    b = parse_answer("Step 1\n## Final answer - Yes", family="medgemma", image_size=(9, 9))
    assert (b.reasoning, b.answer) == ("Step 1", "Yes")


def test_several_boxes_under_one_label() -> None:
    boxes = "[[0, 0, 100, 100], [500, 500, 600, 700]]"
    text = f'Final Answer: nodules\n[{{"box_2d": {boxes}, "label": "n"}}]'
    a = parse_answer(text, family="medgemma", image_size=(1000, 1000))
    assert [f.box.as_tuple() for f in a.findings if f.box] == [
        (0.0, 0.0, 100.0, 100.0),
        (500.0, 500.0, 700.0, 600.0),
    ]


def test_json_only_replies_keep_their_answer() -> None:
    a = parse_answer('{"answer": "No", "confidence": 0.9}', family="llava-med", image_size=(9, 9))
    assert (a.answer, a.stated_confidence, a.warnings) == ("No", 0.9, ())
    b = parse_answer(
        '{"answer": "Yes", "bbox_2d": [0, 0, 500, 500], "label": "x"}',
        family="qwen2-vl",
        image_size=(100, 100),
    )
    assert b.answer == "Yes" and only_box(b) == (0.0, 0.0, 50.0, 50.0)
