"""The answer path on real images: the TBX11K expert box and the VQA-RAD sample."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from voxrad.assistant.checks.confidence import normalize_answer
from voxrad.assistant.reply.answers import parse_answer
from voxrad.assistant.request.imageprep import locate_findings, prepare_question
from voxrad.assistant.request.prompts import build_prompt
from voxrad.core.conversation import Box, Question
from voxrad.core.volume import Volume
from voxrad.imaging.raster import read_raster

FAMILIES = ("medgemma", "qwen2.5-vl", "qwen2-vl", "medrega", "internvl", "florence2", "llava-med")


@pytest.fixture(scope="module")
def tb_case(shared_data: Path) -> tuple[Volume, Box]:
    boxes = json.loads((shared_data / "cxr" / "boxes.json").read_text())
    item = next(i for i in boxes["items"] if i["image"] == "tbx11k-tb0005.png")
    volume = read_raster(shared_data / "cxr" / item["image"])
    assert volume.shape == (1, item["height"], item["width"])
    return volume, Box.from_xywh(*item["boxes"][0]["xywh"])


def test_medgemma_tb_box_maps_back_within_one_pixel(tb_case: tuple[Volume, Box]) -> None:
    volume, truth = tb_case
    question = Question("Is there tuberculosis, and where?")
    prepared = prepare_question(volume, question, "medgemma")
    assert prepared.image_size == (896, 896)
    # The square 512 image fills the 896 input, so 0-1000 of the input is 0-1000 of the image:
    # y0 = 126.9 / 512 * 1000 = 247.9 -> 248, x0 = 745.7 -> 746,
    # y1 = 335.0 -> 335, x1 = 824.2 -> 824
    text = (
        "There is a patchy opacity in the right upper zone.\n"
        "Final Answer: Findings suggest active tuberculosis in the right upper zone.\n"
        '```json\n[{"box_2d": [248, 746, 335, 824], "label": "active tuberculosis"}]\n```\n'
        "Confidence: 60%"
    )
    answer = locate_findings(
        parse_answer(text, family="medgemma", image_size=prepared.image_size), prepared
    )
    assert answer.warnings == ()
    box = answer.findings[0].box
    assert box is not None and answer.findings[0].slice_index == 0
    assert box.as_tuple() == pytest.approx(truth.as_tuple(), abs=1.0)
    assert box.iou(truth) > 0.97
    # PNG has no spacing: patient "mm" are pixels along the raster's axes (i -> L, j -> P).
    cx, cy = box.center
    assert box.center_to_patient(volume, 0) == pytest.approx([cx - 0.5, cy - 0.5, 0.0])


def test_qwen25_tb_box_in_resized_pixels(tb_case: tuple[Volume, Box]) -> None:
    volume, truth = tb_case
    prepared = prepare_question(volume, Question("Where is the lesion?"), "qwen2.5-vl")
    assert prepared.image_size == (504, 504)  # 512 rounded to a multiple of 28
    s = 504 / 512
    written = [round(v * s) for v in truth.as_tuple()]
    text = f'```json\n[{{"bbox_2d": {written}, "label": "tuberculosis"}}]\n```\nTuberculosis.'
    answer = locate_findings(
        parse_answer(text, family="qwen2.5-vl", image_size=prepared.image_size), prepared
    )
    assert answer.findings[0].box is not None
    assert answer.findings[0].box.as_tuple() == pytest.approx(truth.as_tuple(), abs=1.0)


def test_healthy_radiograph_answer_without_boxes(shared_data: Path) -> None:
    volume = read_raster(shared_data / "cxr" / "tbx11k-h0001.png")
    prepared = prepare_question(volume, Question("Any abnormality?"), "medgemma")
    text = "The lungs are clear.\nFinal Answer: No focal abnormality.\n```json\n[]\n```"
    answer = locate_findings(
        parse_answer(text, family="medgemma", image_size=prepared.image_size), prepared
    )
    assert (answer.answer, answer.findings, answer.warnings) == ("No focal abnormality.", (), ())


def vqa_items(shared_data: Path) -> list[dict[str, str]]:
    items: list[dict[str, str]] = json.loads(
        (shared_data / "vqa-rad-sample" / "questions.json").read_text()
    )
    return items


def scripted(family: str, gold: str) -> str:
    """The gold answer as each family would write it."""
    return {
        "medgemma": f"Looking at the image.\nFinal Answer: {gold}\n```json\n[]\n```",
        "qwen2.5-vl": f"<think>Looking.</think>{gold}",
        "qwen2-vl": f"{gold}",
        "medrega": f"{gold}",
        "internvl": f"{gold}",
        "llava-med": f"{gold}. I am fairly confident.",
    }[family]


def test_vqa_rad_questions_through_every_family(shared_data: Path) -> None:
    volumes: dict[str, Volume] = {}
    for item in vqa_items(shared_data):
        name = item["image_name"]
        if name not in volumes:
            volumes[name] = read_raster(shared_data / "vqa-rad-sample" / "images" / name)
        volume = volumes[name]
        question = Question(item["question"])
        for family in FAMILIES:
            prepared = prepare_question(volume, question, family)
            for image in prepared.images:
                assert image.pixels.dtype == np.uint8 and image.pixels.ndim == 3
                assert image.pixels.shape[2] == 3
                assert (image.pixels.shape[1], image.pixels.shape[0]) == prepared.image_size
            if family in ("qwen2.5-vl", "qwen2-vl"):
                w, h = prepared.image_size
                assert w % 28 == 0 and h % 28 == 0 and w * h <= 1280 * 28 * 28
            prompt = build_prompt(question, prepared, family=family)
            if family == "florence2":
                continue
            assert item["question"] in prompt.messages[-1].text
            answer = parse_answer(
                scripted(family, item["answer"]), family=family, image_size=prepared.image_size
            )
            assert normalize_answer(answer.answer) == normalize_answer(item["answer"])
            assert answer.warnings == ()


@pytest.mark.parametrize("name", ["synpic100132.jpg", "synpic16520.jpg", "synpic19605.jpg"])
@pytest.mark.parametrize("family", ["medgemma", "qwen2.5-vl", "qwen3-vl", "medrega", "florence2"])
def test_bright_square_on_real_images(shared_data: Path, name: str, family: str) -> None:
    """A white square pasted at a known box on a real, non-square image is found in the model
    input where the transform says, and maps back to the right pixels."""
    volume = read_raster(shared_data / "vqa-rad-sample" / "images" / name)
    rows, cols = volume.shape[1:]
    square = Box(
        round(cols * 0.6), round(rows * 0.3), round(cols * 0.6) + 40, round(rows * 0.3) + 30
    )
    marked_vox = volume.voxels.copy()
    marked_vox[0, int(square.y0) : int(square.y1), int(square.x0) : int(square.x1)] = 0
    dark = replace(volume, voxels=marked_vox)
    marked_vox = volume.voxels.copy()
    marked_vox[0, int(square.y0) : int(square.y1), int(square.x0) : int(square.x1)] = 255
    bright = replace(volume, voxels=marked_vox)
    question = Question("q", window=(127.5, 256.0))  # same window for both
    a = prepare_question(dark, question, family).images[0]
    b = prepare_question(bright, question, family).images[0]
    diff = b.pixels.astype(int)[..., 0] - a.pixels.astype(int)[..., 0]
    ys, xs = np.nonzero(diff > 127)
    found = Box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    expected = b.transform.box_to_input(square)
    assert found.as_tuple() == pytest.approx(expected.as_tuple(), abs=1.0)
    scale = min(b.transform.affine[:2])
    back = b.transform.box_to_image(found)
    assert back.as_tuple() == pytest.approx(square.as_tuple(), abs=1.0 / min(scale, 1.0))


def test_real_ct_three_windows_on_each_sampled_slice(shared_data: Path) -> None:
    """MedGemma's CT encoding on the real 134-slice CT: each image is its own slice, windowed
    R = -1024..1024, G = -135..215, B = 0..80 HU, and a box on image 5 lands on slice 72 in mm."""
    from voxrad.assistant.request.imageops import resize
    from voxrad.imaging.registry import open_study

    ct = open_study(shared_data / "ct-abdomen-134").find().load_volume()
    assert (ct.modality, ct.units, ct.shape) == ("CT", "HU", (134, 512, 512))
    question = Question("Is there a mass?", slice_index=70, scope="volume")
    prepared = prepare_question(ct, question, "medgemma", max_images=5)
    assert [i.slice_index for i in prepared.images] == [68, 69, 70, 71, 72]
    for image in prepared.images:
        hu = ct.voxels[image.slice_index].astype(np.float64)
        channels = [
            np.rint(np.clip((hu - lo) / (hi - lo), 0.0, 1.0) * 255.0)
            for lo, hi in ((-1024.0, 1024.0), (-135.0, 215.0), (0.0, 80.0))
        ]
        expected = resize(np.stack(channels, axis=2).astype(np.uint8), (896, 896))
        assert np.abs(image.pixels.astype(int) - expected.astype(int)).max() <= 1
    text = 'Final Answer: no\n[{"box_2d": [400, 400, 600, 600], "label": "x", "image": 5}]'
    answer = locate_findings(parse_answer(text, family="medgemma", image_size=(896, 896)), prepared)
    finding = answer.findings[0]
    assert finding.slice_index == 72 and finding.box is not None
    assert finding.box.as_tuple() == pytest.approx((204.8, 204.8, 307.2, 307.2))
    centre = finding.to_dict(ct)["center_lps_mm"]
    assert isinstance(centre, list)
    expected_mm = ct.index_to_patient((72, 255.5, 255.5))
    assert centre == pytest.approx(expected_mm.tolist(), abs=0.01)
    # Axial series: slices step 3 mm along +z (superior) from the first slice's position.
    assert centre[2] == pytest.approx(ct.origin[2] + 72 * 3.0, abs=0.01)
