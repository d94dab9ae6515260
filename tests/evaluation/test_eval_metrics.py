"""The metrics on hand-made cases whose values are worked out in the comments."""

from __future__ import annotations

import random

import numpy as np
import pytest

from voxrad.core.conversation import Box
from voxrad.evaluation import metrics
from voxrad.evaluation.metrics import Detection, average_precision


def test_normalize_text_lowercases_splits_punctuation_and_drops_articles() -> None:
    assert metrics.normalize_text("The Non-Contrast CT.") == "non contrast ct"
    assert metrics.normalize_text("  An   AP film, a view ") == "ap film view"
    assert metrics.tokens("") == []


@pytest.mark.parametrize(
    ("prediction", "truth", "expected"),
    [
        ("Yes, there is a nodule.", "yes", True),
        ("yes", "Yes", True),
        ("No.", "yes", False),
        ("Absent.", "no", True),
        # Polarity comes from the first word only: a hedge is not an answer.
        ("There is no effusion", "no", False),
        ("", "yes", False),
        ("This is a PA film.", "PA", True),
        ("AP", "PA", False),
        ("contrast CT", "Non-contrast CT", False),
        ("It is a non-contrast CT", "Non-contrast CT", True),
    ],
)
def test_closed_correct(prediction: str, truth: str, expected: bool) -> None:
    assert metrics.closed_correct(prediction, truth) is expected


def test_open_recall_and_f1_by_hand() -> None:
    # pred [t2, weighted, mri], truth [t2, weighted]: recall 2/2; P = 2/3, R = 1, F1 = 0.8.
    assert metrics.token_recall("T2 weighted MRI", "T2 weighted") == 1.0
    assert metrics.token_f1("T2 weighted MRI", "T2 weighted") == pytest.approx(0.8)
    # pred [axial, plane] ("the" dropped), truth [axial]: P = 1/2, R = 1, F1 = 2/3.
    assert metrics.token_f1("The axial plane", "Axial") == pytest.approx(2 / 3)
    assert metrics.token_recall("weighted", "T2 weighted") == 0.5
    assert metrics.token_recall("T1", "T2 weighted") == 0.0
    assert metrics.token_f1("T1", "T2 weighted") == 0.0
    # Repeated tokens: SQuAD F1 counts the multiset, recall counts distinct tokens.
    assert metrics.token_f1("left left", "left") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert metrics.token_recall("left left", "left") == 1.0


def test_text_metric_edge_cases() -> None:
    assert metrics.token_recall("anything", "the") == 0.0  # truth empty after normalising
    assert metrics.token_f1("the", "a") == 1.0  # both empty: identical
    assert metrics.token_f1("", "yes") == 0.0
    assert metrics.mean([]) is None


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(12, 0, -1)]  # order does not matter
    # rank = q/100 * 11: p50 -> 5.5 -> 6.5; p90 -> 9.9 -> 10.9; p99 -> 10.89 -> 11.89
    assert metrics.percentile(values, 50) == pytest.approx(6.5)
    assert metrics.percentile(values, 90) == pytest.approx(10.9)
    assert metrics.percentile(values, 99) == pytest.approx(11.89)
    assert metrics.percentile([3.0], 99) == 3.0
    assert metrics.percentile([], 50) is None
    rng = np.random.default_rng(0)
    for _ in range(20):
        data = rng.exponential(2.0, size=int(rng.integers(1, 50))).tolist()
        for q in (50, 90, 99):
            assert metrics.percentile(data, q) == pytest.approx(float(np.percentile(data, q)))


def test_latency_summary_of_nothing() -> None:
    assert metrics.latency_summary([]) == {
        "n": 0,
        "mean_s": None,
        "p50_s": None,
        "p90_s": None,
        "p99_s": None,
    }


# -- average precision ------------------------------------------------------------------------
T1 = Box(0, 0, 10, 10)
T2 = Box(20, 20, 30, 30)
FAR = Box(50, 50, 60, 60)


def test_ap_undefined_without_truth_and_zero_without_predictions() -> None:
    assert average_precision([Detection("a", T1, 0.9)], {"a": []}) is None
    assert average_precision([], {}) is None
    assert average_precision([], {"a": [T1]}) == 0.0


def test_ap_all_wrong_and_perfect() -> None:
    wrong = [Detection("a", FAR, 0.9), Detection("a", FAR, 0.8)]
    assert average_precision(wrong, {"a": [T1]}) == 0.0
    perfect = [Detection("a", T1, 0.9), Detection("b", T2, 0.1)]
    assert average_precision(perfect, {"a": [T1], "b": [T2]}) == 1.0


