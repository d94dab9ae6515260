"""Safety checks on an answer before a clinician sees it.

* Laterality: an answer that says "left" or "right" and draws a box is checked against the
  patient orientation of the image geometry (LPS: +x is the patient's left), never against
  the screen, since image left is usually the patient's right.
* Findings over air (a box mostly outside the body) or on a slice the model was not shown.
* Confidence in words, a colour and a spoken prefix, so a low-confidence answer never sounds
  like a confident one.

Pure functions on core types; each problem comes back as a :class:`SafetyFlag` whose message
is written for the clinician.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import numpy as np

from voxrad.assistant.checks.confidence import ConfidenceLevel, describe
from voxrad.core.conversation import Answer, Box
from voxrad.core.volume import Volume

Side = Literal["left", "right"]
FlagKind = Literal["laterality", "laterality-unchecked", "outside-body", "unsent-slice"]

#: Mean HU below which a CT box is "mostly air" (lung parenchyma is about -850).
AIR_HU = -900.0
#: Share of a non-CT box that must lie on the body for the box to count as "on the body".
MIN_BODY_FRACTION = 0.1
#: Colours for the UI (Material palette: readable on the dark theme and in print).
CONFIDENCE_COLORS: dict[ConfidenceLevel, str] = {
    "high": "#2E7D32",
    "moderate": "#F9A825",
    "low": "#C62828",
    "unknown": "#757575",
}

_SIDE_WORDS = re.compile(r"\b(left|right|lt|rt|sinistral|dextral|l-sided|r-sided)\b", re.IGNORECASE)
_LEFT = frozenset({"left", "lt", "sinistral", "l-sided"})


@dataclass(frozen=True)
class SafetyFlag:
    """One concern about an answer: ``finding`` is the label it concerns ("" for the answer)."""

    kind: FlagKind
    finding: str
    message: str
    severity: Literal["warning", "info"] = "warning"


@dataclass(frozen=True)
class ConfidenceDisplay:
    """How an answer's confidence is shown and spoken."""

    level: ConfidenceLevel
    words: str
    color: str
    spoken: str


@dataclass(frozen=True)
class SafetyReport:
    flags: tuple[SafetyFlag, ...]
    confidence: ConfidenceDisplay

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f.message for f in self.flags if f.severity == "warning")


# -- confidence ---------------------------------------------------------------------------------
def confidence_display(confidence: float | None) -> ConfidenceDisplay:
    """Level, words, hex colour and spoken prefix for a 0..1 confidence (None: unknown)."""
    level = describe(confidence)
    if confidence is None or level == "unknown":
        return ConfidenceDisplay(
            "unknown",
            "Confidence unknown: no estimate was possible.",
            CONFIDENCE_COLORS["unknown"],
            "Confidence unknown.",
        )
    pct = round(100 * min(max(confidence, 0.0), 1.0))
    if level == "high":
        words, spoken = f"High confidence ({pct}%).", f"High confidence, {pct} percent."
    elif level == "moderate":
        words, spoken = f"Moderate confidence ({pct}%).", f"Moderate confidence, {pct} percent."
    else:
        words = f"Low confidence ({pct}%): treat this answer with caution."
        spoken = f"Low confidence, {pct} percent. Treat this answer with caution."
    return ConfidenceDisplay(level, words, CONFIDENCE_COLORS[level], spoken)


# -- laterality ---------------------------------------------------------------------------------
def stated_side(text: str) -> Side | None:
    """The one side ``text`` names, or None when it names none or both."""
    sides = {"left" if m.lower() in _LEFT else "right" for m in _SIDE_WORDS.findall(text)}
    return sides.pop() if len(sides) == 1 else None  # type: ignore[return-value]


def _slice_values(volume: Volume, k: int) -> np.ndarray:
    values = volume.slice_image(k).astype(np.float32)
    return values.mean(axis=-1) if volume.is_color else values


def body_mask(volume: Volume, k: int) -> np.ndarray:
    """Pixels of slice ``k`` that belong to the body (not air or background)."""
    values = _slice_values(volume, k)
    if volume.modality == "CT" and volume.units == "HU":
        return values > -500.0
    lo, hi = float(values.min()), float(values.max())
    return values > lo + 0.15 * (hi - lo)


def _lateral_axis(volume: Volume) -> np.ndarray:
    """How patient x (right-to-left, mm) changes per row and per column of a slice."""
    return np.array(
        [volume.direction[0, 1] * volume.spacing[1], volume.direction[0, 2] * volume.spacing[2]]
    )


def box_side(volume: Volume, slice_index: int, box: Box) -> Side | Literal["midline"] | None:
    """Which side of the patient's midline the box centre lies on, from the geometry.

    The midline is the body's centre on that slice (see :func:`body_mask`); a box within 5 %
    of the body's width of it is "midline". None when the slice plane has no left-right
    direction (sagittal) or the slice shows no body.
    """
    per_pixel = _lateral_axis(volume)
    pixel_mm = max(volume.spacing[1], volume.spacing[2])
    if np.abs(per_pixel).max() < 0.2 * pixel_mm:
        return None
    mask = body_mask(volume, slice_index)
    if not mask.any():
        return None
    j, i = np.nonzero(mask)
    # Patient x relative to pixel (0, 0): the affine map's other terms cancel in differences.
    xs = j * per_pixel[0] + i * per_pixel[1]
    midline = 0.5 * (float(xs.min()) + float(xs.max()))
    cx, cy = box.center
    x = (cy - 0.5) * per_pixel[0] + (cx - 0.5) * per_pixel[1]
    margin = 0.05 * (float(xs.max()) - float(xs.min()))
    if abs(x - midline) <= margin:
        return "midline"
    return "left" if x > midline else "right"  # LPS: +x is the patient's left


