"""One answer parser for every model family: reasoning, answer, boxes in image pixels, warnings.

``parse_answer`` never raises: a reply it cannot read becomes an :class:`Answer` whose warnings
say what was wrong, and every box it returns lies inside the image with positive area.

Coordinates: ``image_size`` is the (width, height) of the image the model was given, and boxes
come back in its pixels (edge convention, see :mod:`voxrad.core.conversation`). When VoxRad
cropped, padded or resized before sending,
:func:`voxrad.assistant.request.imageprep.locate_findings` carries them on to the clinician's
image and to patient mm.
"""

from __future__ import annotations

import logging
import math
import re

from voxrad.assistant.reply.boxsyntax import SPECIAL_TOKENS, RawBox, extract_boxes, probability
from voxrad.assistant.reply.jsonrepair import loads_lenient
from voxrad.assistant.reply.statements import (
    CONFIDENCE_LINE,
    CONFIDENCE_SENTENCE,
    split_reasoning,
    stated_confidence,
)
from voxrad.core.conversation import Answer, Box, Finding
from voxrad.core.families import (
    FamilyFormat,
    InputFrame,
    ResizeRules,
    family_format,
    input_frame,
)

logger = logging.getLogger(__name__)

PARSER_FAILED = "VoxRad could not read this answer's format; the raw reply is shown instead."


def parse_answer(
    text: str,
    *,
    family: str,
    image_size: tuple[int, int],
    model_input_size: tuple[int, int] | None = None,
    resize: ResizeRules = "transformers",
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
        absolute pixels of that input (Qwen2.5-VL, Lingshu), the image stretched over it.
        None means the engine's own resize of ``image_size`` (see ``resize``), which is the
        identity for images VoxRad prepared.
    resize
        Whose resize the engine ran: "transformers" (the processor's ``smart_resize``,
        stretched) or "llama.cpp" (its own rounding and limits, aspect kept, padded; see
        :func:`~voxrad.core.families.llama_cpp_frame`).

    Returns
    -------
    Answer
        ``reasoning``, ``answer``, ``findings`` (label, box in image pixels, confidence),
        ``stated_confidence`` and ``warnings``. Never raises.
    """
    try:
        return _parse(text, family, image_size, model_input_size, resize)
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
    resize: ResizeRules,
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
    raws: list[RawBox] = []
    stated_json: float | None = None
    if fam is not None and fam.box_syntax != "none":
        answer_text, raws, stated_json, fmt_warnings = extract_boxes(answer_text, fam)
        if not raws and split.reasoning:
            _, raws, _, _ = extract_boxes(split.reasoning, fam)
            if raws:
                warnings.append("Boxes appeared only in the model's reasoning, not its answer.")
        warnings.extend(fmt_warnings)

    findings: list[Finding] = []
    if size is not None and fam is not None:
        frame = _absolute_frame(fam, size, model_input_size, resize, warnings)
        for raw in raws:
            findings.append(_to_finding(raw, fam, size, frame, warnings))
    elif raws:
        findings = [Finding(r.label, None, r.confidence, image_index=r.image_index) for r in raws]

    stated = stated_json
    if stated is None:
        stated = stated_confidence(answer_text)
    if stated is None:
        stated = stated_confidence(split.reasoning)
    answer = _clean_answer(answer_text)
    if answer.startswith("{"):
        answer, from_json = _answer_from_json(answer)
        stated = from_json if stated is None else stated
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


def _answer_from_json(text: str) -> tuple[str, float | None]:
    """A reply that is only ``{"answer": ..., "confidence": ...}``: its answer and confidence."""
    block = loads_lenient(text)
    if block is None or not isinstance(block.value, dict) or text[block.end :].strip():
        return text, None
    for key in ("answer", "final_answer", "Answer"):
        if isinstance(block.value.get(key), str | int | float):
            return str(block.value[key]).strip(), probability(block.value.get("confidence"))
    return text, None


def _valid_size(size: object) -> tuple[float, float] | None:
    try:
        w, h = (float(v) for v in size)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(w) and math.isfinite(h)) or w <= 0 or h <= 0:
        return None
    return w, h


def _absolute_frame(
    fam: FamilyFormat,
    size: tuple[float, float],
    model_input_size: tuple[int, int] | None,
    resize: ResizeRules,
    warnings: list[str],
) -> InputFrame | None:
    """The frame absolute-coordinate families write boxes in (None for relative families)."""
    if fam.coordinates != "absolute":
        return None
    model = _valid_size(model_input_size) if model_input_size is not None else None
    if model_input_size is not None and model is None:
        warnings.append("The model's input size is invalid; assumed the engine's own resize.")
    if model is not None and round(model[0]) > 0 and round(model[1]) > 0:
        w, h = round(model[0]), round(model[1])
        return InputFrame((w, h), (0, 0, w, h))
    return input_frame(fam, max(round(size[0]), 1), max(round(size[1]), 1), resize)


# -- conversion -------------------------------------------------------------------------------
def _to_finding(
    raw: RawBox,
    fam: FamilyFormat,
    size: tuple[float, float],
    frame: InputFrame | None,
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
    elif frame is not None:
        x0, y0 = frame.to_image(values[0], values[1], size)
        x1, y1 = frame.to_image(values[2], values[3], size)
        box = Box(x0, y0, x1, y1)
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


def _clean_answer(text: str) -> str:
    """The answer as a clinician reads or hears it: no tokens, fences or confidence lines."""
    out = SPECIAL_TOKENS.sub("", text)
    out = CONFIDENCE_LINE.sub("", out)
    out = CONFIDENCE_SENTENCE.sub("", out)
    # Fences left empty, or holding only an empty list ("no findings"), say nothing.
    out = re.sub(r"```[A-Za-z0-9_-]{0,16}[\s\[\]{},]{0,64}(?:```|\Z)", "", out)
    # Brackets left behind by a box list that was only partly readable.
    out = re.sub(r"(?<!\w)[\[\]{}](?:[\s,]{0,8}[\[\]{}])+(?!\w)", "", out)
    # Per line, not a "[ \t]+\n" pattern: that one is quadratic on long runs of spaces.
    out = "\n".join(line.rstrip() for line in out.split("\n"))
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip().strip("*").strip()
