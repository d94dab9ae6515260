"""The VQA harness on the real VQA-RAD sample with scripted answers scored by hand."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from eval_fakes import FakeAnswerer, Scripted

from voxrad.evaluation.evaluate import evaluate_vqa
from voxrad.evaluation.runner import RESULTS_FILE, RunFolderError

# question -> (scripted answer, confidence); comments give the hand score against the truth.
SCRIPT = {
    # 1198 CLOSED ORGAN CHEST truth "yes": right (polarity yes)
    "Does this radiograph contain parts of the cardiovascular system?": ("Yes, the heart.", 0.9),
    # 1202 CLOSED SIZE CHEST truth "No": wrong
    "Is the heart enlarged?": ("Yes, it is enlarged.", 0.8),
    # 2130 CLOSED MODALITY CHEST truth "PA": right ("pa" appears in the answer)
    "Is this a PA or AP film?": ("This is a PA film.", 0.7),
    # 2131 OPEN MODALITY CHEST truth "PA": recall 0, F1 0
    "What laterality is this film?": ("AP", 0.6),
    # 1204 CLOSED PRES HEAD truth "No": right
    "Is there acute blood present on this head CT?": ("No acute blood.", 0.9),
    # 1248 CLOSED MODALITY HEAD truth "Non-contrast CT": wrong ("non contrast ct" not in it)
    "Is this a contrast CT or a non-contrast CT?": ("contrast CT", 0.5),
    # 1494 OPEN MODALITY HEAD truth "T2 weighted": recall 1, F1 0.8
    "MRI imaging modality used for this image?": ("T2 weighted MRI", 0.8),
    # 1495 OPEN MODALITY HEAD truth "T2 weighted": recall 0, F1 0, no confidence shown
    "What type of MRI is used to acquire this image?": ("T1", None),
    # 55 CLOSED SIZE ABD truth "Yes": right
    "Is the spleen normal size?": ("yes", 1.0),
    # 56 CLOSED SIZE ABD truth "Yes": wrong
    "Is/Are the spleen normal size?": ("No", 0.3),
    # 2327 OPEN PLANE ABD truth "Axial": recall 1, F1 2/3
    "Which plane is the image in?": ("The axial plane", 0.95),
    # 3327 OPEN PRES ABD truth "nephroblastomatosis": recall 0, F1 0
    "What is the hypodensity on the posteriolateral edge of the left kidney?": (
        "Wilms tumor",
        0.2,
    ),
}


def fake(**kwargs: object) -> FakeAnswerer:
    # Latencies 1..12 s in file order with the image, 0.5 s each with the blank image.
    script = {
        q: Scripted(text, conf, latency=float(n))
        for n, (q, (text, conf)) in enumerate(SCRIPT.items(), start=1)
    }
    return FakeAnswerer(script, blank=Scripted("No", 0.5, latency=0.5), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def sample(shared_data: Path) -> Path:
    return shared_data / "vqa-rad-sample"


def run(sample: Path, out: Path, answerer: FakeAnswerer, **kwargs: object):  # type: ignore[no-untyped-def]
    return evaluate_vqa(
        sample, answerer, out, progress=io.StringIO(), clock=answerer.clock, **kwargs
    )


def test_scores_on_the_real_sample_match_the_hand_computation(sample: Path, tmp_path: Path) -> None:
    answerer = fake()
    outcome = run(sample, tmp_path / "run", answerer)
    image = outcome.summary["conditions"]["image"]
    # Closed: 1198, 2130, 1204, 55 right of 7 -> 4/7. Open (5): recall (1 + 1) / 5 = 0.4,
    # F1 (0.8 + 2/3) / 5.
    assert image["overall"] == {
        "n": 12,
        "closed_n": 7,
        "closed_accuracy": pytest.approx(4 / 7),
        "open_n": 5,
        "open_recall": pytest.approx(0.4),
        "open_f1": pytest.approx((0.8 + 2 / 3) / 5),
    }
    by_type = image["by_question_type"]
    assert set(by_type) == {"ORGAN", "SIZE", "MODALITY", "PRES", "PLANE"}
    assert by_type["SIZE"]["closed_accuracy"] == pytest.approx(1 / 3)  # 1202 x, 55 v, 56 x
    assert by_type["MODALITY"]["closed_accuracy"] == 0.5  # 2130 v, 1248 x
    assert by_type["MODALITY"]["open_recall"] == pytest.approx(1 / 3)  # 2131, 1494, 1495
    assert by_type["MODALITY"]["open_f1"] == pytest.approx(0.8 / 3)
    assert by_type["PLANE"]["open_f1"] == pytest.approx(2 / 3)
    assert by_type["PLANE"]["closed_accuracy"] is None  # no closed PLANE question
    by_organ = image["by_organ"]
    assert by_organ["CHEST"]["closed_accuracy"] == pytest.approx(2 / 3)
    assert by_organ["HEAD"]["open_recall"] == 0.5 and by_organ["HEAD"]["open_f1"] == 0.4
    assert by_organ["ABD"]["open_f1"] == pytest.approx(1 / 3)
    # Latencies 1..12 s: p50 6.5, p90 10.9, p99 11.89 (linear interpolation).
    assert image["latency"]["p50_s"] == pytest.approx(6.5)
    assert image["latency"]["p90_s"] == pytest.approx(10.9)
    assert image["latency"]["p99_s"] == pytest.approx(11.89)
    assert image["errors"] == 0


def test_blank_image_baseline_asks_the_same_questions_without_the_picture(
    sample: Path, tmp_path: Path
) -> None:
    answerer = fake()
    outcome = run(sample, tmp_path / "run", answerer)
    blanks = [c for c in answerer.calls if c[1]]
    shown = [c for c in answerer.calls if not c[1]]
    assert len(blanks) == len(shown) == 12
    assert [c[0] for c in blanks] == [c[0] for c in shown]
    # Each blank image has the size of the real one it replaces.
    assert [c[2] for c in blanks] == [c[2] for c in shown]
    blank = outcome.summary["conditions"]["blank"]
    # "No" to everything: right on 1202 and 1204 only (of 7 closed); open recall 0.
    assert blank["overall"]["closed_accuracy"] == pytest.approx(2 / 7)
    assert blank["overall"]["open_recall"] == 0.0
    assert blank["latency"]["p99_s"] == 0.5
    report = (tmp_path / "run" / "report.md").read_text()
    assert "blank image (text only)" in report and "28.6%" in report and "57.1%" in report


def test_no_baseline_asks_each_question_once(sample: Path, tmp_path: Path) -> None:
    answerer = fake()
    outcome = run(sample, tmp_path / "run", answerer, baseline=False)
    assert len(answerer.calls) == 12 and not any(c[1] for c in answerer.calls)
    assert set(outcome.summary["conditions"]) == {"image"}


def test_calibration_of_the_shown_confidence(sample: Path, tmp_path: Path) -> None:
    outcome = run(sample, tmp_path / "run", fake())
    cal = outcome.summary["calibration"]
    # 11 answers showed a confidence (1495 did not). Per bin |accuracy - confidence|:
    # 0.2 x -> .2; 0.3 x -> .3; 0.5 x -> .5; 0.6 x -> .6; 0.7 v -> .3; two at 0.8 (one right)
    # -> .3 each; two at 0.9 right -> .1 each; 0.95 and 1.0 right (mean .975) -> .025 each.
    # ECE = (.2 + .3 + .5 + .6 + .3 + .6 + .2 + .05) / 11 = 2.75 / 11 = 0.25.
    assert cal["n"] == 11 and cal["n_without_confidence"] == 1
    assert cal["ece"] == pytest.approx(0.25)
    counts = [b["count"] for b in cal["bins"]]
    assert counts == [0, 1, 1, 0, 1, 1, 1, 2, 2, 2]
    png = tmp_path / "run" / "reliability.png"
    from PIL import Image

    with Image.open(png) as img:
        assert img.size == (360, 360)
        assert (70, 110, 200) in {c for _, c in img.getcolors(1 << 16) or []}


def test_resume_after_ctrl_c_keeps_finished_items_and_skips_them(
    sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    first = fake(interrupt_after=6)
    with pytest.raises(KeyboardInterrupt):
        run(sample, out, first)
    lines = (out / RESULTS_FILE).read_text().splitlines()
    assert len(lines) == 5  # five answers finished before the interrupt
    second = fake()
    outcome = run(sample, out, second)
    assert len(second.calls) == 24 - 5
    asked_again = {(q, b) for q, b, _ in second.calls}
    assert not asked_again & {(q, b) for q, b, _ in first.calls}
    full = run(sample, tmp_path / "fresh", fake())
    assert (
        outcome.summary["conditions"]["image"]["overall"]
        == (full.summary["conditions"]["image"]["overall"])
    )
    assert outcome.summary["calibration"]["ece"] == pytest.approx(0.25)
    # A third run finds everything done and asks nothing.
    third = fake()
    run(sample, out, third)
    assert third.calls == []


def test_resume_after_a_crash_with_a_torn_last_line(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(sample, out, fake(fail_on=4))
    results = out / RESULTS_FILE
    with results.open("a") as handle:
        handle.write('{"id": "image:99", "cond')  # the process died mid-write
    again = fake()
    outcome = run(sample, out, again)
    assert len(again.calls) == 24 - 3
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(records) == 24 and len({r["id"] for r in records}) == 24
    assert outcome.summary["conditions"]["image"]["overall"]["closed_accuracy"] == pytest.approx(
        4 / 7
    )


def test_a_folder_of_another_model_is_refused(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(sample, out, fake(), limit=2)
    other = fake(name="another-model")
    with pytest.raises(RunFolderError, match="another-model"):
        run(sample, out, other)
    assert other.calls == []


def test_limit_is_a_seeded_sample_and_the_same_seed_picks_the_same_questions(
    sample: Path, tmp_path: Path
) -> None:
    a, b, c = fake(), fake(), fake()
    run(sample, tmp_path / "a", a, limit=4, baseline=False, seed=3)
    run(sample, tmp_path / "b", b, limit=4, baseline=False, seed=3)
    run(sample, tmp_path / "c", c, limit=4, baseline=False, seed=4)
    assert [q for q, _, _ in a.calls] == [q for q, _, _ in b.calls]
    assert len(a.calls) == 4
    assert [q for q, _, _ in a.calls] != [q for q, _, _ in c.calls]
    # Dataset order is kept within the sample.
    order = list(SCRIPT)
    positions = [order.index(q) for q, _, _ in a.calls]
    assert positions == sorted(positions)


def test_progress_is_reported_on_the_given_stream(sample: Path, tmp_path: Path) -> None:
    stream = io.StringIO()
    answerer = fake()
    evaluate_vqa(sample, answerer, tmp_path / "r", progress=stream, clock=answerer.clock, limit=3)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("eval vqa [") and "0/6" in lines[0]
    assert "6/6" in lines[-1]


def test_report_and_summary_files(sample: Path, tmp_path: Path) -> None:
    outcome = run(sample, tmp_path / "run", fake())
    payload = json.loads(outcome.files["summary"].read_text())
    assert payload["run"]["model"] == "fake-model" and payload["run"]["questions"] == 12
    assert payload["summary"]["conditions"]["image"]["overall"]["closed_n"] == 7
    text = outcome.files["report"].read_text()
    assert "# VQA evaluation: fake-model on vqa-rad-sample" in text
    assert "not a diagnosis" in text
    assert "| MODALITY | 5 | 50.0% | 33.3% | 26.7% | 0.0% |" in text
    assert "Expected calibration error (10 equal bins): 0.250 over 11 answers" in text
