"""One answer parser for every model family: reasoning, answer, boxes in image pixels, warnings.

``parse_answer`` never raises: a reply it cannot read becomes an :class:`Answer` whose warnings
say what was wrong, and every box it returns lies inside the image with positive area.

Coordinates: ``image_size`` is the (width, height) of the image the model was given, and boxes
come back in its pixels (edge convention, see :mod:`voxrad.core.conversation`). When VoxRad
cropped, padded or resized before sending, :func:`voxrad.assistant.imageprep.locate_findings`
carries them on to the clinician's image and to patient mm.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from voxrad.assistant.families import FamilyFormat, family_format, smart_resize
from voxrad.assistant.jsonrepair import fenced_blocks, find_json_values
from voxrad.assistant.statements import (
    CONFIDENCE_LINE,
    CONFIDENCE_SENTENCE,
    number_to_probability,
    split_reasoning,
    stated_confidence,
)
from voxrad.core.conversation import Answer, Box, Finding

logger = logging.getLogger(__name__)

PARSER_FAILED = "VoxRad could not read this answer's format; the raw reply is shown instead."
_BOX_KEYS = ("bbox_2d", "box_2d", "bbox", "box")
_NUM = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_REF_BOX = re.compile(r"(?:<ref>(.*?)</ref>\s*)?<box>(.*?)(?:</box>|\Z)", re.DOTALL)
_QWEN2_TOKENS = re.compile(
    r"(?:<\|object_ref_start\|>(.*?)<\|object_ref_end\|>\s*)?<\|box_start\|>(.*?)(?:<\|box_end\|>|\Z)",
    re.DOTALL,
)
_LOC_RUN = re.compile(r"(?:<loc_\d+>)+")
_LOC = re.compile(r"<loc_(\d+)>")
_SPECIAL = re.compile(r"<\|[a-z_]+\|>|</?s>|<end_of_turn>|<eos>|<pad>")


@dataclass
class _Raw:
    """A box as the model wrote it, before conversion."""

    label: str
    values: list[float]
    confidence: float | None = None
    image_index: int | None = None


def parse_answer(
    text: str,
    *,
    family: str,
    image_size: tuple[int, int],
    model_input_size: tuple[int, int] | None = None,
) -> Answer:
    """Parse a model's reply into an :class:`~voxrad.core.conversation.Answer`.

    Parameters
    ----------
    text
        The model's full reply, reasoning included.
    family
        The catalog's family name (``medgemma``, ``qwen2.5-vl``, ``lingshu``, ``qwen2-vl``,
        ``qwen3-vl``, ``medrega``, ``internvl``, ``florence2``, ``llava-med``).
    image_size
        (width, height) of the image given to the model; boxes are returned in its pixels.
    model_input_size
        (width, height) the model's processor resized it to, for families that answer in
        absolute pixels of that input (Qwen2.5-VL, Lingshu). None means the processor's own
        ``smart_resize`` of ``image_size``, which is the identity for images VoxRad prepared.

    Returns
    -------
    Answer
        ``reasoning``, ``answer``, ``findings`` (label, box in image pixels, confidence),
        ``stated_confidence`` and ``warnings``. Never raises.
    """
    try:
        return _parse(text, family, image_size, model_input_size)
    except Exception:  # the contract is "never raises": the reply still reaches the clinician
        logger.error("answer parser failed for family %s (details at DEBUG)", family)
        logger.debug("answer parser failure", exc_info=True)
        raw = text if isinstance(text, str) else ""
        return Answer(
            answer=raw.strip(), raw_text=raw, family=str(family), warnings=(PARSER_FAILED,)
        )


def _parse(
    text: object,
    family: str,
    image_size: tuple[int, int],
    model_input_size: tuple[int, int] | None,
) -> Answer:
    warnings: list[str] = []
    if not isinstance(text, str):
        warnings.append("The model returned no text.")
        text = ""
    fam = family_format(family)
    if fam is None:
        warnings.append(f"Unknown model family '{family}': boxes were not read from this answer.")
    size = _valid_size(image_size)
    if size is None:
        warnings.append("The image size is unknown, so boxes could not be placed.")

    split = split_reasoning(text)
    if split.truncated:
        warnings.append("The answer was cut off while the model was still reasoning.")
    answer_text = split.answer
    raws: list[_Raw] = []
    stated_json: float | None = None
    if fam is not None and fam.box_syntax != "none":
        answer_text, raws, stated_json, fmt_warnings = _extract(answer_text, fam)
        if not raws and split.reasoning:
            _, raws, _, _ = _extract(split.reasoning, fam)
            if raws:
                warnings.append("Boxes appeared only in the model's reasoning, not its answer.")
        warnings.extend(fmt_warnings)

    findings: list[Finding] = []
    if size is not None and fam is not None:
        scale = _absolute_scale(fam, size, model_input_size, warnings)
        for raw in raws:
            findings.append(_to_finding(raw, fam, size, scale, warnings))
    elif raws:
        findings = [Finding(r.label, None, r.confidence, image_index=r.image_index) for r in raws]

    stated = stated_json
    if stated is None:
        stated = stated_confidence(answer_text)
    if stated is None:
        stated = stated_confidence(split.reasoning)
    answer = _clean_answer(answer_text)
    if not text.strip():
        warnings.append("The model returned an empty reply.")
    elif not answer and not findings:
        warnings.append("The model gave no answer.")
    elif not answer:
        warnings.append("The model gave boxes but no written answer.")
    return Answer(
        answer=answer,
        reasoning=split.reasoning,
        findings=tuple(findings),
        stated_confidence=stated,
        warnings=tuple(dict.fromkeys(warnings)),
        family=fam.name if fam is not None else str(family),
        raw_text=text,
    )


def _valid_size(size: object) -> tuple[float, float] | None:
    try:
        w, h = (float(v) for v in size)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(w) and math.isfinite(h)) or w <= 0 or h <= 0:
        return None
    return w, h


def _absolute_scale(
    fam: FamilyFormat,
    size: tuple[float, float],
    model_input_size: tuple[int, int] | None,
    warnings: list[str],
) -> tuple[float, float]:
    """Pixels of the image per unit the model writes, for absolute-coordinate families."""
    if fam.coordinates != "absolute":
        return 1.0, 1.0
    model = _valid_size(model_input_size) if model_input_size is not None else None
    if model_input_size is not None and model is None:
        warnings.append("The model's input size is invalid; assumed the processor's own resize.")
    if model is None:
        model = smart_resize(
            max(round(size[0]), 1),
            max(round(size[1]), 1),
            factor=fam.factor,
            min_pixels=fam.min_pixels,
            max_pixels=fam.processor_max_pixels,
        )
    return size[0] / model[0], size[1] / model[1]


# -- extraction per syntax --------------------------------------------------------------------
def _extract(text: str, fam: FamilyFormat) -> tuple[str, list[_Raw], float | None, list[str]]:
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


def _extract_json(text: str, fam: FamilyFormat) -> tuple[str, list[_Raw], float | None, list[str]]:
    warnings: list[str] = []
    raws: list[_Raw] = []
    stated: float | None = None
    spans: list[tuple[int, int]] = []
    keys = tuple(f'"{k}"' for k in _BOX_KEYS) + tuple(f"'{k}'" for k in _BOX_KEYS)
    for block in find_json_values(text, must_contain=keys):
        spans.append((block.start, block.end))
        if block.truncated:
            warnings.append("The model's box list was cut off; only complete boxes are shown.")
        elif block.repaired:
            warnings.append("The model's box list was malformed and was repaired; check the boxes.")
        for obj in _box_objects(block.value):
            raw = _raw_from_object(obj, warnings)
            if raw is not None:
                raws.append(raw)
        if isinstance(block.value, dict) and stated is None:
            stated = _probability(block.value.get("confidence"))
    if not spans and any(k in text for k in keys):
        raws = list(_regex_boxes(text))
        warnings.append("The model's box list could not be read as JSON; boxes were recovered.")
        first = min(text.find(k) for k in keys if k in text)
        opening = max(text.rfind("[", 0, first), text.rfind("{", 0, first))
        closing = max(text.rfind("]"), text.rfind("}"))
        if 0 <= opening < closing:
            spans.append((opening, closing + 1))
    rest = _remove_spans(text, spans)
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


def _raw_from_object(obj: dict[str, Any], warnings: list[str]) -> _Raw | None:
    box = next(obj[k] for k in _BOX_KEYS if k in obj)
    values = _numbers(box)
    label = obj.get("label", obj.get("name", obj.get("finding", "")))
    label = str(label).strip() if label is not None else ""
    if len(values) != 4:
        warnings.append("A box did not have four coordinates and was ignored.")
        return None
    image = obj.get("image", obj.get("image_index"))
    index = int(image) - 1 if isinstance(image, int | float) and math.isfinite(image) else None
    confidence = _probability(obj.get("confidence", obj.get("score")))
    return _Raw(
        label or "finding", values, confidence, index if index is None or index >= 0 else None
    )


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


def _probability(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return number_to_probability(float(value))
    if isinstance(value, str):
        found = stated_confidence(f"confidence: {value}")
        return found
    return None


def _regex_boxes(text: str) -> Iterator[_Raw]:
    """Last resort for JSON too broken to load: each box key with the four numbers after it."""
    pattern = re.compile(
        r"[\"']?(?:bbox_2d|box_2d|bbox|box)[\"']?\s*[:=]\s*\[([^\]]*)\]"
        r"(?:[^{}\[\]]*?[\"']label[\"']\s*:\s*[\"']([^\"']*)[\"'])?"
    )
    for match in pattern.finditer(text):
        values = [float(v) for v in _NUM.findall(match.group(1))]
        if len(values) == 4:
            yield _Raw((match.group(2) or "finding").strip() or "finding", values)


def _extract_tagged(
    text: str, pattern: re.Pattern[str], what: str
) -> tuple[str, list[_Raw], list[str]]:
    """``<ref>label</ref><box>[[...]]</box>`` and Qwen2-VL's box tokens: one finding per box."""
    warnings: list[str] = []
    raws: list[_Raw] = []
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
            raws.append(_Raw(label or "finding", numbers[i : i + 4]))
        pieces.append(text[last : match.start()])
        pieces.append(label)
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces), raws, warnings


