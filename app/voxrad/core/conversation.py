"""The conversation about a study: questions, answers, findings and their boxes.

Pixel convention (used by every box in VoxRad): ``x`` runs along image columns and ``y`` along
rows, in *edge* coordinates. Pixel ``(row j, column i)`` covers ``[i, i + 1) x [j, j + 1)``, so
its centre is at ``(i + 0.5, j + 0.5)`` and the whole image spans ``[0, width] x [0, height]``.
This is the convention of the box datasets (TBX11K, VQA grounding sets) and of resize with
half-pixel centres, so a resize by a factor ``s`` maps ``x`` to exactly ``s * x``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from voxrad.core.volume import Volume

#: Where an answer's confidence came from. "none" means no estimate was possible.
ConfidenceSource = Literal["none", "logprobs", "self-consistency", "stated"]

#: What a question is about: the slice on screen, a box on it, or the whole volume.
QuestionScope = Literal["slice", "region", "volume"]

#: How an answer ended. "complete": the model ended its message. "length": the token limit cut
#: it. "connection": the link to the model server broke mid-answer. "engine": the model engine
#: stopped mid-answer (a crash, the GPU). "cancelled": the clinician stopped it. Anything but
#: "complete" is a cut-off answer: shown, spoken, exported and audited as such, never as a
#: whole reply (a fragment such as "The le" reads as a finding).
FinishReason = Literal["complete", "length", "connection", "engine", "cancelled"]
FINISH_REASONS: tuple[FinishReason, ...] = (
    "complete",
    "length",
    "connection",
    "engine",
    "cancelled",
)

#: What the clinician reads after "The answer was cut off:" when the engine gave no detail.
_CUT_OFF_DETAIL: dict[FinishReason, str] = {
    "length": "it reached the longest answer allowed (vlm.max_answer_tokens).",
    "connection": "the connection to the model server was lost.",
    "engine": "the model engine stopped while answering.",
    "cancelled": "the question was cancelled.",
}
#: The few words the spoken reply ends with when the answer is cut off.
CUT_OFF_SPOKEN = "The answer was cut off."
#: How :attr:`Answer.cut_off_note` begins.
CUT_OFF_PREFIX = "The answer was cut off: "


def finish_reason_from(value: object) -> FinishReason:
    """A stored finish reason read back: missing (stored before answers said how they ended)
    means "complete"; an unknown value is never read as a whole answer."""
    for reason in FINISH_REASONS:
        if value == reason:
            return reason
    return "complete" if value is None else "engine"


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in image pixels (edge convention, see the module docstring)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def from_xywh(cls, x: float, y: float, width: float, height: float) -> Box:
        """A box from its top-left corner and size (the TBX11K / COCO convention)."""
        return cls(float(x), float(y), float(x) + float(width), float(y) + float(height))

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0

    @property
    def area(self) -> float:
        """Area in square pixels; 0 for a degenerate or inverted box."""
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def is_valid(self) -> bool:
        """True when all coordinates are finite and the box has positive area."""
        finite = all(math.isfinite(v) for v in (self.x0, self.y0, self.x1, self.y1))
        return finite and self.x1 > self.x0 and self.y1 > self.y0

    def ordered(self) -> Box:
        """The same box with corners sorted (x0 <= x1, y0 <= y1)."""
        return Box(
            min(self.x0, self.x1),
            min(self.y0, self.y1),
            max(self.x0, self.x1),
            max(self.y0, self.y1),
        )

    def clipped(self, width: float, height: float) -> Box:
        """The box cut to the image ``[0, width] x [0, height]`` (may become degenerate)."""
        return Box(
            min(max(self.x0, 0.0), width),
            min(max(self.y0, 0.0), height),
            min(max(self.x1, 0.0), width),
            min(max(self.y1, 0.0), height),
        )

    def inside(self, width: float, height: float, *, tolerance: float = 1e-9) -> bool:
        """True when the box lies within the image (edges included)."""
        return (
            -tolerance <= self.x0
            and -tolerance <= self.y0
            and self.x1 <= width + tolerance
            and self.y1 <= height + tolerance
        )

    def intersection(self, other: Box) -> float:
        """Area shared with ``other``."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(w, 0.0) * max(h, 0.0)

    def iou(self, other: Box) -> float:
        """Intersection over union, 0 when either box is empty."""
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, sx: float, sy: float) -> Box:
        return Box(self.x0 * sx, self.y0 * sy, self.x1 * sx, self.y1 * sy)

    def shifted(self, dx: float, dy: float) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def expanded(self, margin: float) -> Box:
        """The box grown by ``margin`` pixels on every side."""
        return Box(self.x0 - margin, self.y0 - margin, self.x1 + margin, self.y1 + margin)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return self.x0, self.y0, self.x1, self.y1

    def corners(self) -> np.ndarray:
        """The four corners ``(x, y)`` clockwise from top-left, as a (4, 2) array."""
        return np.array(
            [[self.x0, self.y0], [self.x1, self.y0], [self.x1, self.y1], [self.x0, self.y1]]
        )

    def to_patient(self, volume: Volume, slice_index: int) -> np.ndarray:
        """The four corners in patient LPS mm on acquired slice ``slice_index``, shape (4, 3).

        A corner sits on pixel edges, half a voxel from the centres that
        :meth:`Volume.index_to_patient` places, hence the ``- 0.5``.
        """
        xy = self.corners()
        kji = np.column_stack([np.full(4, float(slice_index)), xy[:, 1] - 0.5, xy[:, 0] - 0.5])
        return volume.index_to_patient(kji)

    def center_to_patient(self, volume: Volume, slice_index: int) -> np.ndarray:
        """The box centre in patient LPS mm, shape (3,)."""
        cx, cy = self.center
        return volume.index_to_patient((float(slice_index), cy - 0.5, cx - 0.5))

    def size_mm(self, volume: Volume) -> tuple[float, float]:
        """Width and height in mm (in pixels when the volume has no calibrated spacing)."""
        return self.width * volume.spacing[2], self.height * volume.spacing[1]


