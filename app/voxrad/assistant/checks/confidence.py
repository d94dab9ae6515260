"""How sure is the answer? Three kinds of evidence and one documented rule to combine them.

* **logprobs**: the answer's own tokens (the text after the reasoning, before the box list),
  reduced to a probability: ``exp(mean log p)`` (the geometric-mean token probability) or
  ``exp(min log p)`` (the weakest token), as the backend reports them.
* **self-consistency**: ``k`` answers sampled for the same question; the share of them whose
  normalised answer agrees with the most common one. Boxes are clustered by IoU; each
  cluster's support is the share of samples that drew a box there.
* **stated**: what the model says about itself ("Confidence: 70%", "fairly confident").

Combination rule (:func:`combine`): measured evidence outranks the model's self-report, which
is known to be over-confident. The reported confidence is the *lowest* of the measured
estimates available (logprobs, self-consistency) and says which one it was; only when neither
was measured is the stated confidence reported, labelled "stated". When the model states much
more certainty than was measured, the answer carries a warning.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from voxrad.assistant.reply.statements import split_reasoning
from voxrad.core.conversation import Answer, Box, ConfidenceSource, Finding

#: The one confidence vocabulary (panel, speech, export, report, ``voxrad ask``): at or
#: above HIGH_CONFIDENCE is "high", below LOW_CONFIDENCE "low", between them "moderate".
HIGH_CONFIDENCE = 0.75
LOW_CONFIDENCE = 0.5
ConfidenceLevel = Literal["high", "moderate", "low", "unknown"]
#: A stated confidence this far above the measured one earns a warning.
OVERSTATEMENT_GAP = 0.3
#: Boxes from different samples with at least this IoU are the same finding.
CLUSTER_IOU = 0.5
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_YES = ("yes", "yeah", "present", "true", "positive")
_NO = ("no", "none", "absent", "false", "negative", "not")
_BOX_LIST = re.compile(r"```|\[\s{0,8}\{|<ref>|<box>|<loc_|\n[ \t]{0,8}confidence", re.IGNORECASE)


def from_logprobs(
    logprobs: Sequence[float], *, reduce: Literal["mean", "min"] = "mean"
) -> float | None:
    """exp(mean) or exp(min) of finite log-probabilities; None when there are none."""
    values = [float(v) for v in logprobs if math.isfinite(float(v)) and float(v) <= 0.0]
    if not values:
        return None
    pick = min(values) if reduce == "min" else sum(values) / len(values)
    return float(math.exp(pick))


def answer_token_logprobs(tokens: Sequence[str], logprobs: Sequence[float]) -> list[float]:
    """The log-probabilities of the tokens that spell the answer.

    ``tokens`` are the generated token strings in order (their concatenation is the reply).
    Reasoning (``<think>``, text before ``Final Answer:``) and what follows the answer (the box
    list, the confidence line) are left out: the question is how sure the model was of what it
    answered, not of its musing or its coordinates.
    """
    text = "".join(tokens)
    split = split_reasoning(text)
    start = split.answer_start
    tail = _BOX_LIST.search(text, start, split.answer_end)
    end = tail.start() if tail else split.answer_end
    out: list[float] = []
    pos = 0
    for token, lp in zip(tokens, logprobs, strict=False):
        # A token belongs to the answer when its first visible character does ("Yes" in " Yes").
        visible = pos + len(token) - len(token.lstrip())
        pos += len(token)
        if token.strip() and start <= visible < end:
            out.append(float(lp))
    return out


def normalize_answer(text: str) -> str:
    """A canonical form for comparing answers: yes/no first, else lower-case words.

    "Yes, there is a nodule." -> "yes"; "The heart is Enlarged" -> "heart is enlarged".
    """
    lowered = text.lower().strip()
    words = lowered.translate(str.maketrans("", "", string.punctuation)).split()
    if words and words[0] in _YES:
        return "yes"
    if words and words[0] in _NO:
        return "no"
    return " ".join(_ARTICLES.sub(" ", " ".join(words)).split())


@dataclass(frozen=True)
class BoxCluster:
    """Boxes from different samples that agree (IoU >= :data:`CLUSTER_IOU`)."""

    box: Box  # the coordinate-wise median
    label: str
    support: float  # share of samples with a box in this cluster


@dataclass(frozen=True)
class Consistency:
    agreement: float
    majority: str
    samples: int
    clusters: tuple[BoxCluster, ...]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def cluster_boxes(
    samples: Sequence[Sequence[Finding]], *, iou: float = CLUSTER_IOU
) -> tuple[BoxCluster, ...]:
    """Greedy IoU clustering of boxes across samples; support counts each sample once."""
    members: list[list[tuple[int, Finding]]] = []
    for s, findings in enumerate(samples):
        for finding in findings:
            if finding.box is None:
                continue
            best, best_iou = None, iou
            for c, cluster in enumerate(members):
                anchor = cluster[0][1].box
                assert anchor is not None
                value = anchor.iou(finding.box)
                if value >= best_iou:
                    best, best_iou = c, value
            if best is None:
                members.append([(s, finding)])
            else:
                members[best].append((s, finding))
    k = max(len(samples), 1)
    out = []
    for cluster in members:
        boxes = [f.box for _, f in cluster if f.box is not None]
        median = Box(*(_median([b.as_tuple()[i] for b in boxes]) for i in range(4)))
        label = Counter(f.label for _, f in cluster).most_common(1)[0][0]
        out.append(BoxCluster(median, label, len({s for s, _ in cluster}) / k))
    return tuple(sorted(out, key=lambda c: -c.support))


def self_consistency(samples: Sequence[Answer]) -> Consistency | None:
    """Agreement over ``k`` sampled answers to one question; None for fewer than two."""
    if len(samples) < 2:
        return None
    keys = [normalize_answer(a.answer) for a in samples]
    majority, count = Counter(keys).most_common(1)[0]
    clusters = cluster_boxes([a.findings for a in samples])
    return Consistency(count / len(samples), majority, len(samples), clusters)


def combine(
    *,
    logprob: float | None = None,
    consistency: float | None = None,
    stated: float | None = None,
) -> tuple[float | None, ConfidenceSource]:
    """The module's rule: the lowest measured estimate, else the stated one, else none."""
    measured: list[tuple[float, ConfidenceSource]] = []
    if logprob is not None:
        measured.append((logprob, "logprobs"))
    if consistency is not None:
        measured.append((consistency, "self-consistency"))
    if measured:
        return min(measured, key=lambda m: m[0])
    if stated is not None:
        return stated, "stated"
    return None, "none"


