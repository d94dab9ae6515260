"""Reading a model's text: where the reasoning ends, and what it says about its own certainty.

Kept apart from the box parser because the confidence module needs the same answer span to
pick the answer's tokens out of a log-probability stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_THINK_OPEN = re.compile(r"<think>|<unused94>(?:thought)?", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>|<unused95>", re.IGNORECASE)
# "Final Answer:", "**Final Answer:**", "## Final answer -", "FINAL ANSWER：".
_FINAL = re.compile(
    r"(?:\*\*|#{1,6}[ \t]{0,4})?\bfinal[ \t]{1,4}answer\b[ \t]{0,4}(?:\*\*)?[ \t]{0,4}[:：\-–]"
    r"[ \t]{0,4}(?:\*\*)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Split:
    """Reasoning and answer parts of a reply, with the answer's character span in the reply."""

    reasoning: str
    answer: str
    answer_start: int
    answer_end: int
    truncated: bool
    marker: str  # "think", "final-answer", "think+final-answer" or "" when no marker was seen


def split_reasoning(text: str) -> Split:
    """Separate reasoning (``<think>...</think>``, text before ``Final Answer:``) from the answer.

    An opened ``<think>`` that never closes means generation stopped while thinking:
    everything is reasoning and ``truncated`` is True. A bare ``</think>`` (chat templates that
    put the opening tag in the prompt) makes everything before it reasoning.
    """
    reasoning_parts: list[str] = []
    start, end = 0, len(text)
    marker = ""
    truncated = False
    close = _THINK_CLOSE.search(text)
    opened = _THINK_OPEN.search(text)
    if opened and (close is None or close.start() < opened.start()):
        close = _THINK_CLOSE.search(text, opened.end())
    if opened and close is None:
        reasoning_parts.append(text[opened.end() :])
        start = end = len(text)
        truncated = True
        marker = "think"
    elif close is not None:
        think_from = opened.end() if opened and opened.start() < close.start() else 0
        reasoning_parts.append(text[think_from : close.start()])
        start = close.end()
        marker = "think"
    finals = list(_FINAL.finditer(text, start, end))
    if finals:
        last = finals[-1]
        reasoning_parts.append(text[start : last.start()])
        start = last.end()
        marker = "think+final-answer" if marker else "final-answer"
    reasoning = "\n".join(p.strip() for p in reasoning_parts if p.strip())
    return Split(reasoning, text[start:end], start, end, truncated, marker)


_NUMBER = r"(\d{1,3}(?:\.\d+)?)"
_NUMERIC = (
    # "confidence: 70%", "Confidence level = 0.7", "confidence (7/10)", "confidence of about 80 %"
    re.compile(
        r"\bconfidence(?:[ \t]{1,4}(?:level|score))?[\s*:=\-(~]{0,8}(?:(?:is|of|about|around|"
        r"approximately|roughly)[ \t:~]{1,4}){0,2}"
        + _NUMBER
        + r"[ \t]{0,4}(%|percent|/[ \t]{0,4}100|/[ \t]{0,4}10)?",
        re.IGNORECASE,
    ),
    # "I am 80% confident", "80 % certain", "90% sure"
    re.compile(
        _NUMBER + r"[ \t]{0,4}(%|percent)[ \t]{1,4}(?:confident|certain|sure)", re.IGNORECASE
    ),
)
_VERBAL: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(p, re.IGNORECASE), v)
    for p, v in (
        # Negations first, so that "not very confident" never reads as "very confident".
        (
            r"\b(?:not|n't|isn't|am not)[ \t]+(?:very[ \t]+|entirely[ \t]+|fully[ \t]+)?"
            r"(?:confident|certain|sure)\b",
            0.3,
        ),
        (
            r"\blow[ \t]+confidence\b|"
            r"\bconfidence(?:[ \t]+level)?[\s:=\-]{0,8}(?:is[ \t]{1,4})?low\b",
            0.3,
        ),
        (
            r"\b(?:uncertain|unsure|unclear whether|cannot be certain|"
            r"difficult to (?:say|determine))\b",
            0.4,
        ),
        (r"\b(?:somewhat|slightly|partially|moderately)[ \t]+(?:confident|certain|sure)\b", 0.55),
        (
            r"\b(?:moderate|medium)[ \t]+confidence\b|\bconfidence(?:[ \t]+level)?[\s:=\-]{0,8}"
            r"(?:is[ \t]{1,4})?(?:moderate|medium)\b",
            0.6,
        ),
        (r"\b(?:fairly|reasonably|quite|pretty)[ \t]+(?:confident|certain|sure)\b", 0.7),
        (r"\b(?:very|highly|extremely)[ \t]+(?:confident|certain|sure)\b", 0.9),
        (
            r"\bhigh[ \t]+confidence\b|"
            r"\bconfidence(?:[ \t]+level)?[\s:=\-]{0,8}(?:is[ \t]{1,4})?high\b",
            0.85,
        ),
        (r"\b(?:i am|i'm)[ \t]+(?:confident|certain|sure)\b", 0.8),
    )
)
#: A confidence statement from its label to the end of the line ("... Confidence: 70%"): removed
#: from the spoken answer (the number is kept as the stated confidence).
CONFIDENCE_LINE = re.compile(
    r"[ \t]{0,8}[>*_(\-]{0,4}(?:stated[ \t]{1,4})?\bconfidence(?:[ \t]{1,4}(?:level|score))?"
    r"(?:\*\*)?[ \t]{0,8}[:=][^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)


#: A closing sentence that only rates certainty ("I am fairly confident."): kept as the stated
#: confidence, dropped from the answer text.
CONFIDENCE_SENTENCE = re.compile(
    r"(?:(?<=[.!?])|^)[ \t]*(?:I am|I'm|I feel)[ \t]+(?:\w+[ \t]+){0,2}(?:confident|certain|sure)"
    r"(?:[ \t]+(?:of|about|in)[ \t]+(?:this|that|it|my answer))?[ \t]*[.!]?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


def number_to_probability(value: float, unit: str = "") -> float | None:
    """A stated number as 0..1: "70%" -> 0.7, "0.7" -> 0.7, "7/10" -> 0.7, "85" -> 0.85."""
    unit = unit.replace(" ", "").replace("\t", "").lower()
    if unit == "/10":
        value /= 10.0
    elif unit in ("%", "percent", "/100") or value > 1.0:
        value /= 100.0
    return value if 0.0 <= value <= 1.0 else None


def stated_confidence(text: str) -> float | None:
    """The confidence a model states about its answer, as 0..1, or None.

    Numbers win over words. Words map to a coarse, documented scale: "not confident"/"low
    confidence" 0.3, "uncertain"/"unsure" 0.4, "somewhat confident" 0.55, "moderate
    confidence" 0.6, "fairly confident" 0.7, "I am confident" 0.8, "high confidence" 0.85,
    "very confident" 0.9. A self-report is weak evidence; confidence.py ranks it last.
    """
    for pattern in _NUMERIC:
        for match in pattern.finditer(text):
            try:
                value = float(match.group(1))
            except ValueError:
                continue
            prob = number_to_probability(value, match.group(2) or "")
            if prob is not None:
                return prob
    for pattern, value in _VERBAL:
        if pattern.search(text):
            return value
    return None