def test_ap_a_duplicate_is_a_false_positive() -> None:
    dets = [Detection("a", T1, 0.9), Detection("a", T1, 0.8), Detection("a", T2, 0.7)]
    # TP, FP (T1 already claimed), TP: precision 1, 1/2, 2/3; recall 1/2, 1/2, 1.
    # AP = 1/2 * 1 + 0 * 1/2... envelope: max_{j>=k} p_j = 1, 2/3, 2/3 -> 0.5*1 + 0.5*2/3.
    assert average_precision(dets, {"a": [T1, T2]}) == pytest.approx(0.5 + 1 / 3)


def test_ap_ties_in_confidence_keep_input_order() -> None:
    fp_first = [Detection("a", FAR, 0.5), Detection("a", T1, 0.5)]
    tp_first = [Detection("a", T1, 0.5), Detection("a", FAR, 0.5)]
    # FP then TP: precision 0, 1/2 and recall 0, 1 -> AP 1/2. TP then FP -> AP 1.
    assert average_precision(fp_first, {"a": [T1]}) == 0.5
    assert average_precision(tp_first, {"a": [T1]}) == 1.0


def test_ap_iou_threshold_is_inclusive_and_boxes_match_within_their_group() -> None:
    half = Box(0, 0, 10, 20)  # IoU with T1 = 100 / 200 = 0.5 exactly
    assert average_precision([Detection("a", half, 1.0)], {"a": [T1]}) == 1.0
    assert average_precision([Detection("a", half, 1.0)], {"a": [T1]}, iou_threshold=0.51) == 0.0
    # The right box in the wrong image is a false positive.
    assert average_precision([Detection("b", T1, 1.0)], {"a": [T1], "b": []}) == 0.0


def test_ap_voc_example_by_hand() -> None:
    truths = {"img1": [T1, T2], "img2": [T1]}
    dets = [
        Detection("img1", T1, 0.95),  # TP  p=1    r=1/3
        Detection("img2", FAR, 0.9),  # FP  p=1/2  r=1/3
        Detection("img2", T1, 0.8),  # TP  p=2/3  r=2/3
        Detection("img1", FAR, 0.3),  # FP  p=1/2  r=2/3
        Detection("img1", T2, 0.2),  # TP  p=3/5  r=1
    ]
    # envelope: 1, 2/3, 2/3, 3/5, 3/5; AP = 1/3*1 + 1/3*2/3 + 1/3*3/5
    assert average_precision(dets, truths) == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)


# -- calibration --------------------------------------------------------------------------------
def test_bins_are_right_closed_with_zero_in_the_first() -> None:
    bins = metrics.reliability_bins([0.0, 0.1, 0.3, 0.7, 1.0], [True] * 5)
    counts = [b.count for b in bins]
    assert counts == [2, 0, 1, 0, 0, 0, 1, 0, 0, 1]
    assert bins[2].lower == pytest.approx(0.2) and bins[2].upper == pytest.approx(0.3)
    assert bins[1].mean_confidence is None and bins[1].accuracy is None


def test_ece_on_known_toy_distributions() -> None:
    # 80 % right at confidence 0.8: perfectly calibrated.
    assert metrics.expected_calibration_error(
        [0.8] * 10, [True] * 8 + [False] * 2
    ) == pytest.approx(0.0, abs=1e-12)
    # 40 answers at 0.3 with 12 right (acc 0.3, gap 0) and 60 at 0.9 with 30 right (gap 0.4):
    # ECE = 0.4 * 0 + 0.6 * 0.4 = 0.24.
    conf = [0.3] * 40 + [0.9] * 60
    right = [True] * 12 + [False] * 28 + [True] * 30 + [False] * 30
    assert metrics.expected_calibration_error(conf, right) == pytest.approx(0.24)
    # Always sure, always wrong: ECE 1.
    assert metrics.expected_calibration_error([1.0] * 3, [False] * 3) == 1.0
    assert metrics.expected_calibration_error([], []) is None


def test_ece_of_a_calibrated_sampler_is_small_and_of_an_overconfident_one_is_its_gap() -> None:
    rng = random.Random(0)
    conf = [rng.random() for _ in range(20_000)]
    right = [rng.random() < c for c in conf]
    assert metrics.expected_calibration_error(conf, right) < 0.02
    # The same answers shown with confidence raised by 0.2 (capped): a gap of about 0.2.
    shown = [min(c + 0.2, 1.0) for c in conf]
    assert metrics.expected_calibration_error(shown, right) == pytest.approx(0.18, abs=0.02)


def test_calibration_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="outside"):
        metrics.reliability_bins([1.2], [True])
    with pytest.raises(ValueError, match="same length"):
        metrics.reliability_bins([0.5], [])
    with pytest.raises(ValueError, match="n_bins"):
        metrics.reliability_bins([0.5], [True], n_bins=0)
