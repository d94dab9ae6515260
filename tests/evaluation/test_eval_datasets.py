"""Dataset readers: the real VQA-RAD sample and boxes.json, SLAKE and COCO files in their
published schemas (written here with real images copied from the shared data), bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from voxrad.evaluation.datasets import (
    DatasetError,
    blank_like,
    load_grounding,
    load_vqa,
    read_image,
)


def test_real_vqa_rad_sample(shared_data: Path) -> None:
    items = load_vqa(shared_data / "vqa-rad-sample")
    assert len(items) == 12
    assert len({i.image for i in items}) == 6
    first = items[0]
    assert (first.key, first.answer, first.answer_type) == ("1198", "yes", "CLOSED")
    assert (first.question_type, first.organ) == ("ORGAN", "CHEST")
    assert first.image == shared_data / "vqa-rad-sample" / "images" / "synpic100132.jpg"
    assert sum(i.answer_type == "CLOSED" for i in items) == 7
    pixels = read_image(first.image)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    blank = blank_like(pixels)
    assert blank.shape == pixels.shape and not blank.any()


def _slake(tmp_path: Path, shared_data: Path) -> Path:
    root = tmp_path / "Slake1.0"
    (root / "imgs" / "xmlab0").mkdir(parents=True)
    src = shared_data / "vqa-rad-sample" / "images" / "synpic19853.jpg"
    shutil.copy(src, root / "imgs" / "xmlab0" / "source.jpg")
    common = {"img_id": 0, "img_name": "xmlab0/source.jpg", "location": "Abdomen"}
    records = [
        {
            **common,
            "qid": 9,
            "question": "What modality is used to take this image?",
            "answer": "CT",
            "q_lang": "en",
            "modality": "CT",
            "answer_type": "OPEN",
            "base_type": "vqa",
            "content_type": "Modality",
            "triple": ["vhead", "_", "_"],
        },
        {
            **common,
            "qid": 10,
            "question": "这张图片的成像方式是什么?",
            "answer": "CT",
            "q_lang": "zh",
            "modality": "CT",
            "answer_type": "OPEN",
            "base_type": "vqa",
            "content_type": "Modality",
            "triple": ["vhead", "_", "_"],
        },
        {
            **common,
            "qid": 11,
            "question": "Does the picture contain kidney?",
            "answer": "Yes",
            "q_lang": "en",
            "modality": "CT",
            "answer_type": "CLOSED",
            "base_type": "vqa",
            "content_type": "Organ",
            "triple": ["vhead", "_", "_"],
        },
    ]
    for split in ("train.json", "validate.json", "test.json"):
        (root / split).write_text(json.dumps(records), encoding="utf-8")
    return root


def test_slake_english_by_default_test_split_first(tmp_path: Path, shared_data: Path) -> None:
    root = _slake(tmp_path, shared_data)
    items = load_vqa(root)
    assert [i.key for i in items] == ["9", "11"]
    assert items[0].question_type == "MODALITY" and items[0].organ == "ABDOMEN"
    assert items[0].modality == "CT"
    assert items[1].answer_type == "CLOSED"
    assert items[0].image == root / "imgs" / "xmlab0" / "source.jpg"
    both = load_vqa(root / "train.json", languages=("en", "zh"))
    assert [i.key for i in both] == ["9", "10", "11"]


def test_coco_grounding_file(tmp_path: Path, shared_data: Path) -> None:
    root = tmp_path / "coco"
    (root / "images").mkdir(parents=True)
    for name in ("tbx11k-tb0005.png", "tbx11k-h0001.png"):
        shutil.copy(shared_data / "cxr" / name, root / "images" / name)
    coco = {
        "images": [
            {"id": 1, "file_name": "tbx11k-tb0005.png", "width": 512, "height": 512},
            {"id": 2, "file_name": "tbx11k-h0001.png", "width": 512, "height": 512},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [381.8, 126.9, 40.2, 44.6]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [10, 20, 30, 40]},
        ],
        "categories": [{"id": 1, "name": "ActiveTuberculosis"}, {"id": 2, "name": "nodule"}],
    }
    (root / "annotations.json").write_text(json.dumps(coco))
    items = load_grounding(root)
    assert [(i.image.name, i.label, len(i.boxes)) for i in items] == [
        ("tbx11k-tb0005.png", "ActiveTuberculosis", 1),
        ("tbx11k-tb0005.png", "nodule", 1),
        ("tbx11k-h0001.png", "ActiveTuberculosis", 0),
        ("tbx11k-h0001.png", "nodule", 0),
    ]
    assert items[1].boxes[0].as_tuple() == (10.0, 20.0, 40.0, 60.0)
    assert len({i.key for i in items}) == 4


def test_missing_or_broken_datasets_say_what_to_do(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_vqa(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="No JSON"):
        load_vqa(tmp_path / "empty")
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_vqa(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"foo": 1}]))
    with pytest.raises(DatasetError, match="neither image_name"):
        load_vqa(other)
    missing = tmp_path / "missing.json"
    missing.write_text(
        json.dumps(
            [
                {
                    "qid": 1,
                    "image_name": "gone.jpg",
                    "question": "q?",
                    "answer": "yes",
                    "answer_type": "CLOSED",
                }
            ]
        )
    )
    with pytest.raises(DatasetError, match=r"gone\.jpg.*not found") as info:
        load_vqa(missing)
    assert "images/" in info.value.hint
    kind = tmp_path / "kind.json"
    record = {"qid": 1, "image_name": "x.jpg", "question": "q", "answer": "a"}
    kind.write_text(json.dumps([{**record, "answer_type": "MAYBE"}]))
    shutil.copy(shared_data / "cxr" / "tbx11k-h0001.png", tmp_path / "x.jpg")
    with pytest.raises(DatasetError, match="CLOSED or OPEN"):
        load_vqa(kind)
    with pytest.raises(DatasetError, match="neither a COCO"):
        load_grounding(shared_data / "vqa-rad-sample")
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"items": [{"image": "x.jpg", "boxes": [{"xywh": [1, 2, 0, 4]}]}]}))
    with pytest.raises(DatasetError, match="no area"):
        load_grounding(boxes)
    fake_png = tmp_path / "not-an-image.png"
    fake_png.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="could not be read"):
        read_image(fake_png)


def test_a_folder_with_several_unknown_json_files_asks_for_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[]")
    (tmp_path / "b.json").write_text("[]")
    with pytest.raises(DatasetError, match="several JSON files") as info:
        load_vqa(tmp_path)
    assert "--dataset" in info.value.hint