def _support_for(finding: Finding, clusters: tuple[BoxCluster, ...]) -> float | None:
    if finding.box is None:
        return None
    best = max(clusters, key=lambda c: c.box.iou(finding.box) if finding.box else 0.0, default=None)
    if best is None or best.box.iou(finding.box) < CLUSTER_IOU:
        return None
    return best.support


def assess(
    answer: Answer,
    *,
    token_logprobs: Sequence[float] | None = None,
    samples: Sequence[Answer] = (),
    reduce: Literal["mean", "min"] = "mean",
) -> Answer:
    """``answer`` with its confidence set by :func:`combine` and its source named.

    ``token_logprobs`` are those of the answer's tokens (see :func:`answer_token_logprobs`);
    ``samples`` are further answers to the same question (the answer itself is counted as one
    of them). With samples, each finding's confidence is its box cluster's support.
    """
    logprob = from_logprobs(token_logprobs, reduce=reduce) if token_logprobs else None
    consistency = None
    findings = answer.findings
    if samples:
        result = self_consistency([answer, *samples])
        if result is not None:
            consistency = result.agreement
            findings = tuple(
                replace(f, confidence=_support_for(f, result.clusters)) for f in answer.findings
            )
    value, source = combine(
        logprob=logprob, consistency=consistency, stated=answer.stated_confidence
    )
    out = replace(answer, confidence=value, confidence_source=source, findings=findings)
    stated = answer.stated_confidence
    measured = source in ("logprobs", "self-consistency")
    if measured and stated is not None and value is not None and stated - value > OVERSTATEMENT_GAP:
        out = out.with_warnings(
            f"The model says it is {stated:.0%} sure, but its answers support only {value:.0%}."
        )
    if source == "stated":
        out = out.with_warnings("Confidence is the model's own statement, which is often too high.")
    return out


def describe(confidence: float | None) -> ConfidenceLevel:
    """The word for a 0..1 confidence: "low" (< :data:`LOW_CONFIDENCE`), "moderate"
    (< :data:`HIGH_CONFIDENCE`), "high", or "unknown" (None or not a number)."""
    if confidence is None or not math.isfinite(confidence):
        return "unknown"
    if confidence < LOW_CONFIDENCE:
        return "low"
    return "moderate" if confidence < HIGH_CONFIDENCE else "high"
