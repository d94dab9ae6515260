"""Scores for medical VQA and grounding, as pure functions with their formulas stated.

Text normalisation (:func:`normalize_text`), used by every text metric: lower case; every
punctuation character becomes a space (so "non-contrast" is "non contrast", not "noncontrast");
the articles "a", "an", "the" are removed; runs of white space collapse. Tokens are the words
that remain.

* **Closed questions** (:func:`closed_correct`): when the true answer is yes or no, the
  prediction's *polarity* decides: its first token among :data:`YES_WORDS` means yes, among
  :data:`NO_WORDS` means no, anything else is wrong. Otherwise (e.g. "PA", "Non-contrast CT")
  the prediction is right when the true answer's tokens appear in it as one contiguous run.
* **Open questions**: recall (:func:`token_recall`) is the share of the true answer's tokens
  found in the prediction (LLaVA-Med's open-question recall, per distinct token); token F1
  (:func:`token_f1`) is SQuAD's F1 over the multiset of tokens.
* **Latency** (:func:`percentile`): linear interpolation between closest ranks (numpy's default).
* **Grounding**: :func:`average_precision` is PASCAL VOC 2010+ all-point interpolated AP at
  one IoU threshold (0.5 by default), predictions ranked by confidence, see its docstring.
* **Calibration**: :func:`reliability_bins` and :func:`expected_calibration_error` with equal-
  width bins over [0, 1].
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from voxrad.core.conversation import Box

YES_WORDS = frozenset({"yes", "yeah", "yep", "true", "present", "positive", "correct"})
NO_WORDS = frozenset({"no", "not", "none", "absent", "false", "negative", "nope"})
_ARTICLES = frozenset({"a", "an", "the"})
_PUNCT = re.compile("[" + re.escape(string.punctuation) + "‘’“”–—]")


def normalize_text(text: str) -> str:
    """Lower case, punctuation to spaces, no articles, single spaces (see module docstring)."""
    words = _PUNCT.sub(" ", str(text).lower()).split()
    return " ".join(w for w in words if w not in _ARTICLES)


def tokens(text: str) -> list[str]:
    """The tokens of ``normalize_text(text)``."""
    return normalize_text(text).split()


def polarity(text: str) -> str | None:
    """ "yes", "no" or None, from the first token of the normalised text."""
    words = tokens(text)
    if not words:
        return None
    if words[0] in YES_WORDS:
        return "yes"
    if words[0] in NO_WORDS:
        return "no"
    return None


def contains_answer(prediction: str, truth: str) -> bool:
    """True when the truth's tokens appear in the prediction as one contiguous run."""
    want, got = tokens(truth), tokens(prediction)
    if not want:
        return False
    n = len(want)
    return any(got[i : i + n] == want for i in range(len(got) - n + 1))


def closed_correct(prediction: str, truth: str) -> bool:
    """Whether a closed-question prediction is right (yes/no by polarity, else containment)."""
    wanted = polarity(truth)
    if wanted is not None and len(tokens(truth)) == 1:
        return polarity(prediction) == wanted
    return contains_answer(prediction, truth)


def token_recall(prediction: str, truth: str) -> float:
    """|distinct truth tokens present in the prediction| / |distinct truth tokens|; 0 if empty."""
    want = set(tokens(truth))
    if not want:
        return 0.0
    return len(want & set(tokens(prediction))) / len(want)


def token_f1(prediction: str, truth: str) -> float:
    """SQuAD token F1: 2PR/(P+R) with P, R over the multiset overlap; 1.0 when both are empty."""
    pred, gold = tokens(prediction), tokens(truth)
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, None for no values (a score of nothing is not zero)."""
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks.

    With sorted values ``v[0..n-1]``, rank ``r = q/100 * (n - 1)``, and the result
    ``v[floor r] + (r - floor r) * (v[ceil r] - v[floor r])``. None for no values.
    """
    if not values:
        return None
    ordered = sorted(float(v) for v in values)
    rank = min(max(q, 0.0), 100.0) / 100.0 * (len(ordered) - 1)
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (rank - lo) * (ordered[hi] - ordered[lo])


