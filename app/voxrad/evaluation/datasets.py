"""Readers for VQA and grounding datasets in their own published formats.

VQA: VQA-RAD's JSON list (``qid, image_name, image_organ, question, answer, answer_type,
question_type``) and SLAKE's (``qid, img_name, question, answer, answer_type, content_type,
modality, location, q_lang``; English only unless asked). Grounding: COCO (``images``,
``annotations`` with ``bbox`` = [x, y, w, h], ``categories``) and VoxRad's shared list form
(``{"items": [{"image", "boxes": [{"label", "xywh"}]}]}``). Image paths are resolved relative to
the dataset folder and its usual image sub-folders.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxrad.core.conversation import Box
from voxrad.core.errors import VoxRadError

logger = logging.getLogger(__name__)

#: Where datasets keep their images, relative to the folder of the JSON file.
IMAGE_FOLDERS = ("", "images", "imgs", "VQA_RAD Image Folder", "Images")
#: JSON files tried, in order, when a dataset folder holds several.
PREFERRED_FILES = (
    "test.json",
    "questions.json",
    "VQA_RAD Dataset Public.json",
    "boxes.json",
    "annotations.json",
)


class DatasetError(VoxRadError):
    """An evaluation dataset is missing, unreadable or not in a known format."""

    default_hint = (
        "Point --dataset at a folder (or JSON file) in VQA-RAD or SLAKE format for `eval vqa`, "
        "or COCO / [x, y, w, h] box lists for `eval grounding`."
    )


@dataclass(frozen=True)
class VqaItem:
    """One question of a VQA dataset. ``key`` is unique within the dataset (for resuming)."""

    key: str
    image: Path
    question: str
    answer: str
    answer_type: str  # "CLOSED" or "OPEN"
    question_type: str
    organ: str
    modality: str = ""


@dataclass(frozen=True)
class GroundingItem:
    """One query: find ``label`` in ``image``; ``boxes`` are the true boxes (maybe none)."""

    key: str
    image: Path
    label: str
    boxes: tuple[Box, ...]
    width: int | None = None
    height: int | None = None

    @property
    def phrase(self) -> str:
        """The label as words: "ActiveTuberculosis" -> "active tuberculosis"."""
        out = []
        for i, ch in enumerate(self.label.replace("_", " ")):
            if ch.isupper() and i and self.label[i - 1].islower():
                out.append(" ")
            out.append(ch.lower())
        return "".join(out).strip()


def _json_file(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise DatasetError(f"The dataset {path} does not exist.")
    for name in PREFERRED_FILES:
        if (path / name).is_file():
            return path / name
    found = sorted(p for p in path.glob("*.json"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise DatasetError(f"No JSON question or box file in {path}.")
    names = ", ".join(p.name for p in found)
    raise DatasetError(
        f"{path} holds several JSON files ({names}) and none of the usual names.",
        hint="Pass the file itself as --dataset.",
    )


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Could not read {path.name}: {exc.__class__.__name__}.") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"{path.name} is not valid JSON (line {exc.lineno}, column {exc.colno})."
        ) from exc


def resolve_image(root: Path, name: str) -> Path:
    """The image file ``name`` under ``root`` or one of :data:`IMAGE_FOLDERS`."""
    for folder in IMAGE_FOLDERS:
        candidate = root / folder / name
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"The image {name} named in the dataset was not found under {root}.",
        hint="Keep the images beside the JSON file or in its images/ (imgs/) folder.",
    )


def load_vqa(path: Path, *, languages: tuple[str, ...] = ("en",)) -> list[VqaItem]:
    """The questions of a VQA-RAD or SLAKE file (or the folder holding it), in file order.

    SLAKE questions whose ``q_lang`` is not in ``languages`` are skipped.

    Raises
    ------
    DatasetError
        When the file is missing, not JSON, not one of the two schemas, or names a missing image.
    """
    file = _json_file(Path(path))
    data = _read_json(file)
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise DatasetError(f"{file.name} is not a list of questions (VQA-RAD or SLAKE format).")
    root = file.parent
    items: list[VqaItem] = []
    seen: set[str] = set()
    for n, record in enumerate(data):
        if "image_name" in record:
            item = _vqa_rad_item(root, record, n)
        elif "img_name" in record:
            if str(record.get("q_lang", "en")) not in languages:
                continue
            item = _slake_item(root, record, n)
        else:
            raise DatasetError(
                f"Question {n + 1} of {file.name} has neither image_name (VQA-RAD) nor "
                "img_name (SLAKE)."
            )
        if item.key in seen:
            item = VqaItem(**{**item.__dict__, "key": f"{item.key}#{n}"})
        seen.add(item.key)
        items.append(item)
    if not items:
        raise DatasetError(f"{file.name} has no questions in {', '.join(languages)}.")
    return items


def _field(record: dict[str, Any], name: str, n: int) -> str:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DatasetError(f"Question {n + 1} has no {name}.")
    return str(value).strip()


def _answer_type(record: dict[str, Any], n: int) -> str:
    value = _field(record, "answer_type", n).upper()
    if value not in ("CLOSED", "OPEN"):
        raise DatasetError(f"Question {n + 1} has answer_type {value!r}; expected CLOSED or OPEN.")
    return value


def _vqa_rad_item(root: Path, record: dict[str, Any], n: int) -> VqaItem:
    name = _field(record, "image_name", n)
    return VqaItem(
        key=str(record.get("qid", n)),
        image=resolve_image(root, name),
        question=_field(record, "question", n),
        answer=_field(record, "answer", n),
        answer_type=_answer_type(record, n),
        question_type=str(record.get("question_type", "")).strip().upper() or "UNKNOWN",
        organ=str(record.get("image_organ", "")).strip().upper() or "UNKNOWN",
    )


def _slake_item(root: Path, record: dict[str, Any], n: int) -> VqaItem:
    name = _field(record, "img_name", n)
    return VqaItem(
        key=str(record.get("qid", n)),
        image=resolve_image(root, name),
        question=_field(record, "question", n),
        answer=_field(record, "answer", n),
        answer_type=_answer_type(record, n),
        question_type=str(record.get("content_type", "")).strip().upper() or "UNKNOWN",
        organ=str(record.get("location", "")).strip().upper() or "UNKNOWN",
        modality=str(record.get("modality", "")).strip(),
    )


# -- grounding --------------------------------------------------------------------------------
def _box(values: Any, where: str) -> Box:
    try:
        x, y, w, h = (float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{where}: a box is not four numbers [x, y, w, h].") from exc
    box = Box.from_xywh(x, y, w, h)
    if not box.is_valid:
        raise DatasetError(f"{where}: a box has no area or invalid numbers.")
    return box


def load_grounding(path: Path) -> list[GroundingItem]:
    """One query per (image, label): COCO files or ``{"items": [...]}`` box lists.

    Every image is asked about every label of the dataset, so images without a box of that
    label measure false alarms.

    Raises
    ------
    DatasetError
        When the file is missing, not JSON, in neither format, or names a missing image.
    """
    file = _json_file(Path(path))
    data = _read_json(file)
    root = file.parent
    if isinstance(data, dict) and "annotations" in data and "images" in data:
        return _coco(root, data, file.name)
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return _box_list(root, data["items"], file.name)
    raise DatasetError(f"{file.name} is neither a COCO file nor a list of items with boxes.")


def _box_list(root: Path, records: list[Any], name: str) -> list[GroundingItem]:
    images: list[tuple[Path, dict[str, list[Box]], int | None, int | None]] = []
    labels: dict[str, None] = {}
    for n, record in enumerate(records):
        if not isinstance(record, dict) or "image" not in record:
            raise DatasetError(f"Item {n + 1} of {name} has no image.")
        by_label: dict[str, list[Box]] = {}
        for box in record.get("boxes") or []:
            label = str(box.get("label", "finding"))
            labels.setdefault(label)
            by_label.setdefault(label, []).append(_box(box.get("xywh"), f"{name} item {n + 1}"))
        w, h = record.get("width"), record.get("height")
        images.append(
            (
                resolve_image(root, str(record["image"])),
                by_label,
                int(w) if w else None,
                int(h) if h else None,
            )
        )
    return _queries(images, list(labels), name)


def _coco(root: Path, data: dict[str, Any], name: str) -> list[GroundingItem]:
    categories = {int(c["id"]): str(c["name"]) for c in data.get("categories", [])}
    images = {int(i["id"]): i for i in data["images"]}
    boxes: dict[int, dict[str, list[Box]]] = {i: {} for i in images}
    for n, ann in enumerate(data["annotations"]):
        image_id = int(ann["image_id"])
        if image_id not in images:
            raise DatasetError(f"Annotation {n + 1} of {name} refers to an unknown image.")
        label = categories.get(int(ann.get("category_id", -1)), "finding")
        boxes[image_id].setdefault(label, []).append(_box(ann.get("bbox"), f"{name} ann {n + 1}"))
    labels = list(categories.values()) or sorted({k for b in boxes.values() for k in b})
    entries = [
        (
            resolve_image(root, str(img["file_name"])),
            boxes[i],
            int(img["width"]) if img.get("width") else None,
            int(img["height"]) if img.get("height") else None,
        )
        for i, img in images.items()
    ]
    return _queries(entries, labels, name)


def _queries(
    images: list[tuple[Path, dict[str, list[Box]], int | None, int | None]],
    labels: list[str],
    name: str,
) -> list[GroundingItem]:
    if not labels:
        raise DatasetError(f"{name} has no boxes and no labels, so there is nothing to find.")
    out = []
    for path, by_label, w, h in images:
        for label in labels:
            key = f"{path.name}::{label}"
            out.append(GroundingItem(key, path, label, tuple(by_label.get(label, ())), w, h))
    return out


def read_image(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB pixels.

    Raises
    ------
    DatasetError
        When the file cannot be decoded.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, UnidentifiedImageError) as exc:
        raise DatasetError(f"The image {path.name} could not be read.") from exc


def blank_like(image: np.ndarray) -> np.ndarray:
    """A black image of the same size: the text-only baseline that SURE-VQA recommends."""
    return np.zeros_like(image)