@dataclass(frozen=True)
class Finding:
    """Something the model located or named.

    ``box`` is in pixels of the image the clinician sees (acquired slice ``slice_index``);
    ``image_index`` is which of the images sent to the model the box was drawn on, before it is
    mapped back. ``confidence`` is 0..1 or None when nobody estimated it.
    """

    label: str
    box: Box | None = None
    confidence: float | None = None
    slice_index: int | None = None
    image_index: int | None = None

    def to_dict(self, volume: Volume | None = None) -> dict[str, object]:
        """A JSON-ready dict; with a volume, the box's corners and centre in LPS mm too."""
        out: dict[str, object] = {
            "label": self.label,
            "confidence": self.confidence,
            "slice": self.slice_index,
            "box_px": None if self.box is None else [round(v, 2) for v in self.box.as_tuple()],
        }
        if volume is not None and self.box is not None and self.slice_index is not None:
            corners = self.box.to_patient(volume, self.slice_index)
            centre = self.box.center_to_patient(volume, self.slice_index)
            out["box_lps_mm"] = [[round(float(v), 2) for v in c] for c in corners]
            out["center_lps_mm"] = [round(float(v), 2) for v in centre]
            out["size_mm"] = [round(v, 2) for v in self.box.size_mm(volume)]
        return out


@dataclass(frozen=True)
class Answer:
    """A model's answer to one question, as VoxRad shows and speaks it.

    ``confidence`` is the estimate VoxRad reports (0..1) and ``confidence_source`` says which
    evidence it came from; ``stated_confidence`` keeps what the model said about itself, which
    is reported separately because models are poorly calibrated about their own certainty.
    ``timings`` holds per-stage seconds (``prepare``, ``generate``, ``parse``, ...).
    """

    answer: str
    reasoning: str = ""
    findings: tuple[Finding, ...] = ()
    confidence: float | None = None
    confidence_source: ConfidenceSource = "none"
    stated_confidence: float | None = None
    warnings: tuple[str, ...] = ()
    model: str = ""
    family: str = ""
    raw_text: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    #: The acquired slices (indices) whose images the model was shown.
    seen_slices: tuple[int, ...] = ()
    #: How the answer ended; anything but "complete" means the text is a fragment.
    finish_reason: FinishReason = "complete"
    #: Why it ended early, in words a clinician can act on ("" when complete).
    finish_detail: str = ""

    @property
    def cut_off(self) -> bool:
        """True when the answer did not end normally (its text is a fragment)."""
        return self.finish_reason != "complete"

    @property
    def cut_off_note(self) -> str:
        """``"The answer was cut off: <why>"``, or "" for a complete answer."""
        if not self.cut_off:
            return ""
        detail = self.finish_detail or _CUT_OFF_DETAIL.get(self.finish_reason, "")
        return f"{CUT_OFF_PREFIX}{detail}" if detail else CUT_OFF_SPOKEN

    @property
    def boxes(self) -> tuple[Box, ...]:
        return tuple(f.box for f in self.findings if f.box is not None)

    @property
    def is_empty(self) -> bool:
        return not self.answer.strip() and not self.findings

    def with_warnings(self, *extra: str) -> Answer:
        """A copy with more warnings (duplicates dropped, order kept)."""
        merged = list(self.warnings)
        merged.extend(w for w in extra if w not in merged)
        return replace(self, warnings=tuple(merged))

    def with_timing(self, stage: str, seconds: float) -> Answer:
        return replace(self, timings={**self.timings, stage: float(seconds)})

    def to_dict(self, volume: Volume | None = None) -> dict[str, object]:
        """A JSON-ready dict (the shape ``voxrad ask --json`` prints)."""
        return {
            "answer": self.answer,
            "reasoning": self.reasoning,
            "findings": [f.to_dict(volume) for f in self.findings],
            "confidence": self.confidence,
            "confidence_source": self.confidence_source,
            "stated_confidence": self.stated_confidence,
            "warnings": list(self.warnings),
            "model": self.model,
            "family": self.family,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "complete": not self.cut_off,
            "finish_reason": self.finish_reason,
            "cut_off_note": self.cut_off_note,
        }


@dataclass(frozen=True)
class Question:
    """What the clinician asked, and about which part of the study.

    ``region`` is a box in pixels of acquired slice ``slice_index`` (scope "region");
    scope "volume" asks about the whole series, sampled around ``slice_index``.
    """

    text: str
    slice_index: int = 0
    region: Box | None = None
    scope: QuestionScope = "slice"
    series_uid: str = ""
    #: Window (centre, width) the clinician was looking at; None means the volume's default.
    window: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.region is not None and self.scope == "slice":
            object.__setattr__(self, "scope", "region")


@dataclass(frozen=True)
class Turn:
    """One exchange; ``answer`` is None while the model is still working or after a failure."""

    question: Question
    answer: Answer | None = None


@dataclass(frozen=True)
class Conversation:
    """The turns about one study, oldest first. Kept in memory only: never written to disk."""

    turns: tuple[Turn, ...] = ()

    def with_turn(self, turn: Turn) -> Conversation:
        return Conversation((*self.turns, turn))

    def answered(self) -> tuple[Turn, ...]:
        """Turns that have an answer, the ones a prompt may replay as history."""
        return tuple(t for t in self.turns if t.answer is not None)
