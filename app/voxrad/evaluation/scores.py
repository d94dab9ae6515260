"""From the records of a run to its numbers (formulas in :mod:`voxrad.evaluation.metrics`).

Scores are computed from ``results.jsonl`` every time, never stored per item, so a fixed
metric applies to old runs without asking the model again. A record that failed with an error
counts as a wrong, empty answer (and is listed under ``errors``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from voxrad.core.conversation import Box
from voxrad.evaluation import metrics

N_BINS = 10


def _prediction(record: dict[str, Any]) -> str:
    return str(record.get("prediction") or "")


def vqa_item_scores(record: dict[str, Any]) -> dict[str, Any]:
    """``correct`` for closed questions; ``recall`` and ``f1`` for open ones; and ``match``
    (the calibration target: closed -> correct, open -> true answer contained)."""
    pred, truth = _prediction(record), str(record["answer"])
    if record["answer_type"] == "CLOSED":
        correct = metrics.closed_correct(pred, truth)
        return {"correct": correct, "match": correct}
    return {
        "recall": metrics.token_recall(pred, truth),
        "f1": metrics.token_f1(pred, truth),
        "match": metrics.contains_answer(pred, truth),
    }


def _vqa_group(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    closed = [vqa_item_scores(r) for r in records if r["answer_type"] == "CLOSED"]
    opened = [vqa_item_scores(r) for r in records if r["answer_type"] == "OPEN"]
    return {
        "n": len(records),
        "closed_n": len(closed),
        "closed_accuracy": metrics.mean([float(s["correct"]) for s in closed]),
        "open_n": len(opened),
        "open_recall": metrics.mean([s["recall"] for s in opened]),
        "open_f1": metrics.mean([s["f1"] for s in opened]),
    }


def _by(records: Sequence[dict[str, Any]], field: str) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(str(r.get(field) or "UNKNOWN"), []).append(r)
    return {k: _vqa_group(v) for k, v in sorted(groups.items())}


def calibration(
    confidences: Sequence[float], correct: Sequence[bool], missing: int
) -> dict[str, Any]:
    """ECE and reliability bins; ``missing`` counts answers that showed no confidence."""
    bins = metrics.reliability_bins(confidences, correct, n_bins=N_BINS)
    return {
        "n": len(confidences),
        "n_without_confidence": missing,
        "ece": metrics.expected_calibration_error(confidences, correct, n_bins=N_BINS),
        "bins": [
            {
                "lower": b.lower,
                "upper": b.upper,
                "count": b.count,
                "mean_confidence": b.mean_confidence,
                "accuracy": b.accuracy,
            }
            for b in bins
        ],
    }


def summarize_vqa(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Per condition ("image", "blank"): overall, per question type, per organ, latency,
    errors; calibration of the shown confidence on the "image" condition."""
    by_condition: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_condition.setdefault(str(r["condition"]), []).append(r)
    out: dict[str, Any] = {"conditions": {}}
    for cond, recs in by_condition.items():
        out["conditions"][cond] = {
            "overall": _vqa_group(recs),
            "by_question_type": _by(recs, "question_type"),
            "by_organ": _by(recs, "organ"),
            "latency": metrics.latency_summary([float(r["latency_s"]) for r in recs]),
            "errors": sum(1 for r in recs if r.get("error")),
        }
    shown = [r for r in by_condition.get("image", []) if not r.get("error")]
    rated = [r for r in shown if r.get("confidence") is not None]
    out["calibration"] = calibration(
        [float(r["confidence"]) for r in rated],
        [bool(vqa_item_scores(r)["match"]) for r in rated],
        len(shown) - len(rated),
    )
    return out


# -- grounding --------------------------------------------------------------------------------
def predicted_boxes(record: dict[str, Any]) -> list[tuple[Box, float | None]]:
    """(box, confidence) of each finding with a box; a finding without its own confidence
    takes the answer's. Order: as the model gave them."""
    out = []
    for f in record.get("findings") or []:
        if f.get("box") is None:
            continue
        conf = f.get("confidence")
        conf = record.get("confidence") if conf is None else conf
        out.append((Box(*(float(v) for v in f["box"])), None if conf is None else float(conf)))
    return out


def _top(preds: list[tuple[Box, float | None]]) -> Box | None:
    """The most confident box (the first one on ties or without confidences)."""
    if not preds:
        return None
    ranked = sorted(range(len(preds)), key=lambda i: -(preds[i][1] or 0.0))
    return preds[ranked[0]][0]


def summarize_grounding(
    records: Sequence[dict[str, Any]], *, iou_threshold: float = 0.5
) -> dict[str, Any]:
    """Mean IoU and hit rate of the top box, AP per label and mAP, false alarms, latency,
    and calibration of box confidences (a box is right when IoU >= ``iou_threshold``).

    * ``mean_iou``: over queries with at least one true box, the IoU of the most confident
      predicted box with its best-matching true box (0 when no box was predicted).
    * ``hit_rate``: the share of those queries where that IoU is at least ``iou_threshold``.
    * ``map``: mean over labels with a true box of VOC all-point AP at ``iou_threshold``
      (:func:`~voxrad.evaluation.metrics.average_precision`), boxes without any confidence
      ranked as 0.
    * ``false_alarm_rate``: over queries with no true box, the share with any predicted box.
    """
    positives = [r for r in records if r["truth"]]
    negatives = [r for r in records if not r["truth"]]
    ious = []
    for r in positives:
        truth = [Box(*t) for t in r["truth"]]
        top = _top(predicted_boxes(r))
        ious.append(0.0 if top is None else metrics.best_iou(top, truth))
    labels = sorted({str(r["label"]) for r in records})
    ap: dict[str, float | None] = {}
    for label in labels:
        recs = [r for r in records if r["label"] == label]
        dets = [
            metrics.Detection(str(r["id"]), box, conf or 0.0)
            for r in recs
            for box, conf in predicted_boxes(r)
        ]
        truths: dict[str, Sequence[Box]] = {
            str(r["id"]): [Box(*t) for t in r["truth"]] for r in recs
        }
        ap[label] = metrics.average_precision(dets, truths, iou_threshold=iou_threshold)
    defined = [v for v in ap.values() if v is not None]
    confs, right, missing = [], [], 0
    for r in records:
        if r.get("error"):
            continue
        truth = [Box(*t) for t in r["truth"]]
        for box, conf in predicted_boxes(r):
            if conf is None:
                missing += 1
                continue
            confs.append(conf)
            right.append(metrics.best_iou(box, truth) >= iou_threshold)
    return {
        "iou_threshold": iou_threshold,
        "queries": len(records),
        "queries_with_boxes": len(positives),
        "mean_iou": metrics.mean(ious),
        "hit_rate": metrics.mean([float(v >= iou_threshold) for v in ious]),
        "ap_by_label": ap,
        "map": metrics.mean(defined),
        "false_alarm_rate": metrics.mean([float(bool(predicted_boxes(r))) for r in negatives]),
        "latency": metrics.latency_summary([float(r["latency_s"]) for r in records]),
        "errors": sum(1 for r in records if r.get("error")),
        "calibration": calibration(confs, right, missing),
    }
