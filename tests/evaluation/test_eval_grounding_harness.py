"""The grounding harness on the real TBX11K boxes with scripted boxes scored by hand."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from eval_fakes import FakeAnswerer, Scripted
from PIL import Image

from voxrad.core.conversation import Box
from voxrad.evaluation.datasets import load_grounding, read_image
from voxrad.evaluation.evaluate import evaluate_grounding
from voxrad.evaluation.report import PRED_COLOR, TRUE_COLOR
from voxrad.evaluation.runner import grounding_question

TRUTH = Box.from_xywh(381.8, 126.9, 40.2, 44.6)  # TBX11K tb0005, from boxes.json
# Shifted right by a fifth of its width: overlap 0.8 wh, union 1.2 wh, IoU 2/3.
NEAR = TRUTH.shifted(0.2 * TRUTH.width, 0.0)
FAR = Box(60.0, 300.0, 140.0, 380.0)
ALARM = Box(100.0, 100.0, 180.0, 180.0)


@pytest.fixture
def boxes_json(shared_data: Path) -> Path:
    return shared_data / "cxr" / "boxes.json"


def scripted(boxes_json: Path) -> FakeAnswerer:
    # Both queries ask the same question (one label), so the script is keyed by the pixels.
    tb_pixels = read_image(boxes_json.parent / "tbx11k-tb0005.png")

    def which(question: str, image: np.ndarray) -> str:
        assert question == grounding_question(load_grounding(boxes_json)[0])
        return "tb" if np.array_equal(image, tb_pixels) else "healthy"

    return FakeAnswerer(
        {
            "tb": Scripted("Two opacities.", 0.9, latency=2.0, boxes=((NEAR, 0.9), (FAR, 0.6))),
            "healthy": Scripted("One opacity.", 0.95, latency=4.0, boxes=((ALARM, 0.95),)),
        },
        key=which,
    )


def test_boxes_json_becomes_one_query_per_image_and_label(boxes_json: Path) -> None:
    items = load_grounding(boxes_json)
    assert [(i.image.name, i.label, len(i.boxes)) for i in items] == [
        ("tbx11k-tb0005.png", "ActiveTuberculosis", 1),
        ("tbx11k-h0001.png", "ActiveTuberculosis", 0),
    ]
    assert items[0].boxes[0].as_tuple() == pytest.approx((381.8, 126.9, 422.0, 171.5))
    assert items[0].phrase == "active tuberculosis"
    assert "Locate every active tuberculosis" in grounding_question(items[0])


def test_grounding_scores_match_the_hand_computation(boxes_json: Path, tmp_path: Path) -> None:
    answerer = scripted(boxes_json)
    outcome = evaluate_grounding(
        boxes_json, answerer, tmp_path / "g", progress=io.StringIO(), clock=answerer.clock
    )
    s = outcome.summary
    assert s["queries"] == 2 and s["queries_with_boxes"] == 1
    # Top box on tb0005 is NEAR (0.9): IoU 2/3 -> hit at 0.5.
    assert s["mean_iou"] == pytest.approx(2 / 3)
    assert s["hit_rate"] == 1.0
    # Ranked: ALARM .95 FP (p 0), NEAR .9 TP (p 1/2, r 1), FAR .6 FP (p 1/3). AP = 1 * 1/2.
    assert s["ap_by_label"] == {"ActiveTuberculosis": pytest.approx(0.5)}
    assert s["map"] == pytest.approx(0.5)
    assert s["false_alarm_rate"] == 1.0
    # Box calibration: .95 wrong, .9 right, .6 wrong -> (.95 + .1 + .6) / 3 = 0.55.
    assert s["calibration"]["ece"] == pytest.approx(0.55)
    assert s["latency"]["p50_s"] == pytest.approx(3.0)
    assert s["errors"] == 0


def test_pictures_show_true_boxes_green_and_predicted_red(boxes_json: Path, tmp_path: Path) -> None:
    answerer = scripted(boxes_json)
    outcome = evaluate_grounding(
        boxes_json, answerer, tmp_path / "g", progress=io.StringIO(), clock=answerer.clock
    )
    folder = tmp_path / "g" / "pictures"
    tb = folder / "tbx11k-tb0005__ActiveTuberculosis.png"
    healthy = folder / "tbx11k-h0001__ActiveTuberculosis.png"
    assert sorted(p.name for p in folder.iterdir()) == sorted([tb.name, healthy.name])

    def where(path: Path, color: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
        ys, xs = np.nonzero(np.all(rgb == color, axis=2))
        return xs, ys

    def all_within(xs: np.ndarray, ys: np.ndarray, boxes: list[Box]) -> bool:
        inside = np.zeros(xs.shape, bool)
        for b in boxes:
            e = b.expanded(3)
            inside |= (xs >= e.x0) & (xs <= e.x1) & (ys >= e.y0) & (ys <= e.y1)
        return bool(inside.all())

    gx, gy = where(tb, TRUE_COLOR)
    assert len(gx) >= 2 * (TRUTH.width + TRUTH.height) and all_within(gx, gy, [TRUTH])
    rx, ry = where(tb, PRED_COLOR)
    assert len(rx) >= 2 * (FAR.width + FAR.height) and all_within(rx, ry, [NEAR, FAR])
    assert len(where(healthy, TRUE_COLOR)[0]) == 0  # no true box on the healthy image
    hx, hy = where(healthy, PRED_COLOR)
    assert len(hx) > 0 and all_within(hx, hy, [ALARM])
    text = outcome.files["report"].read_text()
    assert "| 0.667 | 100.0% | 0.500 | 100.0% | 0 |" in text
    assert f"![tbx11k-tb0005__ActiveTuberculosis](pictures/{tb.name})" in text


def test_no_predictions_at_all(boxes_json: Path, tmp_path: Path) -> None:
    items = load_grounding(boxes_json)
    silent = FakeAnswerer({grounding_question(i): Scripted("Nothing seen.") for i in items})
    outcome = evaluate_grounding(
        boxes_json, silent, tmp_path / "g", progress=io.StringIO(), clock=silent.clock
    )
    s = outcome.summary
    assert s["mean_iou"] == 0.0 and s["hit_rate"] == 0.0
    assert s["map"] == 0.0 and s["false_alarm_rate"] == 0.0
    assert s["calibration"]["n"] == 0 and s["calibration"]["ece"] is None
    assert "error (10 equal bins): n/a over 0 answers" in outcome.files["report"].read_text()