def latency_summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean, p50, p90 and p99 of latencies in seconds."""
    return {
        "n": len(values),
        "mean_s": mean(values),
        "p50_s": percentile(values, 50),
        "p90_s": percentile(values, 90),
        "p99_s": percentile(values, 99),
    }


# -- grounding --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Detection:
    """One predicted box for a query: ``group`` says which query (image + label) it answers."""

    group: str
    box: Box
    confidence: float


def best_iou(box: Box, others: Sequence[Box]) -> float:
    """The largest IoU of ``box`` with any of ``others`` (0 when there are none)."""
    return max((box.iou(o) for o in others), default=0.0)


def average_precision(
    detections: Sequence[Detection],
    truths: dict[str, Sequence[Box]],
    *,
    iou_threshold: float = 0.5,
) -> float | None:
    """PASCAL VOC all-point interpolated average precision at one IoU threshold.

    Detections of all groups are ranked by confidence, highest first; equal confidences keep
    their input order (a stable sort, so the result is reproducible). Walking down the ranking,
    a detection is a true positive when its best-IoU true box in the same group is still
    unmatched and the IoU is at least ``iou_threshold``; otherwise (a lower IoU, or the box was
    already claimed) it is a false positive. With precision ``p_k`` and recall ``r_k`` after
    ``k`` detections, AP = sum over k of ``(r_k - r_{k-1}) * max_{j >= k} p_j``: the area under
    the precision envelope, all points (VOC 2010 onwards, not the 11-point variant).

    Returns None when there is no true box at all (AP is undefined), 0.0 when there are true
    boxes but no detections.
    """
    n_true = sum(len(v) for v in truths.values())
    if n_true == 0:
        return None
    order = sorted(range(len(detections)), key=lambda i: -detections[i].confidence)
    claimed: dict[str, set[int]] = {g: set() for g in truths}
    tp_flags: list[bool] = []
    for i in order:
        det = detections[i]
        boxes = truths.get(det.group, ())
        best, best_j = 0.0, -1
        for j, truth in enumerate(boxes):
            value = det.box.iou(truth)
            if value > best:
                best, best_j = value, j
        hit = best_j >= 0 and best >= iou_threshold and best_j not in claimed[det.group]
        if hit:
            claimed[det.group].add(best_j)
        tp_flags.append(hit)
    precisions, recalls = [], []
    tp = 0
    for k, flag in enumerate(tp_flags, start=1):
        tp += flag
        precisions.append(tp / k)
        recalls.append(tp / n_true)
    ap, previous_recall = 0.0, 0.0
    envelope = 0.0
    # The envelope max_{j >= k} p_j, computed from the end.
    envelopes = [0.0] * len(precisions)
    for k in range(len(precisions) - 1, -1, -1):
        envelope = max(envelope, precisions[k])
        envelopes[k] = envelope
    for k, recall in enumerate(recalls):
        ap += (recall - previous_recall) * envelopes[k]
        previous_recall = recall
    return ap


# -- calibration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReliabilityBin:
    """Bin ``(lower, upper]`` (the first also holds 0): its count, mean confidence, accuracy."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


def _bin_index(confidence: float, n_bins: int) -> int:
    # (i/M, (i+1)/M] with 0 in the first bin: ceil(c*M) - 1, clamped. Rounding first keeps
    # 0.3 * 10 = 3.0000000000000004 in the bin whose upper edge is 0.3, where it belongs.
    return min(max(math.ceil(round(confidence * n_bins, 9)) - 1, 0), n_bins - 1)


def reliability_bins(
    confidences: Sequence[float], correct: Sequence[bool], *, n_bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width bins of the confidence over [0, 1] with each bin's accuracy.

    Raises
    ------
    ValueError
        When the sequences differ in length, ``n_bins < 1`` or a confidence is outside [0, 1].
    """
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct must have the same length")
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    members: list[list[int]] = [[] for _ in range(n_bins)]
    for i, c in enumerate(confidences):
        if not (0.0 <= c <= 1.0) or math.isnan(c):
            raise ValueError(f"confidence {c} is outside [0, 1]")
        members[_bin_index(c, n_bins)].append(i)
    out = []
    for b, idx in enumerate(members):
        conf = mean([float(confidences[i]) for i in idx])
        acc = mean([float(bool(correct[i])) for i in idx])
        out.append(ReliabilityBin(b / n_bins, (b + 1) / n_bins, len(idx), conf, acc))
    return out


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], *, n_bins: int = 10
) -> float | None:
    """ECE = sum over bins of ``(n_b / N) * |accuracy_b - mean confidence_b|``; None if N = 0."""
    if not confidences:
        return None
    n = len(confidences)
    total = 0.0
    for b in reliability_bins(confidences, correct, n_bins=n_bins):
        if b.count and b.accuracy is not None and b.mean_confidence is not None:
            total += b.count / n * abs(b.accuracy - b.mean_confidence)
    return total
