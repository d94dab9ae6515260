"""Prompts per model family: short reasoning, a final answer, boxes in the family's own format,
stated uncertainty, the region in the family's syntax, and the conversation so far.

A :class:`Prompt` is backend-neutral; :meth:`Prompt.to_chat` gives the role/content list that
transformers processors, llama-cpp-python's chat handlers and OpenAI-compatible servers all
accept, with each image rendered by the backend's own callback. Only pixels, the question and
earlier answers go into a prompt: never names, IDs or dates from the study.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from voxrad.assistant.request.imageprep import PreparedInput
from voxrad.core.conversation import Box, Question, Turn
from voxrad.core.families import FamilyFormat, require_family

SYSTEM_TEXT = (
    "You are the image assistant in VoxRad, a decision-support tool for clinicians reading "
    "medical images. Your answers support, and never replace, the judgement of a qualified "
    "clinician; they are not a diagnosis. Describe only what the image shows. Be brief. When "
    "the image does not allow a confident answer, say so and say why."
)
Role = Literal["system", "user", "assistant"]
#: MedGemma's box instructions in the words of Google's localization notebook
#: (Google-Health/medgemma, notebooks/cxr_anatomy_localization_with_hugging_face.ipynb), the
#: prompt behind MedGemma 1.5's published localization figures. Its closing chest-only line
#: ('"left" refers to the patient's left side where the heart is ...') is left out: VoxRad
#: asks about CT and other images too.
MEDGEMMA_BOX_FORMAT = (
    "The format of bounding boxes coordinates is [y0, x0, y1, x1] where (y0, x0) must be "
    "top-left corner and (y1, x1) the bottom-right corner. This implies that x0 < x1 and "
    "y0 < y1. Always normalize the x and y coordinates the range [0, 1000], meaning that a "
    "bounding box starting at 15% of the image width would be associated with an x "
    "coordinate of 150. You MUST output a single parseable json list of objects enclosed "
    'into ```json...``` brackets, for instance ```json[{"box_2d": [800, 3, 840, 471], '
    '"label": "car"}, {"box_2d": [400, 22, 600, 73], "label": "dog"}]``` is a valid output.'
)


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """Image ``index`` of the :class:`PreparedInput` the prompt was built for."""

    index: int


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[TextPart | ImagePart, ...]

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True)
class Prompt:
    family: str
    messages: tuple[Message, ...]

    @property
    def image_indices(self) -> tuple[int, ...]:
        return tuple(p.index for m in self.messages for p in m.parts if isinstance(p, ImagePart))

    def to_chat(self, image_content: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
        """``[{"role": ..., "content": [{"type": "text", ...}, image_content(i), ...]}]``."""
        out: list[dict[str, Any]] = []
        for message in self.messages:
            content = [
                {"type": "text", "text": p.text}
                if isinstance(p, TextPart)
                else image_content(p.index)
                for p in message.parts
            ]
            out.append({"role": message.role, "content": content})
        return out


def _fmt(v: float) -> str:
    return str(round(v))


def _relative(box: Box, size: tuple[int, int], scale: float) -> tuple[int, int, int, int]:
    w, h = size
    return (
        round(box.x0 / w * scale),
        round(box.y0 / h * scale),
        round(box.x1 / w * scale),
        round(box.y1 / h * scale),
    )


def region_syntax(fam: FamilyFormat, region: Box, size: tuple[int, int]) -> str:
    """The region as the family writes boxes, in coordinates of an input image of ``size``."""
    if fam.name == "medgemma":
        x0, y0, x1, y1 = _relative(region, size, fam.scale)
        return f'{{"box_2d": [{y0}, {x0}, {y1}, {x1}], "label": "region"}}'
    if fam.name == "qwen2.5-vl":
        coords = ", ".join(_fmt(v) for v in region.as_tuple())
        return f'{{"bbox_2d": [{coords}], "label": "region"}}'
    if fam.name == "qwen2-vl":
        x0, y0, x1, y1 = _relative(region, size, fam.scale)
        return (
            "<|object_ref_start|>the region<|object_ref_end|>"
            f"<|box_start|>({x0},{y0}),({x1},{y1})<|box_end|>"
        )
    if fam.box_syntax == "json":
        x0, y0, x1, y1 = _relative(region, size, fam.scale)
        return f'{{"bbox_2d": [{x0}, {y0}, {x1}, {y1}], "label": "region"}}'
    if fam.box_syntax == "ref-box":
        x0, y0, x1, y1 = _relative(region, size, fam.scale)
        return f"<ref>region</ref><box>[[{x0}, {y0}, {x1}, {y1}]]</box>"
    if fam.box_syntax == "loc":
        # Florence-2 quantises with floor into 1000 bins per axis.
        w, h = size
        edges = (region.x0 / w, region.y0 / h, region.x1 / w, region.y1 / h)
        bins = [min(max(math.floor(v * 1000 + 1e-9), 0), 999) for v in edges]
        return "".join(f"<loc_{v}>" for v in bins)
    return "the region outlined in yellow"


def _format_rules(fam: FamilyFormat, size: tuple[int, int], multi: bool) -> str:
    image_key = ', "image": N' if multi else ""
    ask = (
        "If your answer concerns something visible, give its location"
        + (" (N is the image number)" if multi else "")
        + "; if nothing needs locating, give an empty list []. "
    )
    confidence = (
        "End with one line 'Confidence: N%' saying how sure you are (100% only when certain)."
    )
    if fam.name == "medgemma":
        where = ' Add "image": N to each object (N is the image number).' if multi else ""
        return (
            "Think briefly, in a few sentences, about what the image shows. Then write "
            "'Final Answer:' followed by your answer in one or two sentences. "
            "If your answer concerns something visible, give its location after the answer; "
            "if nothing needs locating, give an empty list []. "
            + MEDGEMMA_BOX_FORMAT
            + where
            + " "
            + confidence
        )
    if fam.box_syntax == "json":
        if fam.coordinates == "absolute":
            units = f"in pixels of the image ({size[0]} wide, {size[1]} high)"
        else:
            units = "scaled 0-1000"
        return (
            "Reason briefly inside <think></think>, then give your answer in one or two "
            "sentences. " + ask + "Put locations after the answer as JSON in a ```json block: "
            f'[{{"bbox_2d": [x1, y1, x2, y2], "label": "name"{image_key}}}] {units}. ' + confidence
        )
    if fam.box_syntax == "ref-box":
        top = round(fam.scale)
        return (
            "Answer in one or two sentences. Mark each finding you locate as "
            f"<ref>name</ref><box>[[x1, y1, x2, y2]]</box> with coordinates 0-{top}. " + confidence
        )
    return "Answer in one or two sentences; do not give coordinates. " + confidence


def _layout(prepared: PreparedInput, question: Question) -> str:
    roles = [img.role for img in prepared.images]
    if roles[:2] == ["region-context", "region-crop"]:
        return (
            "Image 1 is the whole image with the region in question outlined in yellow; image 2 "
            "is a close-up of that region. Give locations on image 1."
        )
    if roles and roles[0] == "region-context":
        return "The region in question is outlined in yellow."
    if len(roles) > 1:
        numbers = ", ".join(str(img.slice_index + 1) for img in prepared.images)
        current = prepared.reference + 1
        return (
            f"The {len(roles)} images are slices {numbers} of one series, in order; image "
            f"{current} is the slice on screen (slice {question.slice_index + 1})."
        )
    return ""


def _florence_task(question: Question, prepared: PreparedInput) -> str:
    if prepared.region is not None:
        fam = require_family("florence2")
        return "<REGION_TO_DESCRIPTION>" + region_syntax(fam, prepared.region, prepared.image_size)
    words = question.text.lower()
    if any(w in words for w in ("where", "locate", "find", "show", "point", "mark")):
        return "<CAPTION_TO_PHRASE_GROUNDING>" + question.text.strip()
    return "<MORE_DETAILED_CAPTION>"


def build_prompt(
    question: Question,
    prepared: PreparedInput,
    *,
    family: str,
    history: Sequence[Turn] = (),
    max_history: int = 6,
) -> Prompt:
    """The prompt for ``question`` with the images of ``prepared`` and up to ``max_history``
    earlier answered turns (text only: the current images are sent once, with this question).

    Raises
    ------
    UnknownModelFamilyError
        When ``family`` is not known.
    """
    fam = require_family(family)
    images = tuple(ImagePart(i) for i in range(len(prepared.images)))
    if fam.box_syntax == "loc":
        # Florence-2 takes one task token per call: no system text, no conversation.
        task = _florence_task(question, prepared)
        return Prompt(fam.name, (Message("user", (*images, TextPart(task))),))
    messages: list[Message] = [Message("system", (TextPart(SYSTEM_TEXT),))]
    answered = [t for t in history if t.answer is not None][-max_history:] if max_history else []
    for turn in answered:
        assert turn.answer is not None
        messages.append(Message("user", (TextPart(turn.question.text.strip()),)))
        reply = turn.answer.answer.strip() or "(no answer)"
        messages.append(Message("assistant", (TextPart(reply),)))
    lines = [_layout(prepared, question)]
    if prepared.region is not None:
        lines.append(
            "The question is about this region: "
            + region_syntax(fam, prepared.region, prepared.image_size)
            + "."
        )
    lines.append("Question: " + question.text.strip())
    lines.append(_format_rules(fam, prepared.image_size, len(prepared.images) > 1))
    text = "\n".join(line for line in lines if line)
    messages.append(Message("user", (*images, TextPart(text))))
    return Prompt(fam.name, tuple(messages))
