"""Reading boxes as each family writes them: JSON lists, ``<ref><box>`` tags, Qwen2-VL box
tokens and Florence-2 ``<loc_>`` bins. Returns the numbers as written; :mod:`answers` turns
them into image pixels. Never raises on any text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from voxrad.assistant.reply.jsonrepair import fenced_blocks, find_json_values
from voxrad.assistant.reply.statements import number_to_probability, stated_confidence
from voxrad.core.families import FamilyFormat

_BOX_KEYS = ("bbox_2d", "box_2d", "bbox", "box")
_NUM = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
# Labels stop at the next tag ([^<]*): a lazy ".*?" there rescans the rest of the reply from
# every <ref> that has no <box> after it, which is quadratic.
_REF_BOX = re.compile(r"(?:<ref>([^<]*)</ref>\s*)?<box>(.*?)(?:</box>|\Z)", re.DOTALL)
_QWEN2_TOKENS = re.compile(
    r"(?:<\|object_ref_start\|>([^<]*)<\|object_ref_end\|>\s*)?"
    r"<\|box_start\|>(.*?)(?:<\|box_end\|>|\Z)",
    re.DOTALL,
)
_LOC_RUN = re.compile(r"(?:<loc_\d+>)+")
_LOC = re.compile(r"<loc_(\d+)>")
# <answer>...</answer>: R1-style Qwen fine-tunes wrap the answer after </think> in these.
SPECIAL_TOKENS = re.compile(r"<\|[a-z_]+\|>|</?s>|<end_of_turn>|<eos>|<pad>|</?answer>")


@dataclass
class RawBox:
    """A box as the model wrote it, before conversion."""

    label: str
    values: list[float]
    confidence: float | None = None
    image_index: int | None = None


def extract_boxes(
    text: str, fam: FamilyFormat
) -> tuple[str, list[RawBox], float | None, list[str]]:
    """Boxes in ``text`` and the text with them removed."""
    if fam.box_syntax == "json":
        rest, raws, stated, warns = _extract_json(text, fam)
        if fam.name == "qwen2-vl" and "<|box_start|>" in rest:
            rest, more, more_warns = _extract_tagged(rest, _QWEN2_TOKENS, "Qwen2-VL box")
            raws += more
            warns += more_warns
        return rest, raws, stated, warns
    if fam.box_syntax == "ref-box":
        rest, raws, warns = _extract_tagged(text, _REF_BOX, "<box>")
        return rest, raws, None, warns
    rest, raws, warns = _extract_loc(text)
    return rest, raws, None, warns


def _extract_json(
    text: str, fam: FamilyFormat
) -> tuple[str, list[RawBox], float | None, list[str]]:
    warnings: list[str] = []
    raws: list[RawBox] = []
    stated: float | None = None
    spans: list[tuple[int, int, str]] = []
    keys = tuple(f'"{k}"' for k in _BOX_KEYS) + tuple(f"'{k}'" for k in _BOX_KEYS)
    for block in find_json_values(text, must_contain=keys):
        # {"answer": "...", "bbox_2d": [...]}: the answer stays where the object was.
        said = block.value.get("answer") if isinstance(block.value, dict) else None
        spans.append((block.start, block.end, str(said) if isinstance(said, str) else ""))
        if block.truncated:
            warnings.append("The model's box list was cut off; only complete boxes are shown.")
        elif block.repaired:
            warnings.append("The model's box list was malformed and was repaired; check the boxes.")
        for obj in _box_objects(block.value):
            raws.extend(_raws_from_object(obj, warnings))
        if isinstance(block.value, dict) and stated is None:
            stated = probability(block.value.get("confidence"))
    if not spans and any(k in text for k in keys):
        raws = list(_regex_boxes(text))
        warnings.append("The model's box list could not be read as JSON; boxes were recovered.")
        first = min(text.find(k) for k in keys if k in text)
        opening = max(text.rfind("[", 0, first), text.rfind("{", 0, first))
        closing = max(text.rfind("]"), text.rfind("}"))
        if 0 <= opening < closing:
            spans.append((opening, closing + 1, ""))
    rest = remove_spans(text, spans)
    if spans and any(k in rest for k in keys):
        # A list whose every other object was valid JSON: the broken ones are still here.
        rest, more = _recover_leftovers(rest)
        if more:
            raws.extend(more)
            warnings.append(
                "Part of the model's box list was malformed; those boxes were recovered."
            )
    # Fences that held the boxes are now empty ``` pairs; drop them and stray language tags.
    for start, end, body in reversed(fenced_blocks(rest)):
        if not body.strip() or body.strip().lower() in ("json",):
            rest = rest[:start] + rest[end:]
    return rest, raws, stated, warnings


def _box_objects(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Dicts carrying a box, anywhere in a parsed JSON value."""
    if depth > 6:
        return
    if isinstance(value, dict):
        if any(k in value for k in _BOX_KEYS):
            yield value
            return
        for item in value.values():
            yield from _box_objects(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _box_objects(item, depth + 1)


def _raws_from_object(obj: dict[str, Any], warnings: list[str]) -> list[RawBox]:
    """The box(es) of one JSON object: one box, or a list of four-number boxes under one label."""
    box = next(obj[k] for k in _BOX_KEYS if k in obj)
    # "text_content": Qwen2.5-VL's key when it spots text (its OCR cookbook's output).
    label = next((obj[k] for k in ("label", "name", "finding", "text_content") if k in obj), "")
    label = (str(label).strip() if label is not None else "") or "finding"
    image = obj.get("image", obj.get("image_index"))
    index = int(image) - 1 if isinstance(image, int | float) and math.isfinite(image) else None
    index = index if index is None or index >= 0 else None
    confidence = probability(obj.get("confidence", obj.get("score")))
    groups = [box]
    if isinstance(box, list) and len(box) > 1 and all(len(_numbers(b)) == 4 for b in box):
        groups = box  # several boxes for one label: [[x0, y0, x1, y1], [...]]
    out = []
    for group in groups:
        values = _numbers(group)
        if len(values) != 4:
            warnings.append("A box did not have four coordinates and was ignored.")
            continue
        out.append(RawBox(label, values, confidence, index))
    return out


def _numbers(value: Any) -> list[float]:
    """Flatten ``[x0, y0, x1, y1]``, ``[[x0, y0], [x1, y1]]`` or numeric strings to floats."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, str):
        return [float(m) for m in _NUM.findall(value)]
    if isinstance(value, list | tuple):
        return [n for item in value for n in _numbers(item)]
    if isinstance(value, dict):
        keys = ("x1", "y1", "x2", "y2") if "x2" in value else ("x0", "y0", "x1", "y1")
        return [n for k in keys if k in value for n in _numbers(value[k])]
    return []


def probability(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return number_to_probability(float(value))
    if isinstance(value, str):
        found = stated_confidence(f"confidence: {value}")
        return found
    return None


def _regex_boxes(text: str) -> Iterator[RawBox]:
    """Last resort for JSON too broken to load: each box key with the four numbers after it."""
    pattern = re.compile(
        r"[\"']?(?:bbox_2d|box_2d|bbox|box)[\"']?\s{0,8}[:=]\s{0,8}\[([^\]]{0,200})\]"
        r"(?:[^{}\[\]]{0,200}?[\"']label[\"']\s{0,8}:\s{0,8}[\"']([^\"']{0,200})[\"'])?"
    )
    for match in pattern.finditer(text):
        values = [float(v) for v in _NUM.findall(match.group(1))]
        if len(values) == 4:
            yield RawBox((match.group(2) or "finding").strip() or "finding", values)


def _recover_leftovers(text: str) -> tuple[str, list[RawBox]]:
    """Boxes left in ``text`` after the valid JSON was taken, each removed with its ``{...}``."""
    raws: list[RawBox] = []
    pieces: list[str] = []
    last = 0
    for match in _LEFTOVER.finditer(text):
        values = [float(v) for v in _NUM.findall(match.group(1))]
        if len(values) != 4:
            continue
        raws.append(RawBox("finding", values))
        opening = text.rfind("{", max(last, match.start() - 200), match.start())
        closing = text.find("}", match.end(), match.end() + 200)
        start = opening if opening >= 0 else match.start()
        end = closing + 1 if closing >= 0 else match.end()
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    return "".join(pieces), raws


_LEFTOVER = re.compile(
    r"[\"']?(?:bbox_2d|box_2d|bbox|box)[\"']?\s{0,8}[:=]\s{0,8}\[([^\]]{0,200})\]"
)


def _extract_tagged(
    text: str, pattern: re.Pattern[str], what: str
) -> tuple[str, list[RawBox], list[str]]:
    """``<ref>label</ref><box>[[...]]</box>`` and Qwen2-VL's box tokens: one finding per box."""
    warnings: list[str] = []
    raws: list[RawBox] = []
    pieces: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        label = (match.group(1) or "").strip()
        numbers = [float(v) for v in _NUM.findall(match.group(2))]
        closed = match.group(0).rstrip().endswith(("</box>", "<|box_end|>"))
        usable = len(numbers) - len(numbers) % 4
        if usable < len(numbers) or not closed:
            warnings.append(f"A {what} was incomplete; only whole boxes are shown.")
        for i in range(0, usable, 4):
            raws.append(RawBox(label or "finding", numbers[i : i + 4]))
        pieces.append(text[last : match.start()])
        pieces.append(label)
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces), raws, warnings


def _extract_loc(text: str) -> tuple[str, list[RawBox], list[str]]:
    """Florence-2: ``label<loc_x0><loc_y0><loc_x1><loc_y1>`` repeated.

    A label is the text since the previous run of locations (one linear pass: a reply with no
    locations at all costs nothing).
    """
    warnings: list[str] = []
    raws: list[RawBox] = []
    labels: list[str] = []
    last = 0
    for match in _LOC_RUN.finditer(text):
        label = SPECIAL_TOKENS.sub("", text[last : match.start()]).strip()
        values = [float(v) for v in _LOC.findall(match.group(0))]
        if len(values) % 4:
            warnings.append("A Florence-2 location was incomplete; only whole boxes are shown.")
        for i in range(0, len(values) - len(values) % 4, 4):
            raws.append(RawBox(label or "finding", values[i : i + 4]))
        if label:
            labels.append(label)
        last = match.end()
    if last == 0:
        return text, raws, warnings
    return ", ".join(dict.fromkeys(labels)) + text[last:], raws, warnings


def remove_spans(text: str, spans: list[tuple[int, int, str]]) -> str:
    out = text
    for start, end, keep in sorted(spans, reverse=True):
        out = out[:start] + keep + out[end:]
    return out