def _extract_loc(text: str) -> tuple[str, list[_Raw], list[str]]:
    """Florence-2: ``label<loc_x0><loc_y0><loc_x1><loc_y1>`` repeated.

    A label is the text since the previous run of locations (one linear pass: a reply with no
    locations at all costs nothing).
    """
    warnings: list[str] = []
    raws: list[_Raw] = []
    labels: list[str] = []
    last = 0
    for match in _LOC_RUN.finditer(text):
        label = _SPECIAL.sub("", text[last : match.start()]).strip()
        values = [float(v) for v in _LOC.findall(match.group(0))]
        if len(values) % 4:
            warnings.append("A Florence-2 location was incomplete; only whole boxes are shown.")
        for i in range(0, len(values) - len(values) % 4, 4):
            raws.append(_Raw(label or "finding", values[i : i + 4]))
        if label:
            labels.append(label)
        last = match.end()
    if last == 0:
        return text, raws, warnings
    return ", ".join(dict.fromkeys(labels)) + text[last:], raws, warnings


# -- conversion -------------------------------------------------------------------------------
def _to_finding(
    raw: _Raw,
    fam: FamilyFormat,
    size: tuple[float, float],
    absolute_scale: tuple[float, float],
    warnings: list[str],
) -> Finding:
    width, height = size
    values = raw.values
    if not all(math.isfinite(v) for v in values):
        warnings.append(f"The box for '{raw.label}' had invalid numbers and was dropped.")
        return Finding(raw.label, None, raw.confidence, image_index=raw.image_index)
    if fam.y_first:
        values = [values[1], values[0], values[3], values[2]]
    if all(0.0 <= v <= 1.0 for v in values) and any(v != int(v) for v in values):
        # Some models write fractions instead of their documented integers.
        warnings.append(f"The box for '{raw.label}' was given as fractions; read as such.")
        sx, sy = width, height
        x0, y0, x1, y1 = values
        box = Box(x0 * sx, y0 * sy, x1 * sx, y1 * sy)
    elif fam.coordinates == "absolute":
        ax, ay = absolute_scale
        box = Box(values[0] * ax, values[1] * ay, values[2] * ax, values[3] * ay)
    else:
        offset = 0.5 if fam.bin_centres else 0.0
        fx, fy = width / fam.scale, height / fam.scale
        box = Box(
            (values[0] + offset) * fx,
            (values[1] + offset) * fy,
            (values[2] + offset) * fx,
            (values[3] + offset) * fy,
        )
    if box.x0 > box.x1 or box.y0 > box.y1:
        warnings.append(f"The box for '{raw.label}' had its corners swapped; they were reordered.")
        box = box.ordered()
    if not box.inside(width, height):
        warnings.append(f"The box for '{raw.label}' extended outside the image and was clipped.")
        box = box.clipped(width, height)
    if not box.is_valid:
        warnings.append(f"The box for '{raw.label}' was empty or outside the image; not shown.")
        return Finding(raw.label, None, raw.confidence, image_index=raw.image_index)
    return Finding(raw.label, box, raw.confidence, image_index=raw.image_index)


def _remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    out = text
    for start, end in sorted(spans, reverse=True):
        out = out[:start] + out[end:]
    return out


def _clean_answer(text: str) -> str:
    """The answer as a clinician reads or hears it: no tokens, fences or confidence lines."""
    out = _SPECIAL.sub("", text)
    out = CONFIDENCE_LINE.sub("", out)
    out = CONFIDENCE_SENTENCE.sub("", out)
    # Fences left empty, or holding only an empty list ("no findings"), say nothing.
    out = re.sub(r"```[A-Za-z0-9_-]*[\s\[\]{},]*(?:```|\Z)", "", out)
    # Brackets left behind by a box list that was only partly readable.
    out = re.sub(r"(?<!\w)[\[\]{}][\[\]{},\s]*[\[\]{}](?!\w)", "", out)
    out = re.sub(r"[ \t]+\n", "\n", out)
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip().strip("*").strip()