def check_laterality(answer: Answer, volume: Volume) -> list[SafetyFlag]:
    """Flag boxes on the other side of the patient from the side the answer names.

    A finding's own label decides; when it names no side, the answer text does, and when
    that names none either, the reasoning does ("right kidney" said only while reasoning is
    still a claim about the box). Text is used only when the answer has a single boxed
    finding (with several, the text cannot be matched to a box).
    """
    boxed = [f for f in answer.findings if f.box is not None and f.slice_index is not None]
    flags: list[SafetyFlag] = []
    for finding in boxed:
        side = stated_side(finding.label)
        if side is None and len(boxed) == 1:
            side = stated_side(answer.answer) or stated_side(answer.reasoning)
        if side is None:
            continue
        if not volume.spacing_calibrated:
            flags.append(
                SafetyFlag(
                    "laterality-unchecked",
                    finding.label,
                    f"The side of '{finding.label}' could not be checked: the image has no patient "
                    "orientation. Check the side marker on the image.",
                    "info",
                )
            )
            continue
        assert finding.box is not None and finding.slice_index is not None
        actual = box_side(volume, finding.slice_index, finding.box)
        if actual is None:
            flags.append(
                SafetyFlag(
                    "laterality-unchecked",
                    finding.label,
                    f"The side of '{finding.label}' could not be checked on this image plane.",
                    "info",
                )
            )
        elif actual not in (side, "midline"):
            flags.append(
                SafetyFlag(
                    "laterality",
                    finding.label,
                    f"Side mismatch: the answer says {side} for '{finding.label}', but its box is "
                    f"on the patient's {actual} (from the image orientation). Check the side.",
                )
            )
    return flags


# -- location -----------------------------------------------------------------------------------
def _box_pixels(box: Box, shape: tuple[int, int]) -> tuple[slice, slice] | None:
    rows, cols = shape
    b = box.ordered().clipped(cols, rows)
    y0, y1 = int(np.floor(b.y0)), int(np.ceil(b.y1))
    x0, x1 = int(np.floor(b.x0)), int(np.ceil(b.x1))
    if y1 <= y0 or x1 <= x0:
        return None
    return slice(y0, y1), slice(x0, x1)


def check_outside_body(answer: Answer, volume: Volume) -> list[SafetyFlag]:
    """Flag boxes mostly over air (CT: mean below :data:`AIR_HU`) or background."""
    flags: list[SafetyFlag] = []
    for finding in answer.findings:
        if finding.box is None or finding.slice_index is None:
            continue
        if not 0 <= finding.slice_index < volume.shape[0]:
            continue
        window = _box_pixels(finding.box, volume.shape[1:])
        if window is None:
            continue
        if volume.modality == "CT" and volume.units == "HU":
            mean = float(_slice_values(volume, finding.slice_index)[window].mean())
            outside = mean < AIR_HU
            detail = f"mean {mean:.0f} HU"
        else:
            share = float(body_mask(volume, finding.slice_index)[window].mean())
            outside = share < MIN_BODY_FRACTION
            detail = f"{100 * share:.0f}% of it on the body"
        if outside:
            flags.append(
                SafetyFlag(
                    "outside-body",
                    finding.label,
                    f"The box for '{finding.label}' lies mostly outside the body ({detail}); it is "
                    "probably misplaced.",
                )
            )
    return flags


def check_sent_slices(answer: Answer, sent_slices: Collection[int]) -> list[SafetyFlag]:
    """Flag findings placed on a slice the model was not shown."""
    flags: list[SafetyFlag] = []
    for finding in answer.findings:
        if finding.box is None:
            continue
        if finding.slice_index is None or finding.slice_index not in sent_slices:
            where = (
                "no slice" if finding.slice_index is None else (f"slice {finding.slice_index + 1}")
            )
            flags.append(
                SafetyFlag(
                    "unsent-slice",
                    finding.label,
                    f"'{finding.label}' is placed on {where}, which the model was not shown; "
                    "not reliable.",
                )
            )
    return flags


def check_answer(answer: Answer, volume: Volume, sent_slices: Collection[int]) -> SafetyReport:
    """All checks on ``answer``; ``sent_slices`` are the acquired slice indices the model saw
    (``{image.slice_index for image in prepared.images}``)."""
    flags = [
        *check_sent_slices(answer, sent_slices),
        *check_laterality(answer, volume),
        *check_outside_body(answer, volume),
    ]
    return SafetyReport(tuple(flags), confidence_display(answer.confidence))


def with_safety(answer: Answer, report: SafetyReport) -> Answer:
    """``answer`` with the report's warnings (and the low-confidence words) attached."""
    extra = list(report.warnings)
    if report.confidence.level == "low":
        extra.append(report.confidence.words)
    return answer.with_warnings(*extra)


def flagged_findings(report: SafetyReport) -> dict[str, tuple[SafetyFlag, ...]]:
    """Flags grouped by finding label, for drawing flagged boxes differently."""
    out: dict[str, list[SafetyFlag]] = {}
    for flag in report.flags:
        out.setdefault(flag.finding, []).append(flag)
    return {k: tuple(v) for k, v in out.items()}


__all__ = [
    "AIR_HU",
    "CONFIDENCE_COLORS",
    "ConfidenceDisplay",
    "SafetyFlag",
    "SafetyReport",
    "body_mask",
    "box_side",
    "check_answer",
    "check_laterality",
    "check_outside_body",
    "check_sent_slices",
    "confidence_display",
    "flagged_findings",
    "stated_side",
    "with_safety",
]
