"""Confidence from log-probabilities, self-consistency and the model's statement."""

from __future__ import annotations

import math

import pytest

from voxrad.assistant.checks.confidence import (
    answer_token_logprobs,
    assess,
    cluster_boxes,
    combine,
    describe,
    from_logprobs,
    normalize_answer,
    self_consistency,
)
from voxrad.assistant.reply.answers import parse_answer
from voxrad.core.conversation import Answer, Box, Finding


def test_from_logprobs_mean_and_min() -> None:
    lps = [math.log(0.9), math.log(0.5), math.log(0.8)]
    assert from_logprobs(lps) == pytest.approx((0.9 * 0.5 * 0.8) ** (1 / 3))
    assert from_logprobs(lps, reduce="min") == pytest.approx(0.5)
    assert from_logprobs([]) is None
    assert from_logprobs([float("nan"), float("-inf")]) is None
    assert from_logprobs([0.0]) == 1.0


def test_answer_tokens_exclude_reasoning_boxes_and_confidence_line() -> None:
    tokens = [
        "I",
        " think",
        " so",
        ".",
        "\nFinal Answer:",
        " Yes",
        ",",
        " effusion",
        ".",
        "\n```json",
        '\n[{"box_2d"',
        ": [1,2,3,4]}]",
        "\n```",
        "\nConfidence",
        ": 90%",
    ]
    lps = [-0.1 * n for n in range(len(tokens))]
    picked = answer_token_logprobs(tokens, lps)
    # " Yes", ",", " effusion", "." are tokens 5..8
    assert picked == pytest.approx([-0.5, -0.6, -0.7, -0.8])


def test_answer_tokens_after_think() -> None:
    tokens = ["<think>", "hmm", "</think>", "No", "."]
    assert answer_token_logprobs(tokens, [-1, -2, -3, -0.1, -0.2]) == [-0.1, -0.2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes, there is a nodule.", "yes"),
        ("yes", "yes"),
        ("No.", "no"),
        ("Not enlarged", "no"),
        ("The heart is Enlarged!", "heart is enlarged"),
        ("  T2 weighted ", "t2 weighted"),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_self_consistency_agreement_and_box_clusters() -> None:
    near = Finding("nodule", Box(100, 100, 200, 200))
    near2 = Finding("nodule", Box(105, 98, 205, 195))
    far = Finding("scar", Box(400, 400, 450, 450))
    samples = [
        Answer("Yes, a nodule.", findings=(near,)),
        Answer("yes", findings=(near2,)),
        Answer("No.", findings=(far,)),
        Answer("Yes.", findings=(near, far)),
    ]
    result = self_consistency(samples)
    assert result is not None
    assert (result.agreement, result.majority, result.samples) == (0.75, "yes", 4)
    top, second = result.clusters
    assert (top.label, top.support) == ("nodule", 0.75)
    assert second.support == 0.5
    # Median of x0 over 100, 105, 100 -> 100; of y1 over 200, 195, 200 -> 200.
    assert top.box == Box(100, 100, 200, 200)
    assert self_consistency(samples[:1]) is None


def test_cluster_counts_a_sample_once() -> None:
    a = Finding("x", Box(0, 0, 10, 10))
    clusters = cluster_boxes([[a, a], []])
    assert clusters[0].support == 0.5


def test_combine_rule() -> None:
    assert combine() == (None, "none")
    assert combine(stated=0.9) == (0.9, "stated")
    assert combine(logprob=0.8, stated=0.9) == (0.8, "logprobs")
    assert combine(logprob=0.8, consistency=0.6, stated=0.95) == (0.6, "self-consistency")
    assert combine(logprob=0.4, consistency=0.6) == (0.4, "logprobs")


def test_assess_prefers_measured_and_warns_on_overstatement() -> None:
    answer = parse_answer(
        "Final Answer: Yes. Confidence: 95%", family="medgemma", image_size=(9, 9)
    )
    out = assess(answer, token_logprobs=[math.log(0.5)])
    assert (out.confidence, out.confidence_source) == (pytest.approx(0.5), "logprobs")
    assert out.stated_confidence == pytest.approx(0.95)
    assert any("95% sure" in w for w in out.warnings)

    stated_only = assess(answer)
    assert (stated_only.confidence, stated_only.confidence_source) == (0.95, "stated")
    assert any("own statement" in w for w in stated_only.warnings)

    nothing = assess(parse_answer("Final Answer: Yes.", family="medgemma", image_size=(9, 9)))
    assert (nothing.confidence, nothing.confidence_source) == (None, "none")


def test_assess_with_samples_sets_finding_support() -> None:
    box = Box(10, 10, 50, 50)
    main = Answer("yes", findings=(Finding("n", box), Finding("m", Box(80, 80, 90, 90))))
    samples = [Answer("yes", findings=(Finding("n", Box(12, 10, 50, 52)),)), Answer("no")]
    out = assess(main, samples=samples)
    assert out.confidence_source == "self-consistency"
    assert out.confidence == pytest.approx(2 / 3)
    assert out.findings[0].confidence == pytest.approx(2 / 3)
    assert out.findings[1].confidence == pytest.approx(1 / 3)


def test_describe() -> None:
    assert [describe(v) for v in (None, 0.2, 0.6, 0.9)] == ["unknown", "low", "moderate", "high"]
